"""CLI subcommands that drive a session: ``type``, ``key``, ``click`` and ``wait``.

Each connects, does one thing through the public Session API, optionally waits
for the screen to settle and saves a screenshot (``-o``), then disconnects. The
logic lives in ``spicepy.session``; this module only maps arguments to calls.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spicepy.errors import SpiceError

if TYPE_CHECKING:
    from spicepy.session.session import Session
    from spicepy.session.targets import Target

Subparsers = Any  # argparse's private _SubParsersAction
Action = Callable[["Session", argparse.Namespace], Awaitable[str]]


def add_connection_options(
    p: argparse.ArgumentParser, *, quiet_time: bool = True
) -> None:
    """The options every connecting subcommand shares; ``quiet_time=False``
    for a command that never waits for the screen to settle (``view``)."""
    p.add_argument(
        "uri",
        help="spice://host:port, spice+tls://host:port, ... (with the target "
        "options also a .vv file, or a libvirt domain with --connect)",
    )
    p.add_argument("--password", help="SPICE ticket")
    p.add_argument("--ca-file", type=Path, help="CA certificate (PEM) for TLS")
    p.add_argument("--host-subject", help='certificate subject, "C=..,O=..,CN=.."')
    p.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    if not quiet_time:
        return
    p.add_argument(
        "--quiet-time",
        type=float,
        default=0.5,
        help="settled = no display update for this long (default 0.5 s)",
    )


def add_target_options(p: argparse.ArgumentParser) -> None:
    """Options of subcommands that open ``uri`` through ``resolve_target``:
    a ``.vv`` file or a libvirt domain besides a URI, plain/TLS, proxy, SASL."""
    p.add_argument(
        "--connect",
        metavar="LIBVIRT_URI",
        help="URI names a libvirt domain (name, UUID or id) on this libvirt "
        "connection, e.g. qemu:///system",
    )
    p.add_argument(
        "--plain",
        action="store_true",
        help="with both ports use the plain one (default: TLS for every channel)",
    )
    p.add_argument(
        "--proxy",
        help="HTTP CONNECT proxy, http://[user:pass@]host:port (default $SPICE_PROXY)",
    )
    p.add_argument("--username", help="SASL user name (over TLS; --password)")


def resolve_target(args: argparse.Namespace) -> Target:
    """The ``Target`` named by ``args`` (see ``add_target_options``).

    Raises:
        ValueError: a malformed URI or file, or --plain without a plain port.
        OSError: a connection file cannot be read.
        SpiceError: libvirt cannot give the domain's display.
    """
    from spicepy.session.targets import resolve

    target = resolve(
        args.uri,
        connect=args.connect,
        password=args.password,
        ca_file=None if args.ca_file is None else str(args.ca_file),
        host_subject=args.host_subject,
        proxy=args.proxy,
    )
    uri = target.uri
    if args.plain and uri.port is None and uri.unix_path is None:
        raise ValueError("--plain given but the target has no plain port")
    return target


def connect_target(target: Target, args: argparse.Namespace, **options: Any) -> Any:
    """``spicepy.connect`` for a resolved target with the CLI's options."""
    from spicepy.client import connect

    return connect(
        target,
        timeout=args.timeout,
        plain=args.plain,
        username=args.username,
        **options,
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
    add_target_options(p)
    p.add_argument(
        "-o", "--output", type=Path, help="save a screenshot (PNG) at the end"
    )
    p.set_defaults(func=lambda args: _run(args, action))
    return p


def _run(args: argparse.Namespace, action: Action) -> int:
    import sys

    async def go() -> str:
        async with connect_target(resolve_target(args), args) as session:
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


def unescape_text(text: str) -> str:
    """The CLI's ``type`` text: ``\\n`` is Enter, ``\\t`` Tab, ``\\\\`` a backslash;
    any other backslash is typed as it is."""
    escapes = {"n": "\n", "t": "\t", "\\": "\\"}
    return re.sub(r"\\([nt\\])", lambda m: escapes[m.group(1)], text)


async def _type(session: Session, args: argparse.Namespace) -> str:
    text = unescape_text(args.text)
    await session.type_text(text, delay=args.delay)
    return f"typed {len(text)} characters"


async def _key(session: Session, args: argparse.Namespace) -> str:
    for combo in args.keys:
        *mods, key = combo.split("+")
        await session.key_press(key, modifiers=tuple(mods))
    return f"pressed {' '.join(args.keys)}"


async def _click(session: Session, args: argparse.Namespace) -> str:
    session.mouse.exact = not args.blind
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
    p.add_argument(
        "--delay",
        type=float,
        help="seconds between keys (default: bursts paced for QEMU's keyboard)",
    )


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
    p.add_argument(
        "--blind",
        action="store_true",
        help="server mouse mode on a guest that shows no pointer (a text "
        "console): move without seeing it land (default: an error)",
    )


def add_wait(sub: Subparsers) -> None:
    p = add_session_command(
        sub, "wait", "wait until the screen settles (or first changes, --change)", _wait
    )
    p.add_argument(
        "--change", action="store_true", help="wait for the next display change first"
    )
