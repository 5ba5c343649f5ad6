"""One channel's TCP/TLS connection driving one sans-IO channel machine.

Theory of operation: the reader task feeds every chunk it reads to
``machine.receive_data`` and then *pumps*: it drains ``next_event()`` into
``handle(event, now)`` (the session's ``SessionCore.handle_event`` for this
channel, so a display message goes from here straight to the core) and then the
session's callback (logs, event iterators), writes ``data_to_send()`` and
re-arms the machine's timer with ``loop.call_at``.  Every ``send_*`` call made
through ``call()`` pumps too, so queued bytes never sit in the machine.  EOF is
passed on as ``receive_data(b"")``.  The first exception (from the machine, the
core, the callback or the socket) ends the connection and is kept in ``error``;
the session decides what it means.  The machine never sees the clock: ``now``
is ``loop.time()``.  An event that needs slow work first (``prepare``: a large
image decode, ``session.offload``) parks the pump: the reader runs that work on
a worker thread, then delivers the event and pumps on; meanwhile nothing more is
read or delivered on this connection (timers and ``call()`` only flush bytes),
so the events keep their order and the loop stays free for waits and timeouts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from spicepy.errors import ConnectionClosedError, SessionError, SpiceError
from spicepy.session.offload import run_off_loop

log = logging.getLogger(__name__)

__all__ = ["ChannelConnection", "ChannelMachine"]

READ_CHUNK = 256 * 1024
R = TypeVar("R")


class ChannelMachine(Protocol):
    """The STYLE.md surface every spicepy.channels machine offers."""

    def receive_data(self, data: bytes) -> None: ...

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


class ChannelConnection:
    """Pumps bytes between a stream pair and a channel machine.

    Args:
        name: for logs and error messages, e.g. ``"display:0"``.
        machine: the sans-IO channel.
        reader, writer: the open stream.
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
        self._on_event = on_event
        self._handle = handle
        self._on_pumped = on_pumped
        self._prepare = prepare
        #: an event waiting for its ``prepare`` work, and that work
        self._parked: tuple[object, Callable[[], object]] | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self._pumping = False
        self.closed = asyncio.Event()
        self.bytes_in = 0
        self.bytes_out = 0
        #: loop time the connection was made (its link starts right after)
        self.opened_at = self._loop.time()

    def start(self) -> None:
        """Flush what the machine queued at construction (its link message); read."""
        self.pump()
        self._task = asyncio.create_task(self._read_loop(), name=f"spicepy-{self.name}")

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
        if self._pumping or self._parked is not None:
            self._flush()
            return
        self._deliver(None)

    def _deliver(self, first: object | None) -> None:
        """The pump proper; ``first``: a parked event whose work is done."""
        self._pumping = True
        try:
            next_event, on_event = self.machine.next_event, self._on_event
            handle, clock = self._handle, self._loop.time
            prepare = self._prepare
            if first is not None:
                if handle is not None:
                    handle(first, clock())
                on_event(self, first)
            while (event := next_event()) is not None:
                if prepare is not None and (work := prepare(event)) is not None:
                    self._parked = (event, work)
                    break
                if handle is not None:
                    handle(event, clock())
                on_event(self, event)
            self._flush()
            self._arm_timer()
            if self._on_pumped is not None:
                self._on_pumped()
        except Exception as exc:  # kept for the session; the read loop stops
            self._fail(exc)
        finally:
            self._pumping = False

    def _flush(self) -> None:
        data = self.machine.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(data)
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

    async def _read_loop(self) -> None:
        try:
            while not self.closed.is_set():
                data = await self._reader.read(READ_CHUNK)
                self.bytes_in += len(data)
                self.machine.receive_data(data)
                self.pump()
                while self._parked is not None:
                    event, work = self._parked
                    await run_off_loop(work, f"spicepy-{self.name}-decode")
                    self._parked = None
                    self._deliver(event)
                if not data:
                    if self.error is None:
                        self.error = ConnectionClosedError(
                            f"{self.name}: server closed the connection"
                        )
                    break
                if self._writer.transport.get_write_buffer_size() > READ_CHUNK:
                    await self._writer.drain()
        except asyncio.CancelledError:
            raise
        except (ConnectionError, OSError) as exc:
            self._fail(ConnectionClosedError(f"{self.name}: {exc}"))
        except SpiceError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug in a lower layer: surface it, don't hang
            log.exception("%s: unexpected error", self.name)
            self._fail(SessionError(f"{self.name}: internal error: {exc!r}"))
        finally:
            self._shutdown()

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
            log.debug("%s: failed: %r", self.name, exc)
        self._shutdown()

    def _shutdown(self) -> None:
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

    def detach(self) -> None:
        """Deliver no more events and hang up (live migration replaced this
        connection; whatever the old server still sends belongs to nobody)."""
        self._on_event = _ignore_event
        self._handle = None
        self._on_pumped = None
        self._shutdown()

    async def close(self, timeout: float = 2.0) -> None:
        """Close the socket and stop the reader (idempotent)."""
        self._shutdown()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        try:
            async with asyncio.timeout(timeout):
                if task is not None:
                    await asyncio.gather(task, return_exceptions=True)
                await self._writer.wait_closed()
        except (TimeoutError, ConnectionError, OSError):
            pass
