"""CLI subcommands of the bots: ``spicepy do``, ``spicepy mcp``, ``spicepy proxy``.

Registered in ``spicepy.cli.COMMANDS`` as ``spicepy.bots.cli:add_do``,
``spicepy.bots.cli:add_mcp`` and ``spicepy.bots.cli:add_proxy``; argparse only,
the work is in ``script``, ``actions``, ``mcp_server`` and ``proxy``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from spicepy.cli_input import add_connection_options, add_target_options
from spicepy.errors import SpiceError

Subparsers = Any  # argparse's private _SubParsersAction

EXAMPLES = """\
examples:
  spicepy do spice://127.0.0.1:5900 type hello key enter wait-settled capture out.png
  spicepy do spice://127.0.0.1:5900 -f login.txt
  spicepy do spice://127.0.0.1:5900 login.vdo      # a vncdo script, unchanged
  spicepy do spice://127.0.0.1:5900 click-needle ok.json expect done.png --timeout 20
  spicepy do console.vv type hello                 # a remote-viewer file
  spicepy do --connect qemu:///system vm1 key ctrl-alt-del   # a libvirt domain

commands (vncdo spellings in brackets):
  type TEXT | typefile FILE | pastefile FILE |
  key KEY (ctrl-alt-del, ctrl+c) | keydown/keyup KEY [kdown/kup] |
  move X Y [mousemove] | move-by DX DY | click [BUTTON] | double-click [BUTTON] |
  mousedown/mouseup [BUTTON] [mdown/mup] | drag X Y | wheel up|down [N] |
  pause SECONDS [sleep] | capture FILE [--region X Y W H] | rcapture FILE X Y W H |
  expect FILE [FUZZ] [--max-diff N] [--region X Y W H] [--timeout S] |
  rexpect FILE X Y [FUZZ] | stable SECONDS [FUZZ] | rstable SECONDS X Y W H [FUZZ] |
  wait-change [--region X Y W H] |
  wait-settled [--quiet S] [--region X Y W H] [--max-diff N] |
  wait-text TEXT [--region X Y W H] | click-text TEXT |
  wait-needle NEEDLE | click-needle NEEDLE [--button N]
