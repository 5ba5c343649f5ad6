"""The asyncio SPICE session: links main, then every listed channel, and keeps them.

Theory of operation: ``Session.connect()`` opens the main channel with
connection id 0 (plain port when there is one, else the TLS port), waits for
MAIN_INIT (the session id) and CHANNELS_LIST, then links every listed channel
type spicepy supports with that session id, concurrently.  A link refused
with NEED_SECURED is retried once on the TLS port.  Each channel is a
``ChannelConnection`` around a sans-IO machine from ``spicepy.channels``; its
events come back synchronously through ``_on_event``, which updates the
session's state (the canvas for display events) and wakes waiters.  Waiters
re-check a predicate after every event, and raise the failure of the main or
display channel instead of hanging; every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from spicepy.errors import (
    ConnectionClosedError,
    LinkError,
    SessionError,
    SpiceError,
    SpiceTimeoutError,
)
from spicepy.session import _glue
from spicepy.session.connection import ChannelConnection
from spicepy.session.keymap import key_code, text_strokes
from spicepy.session.transport import TlsConfig, open_stream
from spicepy.session.uri import SpiceUri

log = logging.getLogger(__name__)

__all__ = ["Session", "ChangedRect"]

NEED_SECURED = 5  # SpiceLinkErr (spice/protocol.h)
MAX_QUEUED_EVENTS = 10_000


@dataclass(frozen=True, slots=True)
class ChangedRect:
    """A region of the primary surface that a display command touched."""

    left: int
    top: int
    right: int
    bottom: int


class Session:
    """A connected SPICE session (use ``spicepy.connect`` to get one).

    Args:
        uri: where to connect.
        password: the ticket (overrides a password in the URI).
        tls: CA / host-subject settings for the TLS port (default: system CAs).
        timeout: seconds for connecting and linking each channel.
        channel_types: link only these channel types (default: all supported).
        preferred_compression: ask the server for this image compression
            ("off", "auto_glz", "auto_lz", "quic", "glz", "lz", "lz4") when it
            supports the PREF_COMPRESSION display cap.
    """

    def __init__(
        self,
        uri: SpiceUri,
        *,
        password: str | None = None,
        tls: TlsConfig | None = None,
        timeout: float = 10.0,
        channel_types: frozenset[int] | None = None,
        preferred_compression: str | None = None,
    ) -> None:
        if (
            preferred_compression is not None
            and preferred_compression not in _glue.IMAGE_COMPRESSIONS
        ):
            raise ValueError(
                f"unknown image compression {preferred_compression!r}; "
                f"one of {', '.join(_glue.IMAGE_COMPRESSIONS)}"
            )
        self.preferred_compression = preferred_compression
        self.uri = uri.with_password(password)
        self.tls = tls if tls is not None else TlsConfig()
        self.timeout = timeout
        self.channel_types = channel_types
        self.session_id: int | None = None
        self.channels_list: list[tuple[int, int]] | None = None
        self.connections: dict[tuple[int, int], ChannelConnection] = {}
        self.state = _glue.SessionState()
        self._wakeup = asyncio.Event()
        self._events: collections.deque[object] = collections.deque(
            maxlen=MAX_QUEUED_EVENTS
        )
        self._changes: list[ChangedRect] = []
        self._secure: set[int] = set()
        self._closed = False
        self._loop = asyncio.get_running_loop()

    # -- connecting -------------------------------------------------------------

    async def connect(self) -> None:
        """Link main, then every channel it lists.

        Raises:
            AuthenticationError: wrong or missing password.
            LinkError: the server refused a link.
            SpiceTimeoutError, ConnectionClosedError, SessionError: I/O failures.
        """
        try:
            main = await self._open_channel(_glue.MAIN, 0, connection_id=0)
            self.connections[(_glue.MAIN, 0)] = main
            await self._wait(
                lambda: self.channels_list is not None,
                self.timeout,
                "the main channel's CHANNELS_LIST",
            )
            assert self.channels_list is not None and self.session_id is not None
            wanted = [
                (ctype, cid)
                for ctype, cid in self.channels_list
                if ctype in _glue.SUPPORTED
                and ctype != _glue.MAIN
                and (self.channel_types is None or ctype in self.channel_types)
            ]
            results = await asyncio.gather(
                *(self._open_channel(t, i, self.session_id) for t, i in wanted),
                return_exceptions=True,
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            for key, result in zip(wanted, results, strict=True):
                if isinstance(result, ChannelConnection):
                    self.connections[key] = result  # so close() reaches it
            if errors:
                raise errors[0]
            _glue.after_connect(self)
        except BaseException:
            await self.close()
            raise

    async def _open_channel(
        self, ctype: int, cid: int, connection_id: int
    ) -> ChannelConnection:
        use_tls = self.uri.port is None and self.uri.unix_path is None
        use_tls = use_tls or ctype in self._secure
        for attempt in range(2):
            conn = await self._start_channel(ctype, cid, connection_id, use_tls)
            try:
                await self._wait(
                    lambda c=conn: _glue.is_linked(c.machine),  # type: ignore[misc]
                    self.timeout,
                    f"{conn.name} link",
                    conn=conn,
                )
                return conn
            except LinkError as exc:
                await conn.close()
                if (
                    exc.error_code == NEED_SECURED
                    and not use_tls
                    and attempt == 0
                    and self.uri.tls_port is not None
                ):
                    log.info(
                        "%s needs TLS; relinking on port %d",
                        conn.name,
                        self.uri.tls_port,
                    )
                    self._secure.add(ctype)
                    use_tls = True
                    continue
                raise
            except BaseException:
                await conn.close()
                raise
        raise LinkError("channel needs TLS but no TLS port is known", NEED_SECURED)

    async def _start_channel(
        self, ctype: int, cid: int, connection_id: int, use_tls: bool
    ) -> ChannelConnection:
        if use_tls and self.uri.tls_port is None:
            raise LinkError(
                "the server requires TLS but no tls-port was given", NEED_SECURED
            )
        reader, writer = await open_stream(
            host=self.uri.host,
            port=self.uri.tls_port if use_tls else self.uri.port,
            unix_path=None if use_tls else self.uri.unix_path,
            tls=self.tls if use_tls else None,
            timeout=self.timeout,
        )
        machine = _glue.make_machine(self, ctype, cid, connection_id)
        name = f"{_glue.channel_name(ctype)}:{cid}"
        conn = ChannelConnection(name, machine, reader, writer, self._on_event)
        conn.start()
        return conn

    # -- events -----------------------------------------------------------------

    def _on_event(self, conn: ChannelConnection, event: object) -> None:
        _glue.handle_event(self, conn, event)
        self._events.append(event)
        self._wake()

    def _wake(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _note_change(self, rect: ChangedRect) -> None:
        self._changes.append(rect)
        if len(self._changes) > MAX_QUEUED_EVENTS:
            del self._changes[: len(self._changes) // 2]

    def _failure(self, conn: ChannelConnection | None = None) -> BaseException | None:
        """The error that makes waiting pointless (this conn, main or a display)."""
        watched = [conn] if conn is not None else []
        watched += [
            c
            for (t, _), c in self.connections.items()
            if t in (_glue.MAIN, _glue.DISPLAY)
        ]
        for c in watched:
            if c.closed.is_set():
                return c.error or ConnectionClosedError(f"{c.name}: closed")
        if self._closed:
            return SessionError("session is closed")
        return None

    async def _wait(
        self,
        predicate: Callable[[], bool],
        timeout: float | None,
        what: str,
        *,
        conn: ChannelConnection | None = None,
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if predicate():
                        return
                    error = self._failure(conn)
                    if error is not None:
                        if isinstance(error, SpiceError):
                            raise error
                        raise SessionError(f"{what}: {error!r}") from error
                    wakeup = self._wakeup
                    closers = [
                        asyncio.ensure_future(c.closed.wait())
                        for c in ([conn] if conn else [])
                        + list(self.connections.values())
                    ]
                    waker = asyncio.ensure_future(wakeup.wait())
                    try:
                        await asyncio.wait(
                            [waker, *closers], return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        for fut in (waker, *closers):
                            fut.cancel()
        except TimeoutError:
            raise SpiceTimeoutError(
                f"timed out after {timeout}s waiting for {what}"
            ) from None

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float | None, what: str = "it"
    ) -> None:
        """Wait until ``predicate()`` is true, re-checked after every event.

        Raises:
            SpiceTimeoutError: not true within ``timeout`` seconds (None: no limit).
            ConnectionClosedError, SpiceError: the main or display channel failed.
        """
        await self._wait(predicate, timeout, what)

    async def events(self) -> AsyncIterator[object]:
        """Every channel event (``spicepy.channels.events``), in arrival order,
        until the session ends; the newest 10000 are kept if nobody reads them."""
        while True:
            while self._events:
                yield self._events.popleft()
            if self._failure() is not None:
                return
            await self._wait(
                lambda: bool(self._events) or self._failure() is not None,
                None,
                "events",
            )

    # -- display ----------------------------------------------------------------

    @property
    def frames(self) -> int:
        """MARKs seen (each one is a complete primary surface)."""
        return self.state.marks

    async def wait_for_frame(self, timeout: float = 30.0) -> None:
        """Wait for the first complete frame (display MARK after the primary).

        Raises:
            SpiceTimeoutError: no frame in ``timeout`` seconds.
            ConnectionClosedError: the display or main channel went away.
        """
        if not any(t == _glue.DISPLAY for t, _ in self.connections):
            raise SessionError("the server offered no display channel")
        await self._wait(lambda: self.state.marks > 0, timeout, "the first frame")

    async def wait_until_settled(
        self, quiet: float = 0.5, timeout: float = 30.0
    ) -> None:
        """Wait for a frame, then until no display command arrived and no video
        frame was shown for ``quiet`` s, with no video frame still queued.

        Raises:
            SpiceTimeoutError: the screen kept changing for ``timeout`` seconds.
        """
        deadline = self._loop.time() + timeout
        await self.wait_for_frame(timeout)
        while True:
            now = self._loop.time()
            quiet_until = self.state.last_display_activity + quiet
            frame_due = _glue.next_frame_time(self)
            if frame_due is not None:  # a queued video frame is activity to come
                quiet_until = max(quiet_until, frame_due + quiet)
            if now >= quiet_until:
                return
            if now >= deadline:
                raise SpiceTimeoutError(f"screen did not settle within {timeout}s")
            await asyncio.sleep(min(quiet_until, deadline) - now)
            error = self._failure()
            if error is not None:
                raise error

    async def wait_for_change(self, timeout: float = 30.0) -> list[ChangedRect]:
        """Primary-surface rectangles changed since the last call (waits for one)."""
        await self._wait(lambda: bool(self._changes), timeout, "a screen change")
        changes, self._changes = self._changes, []
        return changes

    def take_changes(self) -> list[ChangedRect]:
        """Primary-surface rectangles changed since the last call (no waiting)."""
        changes, self._changes = self._changes, []
        return changes

    def screenshot(self, path: str | Path | None = None) -> npt.NDArray[np.uint8]:
        """The primary surface as (h, w, 3) uint8 RGB; also saved as PNG to ``path``.

        Raises:
            SessionError: no primary surface yet.
        """
        bgrx = _glue.primary_pixels(self)
        if bgrx is None:
            raise SessionError("no primary surface yet (await wait_for_frame() first)")
        rgb = np.ascontiguousarray(bgrx[..., 2::-1])
        if path is not None:
            from PIL import Image

            Image.fromarray(rgb, "RGB").save(path)
        return rgb

    # -- inputs -----------------------------------------------------------------

    def _inputs(self) -> ChannelConnection:
        for (ctype, _), conn in self.connections.items():
            if ctype == _glue.INPUTS:
                return conn
        raise SessionError("the server offered no inputs channel")

    async def key_down(self, key: str | int) -> None:
        code = key if isinstance(key, int) else key_code(key)
        _glue.send_key(self._inputs(), code, down=True)
        await self._drain()

    async def key_up(self, key: str | int) -> None:
        code = key if isinstance(key, int) else key_code(key)
        _glue.send_key(self._inputs(), code, down=False)
        await self._drain()

    async def key_press(
        self, key: str | int, *, modifiers: tuple[str, ...] = ()
    ) -> None:
        """Press and release a key ("enter", "f5", "a"), holding ``modifiers``."""
        for mod in modifiers:
            await self.key_down(mod)
        await self.key_down(key)
        await self.key_up(key)
        for mod in reversed(modifiers):
            await self.key_up(mod)

    async def type_text(self, text: str, delay: float = 0.0) -> None:
        """Type ``text`` on a US layout (shift handled; newline = Enter)."""
        conn = self._inputs()
        for code, shifted in text_strokes(text):
            if shifted:
                _glue.send_key(conn, key_code("shift"), down=True)
            _glue.send_key(conn, code, down=True)
            _glue.send_key(conn, code, down=False)
            if shifted:
                _glue.send_key(conn, key_code("shift"), down=False)
            await self._drain()
            if delay:
                await asyncio.sleep(delay)

    async def mouse_move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y) of the primary display."""
        _glue.send_mouse_move(self, self._inputs(), x, y)
        await self._drain()

    async def mouse_down(self, button: int = 1) -> None:
        _glue.send_mouse_button(self, self._inputs(), button, down=True)
        await self._drain()

    async def mouse_up(self, button: int = 1) -> None:
        _glue.send_mouse_button(self, self._inputs(), button, down=False)
        await self._drain()

    async def click(self, x: int, y: int, button: int = 1) -> None:
        """Move to (x, y) and press/release ``button`` (1 left, 2 middle, 3 right)."""
        await self.mouse_move(x, y)
        await self.mouse_down(button)
        await self.mouse_up(button)

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the transports write

    # -- closing ----------------------------------------------------------------

    async def close(self) -> None:
        """Close every channel (idempotent)."""
        self._closed = True
        _glue.cancel_stream_timer(self)
        conns = list(self.connections.values())
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        self._wake()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
