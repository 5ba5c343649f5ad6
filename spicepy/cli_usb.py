"""CLI subcommands ``usb`` (redirect emulated or host USB devices) and ``port``
(a named spiceport on stdin/stdout, like socat).

``usb`` plugs its devices in, says so on stderr, keeps them plugged until a line
or EOF on stdin (or ``--hold`` seconds), then unplugs them and waits for the
guest's acknowledgement.  ``port`` copies stdin to the port and the port to
stdout; after stdin's EOF it keeps copying until the port has been quiet for
``--linger`` seconds.  Both take the usual target options (``.vv`` files,
libvirt domains, TLS, proxy, SASL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spicepy.cli_input import add_connection_options, add_target_options
from spicepy.errors import SpiceError

if TYPE_CHECKING:
    from spicepy.session.session import Session
    from spicepy.session.usb import RedirectedDevice, UsbDevice

Subparsers = Any  # argparse's private _SubParsersAction
STDIN_CHUNK = 64 * 1024


def _fail(message: str) -> int:
    print(f"spicepy: error: {message}".splitlines()[0], file=sys.stderr)
    return 1


def _say(message: str) -> None:
    print(f"spicepy: {message}", file=sys.stderr, flush=True)


def _id_pair(text: str) -> tuple[int, int]:
    """``VID:PID`` in hex (lsusb's form)."""
    vid, sep, pid = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(vid, 16), int(pid, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not VID:PID in hex") from None


# -- usb ---------------------------------------------------------------------------


def add_usb(sub: Subparsers) -> None:
    p = sub.add_parser(
        "usb",
        help="redirect USB devices into the guest (emulated disk/keyboard or host)",
        description="Plug USB devices into the guest through the server's usbredir "
        "channels: a disk image as a mass-storage device, an emulated keyboard, "
        "or devices of this machine (pyusb).  They stay plugged until a line or "
        "EOF on stdin, or for --hold seconds.",
    )
    add_connection_options(p)
    add_target_options(p)
    p.add_argument(
        "--storage",
        type=Path,
        action="append",
        default=[],
        metavar="IMAGE",
        help="a disk image (whole number of 512-byte blocks) as a USB disk; repeatable",
    )
    p.add_argument(
        "--read-only",
        action="store_true",
        help="refuse the guest's writes to --storage",
    )
    p.add_argument("--keyboard", action="store_true", help="an emulated USB keyboard")
    p.add_argument(
        "--type",
        metavar="TEXT",
        help="type TEXT on the emulated keyboard (US layout, \\n for Enter; "
        "implies --keyboard)",
    )
    p.add_argument(
        "--device",
        type=_id_pair,
        action="append",
        default=[],
        metavar="VID:PID",
        help="a USB device of this machine, by vendor:product in hex; repeatable",
    )
    p.add_argument(
        "--filter",
        metavar="RULES",
        help="also redirect every host device these rules allow (remote-viewer's "
        "--usbredir-auto-redirect-filter: class,vendor,product,version,allow|...)",
    )
    p.add_argument(
        "--hold",
        type=float,
        metavar="SECONDS",
        help="unplug after SECONDS instead of at a line or EOF on stdin",
    )
    p.set_defaults(func=run_usb)


def _devices(args: argparse.Namespace) -> list[tuple[str, UsbDevice, Any]]:
    """(description, device, what to close) for every device asked for.

    Raises:
        OSError: an image cannot be opened.
        ValueError: an image of a bad size, a bad filter, or no such host device.
        SpiceError: pyusb missing or a host device that cannot be opened.
    """
    from spicepy.usb.hid import HidKeyboard
    from spicepy.usb.storage import FileStore, MassStorage

    out: list[tuple[str, UsbDevice, Any]] = []
    for image in args.storage:
        store = FileStore(image, readonly=args.read_only)
        try:
            out.append((f"disk {image}", MassStorage(store), store))
        except ValueError:
            store.close()
            raise
    if args.keyboard or args.type is not None:
        out.append(("keyboard", HidKeyboard(), None))
    if args.device or args.filter is not None:
        from spicepy.usb.filter import parse_filter
        from spicepy.usb.host import open_host_devices

        rules = parse_filter(args.filter) if args.filter is not None else ()
        for desc, dev in open_host_devices(args.device, rules):
            out.append((desc, dev, dev))
    return out


def run_usb(args: argparse.Namespace) -> int:
    from spicepy.cli_input import connect_target, resolve_target

    try:
        target = resolve_target(args)
        devices = _devices(args)
    except (ValueError, OSError, SpiceError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}")
    if not devices:
        return _fail(
            "nothing to redirect (--storage, --keyboard, --device or --filter)"
        )

    async def go() -> str:
        async with connect_target(target, args, usbredir=True) as session:
            plugged: list[RedirectedDevice] = []
            try:
                for desc, dev, _ in devices:
                    handle = await session.usb.redirect(dev, timeout=args.timeout)
                    plugged.append(handle)
                    _say(f"redirected {desc} on {_channel(handle)}")
                if args.type is not None:
                    await _type(session, plugged, args)
                if args.hold is not None:
                    await asyncio.sleep(args.hold)
                else:
                    _say("press Enter (or send EOF) to unplug")
                    await _stdin_line()
            finally:
                for handle in plugged:
                    if handle.conn.closed.is_set():
                        continue
                    await handle.release(args.timeout)
            errors = [h.error for h in plugged if h.error is not None]
            return (
                "; ".join(errors) if errors else f"unplugged {len(plugged)} device(s)"
            )

    try:
        print(asyncio.run(go()))
    except (SpiceError, ValueError, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}")
    finally:
        for _, _, closer in devices:
            if closer is not None:
                closer.close()
    return 0


def _channel(handle: RedirectedDevice) -> str:
    from spicepy.session.core import channel_name

    return channel_name(handle.channel)


async def _type(
    session: Session, plugged: list[RedirectedDevice], args: argparse.Namespace
) -> None:
    from spicepy.cli_input import unescape_text
    from spicepy.usb.hid import HidKeyboard

    kbd = next(h for h in plugged if isinstance(h.device, HidKeyboard))
    text = unescape_text(args.type)
    await session.usb.type_text(kbd, text, timeout=args.timeout)
    _say(f"typed {len(text)} characters")


def _stdin_line() -> asyncio.Future[bytes]:
    """A future for the next stdin line or EOF (a daemon thread reads it)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bytes] = loop.create_future()

    def deliver(line: bytes) -> None:
        if not future.done():
            future.set_result(line)

    def read() -> None:
        line = sys.stdin.buffer.readline()
        try:
            loop.call_soon_threadsafe(deliver, line)
        except RuntimeError:  # the loop is gone: nobody waits
            pass

    threading.Thread(target=read, name="spicepy-stdin", daemon=True).start()
    return future


# -- port --------------------------------------------------------------------------


def add_port(sub: Subparsers) -> None:
    p = sub.add_parser(
        "port",
        help="connect stdin/stdout to a named spiceport (like socat)",
        description="Open the spiceport NAME (e.g. org.qemu.guest_agent.0) and copy "
        "stdin to it and its data to stdout.  After EOF on stdin the output is "
        "copied until the port is quiet for --linger seconds.",
    )
    add_connection_options(p)
    add_target_options(p)
    p.add_argument("name", help="the port's name (QEMU -chardev spiceport,name=NAME)")
    p.add_argument(
        "--linger",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="after stdin's EOF, wait this long for more output (default 0.5)",
    )
    p.add_argument(
        "--wait-guest",
        action="store_true",
        help="send nothing before the guest has opened its end of the port",
    )
    p.set_defaults(func=run_port)


def run_port(args: argparse.Namespace) -> int:
    from spicepy.cli_input import connect_target, resolve_target

    try:
        target = resolve_target(args)
    except (ValueError, OSError, SpiceError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}")

    async def go() -> None:
        async with connect_target(target, args, ports=True) as session:
            reader, writer = await session.ports.open(args.name, timeout=args.timeout)
            _say(f"port {args.name} open")
            if args.wait_guest:
                await session.ports.wait_guest_open(args.name, args.timeout)
            stdin_eof = asyncio.Event()
            copy_in = asyncio.create_task(_copy_in(writer, stdin_eof))
            try:
                await _copy_out(reader, stdin_eof, args.linger)
            finally:
                copy_in.cancel()
                writer.close()
            if copy_in.done() and not copy_in.cancelled():
                copy_in.result()  # a write that failed

    try:
        asyncio.run(go())
    except (SpiceError, ValueError, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}")
    return 0


async def _copy_out(
    reader: asyncio.StreamReader, stdin_eof: asyncio.Event, linger: float
) -> None:
    """Port -> stdout until the port ends, or is quiet for ``linger`` s once
    stdin has ended."""
    stdout = sys.stdout.buffer
    while True:
        ended = stdin_eof.is_set()
        try:
            # before stdin's EOF, look again every 0.1 s whether it came
            data = await asyncio.wait_for(
                reader.read(STDIN_CHUNK), linger if ended else 0.1
            )
        except TimeoutError:
            if ended:
                return
            continue
        if not data:
            return
        stdout.write(data)
        stdout.flush()


async def _copy_in(writer: Any, stdin_eof: asyncio.Event) -> None:
    """stdin -> port until EOF.  A daemon thread reads (stdin may be a file or
    a tty, and a read blocked at exit must not keep the process alive); it
    waits for each chunk to be taken, so a slow port holds stdin back."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)

    def read() -> None:
        while True:
            data = os.read(0, STDIN_CHUNK)
            try:
                asyncio.run_coroutine_threadsafe(chunks.put(data), loop).result()
            except (RuntimeError, asyncio.CancelledError):  # the loop ended
                return
            if not data:
                return

    threading.Thread(target=read, name="spicepy-stdin", daemon=True).start()
    try:
        while data := await chunks.get():
            writer.write(data)
            await writer.drain()
    finally:
        stdin_eof.set()