"""


#: how the commands differ from vncdo's (the `do` help epilog; kept here, not
#: in ``script``, so registering the command imports no channel code)
DIFFERENCES = """\
Differences from vncdotool's vncdo:
- connection: `spicepy do URI ...` (spice://host:port) instead of `-s host::port`.
- key combos join with `-` (vncdo) or `+` (spicepy key); keys are US-layout
  scancodes (SPICE sends scancodes, not keysyms), so `key ctrl-alt-del` works but
  a character with no key on a US keyboard is an error, not sent literally.
- an unknown key name is an error before anything is sent (vncdo sends its
  letters one by one).
- `click`, `mousedown`, `mouseup` take an optional button (default 1).
- `drag X Y` moves in steps of 8 px with no pause (vncdo: 1 px, 0.2 s each).
- `expect FILE FUZZ`: FUZZ is the largest per-channel difference of any pixel
  (vncdo: a perceived colour distance); without --timeout a wait ends after
  the `do --timeout` (default 30 s), never waits forever; a failure writes a
  report (screen, reference, diff PNG) and says where.
- `stable SECONDS [FUZZ]` / `rstable SECONDS X Y W H [FUZZ]` wait until the
  screen / that region stays still for SECONDS (no pixel more than FUZZ, per
  channel, from the window's first picture); `stable SECONDS` without FUZZ is
  `wait-settled --quiet SECONDS`: nothing drawn at all (SPICE says what it draws).
- `pastefile FILE` puts the file's text on the guest clipboard through the
  guest agent (vncdo: the VNC cut text), for a later `key ctrl-v`; a guest
  without an agent gets the text typed instead.
- `capture` writes PNG only.
- `move-by DX DY` (not in vncdo) sends relative motion (SPICE's server mouse
  mode); the recording proxy writes a server-mode session's motion this way.
"""


def add_do(sub: Subparsers) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "do",
        help="run bot commands or a script (vncdo compatible) against a server",
        description="Connect, run the commands in order, disconnect. Options go "
        "before the URI; everything after it is commands.",
        epilog=EXAMPLES + "\n" + DIFFERENCES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-f",
        "--file",
        type=Path,
        action="append",
        default=[],
        help="script file (- = stdin)",
    )
    p.add_argument(
        "--delay", type=float, default=0.0, help="ms between commands (vncdo)"
    )
    p.add_argument("--report-dir", type=Path, help="where failure reports go")
    p.add_argument("--echo", action="store_true", help="print each command as it runs")
    p.add_argument(
        "--blind",
        action="store_true",
        help="server mouse mode on a guest that shows no pointer (a text "
        "console): move without seeing it land (default: an error)",
    )
    add_connection_options(p)
    add_target_options(p)
    p.add_argument("commands", nargs=argparse.REMAINDER, help="commands (see below)")
    p.set_defaults(func=run_do)


def _target(args: argparse.Namespace) -> tuple[Any, int]:
    """The resolved target, or (None, exit status) after printing why not."""
    from spicepy.cli_input import resolve_target

    try:
        return resolve_target(args), 0
    except ValueError as exc:
        status = 2
        reason = str(exc)
    except (SpiceError, OSError) as exc:
        status = 1
        reason = f"{type(exc).__name__}: {exc}"
    print(f"spicepy: error: {reason}".splitlines()[0], file=sys.stderr)
    return None, status


def run_do(args: argparse.Namespace) -> int:
    from spicepy.bots.script import ScriptError, parse, parse_argv

    cwd = Path.cwd()
    try:
        steps = []
        for f in args.file:
            if str(f) == "-":
                steps += parse(sys.stdin.read(), "stdin", cwd=cwd)
            else:
                steps += parse(f.read_text(encoding="utf-8"), str(f), cwd=cwd)
        steps += parse_argv(args.commands, cwd=cwd)
    except (ScriptError, OSError) as exc:
        print(f"spicepy: error: {exc}", file=sys.stderr)
        return 2
    if not steps:
        print("spicepy: error: no commands", file=sys.stderr)
        return 2
    target, status = _target(args)
    if target is None:
        return status

    async def go() -> None:
        from spicepy.bots.runner import Runner
        from spicepy.cli_input import connect_target

        async with connect_target(target, args) as session:
            await session.wait_for_frame(args.timeout)
            session.mouse.exact = not args.blind
            runner = Runner(
                session,
                timeout=args.timeout,
                delay=args.delay / 1000.0,
                cwd=cwd,
                report_dir=args.report_dir,
                echo=print if args.echo else None,
            )
            await runner.run(steps)

    try:
        asyncio.run(go())
    except (SpiceError, ValueError, OSError) as exc:
        print(f"spicepy: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def add_mcp(sub: Subparsers) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "mcp",
        help="serve a SPICE session to AI agents over MCP (stdio)",
        description="Model Context Protocol server on stdin/stdout: tools to take "
        "screenshots, click, type, press keys, scroll, wait and find needles or "
        "text on the connected SPICE display. Needs the 'mcp' extra.",
    )
    add_connection_options(p)
    add_target_options(p)
    p.add_argument("--report-dir", type=Path, help="where failure reports go")
    p.add_argument(
        "--needle-dir", type=Path, default=Path.cwd(), help="base for needle paths"
    )
    p.add_argument(
        "--blind",
        action="store_true",
        help="server mouse mode on a guest that shows no pointer (a text "
        "console): every move goes without seeing it land (default: an error; "
        "a tool call can also ask with blind=true)",
    )
    p.set_defaults(func=run_mcp)


def run_mcp(args: argparse.Namespace) -> int:
    try:
        from spicepy.bots.mcp_server import serve
    except ImportError as exc:
        print(
            f"spicepy: error: the MCP server needs the 'mcp' extra "
            f"(pip install 'spicepy[mcp]'): {exc}",
            file=sys.stderr,
        )
        return 2
    target, status = _target(args)
    if target is None:
        return status
    try:
        serve(
            target,
            timeout=args.timeout,
            plain=args.plain,
            username=args.username,
            needle_dir=args.needle_dir,
            report_dir=args.report_dir,
            blind=args.blind,
        )
    except (SpiceError, OSError) as exc:
        print(f"spicepy: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def add_proxy(sub: Subparsers) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "proxy",
        help="forward a SPICE client to a server, recording input as a script",
        description="Listen for a SPICE client (remote-viewer spice://LISTEN), "
        "forward everything to the server, and write the keyboard and mouse input "
        "as a 'spicepy do' script (rewritten after every step). A server TLS port "
        "is proxied by terminating TLS: the proxy presents its own certificate "
        "(--x509-dir) to the client and verifies the server's (--ca-file, "
        "--host-subject). SASL passes through. Stop with Ctrl-C.",
    )
    p.add_argument("--listen", default="127.0.0.1:5930", help="HOST:PORT (5930)")
    p.add_argument(
        "--listen-tls",
        default="127.0.0.1:5931",
        help="HOST:PORT for TLS clients (5931; used when the server has a "
        "tls-port and --x509-dir is given)",
    )
    p.add_argument(
        "--x509-dir",
        type=Path,
        help="the proxy's own certificate for TLS clients: server-cert.pem and "
        "server-key.pem (QEMU's names); clients must trust its CA",
    )
    p.add_argument("--to", required=True, help="server URI (port and/or tls-port)")
    p.add_argument("--ca-file", type=Path, help="CA (PEM) of the server's certificate")
    p.add_argument("--host-subject", help='server certificate subject "C=..,CN=.."')
    p.add_argument("--record", type=Path, help="script file to write")
    p.add_argument(
        "--pcap", type=Path, help="also write the session (no secrets) as pcap"
    )
    p.add_argument(
        "--pause-after", type=float, default=1.0, help="record gaps this long (s)"
    )
    p.set_defaults(func=run_proxy)


def run_proxy(args: argparse.Namespace) -> int:
    import ssl

    from spicepy.bots.proxy import RecordingProxy, parse_hostport, server_context
    from spicepy.session.transport import TlsConfig
    from spicepy.session.uri import parse_uri

    try:
        listen = parse_hostport(args.listen)
        listen_tls = parse_hostport(args.listen_tls)
        uri = parse_uri(args.to)
        client_tls = None
        if args.x509_dir is not None and uri.tls_port is not None:
            client_tls = server_context(
                args.x509_dir / "server-cert.pem", args.x509_dir / "server-key.pem"
            )
    except (ValueError, OSError, ssl.SSLError) as exc:
        print(f"spicepy: error: {exc}", file=sys.stderr)
        return 2
    plain = uri.port is not None
    if not plain and client_tls is None:
        print(
            "spicepy: error: --to has no plain port; its TLS port needs --x509-dir "
            "(the proxy's own certificate for the client side)",
            file=sys.stderr,
        )
        return 2
    server_tls = TlsConfig(
        ca_file=None if args.ca_file is None else str(args.ca_file),
        host_subject=args.host_subject,
    )

    async def go() -> None:
        proxy = await RecordingProxy(
            listen if plain else None,
            (uri.host, uri.port) if uri.port is not None else None,
            args.record,
            pcap=args.pcap,
            pause_after=args.pause_after,
            tls_listen=listen_tls if client_tls is not None else None,
            tls_target=(uri.host, uri.tls_port)
            if client_tls is not None and uri.tls_port is not None
            else None,
            client_tls=client_tls,
            server_tls=server_tls,
        ).start()
        print(
            f"spicepy: proxying {proxy.uri()} -> {args.to}", file=sys.stderr, flush=True
        )
        try:
            await asyncio.Event().wait()
        finally:
            await proxy.close()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"spicepy: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m spicepy.bots.cli do|mcp ...`` (the same subcommands as
    ``spicepy do|mcp``, usable before or without the spicepy CLI registering
    them)."""
    parser = argparse.ArgumentParser(prog="spicepy")
    sub = parser.add_subparsers(dest="command", required=True)
    add_do(sub)
    add_mcp(sub)
    add_proxy(sub)
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
