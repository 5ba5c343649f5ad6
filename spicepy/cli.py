"""The ``spicepy`` command line (argparse only; the work happens in the library).

Adding a subcommand: write ``def add_<name>(sub: Subparsers) -> None`` in a CLI
module (``cli.py``, ``cli_input.py``, ``cli_capture.py``, ``cli_media.py``,
``cli_usb.py``); it calls
``sub.add_parser(...)`` and ``set_defaults(func=handler)`` where
``handler(args) -> int`` returns the exit status.  Then list it in ``COMMANDS``
below as "module:function".  Registration modules import only argparse-level
code; handlers import the library when they run, so startup stays fast.  A
registration that fails to import is an error, never a silently missing
subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spicepy.cli_input import add_connection_options, add_target_options
from spicepy.errors import SpiceError

#: callgrind, a whole `spicepy screenshot` of text-glz from replay-server:
#: 3,263.7M instructions with the default 700, 3,232.3M with 10,000; a warm
#: text-glz replay 124.3M -> 122.8M (imports frozen in both)
GEN0_THRESHOLD = 10_000

Subparsers = Any  # argparse._SubParsersAction, which is private

log = logging.getLogger(__name__)

#: "module:function" registrations, in help order.
COMMANDS: list[str] = [
    "spicepy.cli:add_screenshot",
    "spicepy.cli:add_demo",
    "spicepy.cli_input:add_type",
    "spicepy.cli_input:add_key",
    "spicepy.cli_input:add_click",
    "spicepy.cli_input:add_wait",
    "spicepy.cli_media:add_clipboard",
    "spicepy.cli_media:add_resize",
    "spicepy.cli_media:add_send_file",
    "spicepy.cli_media:add_record_audio",
    "spicepy.cli_usb:add_usb",
    "spicepy.cli_usb:add_port",
    "spicepy.cli_capture:add_replay",
    "spicepy.cli_capture:add_inspect",
    "spicepy.bench:add_command",
    "spicepy.bots.cli:add_do",
    "spicepy.bots.cli:add_mcp",
    "spicepy.bots.cli:add_proxy",
    "spicepy.cli_view:add_view",
]


def _fail(message: str, status: int = 1) -> int:
    print(f"spicepy: error: {message}", file=sys.stderr)
    return status


# -- screenshot ------------------------------------------------------------------


def add_screenshot(sub: Subparsers) -> None:
    p = sub.add_parser(
        "screenshot",
        help="connect, wait until the screen settles, save the primary surface",
        description="Connect to a SPICE server, wait until the screen has settled "
        "and save the primary surface as PNG. --timeout is one deadline for "
        "connecting, the first frame and settling together (with --when-stdin, "
        "the settling after the line gets a fresh one).",
    )
    add_connection_options(p)
    add_target_options(p)
    p.add_argument("-o", "--output", required=True, type=Path, help="PNG file to write")
    p.add_argument(
        "--when-stdin",
        action="store_true",
        help="keep the session open until a line or EOF on stdin",
    )
    p.add_argument(
        "--cursor", action="store_true", help="draw the mouse pointer into the PNG"
    )
    p.add_argument(
        "--preferred-compression",
        metavar="NAME",
        help="ask the server for this image compression: off, auto_glz, auto_lz, "
        "quic, glz, lz or lz4 (if it supports being asked)",
    )
    p.set_defaults(func=run_screenshot)


def _stdin_line(loop: asyncio.AbstractEventLoop) -> asyncio.Future[str]:
    """A future for the next stdin line, read by a daemon thread (never blocks exit)."""
    future: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        line = sys.stdin.readline()

        def deliver() -> None:
            if not future.done():
                future.set_result(line)

        try:
            loop.call_soon_threadsafe(deliver)
        except RuntimeError:  # the loop closed first: nobody is waiting
            pass

    threading.Thread(target=read, name="spicepy-stdin", daemon=True).start()
    return future


def run_screenshot(args: argparse.Namespace) -> int:
    from spicepy.cli_input import resolve_target
    from spicepy.client import screenshot

    try:
        target = resolve_target(args)
    except ValueError as exc:
        return _fail(str(exc), 2)
    except (SpiceError, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}".splitlines()[0])

    async def go() -> tuple[int, int]:
        trigger = _stdin_line(asyncio.get_running_loop()) if args.when_stdin else None
        return await screenshot(
            target,
            args.output,
            timeout=args.timeout,
            preferred_compression=args.preferred_compression,
            plain=args.plain,
            username=args.username,
            quiet=args.quiet_time,
            trigger=trigger,
            cursor=args.cursor,
            on_ready=lambda: print(
                "spicepy: connected; press Enter (or send EOF) to take the screenshot",
                file=sys.stderr,
                flush=True,
            ),
        )

    try:
        width, height = asyncio.run(go())
    except (SpiceError, ValueError, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}".splitlines()[0])
    print(f"saved {width}x{height} screenshot to {args.output}")
    return 0


# -- demo ------------------------------------------------------------------------


def add_demo(sub: Subparsers) -> None:
    p = sub.add_parser(
        "demo",
        help="start a local Xspice, draw on it, screenshot it with spicepy, compare",
    )
    p.add_argument("-o", "--output", type=Path, default=Path("spicepy-demo.png"))
    p.add_argument(
        "--compression",
        default="off",
        choices=["off", "quic", "lz", "glz", "auto_lz", "auto_glz"],
        help="Xspice --image-compression (default off)",
    )
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from spicepy.testing.demo import run_demo as demo

    try:
        ok = demo(
            args.output,
            compression=args.compression,
            timeout=args.timeout,
            report=print,
        )
    except (SpiceError, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}".splitlines()[0])
    return 0 if ok else 1


# -- entry point -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spicepy", description="SPICE remote-display client and codec tools"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more (-v info, -vv debug)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for spec in COMMANDS:
        module_name, func_name = spec.split(":")
        register: Callable[[Subparsers], None] = getattr(
            importlib.import_module(module_name), func_name
        )
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    # the command line owns its process, so it may tune the collector (the
    # library leaves it alone): young collections every GEN0_THRESHOLD
    # allocations instead of 700
    gc.set_threshold(GEN0_THRESHOLD, *gc.get_threshold()[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
