"""close() lets the server attach display/cursor channels before hanging up.

spice-server attaches them in its display worker thread after the link reply;
a client gone before that happened made QEMU 7.2 crash under load
(session.WORKER_ATTACHED). The fake display channel here attaches late.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

from test_session import FakeSpice, run, serve

import spicepy
from spicepy.session import session as session_mod
from spicepy.wire.enums import ChannelType, CommonMsg

DISPLAY = int(ChannelType.DISPLAY)
#: the fake worker's delay: well past a client that closes at once
ATTACH_DELAY = 0.3


Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def late_display(order: list[str], *, attach: bool = True) -> Peer:
    """A display channel whose server side attaches (SET_ACK) only after
    ``ATTACH_DELAY`` s (or never); ``order`` records whether the client hung
    up before that."""

    async def serve_display(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        hangup = asyncio.ensure_future(reader.read())
        await asyncio.sleep(ATTACH_DELAY)
        order.append("hung up first" if hangup.done() else "attached")
        if attach:
            body = struct.pack("<II", 1, 20)  # generation, window
            writer.write(struct.pack("<HI", CommonMsg.SET_ACK, len(body)) + body)
            await writer.drain()
        await hangup
        order.append("closed")

    return serve_display


def test_close_waits_for_the_server_to_attach_the_display() -> None:
    order: list[str] = []
    fake = FakeSpice(channels=[(DISPLAY, 0)], peers={DISPLAY: late_display(order)})

    async def main() -> None:
        async with serve(fake) as port:
            async with spicepy.connect(f"spice://127.0.0.1:{port}", timeout=10):
                pass  # close at once, as test_port_of_unknown_name_and_opt_in
            for _ in range(100):  # the peer sees the EOF a moment later
                if "closed" in order:
                    break
                await asyncio.sleep(0.02)

    run(main())
    assert order == ["attached", "closed"]


def test_close_gives_up_on_a_display_never_attached() -> None:
    order: list[str] = []
    fake = FakeSpice(
        channels=[(DISPLAY, 0)], peers={DISPLAY: late_display(order, attach=False)}
    )
    waited: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with serve(fake) as port:
            s = await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=10)
            opened = s.connections[(DISPLAY, 0)].opened_at
            start = loop.time()
            await s.close()
            waited.append(loop.time() - start)
            waited.append(loop.time() - opened)

    run(main())
    grace = session_mod.ATTACH_GRACE
    # the display was given the grace from its opening (minus timer slack), and
    # the close took not much more than it: 2 s of margin for a loaded host
    assert waited[1] >= grace - 0.05
    assert waited[0] < grace + 2


def test_close_does_not_wait_for_a_display_older_than_the_grace() -> None:
    """A stalled server (or a command that timed out) hangs up at once: the
    attach window is long past, and deadlines must hold."""
    fake = FakeSpice(
        channels=[(DISPLAY, 0)], peers={DISPLAY: late_display([], attach=False)}
    )
    waited: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with serve(fake) as port:
            s = await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=10)
            await asyncio.sleep(session_mod.ATTACH_GRACE)
            start = loop.time()
            await s.close()
            waited.append(loop.time() - start)

    run(main())
    # closing itself takes milliseconds; 0.3 s of slack for a loaded host
    assert waited[0] < 0.3
