"""One channel's TCP/TLS connection driving one sans-IO channel machine.

Theory of operation: ``start()`` takes the stream's transport over with a
``BufferedProtocol``: the transport reads straight into the connection's
buffer (``recv_into``; no StreamReader, whose buffer cost three copies of
every byte and a task wake-up per read) and hands each chunk to
``machine.receive_data`` as a read-only view, inside the transport's own
callback, and then *pumps*: it drains ``next_event()`` into
``handle(event, now)`` (the session's ``SessionCore.handle_event`` for this
channel, so a display message goes from here straight to the core) and then
the session's callback (logs, event iterators), writes ``data_to_send()`` and
re-arms the machine's timer with ``loop.call_at``.  Every ``send_*`` call made
through ``call()`` pumps too, so queued bytes never sit in the machine.  EOF is
passed on as ``receive_data(b"")``.  The first exception (from the machine, the
core, the callback or the socket) ends the connection and is kept in ``error``;
the session decides what it means.  The machine never sees the clock: ``now``
is ``loop.time()``.

The views handed to the machine stay valid as long as it keeps them (a message
body in an event, a held message): a region of the buffer is written once;
the buffer is reused from its start only when no view of it is alive, else a
fresh one replaces it.  The machine copies a message cut by the end of a read
into its own buffer, so in steady state one buffer serves every read and a
burst touches no new memory (a fresh page costs a fault, ~1 us here).

An event that needs slow work first (``prepare``: a large image decode,
``session.offload``) parks the pump: the transport stops reading, the work runs
on a worker thread, then the event is delivered and the pump goes on; meanwhile
nothing more is read or delivered on this connection, so the events keep
their order and the loop stays free for waits and timeouts.  Nor is anything
written: the machine answers a PING as it parses it, so a PONG parsed after the
parked event would otherwise leave before that event is drawn (and a server's
or a benchmark's round trip would claim work not done); bytes queued meanwhile
(by timers, ``call()``) go out once the parked event is delivered.  Reading
also pauses while the socket's write buffer is above the transport's
high-water mark (``pause_writing``), so a server that does not read cannot make
us queue without bound.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from spicepy.channels.base import buffer_unshared
from spicepy.errors import ConnectionClosedError, SessionError, SpiceError
from spicepy.session.offload import run_off_loop

log = logging.getLogger(__name__)

__all__ = ["ChannelConnection", "ChannelMachine"]

#: the receive buffer's size: one read takes at most this much
READ_CHUNK = 256 * 1024
#: room a read gets at least: with less left, the buffer is reused or replaced
MIN_READ = 64 * 1024
R = TypeVar("R")
#: Linux ``struct tcp_info``: ``tcpi_rtt`` (us) after 8 one-byte fields and 15
#: 32-bit ones (``ss -ti`` prints the same number as ``rtt:``)
TCPI_RTT_OFFSET = 68


class ChannelMachine(Protocol):
    """The STYLE.md surface every spicepy.channels machine offers."""

    def receive_data(self, data: bytes | memoryview) -> None: ...

    def next_event(self) -> object | None: ...

    def data_to_send(self) -> bytes: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


EventCallback = Callable[["ChannelConnection", object], None]
#: ``handle(event, now)``: the state every event goes to first (the session's core)
EventHandler = Callable[[object, float], None]
#: ``prepare(event)``: blocking work to run off the loop before ``event``, or None
PrepareHook = Callable[[object], Callable[[], object] | None]


def _ignore_event(conn: ChannelConnection, event: object) -> None:
    """The event callback of a detached connection."""


def _reading_error(name: str, exc: Exception) -> BaseException:
    """What an exception met while reading (or decoding ahead) means."""
    if isinstance(exc, (ConnectionError, OSError)):
        return ConnectionClosedError(f"{name}: {exc}")
    if isinstance(exc, SpiceError):
        return exc
    # a bug in a lower layer: surface it, don't hang
    log.error("%s: unexpected error", name, exc_info=exc)
    return SessionError(f"{name}: internal error: {exc!r}")


class _Receiver(asyncio.BufferedProtocol):
    """The transport's protocol from ``start()`` on: reads go to the
    connection; the stream's own protocol still hears of write flow control
    and of the end, so the ``StreamWriter``'s ``drain`` and ``wait_closed``
    keep working."""

    def __init__(self, conn: ChannelConnection, stream: asyncio.BaseProtocol) -> None:
        self._conn = conn
        self._stream = stream

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._conn._get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self._conn._received(nbytes)

    def eof_received(self) -> bool:
        self._conn._received_eof()
        return False  # the transport closes

    def pause_writing(self) -> None:
        self._stream.pause_writing()
        self._conn._hold_reading("writes", True)

    def resume_writing(self) -> None:
        self._stream.resume_writing()
        self._conn._hold_reading("writes", False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._conn._lost(exc)
        self._stream.connection_lost(exc)


class ChannelConnection:
    """Pumps bytes between a stream pair and a channel machine.

    Args:
        name: for logs and error messages, e.g. ``"display:0"``.
        machine: the sans-IO channel.
        reader, writer: the open stream; ``start()`` takes its transport over
            (the reader only tells what happened before: an early EOF).
        on_event: called synchronously with every event, in order.
        handle: called with every event and the loop's clock before
            ``on_event`` (the session's ``core.handle_event`` for this channel).
        on_pumped: called after each pump that delivered events or ran a
            timer (the session sends what its core queued then).
        prepare: called with every event before delivery; the blocking work it
            returns runs on a worker thread first (see the module docstring).
    """

    def __init__(
        self,
        name: str,
        machine: ChannelMachine,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_event: EventCallback,
        *,
        handle: EventHandler | None = None,
        on_pumped: Callable[[], None] | None = None,
        prepare: PrepareHook | None = None,
    ) -> None:
        self.name = name
        self.machine = machine
        self._reader = reader
        self._writer = writer
        #: a stream's transport reads too (``StreamWriter`` types it write-only)
        self._transport = cast(asyncio.Transport, writer.transport)
        self._on_event = on_event
        self._handle = handle
        self._on_pumped = on_pumped
        self._prepare = prepare
        #: an event waiting for its ``prepare`` work, and the task running it
        self._parked: object | None = None
        self._job: asyncio.Task[None] | None = None
        #: why reading is paused ("parked", "writes"); EOF met while parked
        self._holds: set[str] = set()
        self._eof_pending = False
        #: the receive buffer and where the next read goes
        self._buf = bytearray(READ_CHUNK)
        self._pos = 0
        self._loop = asyncio.get_running_loop()
        #: ``now`` for ``handle``: the loop's clock; the stock loops' ``time()``
        #: is ``time.monotonic()``, called directly (a Python frame less per event)
        self._clock: Callable[[], float] = (
            time.monotonic
            if getattr(self._loop.time, "__func__", None) is asyncio.BaseEventLoop.time
            else self._loop.time
        )
        #: the same clock, for a display lane (``SessionCore.display_lane``)
        self.clock = self._clock
        #: the machine's ``resume()`` (``Channel.set_lane``), if it has one
        self._resume: Callable[[], bool] | None = getattr(machine, "resume", None)
        #: reads that arrived while an event was parked, fed after it
        self._unread: list[memoryview] = []
        self._timer: asyncio.TimerHandle | None = None
        self.error: BaseException | None = None
        self._pumping = False
        #: replaced (live migration): what is still read belongs to nobody
        self._detached = False
        self.closed = asyncio.Event()
        self.bytes_in = 0
        self.bytes_out = 0
        #: loop time the connection was made (its link starts right after)
        self.opened_at = self._loop.time()

    def start(self) -> None:
        """Take the transport over, flush what the machine queued at
        construction (its link message) and read."""
        self._transport.set_protocol(_Receiver(self, self._transport.get_protocol()))
        self.pump()
        # the server speaks only after the link message; what the stream saw
        # before the take-over can only be its end
        if self._reader.exception() is not None or self._reader.at_eof():
            self._received_eof()

    def call(self, method: Callable[..., R], *args: object, **kwargs: object) -> R:
        """Call a ``send_*`` method of the machine and flush at once.

        Raises:
            ConnectionClosedError: the connection is already closed.
        """
        if self.closed.is_set():
            raise ConnectionClosedError(
                f"{self.name}: channel is closed"
            ) from self.error
        result = method(*args, **kwargs)
        self.pump()
        return result

    def pump(self) -> None:
        """Deliver pending events, write pending bytes, re-arm the timer.

        A ``call()`` made by an event handler (inside a pump) only flushes the
        bytes; the outer pump keeps delivering the events in order.
        """
        if self._parked is not None:
            return  # written after the parked event (theory of operation)
        if self._pumping:
            self._flush()
            return
        self._deliver(None)

    def _deliver(self, first: object | None) -> None:
        """The pump proper; ``first``: a parked event whose work is done."""
        self._pumping = True
        try:
            next_event, on_event = self.machine.next_event, self._on_event
            handle, clock = self._handle, self._clock
            prepare = self._prepare
            if first is not None:
                if handle is not None:
                    handle(first, clock())
                on_event(self, first)
            resume = self._resume
            while True:
                while (event := next_event()) is not None:
                    if prepare is not None and (work := prepare(event)) is not None:
                        self._park(event, work)
                        break
                    if handle is not None:
                        handle(event, clock())
                    on_event(self, event)
                # read on where a display lane stopped the machine (all
                # delivered: nothing older is pending)
                if self._parked is not None or resume is None:
                    break
                try:
                    if not resume():
                        break
                except Exception as exc:
                    self._fail(_reading_error(self.name, exc))
                    return
            if self._parked is None:
                self._flush()
            self._arm_timer()
            if self._on_pumped is not None:
                self._on_pumped()
        except Exception as exc:  # kept for the session; reading stops
            self._fail(exc)
        finally:
            self._pumping = False

    def _flush(self) -> None:
        data = self.machine.data_to_send()
        if data and not self._transport.is_closing():
            self._transport.write(data)
            self.bytes_out += len(data)

    def _arm_timer(self) -> None:
        when = self.machine.get_timer()
        if self._timer is not None:
            if when is not None and self._timer.when() == when:
                return
            self._timer.cancel()
            self._timer = None
        if when is not None and not self.closed.is_set():
            self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self.machine.handle_timer(self._loop.time())
        except Exception as exc:
            self._fail(exc)
            return
        self.pump()

    # -- reading (the transport's callbacks, through _Receiver) ----------------

    def _get_buffer(self) -> memoryview:
        buf, pos = self._buf, self._pos
        if len(buf) - pos < MIN_READ:
            if not buffer_unshared(buf):  # a view is still held: keep it
                self._buf = buf = bytearray(READ_CHUNK)
            self._pos = pos = 0
        return memoryview(buf)[pos:]

    def _received(self, nbytes: int) -> None:
        start = self._pos
        self._pos = end = start + nbytes
        self.bytes_in += nbytes
        if self._detached or self.closed.is_set():
            return  # detached or failed: the rest belongs to nobody
        view = memoryview(self._buf)[start:end].toreadonly()
        if self._parked is not None:  # (a read the pause did not stop)
            self._unread.append(view)  # a lane must not draw ahead of it
            return
        try:
            self.machine.receive_data(view)
        except Exception as exc:
            self._fail(_reading_error(self.name, exc))
            return
        self.pump()

    def _received_eof(self) -> None:
        if self.closed.is_set():
            return
        if self._parked is not None:  # after the parked events, in order
            self._eof_pending = True
            return
        try:
            self.machine.receive_data(b"")
        except Exception as exc:
            self._fail(_reading_error(self.name, exc))
            return
        self.pump()
        if self.error is None:
            self.error = ConnectionClosedError(
                f"{self.name}: server closed the connection"
            )
        self._shutdown()

    def _lost(self, exc: Exception | None) -> None:
        """The transport closed: after EOF, our own close, or a socket error."""
        if exc is not None:
            self._fail(_reading_error(self.name, exc))
        elif not self.closed.is_set():
            self._received_eof()
        self._shutdown()

    def _hold_reading(self, why: str, hold: bool) -> None:
        """Pause reading while any reason holds (a parked event, full writes)."""
        holds = self._holds
        was = bool(holds)
        if hold:
            holds.add(why)
        else:
            holds.discard(why)
        if bool(holds) != was and not self._transport.is_closing():
            if holds:
                self._transport.pause_reading()
            else:
                self._transport.resume_reading()

    # -- parking (session.offload) -----------------------------------------------

    def _park(self, event: object, work: Callable[[], object]) -> None:
        self._parked = event
        self._hold_reading("parked", True)
        self._job = asyncio.create_task(
            self._run_parked(event, work), name=f"spicepy-{self.name}-decode"
        )

    async def _run_parked(self, event: object, work: Callable[[], object]) -> None:
        try:
            await run_off_loop(work, f"spicepy-{self.name}-decode")
        except Exception as exc:
            self._fail(_reading_error(self.name, exc))
            return
        if self.closed.is_set():
            return
        self._parked = None
        self._deliver(event)  # may park the next one
        while self._parked is None and self._unread and not self.closed.is_set():
            try:
                self.machine.receive_data(self._unread.pop(0))
            except Exception as exc:
                self._fail(_reading_error(self.name, exc))
                return
            self._deliver(None)
        if self._parked is None:
            self._hold_reading("parked", False)
            if self._eof_pending:
                self._received_eof()

    # -- the end -------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
            log.debug("%s: failed: %r", self.name, exc)
        self._shutdown()

    def _shutdown(self) -> None:
        drop = getattr(self._prepare, "close", None)
        if drop is not None:  # work decoded ahead for us: nobody waits for it
            drop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._writer.is_closing():
            self._writer.close()
        self.closed.set()

    async def drain(self) -> None:
        """Wait until the socket's write buffer is below its high-water mark."""
        if not self._writer.is_closing():
            await self._writer.drain()

    def round_trip(self) -> float | None:
        """The kernel's smoothed round-trip time of this TCP connection (s),
        what a ping of the peer shows (SPICE lets only the server ping; Linux
        ``TCP_INFO`` keeps it from the ACKs of every exchange), or None: a Unix
        socket, another system, a closed connection."""
        option = getattr(socket, "TCP_INFO", None)
        sock = self._transport.get_extra_info("socket")
        if option is None or sock is None or self.closed.is_set():
            return None
        try:
            info = sock.getsockopt(socket.IPPROTO_TCP, option, 256)
        except OSError:  # not TCP (a Unix socket), or already gone
            return None
        if len(info) < TCPI_RTT_OFFSET + 4:
            return None
        rtt_us: int = struct.unpack_from("=I", info, TCPI_RTT_OFFSET)[0]
        return rtt_us / 1e6

    def detach(self, *, hang_up: bool = True) -> None:
        """Deliver no more events (live migration replaced this connection;
        whatever the old server still sends belongs to nobody) and hang up,
        unless ``hang_up`` is False: the caller closes it later."""
        self._detached = True
        set_lane = getattr(self.machine, "set_lane", None)
        if set_lane is not None:  # the old server's draws reach no canvas
            set_lane(None)
        self._on_event = _ignore_event
        self._handle = None
        self._on_pumped = None
        if hang_up:
            self._shutdown()

    async def close(self, timeout: float = 2.0) -> None:
        """Close the socket and stop the decode job (idempotent)."""
        self._shutdown()
        job = self._job
        if job is not None and not job.done():
            job.cancel()
        try:
            async with asyncio.timeout(timeout):
                if job is not None:
                    await asyncio.gather(job, return_exceptions=True)
                await self._writer.wait_closed()
        except (TimeoutError, ConnectionError, OSError):
            pass
