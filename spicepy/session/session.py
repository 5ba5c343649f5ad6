"""The asyncio SPICE session: links main, then every listed channel, and keeps them.

Theory of operation: ``Session.connect()`` opens the main channel with
connection id 0 (plain port when there is one, else the TLS port), waits for
MAIN_INIT (the session id) and CHANNELS_LIST, then links every listed channel
type spicepy supports with that session id, concurrently.  A link refused
with NEED_SECURED is retried once on the TLS port.  Each channel is a
``ChannelConnection`` around a sans-IO machine from ``spicepy.channels``; the
connection hands its events synchronously to the session's ``SessionCore``
(``core.py``: canvases, hold queue, multimedia clock, changes) with the loop's
clock as ``now``, then to ``_observe`` (logs, ``events()`` iterators).  After
each read the session sends what the core queued and re-arms the core's one
timer (``loop.call_at``).  Waiters re-check a predicate after every event, and
raise the failure of the main or display channel instead of hanging; every wait
has a timeout.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import gc
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas.pixelmem import Prefault
from spicepy.canvas.video import video_display_caps
from spicepy.channels import CHANNEL_CLASSES
from spicepy.channels.display import DEFAULT_DISPLAY_CAPS
from spicepy.channels.events import ChannelClosed, LinkCompleted
from spicepy.channels.sasl import SaslCredentials
from spicepy.errors import (
    ConnectionClosedError,
    LinkError,
    SessionError,
    SpiceError,
    SpiceTimeoutError,
)
from spicepy.limits import DEFAULT_LIMITS, Limits
from spicepy.session.connection import ChannelConnection
from spicepy.session.core import (
    ChangedRect,
    ChannelKey,
    SessionCore,
    channel_name,
    glz_window_pixels,
)
from spicepy.session.frames import FrameTracker
from spicepy.session.keymap import PAUSE_BYTES, key_code, text_strokes
from spicepy.session.media import AgentControl, AudioPlayback, CursorTracker
from spicepy.session.migration import MigrationControl
from spicepy.session.mouse import MouseControl
from spicepy.session.offload import display_prepare
from spicepy.session.pacing import typing_pauses
from spicepy.session.ports import PortControl
from spicepy.session.transport import TlsConfig, open_stream
from spicepy.session.uri import SpiceUri
from spicepy.session.usb import UsbRedirection
from spicepy.session.wakeup import Wakeup
from spicepy.wire.enums import (
    ChannelType,
    DisplayCap,
    ImageCompression,
    InputsCap,
    LinkErr,
)

if TYPE_CHECKING:  # the bots sit above the session: types only
    from spicepy.bots.actions import NeedleLike, Rect
    from spicepy.bots.match import Match
    from spicepy.bots.ocr import TextMatch

log = logging.getLogger(__name__)

__all__ = [
    "Session",
    "ChangedRect",
    "ChannelsSkipped",
    "EventStream",
    "SkippedChannel",
]

#: events an ``events()`` iterator holds when its reader falls behind (oldest dropped)
MAX_QUEUED_EVENTS = 10_000
#: events of connect() kept for the first ``events()`` iterator (links, INIT,
#: CHANNELS_LIST, ...: a few per channel)
MAX_CONNECT_EVENTS = 256
MAIN, DISPLAY, INPUTS = ChannelType.MAIN, ChannelType.DISPLAY, ChannelType.INPUTS
#: Channel types the session links; RECORD too with ``record=True`` (it makes
#: the guest see a microphone, so only when the caller means to send audio).
SUPPORTED = frozenset({MAIN, DISPLAY, INPUTS, ChannelType.CURSOR, ChannelType.PLAYBACK})
RECORD = ChannelType.RECORD
#: opt-in too: USB redirection (``usbredir=True``) and spiceports (``ports=True``)
USBREDIR, PORT = ChannelType.USBREDIR, ChannelType.PORT
#: spice-server attaches these channels' clients in its display worker thread,
#: after it sent the link reply. A hang-up the worker reads while it still
#: waits for DISPLAY_INIT (0.15.1 dcc_start) frees the client under its feet:
#: QEMU 7.2 died with SIGSEGV under load. The worker flushes its first message
#: (SET_ACK) only once attached, so that message says the hang-up is safe.
WORKER_ATTACHED = frozenset({DISPLAY, ChannelType.CURSOR})
#: how long after opening such a channel close() still lets the server's
#: worker attach it (s): the window is the worker's scheduling delay, so a
#: channel older than this is not waited for (a stalled or hostile server, a
#: timed-out CLI command: their deadlines hold)
ATTACH_GRACE = 0.5
#: how far ahead of real time ``send_audio`` may send (s); the guest's capture
#: buffer then never holds much more than this
AUDIO_LEAD = 0.2
#: PREFERRED_COMPRESSION names ("auto_glz", "lz4", ...) and their values.
IMAGE_COMPRESSIONS = {
    c.name.lower(): int(c) for c in ImageCompression if c != ImageCompression.INVALID
}
#: The machine's defaults (MJPEG the only video codec, STREAM_REPORT) plus what
#: the canvas renders: DRAW_COMPOSITE (draw_blend.composite) and A8 surfaces;
#: the video codecs are added per display channel (``video_display_caps``).
DISPLAY_CAPS = DEFAULT_DISPLAY_CAPS | {DisplayCap.COMPOSITE, DisplayCap.A8_SURFACE}
#: the timer is not re-armed for a change smaller than this (s)
TIMER_RESOLUTION = 0.0005


@dataclass(frozen=True, slots=True)
class SkippedChannel:
    """A channel the server listed that the session did not open, and why."""

    channel_type: int
    channel_id: int
    reason: str  # "not supported by spicepy", "not chosen" or the record opt-in

    @property
    def name(self) -> str:
        return channel_name((self.channel_type, self.channel_id))


@dataclass(frozen=True, slots=True)
class ChannelsSkipped:
    """Session event, once after CHANNELS_LIST: the listed channels not opened."""

    channels: tuple[SkippedChannel, ...]


class EventStream:
    """What ``Session.events()`` returns: an async iterator over its own queue,
    which the session fills from the iterator's creation until it is dropped."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.queue: collections.deque[object] = collections.deque(
            maxlen=MAX_QUEUED_EVENTS
        )
        #: fired per event queued here (a reader is not woken by other pumps)
        self.wakeup = session._wakeup_for()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> object:
        session = self._session
        while not self.queue:
            if session._failure() is not None:
                raise StopAsyncIteration
            await session._wait(
                lambda: bool(self.queue) or session._failure() is not None,
                None,
                "events",
                wakeup=self.wakeup,
            )
        return self.queue.popleft()


