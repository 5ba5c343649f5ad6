"""The session's state without I/O: channel events in; canvases, changes, timer
and the messages to send out.

Theory of operation (aioquic's ``H3Connection`` is the model): the caller owns
the sockets and the clock.  It feeds every event of every channel machine to
``handle_event(key, event, now)`` (``key`` is ``(channel type, channel id)``,
``now`` its clock in seconds), arms one timer at ``get_timer()`` and calls
``handle_timer(now)`` when it fires, and after each call sends what
``messages_to_send()`` returns through the named channel's machine
(``machine.send_message(msg)``).  The live session (``session.py``) and offline
replay (``spicepy.capture.replay``) both drive this class, so a display
message takes the same path in both.

Display messages go to the channel's ``DisplayDriver`` (below): one table from
message class to the ``Canvas`` / ``draw_blend`` / ``draw_lines`` call or the
surface, cache and stream handler, so a message goes from here to the pixels.  A
message that names an image another display channel has not delivered yet
(``ImageNotReady``: a cache entry or GLZ image, PROTOCOL.md section 6) is held,
with that channel's later messages behind it, and retried after progress on
any channel; it is dropped after ``hold_seconds`` or when it is the only
display channel (linked or listed).  A message the canvas refuses is dropped
and counted (spice-gtk goes on too).

The multimedia clock (spice-gtk ``spice_session_set_mm_time``): MAIN INIT's
multi_media_time and MULTI_MEDIA_TIME set it at ``now``; it then runs with the
caller's clock.  Queued video frames are shown by the timer at their mm time;
the STREAM_REPORTs the streams complete are queued for the display machine.

Event handling is a table keyed by event class (``on_event``) and, for
``MessageReceived``, by channel type (``on_message``), so other channel
handlers (cursor, agent, audio) plug in without touching this module.
"""

from __future__ import annotations

import collections
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas import draw_blend, draw_lines, kernels
from spicepy.canvas.canvas import Canvas
from spicepy.canvas.images import ImageNotReady, SharedState
from spicepy.canvas.streams import StreamManager, mm_diff
from spicepy.channels.events import (
    ChannelsListReceived,
    DisconnectingReceived,
    LinkCompleted,
    MainInitReceived,
    MessageReceived,
    MouseModeChanged,
    MultiMediaTimeReceived,
    NotifyReceived,
    PingAnswered,
)
from spicepy.errors import CanvasError, LimitExceededError, WireError
from spicepy.limits import DEFAULT_LIMITS, Limits, payload_bytes
from spicepy.wire import msg_display as md
from spicepy.wire import twins
from spicepy.wire.enums import ChannelType, MouseMode
from spicepy.wire.msg_common import MainMouseModeRequest
from spicepy.wire.msg_display import StreamReport, message_images
from spicepy.wire.registry import Message
from spicepy.wire.types import Rect

__all__ = [
    "ChangedRect",
    "ChannelKey",
    "DisplayDriver",
    "SessionCore",
    "channel_name",
    "glz_window_pixels",
]

log = logging.getLogger(__name__)

#: (channel type, channel id)
ChannelKey = tuple[int, int]
EventHandler = Callable[[ChannelKey, Any, float], None]

#: spice-gtk's GLZ window in bytes: clamp(ram_hint / 2, 12 MiB, 64 MiB)
#: (spice_session_set_caches_hints); DISPLAY INIT announces it in pixels (/4).
MIN_GLZ_WINDOW_BYTES = 12 * 1024 * 1024
MAX_GLZ_WINDOW_BYTES = 64 * 1024 * 1024
#: spice-gtk resets its video schedule when the mm time jumps ahead by more
#: (MM_TIME_DIFF_RESET_THRESH) or goes backwards at all.
MM_TIME_RESET_MS = 500
#: how early (ms, clock rounding) the stream timer may fire for its frame
TIMER_SLACK_MS = 2
#: STREAM_REPORTs remembered (tests, inspection).
MAX_KEPT_REPORTS = 1000
#: how long / how many display messages may wait for another channel's image
HOLD_SECONDS = 5.0
MAX_HELD = 10_000
#: changed rectangles kept when nobody takes them
MAX_CHANGES = 10_000

