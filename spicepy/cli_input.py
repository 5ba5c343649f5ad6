"""CLI subcommands that drive a session: ``type``, ``key``, ``click`` and ``wait``.

Each connects, does one thing through the public Session API, optionally waits
for the screen to settle and saves a screenshot (``-o``), then disconnects. The
logic lives in ``spicepy.session``; this module only maps arguments to calls.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spicepy.errors import SpiceError

if TYPE_CHECKING:
    from spicepy.session.session import Session

Subparsers = Any  # argparse's private _SubParsersAction
Action = Callable[["Session", argparse.Namespace], Awaitable[str]]


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """The options every connecting subcommand shares."""
    p.add_argument("uri", help="spice://host:port, spice+tls://host:port, ...")
    p.add_argument("--password", help="SPICE ticket")
    p.add_argument("--ca-file", type=Path, help="CA certificate (PEM) for TLS")
    p.add_argument("--host-subject", help='certificate subject, "C=..,O=..,CN=.."')
    p.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    p.add_argument(
        "--quiet-time",
        type=float,
        default=0.5,
        help="settled = no display update for this long (default 0.5 s)",
    )


def add_session_command(
    sub: Subparsers, name: str, help_text: str, action: Action
) -> argparse.ArgumentParser:
    """A subcommand that connects, awaits ``action(session, args)`` (it returns
    the line to print), optionally saves a screenshot (``-o``) and disconnects.
    The caller adds the subcommand's own arguments to the returned parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text
    )
    add_connection_options(p)
    p.add_argument(
        "-o", "--output", type=Path, help="save a screenshot (PNG) at the end"
    )
    p.set_defaults(func=lambda args: _run(args, action))
    return p


def _run(args: argparse.Namespace, action: Action) -> int:
    import sys

    from spicepy.client import connect

    async def go() -> str:
        async with connect(
            args.uri,
            password=args.password,
            ca_file=args.ca_file,
            host_subject=args.host_subject,
            timeout=args.timeout,
        ) as session:
            await session.wait_for_frame(args.timeout)
            # scripts may wait for this line before they change the screen
            print("spicepy: connected", file=sys.stderr, flush=True)
            said = await action(session, args)
            if args.output is not None:
                await session.wait_until_settled(
                    quiet=args.quiet_time, timeout=args.timeout
                )
                session.screenshot(args.output)
                said += f"; saved screenshot to {args.output}"
            return said

    try:
        print(asyncio.run(go()))
    except (SpiceError, ValueError, OSError) as exc:
        print(
            f"spicepy: error: {type(exc).__name__}: {exc}".splitlines()[0],
            file=sys.stderr,
        )
        return 1
    return 0


async def _type(session: Session, args: argparse.Namespace) -> str:
    await session.type_text(args.text, delay=args.delay)
    return f"typed {len(args.text)} characters"


async def _key(session: Session, args: argparse.Namespace) -> str:
    for combo in args.keys:
        *mods, key = combo.split("+")
        await session.key_press(key, modifiers=tuple(mods))
    return f"pressed {' '.join(args.keys)}"


async def _click(session: Session, args: argparse.Namespace) -> str:
    for _ in range(args.count):
        await session.click(args.x, args.y, args.button)
    return f"clicked button {args.button} at ({args.x}, {args.y}) x{args.count}"


async def _wait(session: Session, args: argparse.Namespace) -> str:
    if args.change:
        session.take_changes()
        rects = await session.wait_for_change(args.timeout)
        await session.wait_until_settled(quiet=args.quiet_time, timeout=args.timeout)
        return f"screen changed ({len(rects)} region(s)) and settled"
    await session.wait_until_settled(quiet=args.quiet_time, timeout=args.timeout)
    return "screen settled"


def add_type(sub: Subparsers) -> None:
    p = add_session_command(
        sub, "type", "type text on the guest (US layout; \\n = Enter)", _type
    )
    p.add_argument("text")
    p.add_argument("--delay", type=float, default=0.0, help="seconds between keys")


def add_key(sub: Subparsers) -> None:
    p = add_session_command(
        sub, "key", 'press keys, e.g. "enter" "ctrl+alt+f2" "shift+a"', _key
    )
    p.add_argument("keys", nargs="+")


def add_click(sub: Subparsers) -> None:
    p = add_session_command(sub, "click", "move the pointer to X Y and click", _click)
    p.add_argument("x", type=int)
    p.add_argument("y", type=int)
    p.add_argument("--button", type=int, default=1, help="1 left, 2 middle, 3 right")
    p.add_argument("--count", type=int, default=1, help="2 for a double click")


def add_wait(sub: Subparsers) -> None:
    p = add_session_command(
        sub, "wait", "wait until the screen settles (or first changes, --change)", _wait
    )
    p.add_argument(
        "--change", action="store_true", help="wait for the next display change first"
    )
