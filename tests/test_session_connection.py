"""ChannelConnection: the byte pump between a stream and a sans-IO machine.

A tiny line-based machine stands in for a SPICE channel, and a fake asyncio
server on 127.0.0.1 port 0 plays the server; every await has a timeout.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from spicepy.errors import ConnectionClosedError, ProtocolError
from spicepy.session.connection import READ_CHUNK, ChannelConnection
from spicepy.session.transport import open_stream

LIMIT = 10.0


class LineMachine:
    """Sends HELLO at start; each complete line from the server is an event.

    "PING" makes it answer "PONG"; "TIMER n" arms a timer n seconds ahead whose
    expiry sends "TICK"; "BAD" is a protocol error; EOF with a partial line
    pending is a truncated message (like a SPICE message cut short).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buf = b""
        self._out = b"HELLO\n"
        self._events: list[object] = []
        self._timer: float | None = None
        self.eof = False

    def receive_data(self, data: bytes) -> None:
        if not data:
            self.eof = True
            if self._buf:
                raise ConnectionClosedError("closed in the middle of a message")
            self._events.append("EOF")
            return
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            text = line.decode()
            if text == "BAD":
                raise ProtocolError("bad line")
            if text == "PING":
                self._out += b"PONG\n"
            if text.startswith("TIMER "):
                self._timer = self._loop.time() + float(text.split()[1])
            self._events.append(text)

    def next_event(self) -> object | None:
        return self._events.pop(0) if self._events else None

    def data_to_send(self) -> bytes:
        out, self._out = self._out, b""
        return out

    def get_timer(self) -> float | None:
        return self._timer

    def handle_timer(self, now: float) -> None:
        assert self._timer is not None and now >= self._timer
        self._timer = None
        self._out += b"TICK\n"

    def send_text(self, text: str) -> int:
        self._out += text.encode() + b"\n"
        return len(text)


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def connected(
    script: Script,
) -> AsyncIterator[tuple[ChannelConnection, list[object]]]:
    server = await asyncio.start_server(script, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    events: list[object] = []
    reader, writer = await open_stream(host="127.0.0.1", port=port, timeout=LIMIT)
    machine = LineMachine(asyncio.get_running_loop())
    conn = ChannelConnection(
        "test:0", machine, reader, writer, lambda c, e: events.append(e)
    )
    conn.start()
    try:
        yield conn, events
    finally:
        await conn.close()
        server.close()
        async with asyncio.timeout(LIMIT):
            await server.wait_closed()


async def expect_line(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(LIMIT):
        return await reader.readline()


def test_start_flushes_and_events_arrive_in_order() -> None:
    seen: list[bytes] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        seen.append(await expect_line(r))
        w.write(b"one\ntwo\nPING\n")
        await w.drain()
        seen.append(await expect_line(r))
        w.close()

    async def main() -> list[object]:
        async with connected(script) as (conn, events):
            async with asyncio.timeout(LIMIT):
                await conn.closed.wait()
            assert isinstance(conn.error, ConnectionClosedError)
            return events

    assert asyncio.run(main()) == ["one", "two", "PING", "EOF"]
    assert seen == [b"HELLO\n", b"PONG\n"]


def test_call_flushes_send_commands() -> None:
    got: list[bytes] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await expect_line(r)
        got.append(await expect_line(r))
        w.write(b"done\n")
        await w.drain()

    async def main() -> None:
        async with connected(script) as (conn, events):
            assert conn.call(conn.machine.send_text, "hi") == 2  # type: ignore[attr-defined]
            async with asyncio.timeout(LIMIT):
                while "done" not in events:
                    await asyncio.sleep(0.01)

    asyncio.run(main())
    assert got == [b"hi\n"]


def test_timer_is_armed_and_fires() -> None:
    got: list[bytes] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await expect_line(r)
        w.write(b"TIMER 0.05\n")
        await w.drain()
        got.append(await expect_line(r))

    async def main() -> None:
        async with connected(script) as (conn, _):
            async with asyncio.timeout(LIMIT):
                while not got:
                    await asyncio.sleep(0.01)

    asyncio.run(main())
    assert got == [b"TICK\n"]


def test_server_closing_mid_message_is_connection_closed() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await expect_line(r)
        w.write(b"complete\npart")
        await w.drain()
        w.close()

    async def main() -> tuple[BaseException | None, list[object]]:
        async with connected(script) as (conn, events):
            async with asyncio.timeout(LIMIT):
                await conn.closed.wait()
            return conn.error, events

    error, events = asyncio.run(main())
    assert isinstance(error, ConnectionClosedError)
    assert "middle of a message" in str(error)
    assert events == ["complete"]


def test_protocol_error_ends_the_connection() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await expect_line(r)
        w.write(b"BAD\n")
        await w.drain()
        await asyncio.sleep(LIMIT)

    async def main() -> BaseException | None:
        async with connected(script) as (conn, _):
            async with asyncio.timeout(LIMIT):
                await conn.closed.wait()
            with pytest.raises(ConnectionClosedError):
                conn.call(conn.machine.send_text, "late")  # type: ignore[attr-defined]
            return conn.error

    assert isinstance(asyncio.run(main()), ProtocolError)


def test_callback_exception_is_kept() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await expect_line(r)
        w.write(b"x\n")
        await w.drain()
        await asyncio.sleep(LIMIT)

    async def main() -> BaseException | None:
        server = await asyncio.start_server(script, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await open_stream(host="127.0.0.1", port=port, timeout=LIMIT)

        def explode(conn: ChannelConnection, event: object) -> None:
            raise ValueError("callback failed")

        conn = ChannelConnection(
            "t", LineMachine(asyncio.get_running_loop()), reader, writer, explode
        )
        conn.start()
        async with asyncio.timeout(LIMIT):
            await conn.closed.wait()
        await conn.close()
        server.close()
        return conn.error

    error = asyncio.run(main())
    assert isinstance(error, ValueError)


class KeepingMachine(LineMachine):
    """Keeps every chunk it is given as it came (a view, as the SPICE machines
    keep message bodies), and the distinct buffers they were read into."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.kept: list[memoryview | bytes] = []
        self.buffers: set[int] = set()

    def receive_data(self, data: bytes | memoryview) -> None:
        if isinstance(data, memoryview):
            self.buffers.add(id(data.obj))
        self.kept.append(data)
        super().receive_data(data)


class CopyingMachine(KeepingMachine):
    """Keeps a copy of every chunk, no view."""

    def receive_data(self, data: bytes | memoryview) -> None:
        super().receive_data(data)
        self.kept[-1] = bytes(data)


def _stream(total: int) -> bytes:
    """About ``total`` bytes of numbered 1 KiB lines (no two chunks alike)."""
    return b"".join(b"%08d%s\n" % (i, b"." * 1015) for i in range(total // 1024))


@pytest.mark.parametrize("machine_type", [KeepingMachine, CopyingMachine])
def test_chunks_stay_intact_and_the_buffer_is_reused_when_free(
    machine_type: type[KeepingMachine],
) -> None:
    """The machine gets read-only views of the receive buffer: a view it keeps never
    changes under it (bytes 2 MiB later are read elsewhere); when it keeps
    none, one buffer serves the whole stream (a burst touches no new memory)."""
    data = _stream(8 * READ_CHUNK)

    async def main() -> KeepingMachine:
        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a)
        machine = machine_type(asyncio.get_running_loop())
        conn = ChannelConnection("t", machine, reader, writer, lambda c, e: None)
        conn.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, b.sendall, data)
        async with asyncio.timeout(LIMIT):
            while conn.bytes_in < len(data):
                await asyncio.sleep(0.001)
        await conn.close()
        b.close()
        return machine

    machine = asyncio.run(main())
    assert b"".join(machine.kept) == data
    # read-only: nothing downstream can write into the shared buffer
    assert all(v.readonly for v in machine.kept if isinstance(v, memoryview))
    if machine_type is CopyingMachine:
        assert len(machine.buffers) == 1
    else:
        assert len(machine.buffers) > 1


async def _parked_at_first_event(
    script: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    prepare: Callable[[object], Callable[[], object] | None],
) -> tuple[
    asyncio.Server, asyncio.StreamWriter, LineMachine, ChannelConnection, list[object]
]:
    """A connection to ``script``'s server with ``prepare``, once its first
    event is delivered: (server, writer, machine, connection, events)."""
    server = await asyncio.start_server(script, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await open_stream(host="127.0.0.1", port=port, timeout=LIMIT)
    events: list[object] = []
    machine = LineMachine(asyncio.get_running_loop())
    conn = ChannelConnection(
        "t", machine, reader, writer, lambda c, e: events.append(e), prepare=prepare
    )
    conn.start()
    async with asyncio.timeout(LIMIT):
        while not events:
            await asyncio.sleep(0.001)
    return server, writer, machine, conn, events


def test_a_parked_event_pauses_reading_and_keeps_the_order() -> None:
    """An event whose ``prepare`` returns work waits for it (on a worker
    thread); the transport reads nothing meanwhile, and the later events
    follow it in order."""
    release = threading.Event()
    got: list[bytes] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        got.append(await expect_line(r))
        w.write(b"a\nSLOW\nb\n")
        await w.drain()
        got.append(await expect_line(r))  # "GO", written once SLOW is delivered
        w.write(b"c\n")
        await w.drain()
        await asyncio.sleep(LIMIT)

    def prepare(event: object) -> Callable[[], object] | None:
        return (lambda: release.wait(LIMIT)) if event == "SLOW" else None

    async def main() -> tuple[list[object], bool, list[object]]:
        server, writer, machine, conn, events = await _parked_at_first_event(
            script, prepare
        )
        await asyncio.sleep(0.05)  # time for b (already read) to sneak past
        while_parked = list(events)
        reading = writer.transport.is_reading()  # type: ignore[attr-defined]
        conn.call(machine.send_text, "GO")
        await asyncio.sleep(0.05)  # "c" arrives, must not be read yet
        release.set()
        async with asyncio.timeout(LIMIT):
            while len(events) < 4:
                await asyncio.sleep(0.001)
        await conn.close()
        server.close()
        return while_parked, reading, events

    while_parked, reading, events = asyncio.run(main())
    assert got == [b"HELLO\n", b"GO\n"]
    assert while_parked == ["a"]
    assert not reading
    assert events == ["a", "SLOW", "b", "c"]


def test_nothing_is_written_while_an_event_is_parked() -> None:
    """A PONG parsed after a parked event (same read) and bytes a ``call()``
    queues meanwhile leave only once the parked event is delivered: a round
    trip (a server's, replay-server's timing) never claims work not done."""
    release = threading.Event()
    lines: list[bytes] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        lines.append(await expect_line(r))  # HELLO
        w.write(b"a\nSLOW\nPING\n")
        await w.drain()
        while line := await r.readline():
            lines.append(line)

    def prepare(event: object) -> Callable[[], object] | None:
        return (lambda: release.wait(LIMIT)) if event == "SLOW" else None

    async def main() -> tuple[list[bytes], list[object], list[bytes]]:
        server, writer, machine, conn, events = await _parked_at_first_event(
            script, prepare
        )
        conn.call(machine.send_text, "MEANWHILE")
        await asyncio.sleep(0.1)  # time for a wrong PONG to reach the server
        while_parked = list(lines)
        release.set()
        async with asyncio.timeout(LIMIT):
            while len(lines) < 3:
                await asyncio.sleep(0.001)
        await conn.close()
        server.close()
        return while_parked, events, lines

    while_parked, events, lines = asyncio.run(main())
    assert while_parked == [b"HELLO\n"]
    assert events == ["a", "SLOW", "PING"]
    assert sorted(lines[1:]) == [b"MEANWHILE\n", b"PONG\n"]


def test_reading_pauses_while_the_write_buffer_is_full() -> None:
    """Above the transport's high-water mark (``pause_writing``) nothing more
    is read, so a server that does not read cannot make writes pile up."""

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await expect_line(r)
        await asyncio.sleep(LIMIT)

    async def main() -> tuple[bool, bool]:
        async with connected(script) as (conn, _):
            transport = conn._writer.transport
            receiver = transport.get_protocol()
            receiver.pause_writing()  # as the transport does
            paused = transport.is_reading()  # type: ignore[attr-defined]
            receiver.resume_writing()
            resumed = transport.is_reading()  # type: ignore[attr-defined]
            async with asyncio.timeout(LIMIT):
                await conn.drain()  # the stream's flow control follows too
            return paused, resumed

    assert asyncio.run(main()) == (False, True)


def test_an_end_seen_before_the_take_over_closes_the_connection() -> None:
    """A server that hangs up at once: the stream saw the EOF before
    ``start()`` took its transport over; the connection still ends at once."""

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    async def main() -> BaseException | None:
        server = await asyncio.start_server(script, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await open_stream(host="127.0.0.1", port=port, timeout=LIMIT)
        async with asyncio.timeout(LIMIT):
            while not reader.at_eof():
                await asyncio.sleep(0.001)
        conn = ChannelConnection(
            "t", LineMachine(asyncio.get_running_loop()), reader, writer, print
        )
        conn.start()
        async with asyncio.timeout(1.0):
            await conn.closed.wait()
        await conn.close()
        server.close()
        return conn.error

    assert isinstance(asyncio.run(main()), ConnectionClosedError)


class OffsetClockLoop(asyncio.SelectorEventLoop):
    """A loop whose clock is not ``time.monotonic()``."""

    def time(self) -> float:
        return super().time() + 1000.0


@pytest.mark.parametrize("loop_type", [asyncio.SelectorEventLoop, OffsetClockLoop])
def test_events_are_handled_at_the_loops_time(
    loop_type: type[asyncio.AbstractEventLoop],
) -> None:
    """``handle`` gets the loop's clock (timers are armed in it), whatever
    the loop's ``time()`` is."""

    done: list[bool] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await expect_line(r)
        w.write(b"x\n")
        await w.drain()
        async with asyncio.timeout(LIMIT):
            await r.read()  # until the client hangs up
        done.append(True)

    async def main() -> tuple[float, float, float]:
        loop = asyncio.get_running_loop()
        server = await asyncio.start_server(script, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await open_stream(host="127.0.0.1", port=port, timeout=LIMIT)
        stamps: list[float] = []
        conn = ChannelConnection(
            "t",
            LineMachine(loop),
            reader,
            writer,
            lambda c, e: None,
            handle=lambda event, now: stamps.append(now),
        )
        before = loop.time()
        conn.start()
        async with asyncio.timeout(LIMIT):
            while not stamps:
                await asyncio.sleep(0.001)
        after = loop.time()
        await conn.close()
        server.close()
        async with asyncio.timeout(LIMIT):
            while not done:
                await asyncio.sleep(0.001)
        return before, stamps[0], after

    loop = loop_type()
    try:
        before, now, after = loop.run_until_complete(main())
    finally:
        loop.close()
    assert before <= now <= after