_DISPLAY = ChannelType.DISPLAY
_lane: Any
try:  # the lane needs both compiled twins (the pure ones are the general path)
    if not (kernels.FAST and twins.FAST):
        raise ImportError("pure-Python twins")
    from spicepy.session import _lane
except ImportError:
    _lane = None
#: the most frequent draws: images are the source and the mask, no brush
_COPIES = (md.DrawCopy, md.DrawBlend)
_COPY_BITS = md.CopyBits
#: the display messages whose handling reads the multimedia time
_TIMED = (md.StreamData, md.StreamDataSized)


@dataclass(frozen=True, slots=True)
class ChangedRect:
    """A region of the primary surface that a display command touched."""

    left: int
    top: int
    right: int
    bottom: int


def channel_name(key: ChannelKey) -> str:
    """``display:0`` style name of a channel (for logs and ``last_ping``)."""
    try:
        kind = ChannelType(key[0]).name.lower()
    except ValueError:
        kind = f"type{key[0]}"
    return f"{kind}:{key[1]}"


def glz_window_pixels(ram_hint: int) -> int:
    """DISPLAY INIT's glz_dictionary_window_size for MAIN INIT's ram_hint."""
    size = max(MIN_GLZ_WINDOW_BYTES, min(MAX_GLZ_WINDOW_BYTES, ram_hint // 2))
    return size // 4


class SessionCore:
    """Display drivers, hold queue, multimedia clock, change list, messages to send.

    Args:
        hold_seconds: how long a display message may wait for an image that
            another display channel should deliver.
        max_held: messages one channel may hold before the oldest is dropped.
        limits: the session's byte budgets (``spicepy.limits``): held messages
            beyond ``limits.held`` bytes raise ``LimitExceededError``.
    """

    def __init__(
        self,
        *,
        hold_seconds: float = HOLD_SECONDS,
        max_held: int = MAX_HELD,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.hold_seconds = hold_seconds
        self.max_held = max_held
        self.limits = limits
        #: bytes of the held messages (``limits.payload_bytes`` of each)
        self.held_bytes = 0
        #: display channel id -> its driver (canvas + streams)
        self.drivers: dict[int, DisplayDriver] = {}
        #: pixmap cache + GLZ dictionary of the session's display channels
        self.shared: SharedState | None = None
        self.session_id: int | None = None
        self.channels_list: list[tuple[int, int]] | None = None
        self.mouse_modes = int(MouseMode.SERVER)
        self.mouse_mode = int(MouseMode.SERVER)
        self.ram_hint = 0
        #: caller time of the last display message or shown video frame
        self.last_display_activity = 0.0
        #: channel name -> time of the last PING its machine answered
        self.last_ping: dict[str, float] = {}
        self.notices: list[str] = []
        #: "<message class>: <error class>" -> display messages dropped
        self.dropped: Counter[str] = Counter()
        #: display messages waiting for another channel's image: (message, since)
        self.held: dict[int, collections.deque[tuple[Message, float]]] = {}
        self._holding = 0
        #: the multimedia clock: mm time ``mm_base`` at caller time ``mm_set_at``
        self.mm_base: int | None = None
        self.mm_set_at = 0.0
        self.stream_reports: collections.deque[StreamReport] = collections.deque(
            maxlen=MAX_KEPT_REPORTS
        )
        self.stream_reports_sent = 0
        #: primary-surface rectangles changed, oldest first (wire ``Rect``s)
        self._changes: list[Rect] = []
        #: changes noted since the core started (``changes_since`` counts on it)
        self.change_count = 0
        self._outgoing: list[tuple[ChannelKey, Message]] = []
        #: ``on_change`` listeners: (display channel id, rect)
        self._change_listeners: list[Callable[[int, Rect], None]] = []
        #: ``on_changes`` listeners: (display channel id, rects)
        self._batch_listeners: list[Callable[[int, list[Rect]], None]] = []
        #: observers that read the surface at each change (``FrameTracker.
        #: on_update`` callbacks get its pixels): while any, the display lane
        #: takes no draws, since a lane run is drawn before its changes are heard
        self.exact_changes = 0
        #: set by the caller before display channels link: called from a video
        #: decode thread when a frame the timer chose is decoded; it must call
        #: ``handle_timer`` soon on the caller's own thread (thread-safe hand-
        #: off, e.g. ``loop.call_soon_threadsafe``).  None: the timer polls
        self.video_wakeup: Callable[[], None] | None = None
        self._event_handlers: dict[type, EventHandler] = {
            LinkCompleted: self._on_linked,
            PingAnswered: self._on_ping,
            MainInitReceived: self._on_main_init,
            MultiMediaTimeReceived: self._on_mm_time,
            ChannelsListReceived: self._on_channels_list,
            MouseModeChanged: self._on_mouse_mode,
            NotifyReceived: self._on_notice,
            DisconnectingReceived: self._on_notice,
        }
        self._message_handlers: dict[int, EventHandler] = {
            _DISPLAY: self._on_display_message
        }
        #: DISPLAY messages go to the core's own handler (display lanes may
        #: apply them; ``display_lane``)
        self._plain_display = True

    # -- extension points ---------------------------------------------------------

    def on_event(self, event_type: type, handler: EventHandler) -> None:
        """Route events of ``event_type`` to ``handler(key, event, now)``
        (replaces the core's own handler for that class; ``MessageReceived``
        goes by channel type: ``on_message``)."""
        if event_type is MessageReceived:
            raise ValueError("route MessageReceived by channel type: on_message")
        self._event_handlers[event_type] = handler

    def on_message(self, channel_type: int, handler: EventHandler) -> None:
        """Route ``MessageReceived.message`` of one channel type to
        ``handler(key, message, now)``."""
        self._message_handlers[channel_type] = handler
        if channel_type == _DISPLAY:
            self._plain_display = handler == self._on_display_message

    def display_lane(
        self,
        channel_id: int,
        clock: Callable[[], float] | None = None,
        observer: object | None = None,
    ) -> Any:
        """A compiled lane for display channel ``channel_id`` (``_lane.pyx``)
        to attach to its machine (``Channel.set_lane``), or None under
        ``SPICEPY_PUREPYTHON=1`` or without the extensions: the general path
        then takes every message.  ``clock`` gives ``now`` for the draws it
        took, read once per run when the machine writes them out (``flush``;
        None: its ``now`` attribute, which the caller sets); it declines
        while ``observer`` (the live session) has event readers."""
        if _lane is None:
            return None
        return _lane.DisplayLane(self, channel_id, MAX_CHANGES, clock, observer)

    def on_change(self, listener: Callable[[int, Rect], None]) -> None:
        """Also call ``listener(display channel id, rect)`` for every change
        noted (per-display damage: ``spicepy.session.frames``).  For the draws
        of a display lane run it is called once the run is drawn, in order: a
        listener that reads the surface then may see the run's later draws
        (raise ``exact_changes`` to keep the lane off)."""
        self._change_listeners.append(listener)

    def on_changes(self, listener: Callable[[int, list[Rect]], None]) -> None:
        """Also call ``listener(display channel id, rects)`` with the changes
        noted, in order, once they are in the change list and counted: once
        per general-path change, once per run of the display lane with all
        the run took (one call instead of one per draw; ``on_change`` listeners
        are called per change, before it is noted)."""
        self._batch_listeners.append(listener)

    # -- the sans-IO surface ------------------------------------------------------

    def handle_event(self, key: ChannelKey, event: object, now: float) -> None:
        """One event of channel ``key``'s machine, at caller time ``now``."""
        if type(event) is MessageReceived:  # most events: no second dispatch call
            handler = self._message_handlers.get(key[0])
            if handler is not None:
                handler(key, event.message, now)
            return
        handler = self._event_handlers.get(type(event))
        if handler is not None:
            handler(key, event, now)

    def queue_message(self, key: ChannelKey, msg: Message) -> None:
        """Queue a client message for channel ``key`` (see ``messages_to_send``)."""
        self._outgoing.append((key, msg))

    def messages_to_send(self) -> list[tuple[ChannelKey, Message]]:
        """Client messages to queue on the named channels (and forget them)."""
        out, self._outgoing = self._outgoing, []
        return out

    def get_timer(self) -> float | None:
        """Caller time at which ``handle_timer`` shows the next queued video frame."""
        base = self.mm_base
        if base is None:
            return None
        wait: int | None = None  # (asked after every read: no lists)
        for driver in self.drivers.values():
            t = driver.streams.next_deadline(base)
            if t is not None:
                t = mm_diff(t, base)
                if wait is None or t < wait:
                    wait = t
        return None if wait is None else self.mm_set_at + wait / 1000

    def handle_timer(self, now: float) -> None:
        """Show the video frames due at ``now``."""
        mm = self.mm_now(now)
        if mm is None:
            return
        for channel_id, driver in list(self.drivers.items()):
            deadline = driver.streams.next_deadline(mm)
            if deadline is None:
                continue
            # the timer was armed for the earliest frame: millisecond rounding
            # must not make it look early (spice-gtk shows the frame it armed for)
            early = mm_diff(deadline, mm)
            driver.streams.run(deadline if 0 < early <= TIMER_SLACK_MS else mm)
            self._after_streams(channel_id, driver, now)

    # -- what the session reads ---------------------------------------------------

    @property
    def marks(self) -> int:
        """Display MARKs seen (each a complete frame)."""
        return sum(d.marks for d in self.drivers.values())

    @property
    def dropped_commands(self) -> int:
        return sum(self.dropped.values())

    @property
    def image_types(self) -> Counter[int]:
        """SpiceImage types referenced by display messages (type -> count)."""
        total: Counter[int] = Counter()
        for driver in self.drivers.values():
            total.update(driver.image_types)
        return total

    @property
    def pending_frames(self) -> int:
        """Video frames queued for a later mm time (display activity to come)."""
        return sum(d.streams.queued_frames for d in self.drivers.values())

    def mm_now(self, now: float) -> int | None:
        """The multimedia time (ms, u32) at caller time ``now``; None before
        MAIN INIT."""
        if self.mm_base is None:
            return None
        return (self.mm_base + int((now - self.mm_set_at) * 1000)) & 0xFFFFFFFF

    def set_mm_time(self, mm_time: int, now: float) -> None:
        """Re-base the multimedia clock; a jump reschedules queued frames."""
        old = self.mm_now(now)
        self.mm_base, self.mm_set_at = mm_time & 0xFFFFFFFF, now
        if old is not None and (
            mm_diff(mm_time, old + MM_TIME_RESET_MS) > 0 or mm_diff(mm_time, old) < 0
        ):
            log.debug("mm time reset: %d -> %d", old, mm_time)
            for driver in self.drivers.values():
                driver.streams.reschedule(mm_time)

    def changes_since(self, count: int) -> list[ChangedRect]:
        """Changes noted after the first ``count`` (see ``change_count``); only
        the newest ``MAX_CHANGES`` are kept."""
        keep = self.change_count - count
        if keep <= 0:
            return []
        return [
            ChangedRect(r.left, r.top, r.right, r.bottom) for r in self._changes[-keep:]
        ]

    def note_change(self, rect: Rect, channel_id: int = 0) -> None:
        """Record a changed rectangle of display ``channel_id``'s primary surface."""
        for listener in self._change_listeners:
            listener(channel_id, rect)
        self._changes.append(rect)
        self.change_count += 1
        if len(self._changes) > MAX_CHANGES:
            del self._changes[: MAX_CHANGES // 2]
        for batch_listener in self._batch_listeners:
            batch_listener(channel_id, [rect])

    def primary_driver(self) -> DisplayDriver | None:
        """The driver of the lowest display channel id that has a primary."""
        for cid in sorted(self.drivers):
            if self.drivers[cid].canvas.primary is not None:
                return self.drivers[cid]
        return None

    def forget_server(
        self, *, keep_pictures: bool = False, new_session: bool = False
    ) -> None:
        """Drop what the core learnt from the server's display channels: their
        drivers (canvases, streams), held messages, image caches and GLZ
        window (semi-seamless and switch-host migration).

        Args:
            keep_pictures: each display channel gets a fresh driver that shows
                its old primary (read-only, counted in ``Limits.surfaces``)
                until the new server's SURFACE_CREATE of surface 0 replaces it
                (spice-gtk ``clear_surfaces(keep_primary)``).
            new_session: the session starts over: session id and channel list
                go too (the next MAIN INIT / CHANNELS_LIST set them again).
        """
        pictures = {cid: d.primary_pixels() for cid, d in self.drivers.items()}
        self.drop_held()
        self.held.clear()
        self.drivers.clear()
        self.shared = None
        if new_session:
            self.session_id = self.channels_list = None
        if keep_pictures:  # the channels go on (switched, not linked again)
            for channel_id, picture in pictures.items():
                self.add_display(channel_id).keep_picture(picture)

    def drop_held(self) -> int:
        """Drop every held message (the stream ended); returns how many."""
        n = 0
        for held in self.held.values():
            while held:
                self._drop(held.popleft()[0], "ImageNotReady")
                n += 1
        self._holding = 0
        self.held_bytes = 0
        return n

    # -- event handlers -----------------------------------------------------------

    def _on_linked(self, key: ChannelKey, event: LinkCompleted, now: float) -> None:
        if key[0] == _DISPLAY:
            self.add_display(key[1])

    def add_display(self, channel_id: int) -> DisplayDriver:
        """A driver for a linked display channel (sharing the session's caches)."""
        if self.shared is None:
            self.shared = SharedState(
                glz_window=glz_window_pixels(self.ram_hint), limits=self.limits
            )
        driver = DisplayDriver(self.shared)
        driver.streams.wakeup = self.video_wakeup
        self.drivers[channel_id] = driver
        self.held[channel_id] = collections.deque()
        return driver

    def _on_ping(self, key: ChannelKey, event: PingAnswered, now: float) -> None:
        self.last_ping[channel_name(key)] = now

    def _on_main_init(
        self, key: ChannelKey, event: MainInitReceived, now: float
    ) -> None:
        self.session_id = event.session_id
        self.mouse_modes = event.supported_mouse_modes
        self.mouse_mode = event.current_mouse_mode
        self.ram_hint = event.ram_hint
        self.set_mm_time(event.multi_media_time, now)
        if self.mouse_modes & MouseMode.CLIENT and self.mouse_mode != MouseMode.CLIENT:
            # absolute positions: what a script means by "move to (x, y)"
            self.queue_message(key, MainMouseModeRequest(MouseMode.CLIENT))

    def _on_mm_time(
        self, key: ChannelKey, event: MultiMediaTimeReceived, now: float
    ) -> None:
        self.set_mm_time(event.time, now)

    def _on_channels_list(
        self, key: ChannelKey, event: ChannelsListReceived, now: float
    ) -> None:
        self.channels_list = list(event.channels)

    def _on_mouse_mode(
        self, key: ChannelKey, event: MouseModeChanged, now: float
    ) -> None:
        self.mouse_modes, self.mouse_mode = event.supported_modes, event.current_mode

    def _on_notice(self, key: ChannelKey, event: object, now: float) -> None:
        self.notices.append(f"{channel_name(key)}: {event}")

    # -- display messages (the hot path) -----------------------------------------

    def _on_display_message(self, key: ChannelKey, message: Any, now: float) -> None:
        channel_id = key[1]
        driver = self.drivers.get(channel_id)
        if driver is None:
            return
        self.last_display_activity = now
        if self._holding:
            held = self.held[channel_id]
            if held:  # keep this channel's order behind its held message
                if len(held) >= self.max_held:
                    oldest = held.popleft()[0]
                    self.held_bytes -= payload_bytes(oldest)
                    self._drop(oldest, "hold queue full")
                    self._holding -= 1
                self._charge_held(message)
                held.append((message, now))
                self._holding += 1
                self._retry_held(now)  # drops the head once it waited too long
                return
        if self._apply(channel_id, driver, message, now, now) and self._holding:
            self._retry_held(now)

    def _apply(
        self,
        channel_id: int,
        driver: DisplayDriver,
        message: Any,
        since: float,
        now: float,
    ) -> bool:
        """Apply one display message; False when it was held for a retry."""
        # only stream frames read the clock (DisplayDriver.apply)
        mm = self.mm_now(now) if type(message) in _TIMED else None
        try:
            changed = driver.apply(message, mm)
        except ImageNotReady:
            if now - since < self.hold_seconds and self._display_channels() > 1:
                self._charge_held(message)
                self.held[channel_id].appendleft((message, since))
                self._holding += 1
                return False
            self._drop(message, "ImageNotReady")
            return True
        except (CanvasError, WireError) as exc:
            # the canvas refuses this one message; the session goes on
            self._drop(message, type(exc).__name__, exc)
            self._after_streams(channel_id, driver, now)
            return True
        if changed is not None:
            changes = self._changes
            for listener in self._change_listeners:
                listener(channel_id, changed)
            changes.append(changed)
            self.change_count += 1
            if len(changes) > MAX_CHANGES:
                del changes[: MAX_CHANGES // 2]
            for batch_listener in self._batch_listeners:
                batch_listener(channel_id, [changed])
        if driver.streams_touched:
            self._after_streams(channel_id, driver, now)
        return True

    def _display_channels(self) -> int:
        """Display channels linked or announced by CHANNELS_LIST."""
        listed = sum(1 for t, _ in self.channels_list or () if t == _DISPLAY)
        return max(listed, len(self.drivers))

    def _charge_held(self, message: object) -> None:
        """Count a message joining the hold queue against ``limits.held``."""
        self.held_bytes += payload_bytes(message)
        if self.held_bytes > self.limits.held:
            raise LimitExceededError(
                f"display messages waiting for another channel's image hold "
                f"{self.held_bytes} bytes, over the session's {self.limits.held}-"
                "byte budget (spicepy.Limits.held)",
                "held",
            )

    def _drop(self, message: object, why: str, exc: Exception | None = None) -> None:
        # the first drop is an info line, the rest debug lines (``dropped``
        # counts them all): a hostile stream of bad draws must not flood stderr,
        # where the CLI promises one line (``spicepy -v`` shows it)
        first = not self.dropped
        self.dropped[f"{type(message).__name__}: {why}"] += 1
        log.log(
            logging.INFO if first else logging.DEBUG,
            "dropped display message %s: %s%s",
            type(message).__name__,
            exc or why,
            " (further drops are counted in SessionCore.dropped)" if first else "",
        )

    def _retry_held(self, now: float) -> None:
        """Progress on one channel may unblock messages held on the others."""
        for channel_id, held in self.held.items():
            driver = self.drivers[channel_id]
            while held:
                message, since = held.popleft()
                self._holding -= 1
                self.held_bytes -= payload_bytes(message)
                if not self._apply(channel_id, driver, message, since, now):
                    break

    def _after_streams(
        self, channel_id: int, driver: DisplayDriver, now: float
    ) -> None:
        """Note the frames shown, queue the StreamReports the streams completed."""
        driver.streams_touched = False
        streams = driver.streams
        if streams.shown:
            for surface_id, dest in streams.shown:
                if surface_id == 0:
                    self.note_change(dest, channel_id)
            streams.shown.clear()
            self.last_display_activity = now
        if streams.reports:  # (most frames complete no report)
            key = (int(_DISPLAY), channel_id)
            for report in streams.take_reports():
                self._outgoing.append((key, report))
                self.stream_reports.append(report)
                self.stream_reports_sent += 1


# -- one display channel: message class -> canvas call ---------------------------


class DisplayDriver:
    """One display channel's canvas + streams, driven by display messages.

    ``apply(msg, mm_time)`` looks ``type(msg)`` up in one table: draws go to
    ``Canvas`` / ``draw_blend`` / ``draw_lines`` with the wire dataclass itself,
    surface, cache and stream messages to their small handlers; it returns the
    primary-surface rectangle the message changed.  Messages the canvas has no
    use for (e.g. GL_SCANOUT, QUALITY_INDICATOR) are ignored.
    """

    def __init__(self, shared: SharedState | None = None) -> None:
        self.canvas = Canvas(shared)
        self.streams = StreamManager(self.canvas)
        self.marks = 0
        # (defaultdicts, not Counters: Counter defines __delitem__ in Python, so
        # each `c[k] += 1` calls back into __setitem__: ~1k instructions a
        # count, two or three counts for every display message)
        #: messages applied, by message class
        self.counts: defaultdict[type, int] = defaultdict(int)
        #: SpiceImage types referenced by the draws applied (type -> count)
        self.image_types: defaultdict[int, int] = defaultdict(int)
        #: a stream message ran since the session last collected reports/frames
        self.streams_touched = False
        #: the previous server's last primary picture (read-only), shown until
        #: this channel's SURFACE_CREATE of surface 0: see ``keep_picture``
        self.kept_picture: npt.NDArray[np.uint8] | None = None
        c = self.canvas
        #: draws: handler(msg); the change is msg.base.box on surface 0
        self._draws: dict[type, Callable[[Any], None]] = {
            md.DrawFill: c.fill,
            md.DrawCopy: c.copy,
            md.DrawBlend: c.blend,
            md.DrawOpaque: c.opaque,
            md.DrawBlackness: c.blackness,
            md.DrawWhiteness: c.whiteness,
            md.DrawInvers: c.invers,
            md.CopyBits: c.copy_bits,
            md.DrawRop3: lambda m: draw_blend.draw_rop3(c, m),
            md.DrawTransparent: lambda m: draw_blend.transparent(c, m),
            md.DrawAlphaBlend: lambda m: draw_blend.alpha_blend(c, m),
            md.DrawComposite: lambda m: draw_blend.composite(c, m),
            md.DrawStroke: lambda m: draw_lines.stroke(c, m),
            md.DrawText: lambda m: draw_lines.text(c, m),
        }
        #: everything else: handler(msg, mm_time) -> changed primary rect or None
        self._others: dict[type, Callable[[Any, int | None], Rect | None]] = {
            md.SurfaceCreate: self._surface_create,
            md.SurfaceDestroy: self._surface_destroy,
            md.DisplayReset: self._reset,
            md.DisplayMark: self._mark,
            md.InvalList: self._simple(c.inval_list),
            md.InvalAllPixmaps: self._simple(c.inval_all_pixmaps),
            md.InvalPalette: self._simple(c.inval_palette),
            md.InvalAllPalettes: self._simple(c.inval_all_palettes),
            md.MonitorsConfig: self._monitors,
            md.StreamCreate: self._stream_create,
            md.StreamData: self._stream_data,
            md.StreamDataSized: self._stream_data_sized,
            md.StreamClip: self._stream(lambda m: self.streams.clip(m.id, m.clip)),
            md.StreamDestroy: self._stream(lambda m: self.streams.destroy(m.id)),
            md.StreamDestroyAll: self._stream(lambda m: self.streams.destroy_all()),
            md.StreamActivateReport: self._stream(
                lambda m: self.streams.activate_report(
                    m.stream_id, m.unique_id, m.max_window_size, m.timeout_ms
                )
            ),
        }

    def apply(self, msg: object, mm_time: int | None = None) -> Rect | None:
        """Apply one display message (a ``spicepy.wire.msg_display`` dataclass).

        ``mm_time`` (the session's multimedia time, None: show frames at once)
        only matters for stream frames.  Returns the primary-surface rectangle
        the message changed, if any (shown video frames: see ``streams.shown``).

        Raises:
            ImageNotReady: a cache/GLZ reference another channel may deliver.
            CanvasError: the message cannot be applied (unknown surface, a
                NULL or undecodable image, an unknown clip or brush type...).
        """
        cls = type(msg)
        draw = self._draws.get(cls)
        if draw is not None:
            draw(msg)
            self.counts[cls] += 1
            if cls in _COPIES:
                d: Any = msg.data  # type: ignore[attr-defined]
                self.image_types[d.src_bitmap.descriptor.type] += 1
                if d.mask.bitmap is not None:
                    self.image_types[d.mask.bitmap.descriptor.type] += 1
            elif cls is not _COPY_BITS:  # (the one draw without an image)
                for image in message_images(msg):
                    self.image_types[image.descriptor.type] += 1
            base: Any = msg.base  # type: ignore[attr-defined]
            return base.box if base.surface_id == 0 else None
        other = self._others.get(cls)
        if other is None:
            return None
        changed = other(msg, mm_time)
        self.counts[cls] += 1
        return changed

    def primary_pixels(self) -> npt.NDArray[np.uint8] | None:
        """The primary surface's BGRX pixels (a view); before SURFACE_CREATE the
        kept picture (read-only) or None."""
        surface = self.canvas.primary
        return self.kept_picture if surface is None else surface.pixels

    def keep_picture(self, pixels: npt.NDArray[np.uint8] | None) -> None:
        """Show ``pixels`` (the old driver's primary, after a migration) until
        this driver's own primary exists, as spice-gtk keeps its primary across
        a reset.  Only reads see it: draws, caches and streams start empty.
        Its bytes count in the surface budget (``Limits.surfaces``) while kept."""
        shared = self.canvas.shared
        if self.kept_picture is not None:
            shared.surface_bytes -= self.kept_picture.nbytes
        if pixels is not None:
            pixels = pixels.view()
            pixels.flags.writeable = False
            shared.surface_bytes += pixels.nbytes
        self.kept_picture = pixels

    # -- handlers of the messages that are not draws ---------------------------------

    @staticmethod
    def _simple(
        func: Callable[[Any], None],
    ) -> Callable[[Any, int | None], Rect | None]:
        def handler(msg: Any, mm_time: int | None) -> None:
            func(msg)

        return handler

    def _stream(
        self, func: Callable[[Any], None]
    ) -> Callable[[Any, int | None], Rect | None]:
        def handler(msg: Any, mm_time: int | None) -> None:
            self.streams_touched = True
            func(msg)

        return handler

    def _surface_create(
        self, msg: md.SurfaceCreate, mm_time: int | None
    ) -> Rect | None:
        kept = self.kept_picture if msg.surface_id == 0 else None
        if kept is None:
            self.canvas.create_surface(
                msg.surface_id, msg.width, msg.height, msg.format, msg.flags
            )
        else:  # the new primary replaces the kept picture in the budget too
            self.keep_picture(None)
            try:
                self.canvas.create_surface(
                    0, msg.width, msg.height, msg.format, msg.flags
                )
            except BaseException:
                self.keep_picture(kept)  # a refused create keeps it
                raise
        if msg.surface_id != 0:
            return None
        return Rect(0, 0, msg.height, msg.width)

    def _surface_destroy(self, msg: md.SurfaceDestroy, mm_time: int | None) -> None:
        self.canvas.surface(msg.surface_id)  # an unknown id is refused first
        # streams drawing into a destroyed surface go with it
        for sid, stream in list(self.streams.streams.items()):
            if stream.surface_id == msg.surface_id:
                del self.streams.streams[sid]
        self.canvas.destroy_surface(msg.surface_id)

    def _reset(self, msg: md.DisplayReset, mm_time: int | None) -> None:
        self.streams.destroy_all()
        self.canvas.reset()

    def _mark(self, msg: md.DisplayMark, mm_time: int | None) -> None:
        # a MARK completes a frame of the primary: none (e.g. its SURFACE_CREATE
        # was refused) means no frame
        if self.canvas.surfaces.get(0) is not None:
            self.marks += 1

    def _monitors(self, msg: md.MonitorsConfig, mm_time: int | None) -> None:
        self.canvas.monitors = [
            (h.monitor_id, h.surface_id, h.width, h.height, h.x, h.y, h.flags)
            for h in msg.heads
        ]

    def _stream_create(self, msg: md.StreamCreate, mm_time: int | None) -> None:
        self.streams_touched = True
        self.streams.create(
            msg.id,
            msg.surface_id,
            msg.flags,
            msg.codec_type,
            msg.stream_width,
            msg.stream_height,
            msg.src_width,
            msg.src_height,
            msg.dest,
            msg.clip,
        )

    def _stream_data(self, msg: md.StreamData, mm_time: int | None) -> None:
        self.streams_touched = True
        header = msg.base
        self.streams.data(header.id, header.multi_media_time, msg.data, mm_time)

    def _stream_data_sized(self, msg: md.StreamDataSized, mm_time: int | None) -> None:
        self.streams_touched = True
        header = msg.base
        self.streams.data(
            header.id,
            header.multi_media_time,
            msg.data,
            mm_time,
            width=msg.width,
            height=msg.height,
            dest=msg.dest,
        )