class Session:
    """A connected SPICE session (use ``spicepy.connect`` to get one).

    Args:
        uri: where to connect.
        password: the ticket (overrides a password in the URI).
        tls: CA / host-subject settings for the TLS port (default: system CAs).
        timeout: seconds for all of ``connect()``: one deadline for every
            connection, TLS handshake and link (each step gets what is left).
        channel_types: link only these channel types (default: all supported).
        preferred_compression: ask the server for this image compression
            ("off", "auto_glz", "auto_lz", "quic", "glz", "lz", "lz4") when it
            supports the PREF_COMPRESSION display cap.
        plain: with both a plain and a TLS port, link on the plain port
            (default: every channel over TLS; ``SpiceUri.channel_uses_tls``).
        proxy: HTTP CONNECT proxy URL ("http://user:pass@host:port"); None
            means ``$SPICE_PROXY``, "" means none.
        username: authenticate with SASL as this user (over TLS), with the
            password as its secret.
        record: also link the RECORD channel (``send_audio``).
        usbredir: also link the USBREDIR channels (``session.usb``).
        ports: also link the PORT channels (``session.ports``).
        limits: the session's byte budgets and the inline-decode threshold
            (``spicepy.limits.Limits``; default ``DEFAULT_LIMITS``).
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
        plain: bool = False,
        proxy: str | None = None,
        username: str | None = None,
        record: bool = False,
        usbredir: bool = False,
        ports: bool = False,
        limits: Limits | None = None,
    ) -> None:
        if (
            preferred_compression is not None
            and preferred_compression not in IMAGE_COMPRESSIONS
        ):
            raise ValueError(
                f"unknown image compression {preferred_compression!r}; "
                f"one of {', '.join(IMAGE_COMPRESSIONS)}"
            )
        self.preferred_compression = preferred_compression
        self.uri = uri.with_password(password)
        self.tls = tls if tls is not None else TlsConfig()
        self.timeout = timeout
        self.channel_types = channel_types
        self.plain = plain
        self.proxy = proxy
        opt_in = {RECORD: record, USBREDIR: usbredir, PORT: ports}
        self.linkable = SUPPORTED | {t for t, wanted in opt_in.items() if wanted}
        self.sasl = (
            None
            if username is None
            else SaslCredentials(
                username, self.uri.password or "", host=uri.host or "localhost"
            )
        )
        #: channels the server listed that this session does not open, with why
        #: (known after ``connect``; also logged and queued as ``ChannelsSkipped``)
        self.skipped_channels: list[SkippedChannel] = []
        self.connections: dict[ChannelKey, ChannelConnection] = {}
        #: the newest connection of every channel, linked or still linking (the
        #: core may queue a message before connect() lists the channel, e.g. the
        #: mouse-mode request on MAIN INIT, which can come with the link reply)
        self._machines: dict[ChannelKey, ChannelConnection] = {}
        #: everything learnt from the channels (canvases, clock, changes)
        #: byte budgets of everything a server fills (``spicepy.limits``)
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        self.core = SessionCore(limits=self.limits)
        # a video frame the timer chose, decoded on a worker thread, comes
        # back here at once (not by the timer polling)
        self.core.video_wakeup = self._video_decoded
        #: fired after every pump: ``wait_for`` predicates re-check then
        self._changed = Wakeup()
        #: one per kind of waiter that knows its source (``_wakeup_for``)
        self._kinds: weakref.WeakSet[Wakeup] = weakref.WeakSet()
        #: per connection: wakes every waiter when it closes (set on first wait)
        self._close_watch: dict[ChannelConnection, asyncio.Task[Any]] = {}
        #: the pointer (shape, position), the guest agent, the playback audio
        self.cursor = CursorTracker(self)
        self.agent = AgentControl(self)
        self.audio = AudioPlayback(self)
        #: the screen as it changes (damage updates, resizes, copies)
        self.screen = FrameTracker(self.core, self._wait, self._wakeup_for)
        #: pointer moves, buttons, wheel, drags in either mouse mode
        self.mouse = MouseControl(self)
        #: follows the server's live migration (``Migrated``/``MigrationFailed``)
        self.migration = MigrationControl(self)
        #: USB devices redirected into the guest; named spiceports as streams
        self.usb = UsbRedirection(self)
        self.ports = PortControl(self)
        self._timer: asyncio.TimerHandle | None = None
        self._changes_taken = 0
        #: live ``events()`` iterators (weak references that remove themselves);
        #: each queues every event from its creation.  A plain set: its truth
        #: test, once per event, is C (a WeakSet's ``__len__`` is Python)
        self._readers: set[weakref.ref[EventStream]] = set()
        #: connect()'s events, for the first iterator; dropped at the first
        #: event after connect() if no iterator took them (None: dropped)
        self._backlog: collections.deque[object] | None = collections.deque(
            maxlen=MAX_CONNECT_EVENTS
        )
        self._connecting = False
        self._secure: set[int] = set()
        self._closed = False
        self._loop = asyncio.get_running_loop()
        #: huge-page memory for the display's first frame, made ready while
        #: connect() links (``pixelmem.Prefault``); what is left goes at close()
        self._prefault: Prefault | None = None

    # -- connecting -------------------------------------------------------------

    async def connect(self) -> None:
        """Link main, then every channel it lists, all within ``timeout`` s.

        The garbage collector: connect() calls ``gc.freeze()`` at its start and
        as each channel starts, so what exists then (the application's objects
        too) is left out of later collections; reference counting still frees
        it.  Only cyclic garbage made before those points stays (an
        application that made a lot can ``gc.collect()`` before connecting).
        The thresholds are left alone (the command line, which owns its
        process, raises them).

        Raises:
            AuthenticationError: wrong or missing password.
            LinkError: the server refused a link.
            SpiceTimeoutError, ConnectionClosedError, SessionError: I/O failures.
        """
        # What exists now (modules, tables, this session) lives as long as the
        # session: out of the collector's generations, each full collection in
        # the data phase no longer walks ~50k such objects (measured: one pass
        # took 25-90 ms of a 100 ms text-glz replay on a loaded 2-core host).
        gc.freeze()
        # The display's first frame maps a primary surface and an image region
        # on fresh huge pages: zeroed by the kernel now, on a worker thread
        # while the links are under way, not inside the first burst of draws
        if self._prefault is None and (
            self.channel_types is None or DISPLAY in self.channel_types
        ):
            self._prefault = Prefault()
        # One deadline for every step: a server answering each step just in
        # time must not stretch connect() to (steps x timeout).
        deadline = self._loop.time() + self.timeout
        self._connecting = True
        try:
            main = await self._open_channel(MAIN, 0, 0, deadline)
            self.connections[(MAIN, 0)] = main
            await self._wait(
                lambda: self.core.channels_list is not None,
                self.timeout,
                "the main channel's CHANNELS_LIST",
                deadline=deadline,
            )
            channels, session_id = self.core.channels_list, self.core.session_id
            assert channels is not None and session_id is not None
            wanted = [
                (ctype, cid)
                for ctype, cid in channels
                if ctype in self.linkable
                and ctype != MAIN
                and (self.channel_types is None or ctype in self.channel_types)
            ]
            self._report_skipped(
                [key for key in channels if key not in wanted and key[0] != MAIN]
            )
            results = await asyncio.gather(
                *(self._open_channel(t, i, session_id, deadline) for t, i in wanted),
                return_exceptions=True,
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            for key, result in zip(wanted, results, strict=True):
                if isinstance(result, ChannelConnection):
                    self.connections[key] = result  # so close() reaches it
            if errors:
                raise errors[0]
        except BaseException:
            await self.close()
            raise
        finally:
            self._connecting = False

    def _report_skipped(self, keys: list[ChannelKey]) -> None:
        """Say which listed channels stay closed (nothing is skipped silently)."""
        for ctype, cid in keys:
            if ctype in self.linkable:
                reason = "not chosen"
            elif ctype == RECORD:
                reason = "opt-in: connect(record=True)"
            elif ctype == USBREDIR:
                reason = "opt-in: connect(usbredir=True)"
            elif ctype == PORT:
                reason = "opt-in: connect(ports=True)"
            else:
                reason = "not supported by spicepy"
            self.skipped_channels.append(SkippedChannel(ctype, cid, reason))
            log.info("not opening %s: %s", channel_name((ctype, cid)), reason)
        if self.skipped_channels:
            self._publish(ChannelsSkipped(tuple(self.skipped_channels)))

    async def _open_channel(
        self, ctype: int, cid: int, connection_id: int, deadline: float
    ) -> ChannelConnection:
        """Open and link one channel by ``deadline`` (loop time)."""
        use_tls = self.uri.channel_uses_tls(ctype, plain=self.plain)
        use_tls = use_tls or ctype in self._secure
        for attempt in range(2):
            conn = await self._start_channel(
                ctype, cid, connection_id, use_tls, deadline
            )
            try:
                await self._wait(
                    lambda c=conn: c.machine.linked,  # type: ignore[misc]
                    self.timeout,
                    f"{conn.name} link",
                    conn=conn,
                    deadline=deadline,
                )
                return conn
            except LinkError as exc:
                await conn.close()
                if (
                    exc.error_code == LinkErr.NEED_SECURED
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
        raise LinkError(
            "channel needs TLS but no TLS port is known", LinkErr.NEED_SECURED
        )

    async def _start_channel(
        self, ctype: int, cid: int, connection_id: int, use_tls: bool, deadline: float
    ) -> ChannelConnection:
        if use_tls and self.uri.tls_port is None:
            raise LinkError(
                "the server requires TLS but no tls-port was given",
                LinkErr.NEED_SECURED,
            )
        reader, writer = await open_stream(
            host=self.uri.host,
            port=self.uri.tls_port if use_tls else self.uri.port,
            unix_path=None if use_tls else self.uri.unix_path,
            tls=self.tls if use_tls else None,
            timeout=self.timeout,
            deadline=deadline,
            proxy=self.proxy,
        )
        machine = self._make_machine(ctype, cid, connection_id, secure=use_tls)
        key = (ctype, cid)
        log.info("%s: linking over %s", channel_name(key), "TLS" if use_tls else "TCP")
        # large images decode on a worker thread first (session.offload),
        # later messages' images on the second core (session.lookahead),
        # whose worker starts now, not inside the display's first burst
        prepare = None
        if ctype == DISPLAY:
            prepare = display_prepare(
                self.core,
                cid,
                self.limits.inline_decode_pixels,
                machine,
                self.limits.decode_ahead,
            )
            if prepare.ahead is not None:
                prepare.ahead.start_worker()
        conn = ChannelConnection(
            channel_name(key),
            machine,
            reader,
            writer,
            functools.partial(self._observe, key),
            handle=functools.partial(self.core.handle_event, key),
            on_pumped=self._after_pump,
            prepare=prepare,
        )
        self._machines[key] = conn
        if ctype == DISPLAY:  # common draws in C; off while events() readers live
            machine.set_lane(self.core.display_lane(cid, conn.clock, self))
        # What exists now (connect()'s objects so far, the video probe's
        # imports) lives as long as the session; without this, the first young
        # collection inside the display's first burst walked ~10k of them
        # (2-5 ms of a 10-20 ms window; see connect() for the first freeze)
        gc.freeze()
        conn.start()
        return conn

    def _make_machine(
        self, ctype: int, cid: int, connection_id: int, *, secure: bool = False
    ) -> Any:
        """A ``spicepy.channels`` machine for one channel connection."""
        kwargs: dict[str, Any] = {
            "connection_id": connection_id,
            "password": self.uri.password or "",
            "secure": secure,
            "sasl": self.sasl,
        }
        if ctype == MAIN:
            kwargs["agent"] = True  # clipboard, resize, files (session.agent)
        if ctype == ChannelType.CURSOR:
            kwargs["max_cache_bytes"] = self.limits.cursor_cache
        if ctype == DISPLAY:
            # CODEC_VP8 / CODEC_H264 when FFmpeg decodes them: PyAV loads here,
            # before the display links, not inside its data phase
            kwargs["channel_caps"] = DISPLAY_CAPS | video_display_caps()
            kwargs["glz_window_size"] = glz_window_pixels(self.core.ram_hint)
            if self.preferred_compression is not None:
                kwargs["preferred_compression"] = IMAGE_COMPRESSIONS[
                    self.preferred_compression
                ]
        machine = CHANNEL_CLASSES[ctype](cid, **kwargs)
        agent = getattr(machine, "agent_machine", None)
        if agent is not None:
            agent.max_message_size = min(agent.max_message_size, self.limits.agent)
        return machine

    # -- events -----------------------------------------------------------------

    def _on_event(
        self, key: ChannelKey, conn: ChannelConnection, event: object
    ) -> None:
        """An event that did not come through its connection's ``handle``
        (a migration target's, see ``session.migration``)."""
        self.core.handle_event(key, event, self._loop.time())
        self._observe(key, conn, event)

    def _observe(self, key: ChannelKey, conn: ChannelConnection, event: object) -> None:
        """After the core: log links and closes, publish to ``events()``
        (per event: two type tests and two truth tests when nobody listens)."""
        cls = type(event)
        if cls is LinkCompleted:
            log.info("%s linked", conn.name)
        elif cls is ChannelClosed:
            assert isinstance(event, ChannelClosed)
            log.info("%s closed (clean=%s)", conn.name, event.clean)
            if not event.clean and conn.error is None:
                conn.error = ConnectionClosedError(
                    f"{conn.name}: server closed the connection in the middle "
                    "of a message"
                )
        if self._readers or self._backlog is not None:
            self._publish(event)

    def _publish(self, event: object) -> None:
        """Queue ``event`` for every live ``events()`` iterator (none: dropped)."""
        for ref in list(self._readers):
            reader = ref()
            if reader is not None:
                reader.queue.append(event)
                reader.wakeup.fire()
        backlog = self._backlog
        if backlog is not None:
            if self._connecting:
                backlog.append(event)
            else:  # nobody took connect()'s events in time: not kept
                self._backlog = None

    def _after_pump(self) -> None:
        """After a read or a timer: send what the core queued, re-arm its timer."""
        self._send_core_messages()
        self._arm_timer()
        self._wake()

    def _send_core_messages(self) -> None:
        for key, msg in self.core.messages_to_send():
            conn = self._machines.get(key)
            if conn is not None and not conn.closed.is_set():
                conn.call(conn.machine.send_message, msg)  # type: ignore[attr-defined]

    def _arm_timer(self) -> None:
        """(Re-)arm the one timer from ``core.get_timer()``."""
        when = None if self._closed else self.core.get_timer()
        timer = self._timer
        if timer is not None:
            if when is not None and abs(timer.when() - when) < TIMER_RESOLUTION:
                return
            timer.cancel()
            self._timer = None
        if when is not None:
            self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closed:
            return
        self.core.handle_timer(self._loop.time())
        self._after_pump()

    def _video_decoded(self) -> None:
        """From a video decode thread: run the timer's work on the loop."""
        try:
            self._loop.call_soon_threadsafe(self._on_video_decoded)
        except RuntimeError:  # the loop closed: nobody to show it to
            pass

    def _on_video_decoded(self) -> None:
        if not self._closed:
            self.core.handle_timer(self._loop.time())
            self._after_pump()

    def _wake(self) -> None:
        self._changed.fire()

    def _wakeup_for(self) -> Wakeup:
        """A ``Wakeup`` for one kind of waiter: its source fires it; the
        session's end (a closed connection, ``close()``) fires it too."""
        wakeup = Wakeup()
        self._kinds.add(wakeup)
        return wakeup

    def _wake_all(self, _: object = None) -> None:
        """Something ended: every waiter re-checks (and raises)."""
        self._changed.fire()
        for wakeup in list(self._kinds):
            wakeup.fire()

    def _watch_closes(self, conn: ChannelConnection | None) -> None:
        """One close watcher per connection (not a future per wait)."""
        watched = self._close_watch
        conns = list(self.connections.values())
        if conn is not None:
            conns.append(conn)
        for c in conns:
            if c not in watched:
                watcher = asyncio.ensure_future(c.closed.wait())
                watcher.add_done_callback(self._wake_all)
                watched[c] = watcher

    def _failure(self, conn: ChannelConnection | None = None) -> BaseException | None:
        """The error that makes waiting pointless (this conn, main or a display)."""
        watched = [conn] if conn is not None else []
        watched += [c for (t, _), c in self.connections.items() if t in (MAIN, DISPLAY)]
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
        deadline: float | None = None,
        wakeup: Wakeup | None = None,
    ) -> None:
        """Wait for ``predicate``; until ``deadline`` (loop time) when given,
        else for ``timeout`` s (the figure named in the error either way).
        ``predicate`` is re-checked when ``wakeup`` (from ``_wakeup_for``)
        fires, by default after every pump, and when a connection closes."""
        if deadline is None and timeout is not None:
            deadline = self._loop.time() + timeout
        if wakeup is None:
            wakeup = self._changed
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    if predicate():
                        return
                    error = self._failure(conn)
                    if error is not None:
                        if isinstance(error, SpiceError):
                            raise error
                        raise SessionError(f"{what}: {error!r}") from error
                    self._watch_closes(conn)
                    await wakeup.wait()
        except TimeoutError:
            raise SpiceTimeoutError(
                f"timed out after {timeout}s waiting for {what}"
            ) from None

    @property
    def error(self) -> BaseException | None:
        """Why the session ended (None while it is up): the error of its main
        or a display connection (``ConnectionClosedError`` when the server
        hung up), or ``SessionError`` after ``close()``."""
        return self._failure()

    @property
    def closed(self) -> bool:
        """The session ended (``error`` says why); every wait raises now."""
        return self._failure() is not None

    async def wait_closed(self) -> BaseException:
        """Wait until the session ends; return ``error`` (never raises it)."""
        ended = self._wakeup_for()  # fired only when something ends
        await self._wait(lambda: self._failure() is not None, None, "", wakeup=ended)
        error = self._failure()
        assert error is not None
        return error

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float | None, what: str = "it"
    ) -> None:
        """Wait until ``predicate()`` is true, re-checked after every event.

        Raises:
            SpiceTimeoutError: not true within ``timeout`` seconds (None: no limit).
            ConnectionClosedError, SpiceError: the main or display channel failed.
        """
        await self._wait(predicate, timeout, what)

    def events(self) -> EventStream:
        """Every channel event (``spicepy.channels.events``) and the session's
        ``ChannelsSkipped``, in arrival order, until the session ends.

        Events are kept only for live iterators, each from its creation on (the
        newest ``MAX_QUEUED_EVENTS`` while its reader lags); several iterators
        each get every event.  The first iterator also gets connect()'s events
        if it is made before the next event arrives (e.g. right after connect).
        """
        stream = EventStream(self)
        if self._backlog is not None:
            stream.queue.extend(self._backlog)
            self._backlog = None
        self._readers.add(weakref.ref(stream, self._readers.discard))
        return stream

    # -- display ----------------------------------------------------------------

    @property
    def state(self) -> SessionCore:
        """The session's ``SessionCore`` (drivers, marks, image types, ...)."""
        return self.core

    @property
    def session_id(self) -> int | None:
        return self.core.session_id

    @property
    def channels_list(self) -> list[tuple[int, int]] | None:
        return self.core.channels_list

    @property
    def frames(self) -> int:
        """MARKs seen (each one is a complete primary surface)."""
        return self.core.marks

    @property
    def change_count(self) -> int:
        """Primary-surface changes seen so far (a ``since=`` for
        ``wait_for_change``)."""
        return self.core.change_count

    async def wait_for_frame(self, timeout: float = 30.0) -> None:
        """Wait for the first complete frame (display MARK after the primary).

        Raises:
            SpiceTimeoutError: no frame in ``timeout`` seconds.
            ConnectionClosedError: the display or main channel went away.
        """
        if not any(t == DISPLAY for t, _ in self.connections):
            raise SessionError("the server offered no display channel")
        await self._wait(lambda: self.core.marks > 0, timeout, "the first frame")

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
            quiet_until = self.core.last_display_activity + quiet
            frame_due = self.core.get_timer()
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

    async def wait_for_change(
        self, timeout: float = 30.0, *, since: int | None = None
    ) -> list[ChangedRect]:
        """Wait for the primary surface to change after this call; return the
        rectangles changed since then (at least one).

        Changes made before the call do not count, whether or not anybody took
        them: ``click(...)`` then ``wait_for_change()`` waits for the click's
        effect.  To also get older changes pass ``since=``, a value of
        ``change_count`` read earlier; changes after it are returned at once.

        Raises:
            SpiceTimeoutError: no change within ``timeout`` seconds.
        """
        start = self.core.change_count if since is None else since
        await self._wait(
            lambda: self.core.change_count > start, timeout, "a screen change"
        )
        self._changes_taken = self.core.change_count
        return self.core.changes_since(start)

    def take_changes(self) -> list[ChangedRect]:
        """Primary-surface rectangles changed since the last ``take_changes`` or
        ``wait_for_change`` (no waiting)."""
        start, self._changes_taken = self._changes_taken, self.core.change_count
        return self.core.changes_since(start)

    def screenshot(
        self, path: str | Path | None = None, *, cursor: bool = False
    ) -> npt.NDArray[np.uint8]:
        """The primary surface as (h, w, 3) uint8 RGB; also saved as PNG to ``path``.
        ``cursor=True`` draws the pointer where the cursor channel puts it.

        Raises:
            SessionError: no primary surface yet.
        """
        driver = self.core.drivers.get(0)
        bgrx = None if driver is None else driver.primary_pixels()
        if bgrx is None:
            raise SessionError("no primary surface yet (await wait_for_frame() first)")
        rgb = np.ascontiguousarray(bgrx[..., 2::-1])
        if cursor:
            self.cursor.composite(rgb)
        if path is not None:
            from PIL import Image

            Image.fromarray(rgb, "RGB").save(path)
        return rgb

    # -- bots (spicepy.bots.actions; imported when called: bots sit above) ------

    async def expect(
        self,
        reference: str | Path | npt.NDArray[np.uint8],
        *,
        region: tuple[int, int] | tuple[int, int, int, int] | None = None,
        max_diff: int = 0,
        timeout: float = 10.0,
        report_dir: str | Path | None = None,
    ) -> None:
        """Wait until the screen shows ``reference``; see ``bots.actions.expect``."""
        from spicepy.bots import actions

        await actions.expect(
            self,
            reference,
            region=region,
            max_diff=max_diff,
            timeout=timeout,
            report_dir=report_dir,
        )

    async def find(
        self, needle: NeedleLike, *, region: Rect | None = None
    ) -> Match | None:
        """The needle on the current screen or None; see ``bots.actions.find``."""
        from spicepy.bots import actions

        return await actions.find(self, needle, region=region)

    async def wait_for_needle(
        self,
        needle: NeedleLike,
        *,
        region: Rect | None = None,
        timeout: float = 30.0,
        report_dir: str | Path | None = None,
    ) -> Match:
        """Wait for an openQA needle; see ``bots.actions.wait_for_needle``."""
        from spicepy.bots import actions

        return await actions.wait_for_needle(
            self, needle, region=region, timeout=timeout, report_dir=report_dir
        )

    async def click_on(
        self,
        needle: NeedleLike,
        *,
        button: int = 1,
        region: Rect | None = None,
        timeout: float = 30.0,
        report_dir: str | Path | None = None,
    ) -> Match:
        """Wait for a needle and click its click point (``bots.actions.click_on``)."""
        from spicepy.bots import actions

        return await actions.click_on(
            self,
            needle,
            button=button,
            region=region,
            timeout=timeout,
            report_dir=report_dir,
        )

    async def wait_for_text(
        self,
        text: str,
        *,
        region: Rect | None = None,
        timeout: float = 30.0,
        report_dir: str | Path | None = None,
    ) -> TextMatch:
        """Wait until OCR reads ``text``; see ``bots.actions.wait_for_text``."""
        from spicepy.bots import actions

        return await actions.wait_for_text(
            self, text, region=region, timeout=timeout, report_dir=report_dir
        )

    async def click_text(
        self,
        text: str,
        *,
        button: int = 1,
        region: Rect | None = None,
        timeout: float = 30.0,
        report_dir: str | Path | None = None,
    ) -> TextMatch:
        """Wait for ``text`` and click its centre (``bots.actions.click_text``)."""
        from spicepy.bots import actions

        return await actions.click_text(
            self,
            text,
            button=button,
            region=region,
            timeout=timeout,
            report_dir=report_dir,
        )

    # -- inputs -----------------------------------------------------------------

    def _inputs(self) -> Any:
        """The inputs connection and its machine."""
        for (ctype, _), conn in self.connections.items():
            if ctype == INPUTS:
                return conn
        raise SessionError("the server offered no inputs channel")

    def _send_key(self, conn: ChannelConnection, code: int, down: bool) -> None:
        machine: Any = conn.machine
        conn.call(machine.send_key_down if down else machine.send_key_up, code)

    def _key(self, conn: ChannelConnection, key: str | int, down: bool) -> None:
        """One transition of a key name or set-1 code.  "pause" goes as its
        raw make sequence at the press and nothing at the release when the
        server takes raw scancodes (spice-gtk does the same)."""
        if isinstance(key, str) and key.lower() == "pause":
            machine: Any = conn.machine
            if InputsCap.KEY_SCANCODE in machine.server_channel_caps:
                if down:
                    conn.call(machine.send_key_scancode, PAUSE_BYTES)
                return
        self._send_key(conn, key if isinstance(key, int) else key_code(key), down)

    async def key_down(self, key: str | int) -> None:
        """Press a key: a name of ``keymap.KEYS`` ("ctrl", "pause", "f13"), a
        character ("a") or a set-1 code (``0x100 | x`` for E0 x)."""
        self._key(self._inputs(), key, True)
        await self._drain()

    async def key_up(self, key: str | int) -> None:
        self._key(self._inputs(), key, False)
        await self._drain()

    async def key_press(
        self, key: str | int, *, modifiers: tuple[str, ...] = ()
    ) -> None:
        """Press and release a key ("enter", "f5", "a"), holding ``modifiers``.

        Every key pressed is released, even when a later one fails.
        """
        keys = [*modifiers, key]
        for k in keys:  # unknown names fail before anything is pressed
            if isinstance(k, str):
                key_code(k)
        conn = self._inputs()
        pressed: list[str | int] = []
        try:
            for k in keys:
                self._key(conn, k, True)
                pressed.append(k)
        finally:
            for k in reversed(pressed):
                self._key(conn, k, False)
        await self._drain()

    async def key_scancodes(self, data: bytes) -> None:
        """Send raw set-1 scancode bytes as they are (KEY_SCANCODE), e.g. a
        sequence no key code expresses (``keymap.PAUSE_BYTES``).

        Raises:
            SessionError: no inputs channel, or the server lacks KEY_SCANCODE.
        """
        conn = self._inputs()
        machine: Any = conn.machine
        if InputsCap.KEY_SCANCODE not in machine.server_channel_caps:
            raise SessionError("the server does not take raw scancodes")
        conn.call(machine.send_key_scancode, data)
        await self._drain()

    async def type_text(self, text: str, delay: float | None = None) -> None:
        """Type ``text`` on a US layout (shift handled; newline = Enter).

        SPICE key events are not acknowledged and QEMU's PS/2 queue drops what
        overflows, so strokes go out in bursts paced by
        ``pacing.typing_pauses``; ``delay`` (seconds) instead waits that long
        between strokes (0: no pause at all).
        """
        conn = self._inputs()
        shift = key_code("shift")
        strokes = text_strokes(text)
        if delay is None:
            pauses = typing_pauses(strokes)
        else:
            pauses = [0.0] + [delay] * (len(strokes) - 1) if strokes else []
        for (code, shifted), pause in zip(strokes, pauses, strict=True):
            if pause:
                await asyncio.sleep(pause)
            if shifted:
                self._send_key(conn, shift, True)
            self._send_key(conn, code, True)
            self._send_key(conn, code, False)
            if shifted:
                self._send_key(conn, shift, False)
            await self._drain()

    async def mouse_move(self, x: int, y: int, display: int = 0) -> None:
        """Move the pointer to (x, y) of ``display`` (``session.mouse.move``)."""
        await self.mouse.move(x, y, display)

    async def mouse_down(self, button: int = 1) -> None:
        await self.mouse.button(button, True)

    async def mouse_up(self, button: int = 1) -> None:
        await self.mouse.button(button, False)

    async def click(self, x: int, y: int, button: int = 1) -> None:
        """Move to (x, y) and press/release ``button`` (1 left, 2 middle, 3 right)."""
        await self.mouse.click(x, y, button)

    async def wheel(self, clicks: int) -> None:
        """Scroll ``clicks`` notches (positive: up; buttons 4/5 as spice-gtk)."""
        await self.mouse.wheel(clicks)

    async def drag(self, x1: int, y1: int, x2: int, y2: int, button: int = 1) -> None:
        """Press ``button`` on (x1, y1), move to (x2, y2), release."""
        await self.mouse.drag(x1, y1, x2, y2, button)

    # -- audio to the guest (RECORD channel) --------------------------------------

    @property
    def record_format(self) -> tuple[int, int] | None:
        """(frequency, channels) of the guest's capture while it records (its
        RECORD START until STOP); None otherwise or without a record channel.
        A live microphone sends only then (``send_audio`` would wait)."""
        conn = next((c for (t, _), c in self.connections.items() if t == RECORD), None)
        machine: Any = None if conn is None else conn.machine
        if machine is None or not machine.started:
            return None
        return (int(machine.frequency), int(machine.channels))

    async def send_audio(
        self, samples: npt.NDArray[np.int16], frequency: int, *, timeout: float = 30.0
    ) -> None:
        """Send (n, channels) int16 samples as the guest's microphone input.

        Waits (up to ``timeout``) until the guest opens its capture device (the
        server's RECORD START), then sends 10 ms packets stamped with the
        multimedia clock, at most ``AUDIO_LEAD`` s ahead of real time.

        Raises:
            SessionError: no record channel (``connect(record=True)``, and the
                server must offer one).
            SpiceTimeoutError: the guest did not start recording in time.
            ValueError: ``frequency`` or the channel count is not the stream's.
        """
        conn = next((c for (t, _), c in self.connections.items() if t == RECORD), None)
        if conn is None:
            raise SessionError(
                "no record channel (connect with record=True; the server must "
                "offer one)"
            )
        machine: Any = conn.machine
        await self._wait(
            lambda: machine.started, timeout, "the guest to start recording", conn=conn
        )
        if frequency != machine.frequency:
            raise ValueError(
                f"{frequency} Hz samples for a {machine.frequency} Hz record stream"
            )
        start = self._loop.time()
        time = self.core.mm_now(start) or 0
        chunk = max(1, frequency // 10)
        for first in range(0, len(samples), chunk):
            time = conn.call(machine.send_samples, samples[first : first + chunk], time)
            await self._drain()
            ahead = start + (first + chunk) / frequency - self._loop.time()
            if ahead > AUDIO_LEAD:
                await asyncio.sleep(ahead - AUDIO_LEAD)

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the transports write

    # -- closing ----------------------------------------------------------------

    async def close(self) -> None:
        """Close every channel (idempotent)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        conns = list(self.connections.values())
        await self._let_server_attach()
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        await self.migration.close()
        if self._prefault is not None:
            self._prefault.release()
        self._wake_all()

    async def _let_server_attach(self) -> None:
        """Before hanging up, wait until the server has attached every linked
        display/cursor channel (see WORKER_ATTACHED), at most until
        ``ATTACH_GRACE`` s after the youngest of them was opened."""

        def waiting_until() -> float | None:
            """The latest grace end among unattached channels, if any."""
            until = None
            for (ctype, _), conn in self.connections.items():
                machine: Any = conn.machine
                if (
                    ctype in WORKER_ATTACHED
                    and machine.linked
                    and machine.messages_received == 0
                    and not conn.closed.is_set()
                ):
                    end = conn.opened_at + ATTACH_GRACE
                    until = end if until is None else max(until, end)
            return until

        until = waiting_until()
        if until is None or until <= self._loop.time():
            return
        self._watch_closes(None)  # a connection that closes wakes us too
        try:
            async with asyncio.timeout_at(until):
                while waiting_until() is not None:
                    await self._changed.wait()
        except TimeoutError:
            log.warning("closing before the server attached every channel")

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
