"""CLI subcommands for the guest agent and audio: ``clipboard``, ``resize``,
``send-file`` and ``record-audio``.

Each connects, does one thing through ``Session.agent`` / ``Session.audio``
(``spicepy.session.media``) and disconnects; ``-o`` saves a screenshot at the
end.  The connection handling is ``cli_input``'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spicepy.cli_input import add_session_command

if TYPE_CHECKING:
    from spicepy.session.session import Session

Subparsers = Any  # argparse's private _SubParsersAction


def _selection(args: argparse.Namespace) -> int:
    from spicepy.wire.enums import ClipboardSelection

    return ClipboardSelection.PRIMARY if args.primary else ClipboardSelection.CLIPBOARD


async def _clipboard(session: Session, args: argparse.Namespace) -> str:
    from spicepy.wire.enums import ClipboardType

    await session.agent.wait_ready(args.timeout)
    selection = _selection(args)
    if args.set is not None:
        await session.agent.set_clipboard(args.set, selection=selection)
        # stay until the guest fetched it (or the timeout): the offer lives here
        await _serve(session, args.hold)
        return f"offered {len(args.set)} characters to the guest"
    if args.set_png is not None:
        data = Path(args.set_png).read_bytes()
        await session.agent.set_clipboard(data, ClipboardType.IMAGE_PNG, selection)
        await _serve(session, args.hold)
        return f"offered a {len(data)}-byte PNG to the guest"
    _say_agent_ready()
    if args.get_png is not None:
        png = await session.agent.get_clipboard(
            ClipboardType.IMAGE_PNG, selection, args.timeout
        )
        Path(args.get_png).write_bytes(png)
        return f"saved the guest's {len(png)}-byte PNG to {args.get_png}"
    return await session.agent.get_clipboard_text(selection, args.timeout)


def _say_agent_ready() -> None:
    """The agent announced its capabilities, its answer to ours: it forwards
    the guest's clipboard changes from now on (spice-vdagent announces each
    change once, and drops those made before a client's capabilities arrived),
    so scripts wait for this line before they change the guest's clipboard."""
    import sys

    print("spicepy: agent ready", file=sys.stderr, flush=True)


async def _serve(session: Session, seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def _resize(session: Session, args: argparse.Namespace) -> str:
    await session.agent.wait_ready(args.timeout)
    await session.agent.resize(args.width, args.height, args.timeout)
    return f"the guest display is {args.width}x{args.height}"


async def _send_file(session: Session, args: argparse.Namespace) -> str:
    await session.agent.wait_ready(args.timeout)
    path = Path(args.file)
    await session.agent.send_file(path.name, path.read_bytes(), args.timeout)
    return f"sent {path.name} ({path.stat().st_size} bytes) to the guest"


async def _record_audio(session: Session, args: argparse.Namespace) -> str:
    frames = await session.audio.record_wav(args.wav, args.seconds)
    return f"wrote {frames} sample frames to {args.wav}"


def add_clipboard(sub: Subparsers) -> None:
    p = add_session_command(
        sub,
        "clipboard",
        "print the guest's next clipboard text (changed after 'spicepy: agent "
        "ready' on stderr), or set it (--set TEXT / --set-png FILE)",
        _clipboard,
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--set", metavar="TEXT", help="offer TEXT as the clipboard")
    group.add_argument("--set-png", metavar="FILE", help="offer a PNG image")
    group.add_argument("--get-png", metavar="FILE", help="save the guest's PNG")
    p.add_argument("--primary", action="store_true", help="the PRIMARY selection")
    p.add_argument(
        "--hold",
        type=float,
        default=5.0,
        help="seconds to keep serving a --set offer (default 5)",
    )


def add_resize(sub: Subparsers) -> None:
    p = add_session_command(
        sub, "resize", "ask the guest agent for a W x H display", _resize
    )
    p.add_argument("width", type=int)
    p.add_argument("height", type=int)


def add_send_file(sub: Subparsers) -> None:
    p = add_session_command(
        sub, "send-file", "copy a file to the guest (agent file transfer)", _send_file
    )
    p.add_argument("file", type=Path)


def add_record_audio(sub: Subparsers) -> None:
    p = add_session_command(
        sub,
        "record-audio",
        "save the playback channel's audio as a 16-bit WAV file",
        _record_audio,
    )
    p.add_argument(
        "wav", type=Path, help="output .wav (the stream's rate and channels)"
    )
    p.add_argument("--seconds", type=float, default=5.0, help="duration (default 5)")
