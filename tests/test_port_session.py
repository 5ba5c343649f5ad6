"""session.ports.Port: the stream over a linked PortChannel machine, what it
sends (PORT_EVENT, DATA) and what it keeps while nobody has the port open.
The connection is a double that calls the machine directly (no socket)."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest
from _channel_helpers import linked, split_messages

from spicepy.channels.port import PortChannel
from spicepy.errors import ConnectionClosedError, SessionError
from spicepy.session.ports import MAX_BACKLOG, Port
from spicepy.wire.enums import PortEvent, PortMsgc, SpicevmcMsg


class Conn:
    """ChannelConnection's surface that Port uses."""

    def __init__(self, machine: PortChannel) -> None:
        self.machine = machine
        self.closed = asyncio.Event()

    def call(self, method: Any, *args: Any) -> Any:
        return method(*args)

    async def drain(self) -> None:
        pass


def sent(ch: PortChannel) -> list[tuple[int, bytes]]:
    return split_messages(ch.data_to_send())


def port_event(event: PortEvent) -> tuple[int, bytes]:
    return (PortMsgc.EVENT, struct.pack("<B", event))


def test_stream_open_write_close_reopen() -> None:
    async def main() -> None:
        ch, _ = linked(PortChannel)
        port = Port("org.example", (10, 0), Conn(ch))  # type: ignore[arg-type]
        port._data(b"early ")  # before open: kept
        reader, writer = port.open_stream()
        assert sent(ch) == [port_event(PortEvent.OPENED)]
        port._data(b"later")
        assert await reader.readexactly(11) == b"early later"
        writer.write(b"to the guest")
        await writer.drain()
        assert sent(ch) == [(SpicevmcMsg.DATA, b"to the guest")]
        with pytest.raises(SessionError, match="open already"):
            port.open_stream()
        writer.close()
        assert writer.is_closing() and sent(ch) == [port_event(PortEvent.CLOSED)]
        assert await asyncio.wait_for(reader.read(), 5) == b""  # EOF for the reader
        with pytest.raises(ConnectionClosedError):
            writer.write(b"x")
        port._data(b"while closed")  # for the next open
        reader2, _ = port.open_stream()
        assert await reader2.readexactly(12) == b"while closed"
        assert port.dropped == 0

    asyncio.run(main())


def test_backlog_is_bounded_and_counts_what_it_drops() -> None:
    async def main() -> None:
        ch, _ = linked(PortChannel)
        port = Port("p", (10, 0), Conn(ch))  # type: ignore[arg-type]
        port._data(b"a" * (MAX_BACKLOG - 3))
        port._data(b"bcdefg")
        assert len(port.backlog) == MAX_BACKLOG and port.dropped == 3
        reader, _ = port.open_stream()
        got = await reader.readexactly(MAX_BACKLOG)
        assert got.endswith(b"abcd")

    asyncio.run(main())


def test_closed_channel_refuses_open_and_ends_the_stream() -> None:
    async def main() -> None:
        ch, _ = linked(PortChannel)
        conn = Conn(ch)
        port = Port("p", (10, 0), conn)  # type: ignore[arg-type]
        reader, _ = port.open_stream()
        conn.closed.set()
        port._eof()  # what PortControl does when the channel closes
        assert await asyncio.wait_for(reader.read(), 5) == b""
        with pytest.raises(ConnectionClosedError):
            port.open_stream()

    asyncio.run(main())
