"""``spicepy view``: the desktop viewer (``pip install 'spicepy[viewer]'``).

Argument parsing only; the viewer is ``spicepy.viewer`` (imported when run, so
the CLI starts without pygame-ce).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from spicepy.cli_input import add_connection_options, add_target_options
from spicepy.errors import SpiceError

if TYPE_CHECKING:  # the parser imports no session code (tests/test_cli.py)
    from spicepy.session.targets import Target
    from spicepy.viewer.app import ViewerOptions

Subparsers = Any  # argparse's private _SubParsersAction

HOTKEYS = (
    "Hotkeys: Ctrl+Alt (press, release) grabs/releases keyboard and pointer; "
    "Ctrl+Alt+End sends Ctrl+Alt+Del; Ctrl+Alt+Shift+F1..F12 sends Ctrl+Alt+Fn; "
    "Ctrl+Alt+F full screen; Ctrl+Alt+S scale fit/1:1."
)


def add_view(sub: Subparsers) -> None:
    p = sub.add_parser(
        "view",
        help="open a window on the guest's display (needs the 'viewer' extra)",
        description="A SPICE desktop viewer: display, keyboard, mouse, guest "
        "pointer, clipboard text and images, resize through the agent, audio "
        "both ways. " + HOTKEYS,
    )
    add_connection_options(p, quiet_time=False)
    add_target_options(p)
    p.add_argument(
        "--full-screen",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start full screen (or not; default: what a .vv file says, else not)",
    )
    p.add_argument(
        "--title",
        help="the windows' name, %%d their number from 1 (default: a .vv "
        "file's title, else 'spicepy HOST:PORT')",
    )
    p.add_argument(
        "--scale",
        choices=["fit", "1"],
        default="fit",
        help="fit: scale to the window, aspect kept (default); 1: one to one",
    )
    p.add_argument(
        "--no-resize-guest",
        dest="resize_guest",
        action="store_false",
        help="do not ask the guest agent to take the window's size",
    )
    p.add_argument("--no-audio", dest="audio", action="store_false", help="no sound")
    p.add_argument(
        "--audio-latency",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="most playback audio queued for the sound device (default 0.25): "
        "audio arriving in a longer burst, after a network or CPU stall, loses "
        "its oldest part instead of delaying all sound after it",
    )
    p.add_argument(
        "--record",
        action="store_true",
        help="send the microphone to the guest while it records",
    )
    p.set_defaults(func=run_view)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{text}: between 0 and 60 seconds")
    return value


def _fail(message: str, status: int = 1) -> int:
    print(f"spicepy: error: {message}".splitlines()[0], file=sys.stderr)
    return status


def view_options(args: argparse.Namespace, target: Target) -> ViewerOptions:
    """The viewer's options from the command line and, where it says nothing
    (no --title, neither --full-screen nor --no-full-screen), from a ``.vv``
    file's title= and fullscreen=."""
    from spicepy.viewer.app import ViewerOptions

    uri = target.uri
    where = uri.unix_path or f"{uri.host}:{uri.port or uri.tls_port}"
    full_screen = args.full_screen
    if full_screen is None:
        full_screen = bool(target.full_screen)
    return ViewerOptions(
        scale=args.scale,
        full_screen=full_screen,
        resize_guest=args.resize_guest,
        audio=args.audio,
        audio_latency=args.audio_latency,
        record=args.record,
        title=args.title or target.title or f"spicepy {where}",
    )


def run_view(args: argparse.Namespace) -> int:
    from spicepy.cli_input import connect_target, resolve_target

    try:
        from spicepy.viewer.app import Viewer
    except ImportError as exc:
        return _fail(f"{exc}: install the viewer extra: pip install 'spicepy[viewer]'")
    try:
        target = resolve_target(args)
    except ValueError as exc:
        return _fail(str(exc), 2)
    except (SpiceError, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}")
    options = view_options(args, target)

    async def go() -> None:
        async with connect_target(target, args, record=args.record) as session:
            await session.wait_for_frame(args.timeout)
            print("spicepy: connected", file=sys.stderr, flush=True)
            await Viewer(session, options).run()

    try:
        asyncio.run(go())
    except (SpiceError, ValueError, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}")
    return 0
