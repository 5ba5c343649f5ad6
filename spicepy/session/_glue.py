"""Where the session meets the channel machines and the canvas.

Everything that depends on the machines of ``spicepy.channels`` (constructors,
events, send methods) or on the canvas driver is here, so `session.py` only
deals with connections, waiting and user calls.

Display messages: the display machine emits parsed ``spicepy.wire`` dataclasses;
``canvas.demarshal.to_command`` turns each into a canvas command for the
channel's ``DisplayDriver`` (one per display channel, sharing caches).

Video timing: the session keeps spice-gtk's multimedia clock (MAIN INIT's
multi_media_time and MULTI_MEDIA_TIME set it; it then runs with the loop's
clock) and passes it to the stream path as ``now``. One ``loop.call_at`` timer,
armed from ``StreamManager.next_deadline``, shows queued frames on time. After
each display message (and each timer) the StreamReports the canvas completed
go out through the display machine's ``send_stream_report``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas.demarshal import to_command
from spicepy.canvas.streams import StreamReport, mm_diff
from spicepy.channels import CHANNEL_CLASSES
from spicepy.channels.display import DEFAULT_DISPLAY_CAPS
from spicepy.channels.events import (
    ChannelClosed,
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
from spicepy.errors import CanvasError, ConnectionClosedError, SessionError, WireError
from spicepy.wire.enums import DisplayCap

if TYPE_CHECKING:
    from spicepy.canvas.driver import DisplayDriver
    from spicepy.session.connection import ChannelConnection, ChannelMachine
    from spicepy.session.session import Session

log = logging.getLogger(__name__)

# SpiceChannelType values (spice/protocol.h).
MAIN, DISPLAY, INPUTS, CURSOR, PLAYBACK, RECORD = 1, 2, 3, 4, 5, 6
NAMES = {1: "main", 2: "display", 3: "inputs", 4: "cursor", 5: "playback", 6: "record"}
#: Channel types the session links (record would need a microphone).
SUPPORTED = frozenset({MAIN, DISPLAY, INPUTS, CURSOR, PLAYBACK})
MOUSE_MODE_SERVER, MOUSE_MODE_CLIENT = 1, 2

#: SpiceImageCompression values for PREFERRED_COMPRESSION (spice/enums.h).
IMAGE_COMPRESSIONS = {
    "off": 1,
    "auto_glz": 2,
    "auto_lz": 3,
    "quic": 4,
    "glz": 5,
    "lz": 6,
    "lz4": 7,
}
#: The machine's defaults (MJPEG the only video codec, STREAM_REPORT) plus what
#: the canvas renders: DRAW_COMPOSITE (draw_blend.composite) and A8 surfaces.
DISPLAY_CAPS = DEFAULT_DISPLAY_CAPS | {DisplayCap.COMPOSITE, DisplayCap.A8_SURFACE}
#: spice-gtk's GLZ window in bytes: clamp(ram_hint / 2, 12 MiB, 64 MiB)
#: (spice_session_set_caches_hints); DISPLAY INIT announces it in pixels (/4).
MIN_GLZ_WINDOW_BYTES = 12 * 1024 * 1024
MAX_GLZ_WINDOW_BYTES = 64 * 1024 * 1024
#: spice-gtk resets its video schedule when the mm time jumps ahead by more
#: (MM_TIME_DIFF_RESET_THRESH) or goes backwards at all.
MM_TIME_RESET_MS = 500
#: how early (ms, clock rounding) the stream timer may fire for its frame
TIMER_SLACK_MS = 2
#: STREAM_REPORTs the session remembers (tests, inspection).
MAX_KEPT_REPORTS = 1000
#: how long / how many display messages may wait for another channel's image
HOLD_SECONDS = 5.0
MAX_HELD = 10_000


def channel_name(ctype: int) -> str:
    return NAMES.get(ctype, f"type{ctype}")


@dataclass
class SessionState:
    """What the session learnt from events (plain data, mutated by handle_event)."""

    marks: int = 0
    last_display_activity: float = 0.0
    mouse_modes: int = MOUSE_MODE_SERVER
    mouse_mode: int = MOUSE_MODE_SERVER
    mouse_x: int = 0
    mouse_y: int = 0
    buttons: int = 0
    ram_hint: int = 0
    drivers: dict[int, DisplayDriver] = field(default_factory=dict)
    shared: Any = None  # canvas SharedState, one per session
    dropped_commands: int = 0
    #: SpiceImage types seen in display commands (ImageType value -> count)
    image_types: Counter[int] = field(default_factory=Counter)
    #: channel name -> loop time of the last PING the machine answered
    last_ping: dict[str, float] = field(default_factory=dict)
    #: display messages waiting for an image another display channel will send
    held: dict[int, collections.deque[tuple[Any, float]]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    #: the multimedia clock: server mm time ``mm_base`` at loop time ``mm_set_at``
    mm_base: int | None = None
    mm_set_at: float = 0.0
    stream_timer: asyncio.TimerHandle | None = None
    #: STREAM_REPORTs sent (the newest MAX_KEPT_REPORTS) and how many in all
    stream_reports: collections.deque[StreamReport] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_KEPT_REPORTS)
    )
    stream_reports_sent: int = 0


def glz_window_pixels(ram_hint: int) -> int:
    """DISPLAY INIT's glz_dictionary_window_size for MAIN INIT's ram_hint."""
    size = max(MIN_GLZ_WINDOW_BYTES, min(MAX_GLZ_WINDOW_BYTES, ram_hint // 2))
    return size // 4


def mm_now(session: Session) -> int | None:
    """The session's multimedia time (ms, u32), None before MAIN INIT."""
    state = session.state
    if state.mm_base is None:
        return None
    elapsed = int((session._loop.time() - state.mm_set_at) * 1000)
    return (state.mm_base + elapsed) & 0xFFFFFFFF


def set_mm_time(session: Session, mm_time: int) -> None:
    """spice_session_set_mm_time: re-base the clock; on a jump, reschedule."""
    state = session.state
    old = mm_now(session)
    state.mm_base, state.mm_set_at = mm_time & 0xFFFFFFFF, session._loop.time()
    if old is not None and (
        mm_diff(mm_time, old + MM_TIME_RESET_MS) > 0 or mm_diff(mm_time, old) < 0
    ):
        log.debug("mm time reset: %d -> %d", old, mm_time)
        for driver in state.drivers.values():
            driver.streams.reschedule(mm_time)
    arm_stream_timer(session)


def make_machine(session: Session, ctype: int, cid: int, connection_id: int) -> Any:
    """A ``spicepy.channels`` machine for one channel connection."""
    kwargs: dict[str, Any] = {
        "connection_id": connection_id,
        "password": session.uri.password or "",
    }
    if ctype == DISPLAY:
        kwargs["channel_caps"] = DISPLAY_CAPS
        kwargs["glz_window_size"] = glz_window_pixels(session.state.ram_hint)
        if session.preferred_compression is not None:
            kwargs["preferred_compression"] = IMAGE_COMPRESSIONS[
                session.preferred_compression
            ]
    return CHANNEL_CLASSES[ctype](cid, **kwargs)


def is_linked(machine: ChannelMachine) -> bool:
    return bool(getattr(machine, "linked", False))


def handle_event(session: Session, conn: ChannelConnection, event: object) -> None:
    state = session.state
    machine: Any = conn.machine
    if isinstance(event, MessageReceived):
        if event.channel_type == DISPLAY:
            _display_message(session, conn, machine.channel_id, event.message)
        return
    if isinstance(event, PingAnswered):
        state.last_ping[conn.name] = session._loop.time()
    elif isinstance(event, MainInitReceived):
        session.session_id = event.session_id
        state.mouse_modes = event.supported_mouse_modes
        state.mouse_mode = event.current_mouse_mode
        state.ram_hint = event.ram_hint
        set_mm_time(session, event.multi_media_time)
        if (
            state.mouse_modes & MOUSE_MODE_CLIENT
            and state.mouse_mode != MOUSE_MODE_CLIENT
        ):  # absolute positions: what a script means by "move to (x, y)"
            conn.call(machine.send_mouse_mode_request, MOUSE_MODE_CLIENT)
    elif isinstance(event, MultiMediaTimeReceived):
        set_mm_time(session, event.time)
    elif isinstance(event, ChannelsListReceived):
        session.channels_list = list(event.channels)
    elif isinstance(event, MouseModeChanged):
        state.mouse_modes, state.mouse_mode = event.supported_modes, event.current_mode
    elif isinstance(event, LinkCompleted):
        log.info("%s linked", conn.name)
        if event.channel_type == DISPLAY:
            _display_linked(session, event.channel_id)
    elif isinstance(event, NotifyReceived | DisconnectingReceived):
        state.notices.append(f"{conn.name}: {event}")
    elif isinstance(event, ChannelClosed):
        log.info("%s closed (clean=%s)", conn.name, event.clean)
        if not event.clean and conn.error is None:
            conn.error = ConnectionClosedError(
                f"{conn.name}: server closed the connection in the middle of a message"
            )


def _display_linked(session: Session, channel_id: int) -> None:
    from spicepy.canvas.driver import DisplayDriver
    from spicepy.canvas.images import SharedState

    state = session.state
    if state.shared is None:
        window = glz_window_pixels(state.ram_hint)
        state.shared = SharedState(glz_window=window)
    state.drivers[channel_id] = DisplayDriver(state.shared)


def _display_message(
    session: Session, conn: ChannelConnection, channel_id: int, message: Any
) -> None:
    state = session.state
    if channel_id not in state.drivers:
        return
    now = session._loop.time()
    state.last_display_activity = now
    held = state.held.setdefault(channel_id, collections.deque())
    if held:  # keep this channel's order behind a held message
        if len(held) >= MAX_HELD:
            _drop(state, conn.name, held.popleft()[0], "hold queue full")
        held.append((message, now))
        _retry_held(session, conn.name)  # drops the head once it waited too long
        return
    if _apply(session, conn.name, channel_id, message, since=now):
        _retry_held(session, conn.name)


def _apply(
    session: Session, name: str, channel_id: int, message: Any, *, since: float
) -> bool:
    """Apply one display message; False when it was held for a later retry."""
    from spicepy.canvas.images import ImageNotReady

    state = session.state
    try:
        command = to_command(message)
        if command is not None and command.name.startswith("stream_"):
            try:  # only stream commands read the clock, show frames or report
                state.drivers[channel_id].apply(command, mm_now(session))
            finally:  # what a refused command still completed goes out too
                _after_streams(session, channel_id)
        elif command is not None:
            state.drivers[channel_id].apply(command)
    except ImageNotReady as exc:
        # Another display channel may still deliver that cache entry or GLZ
        # image (PROTOCOL.md section 6, "Caches"); with one display channel
        # it never will.
        fresh = session._loop.time() - since < HOLD_SECONDS
        if fresh and len(state.drivers) > 1:
            state.held.setdefault(channel_id, collections.deque()).appendleft(
                (message, since)
            )
            return False
        _drop(state, name, message, str(exc))
        return True
    except (CanvasError, WireError) as exc:
        # the canvas refuses this one command; the session goes on (spice-gtk does)
        _drop(state, name, message, str(exc))
        return True
    if command is not None:
        if command.name == "mark":
            state.marks += 1
        _note_command(session, command)
    return True


def _drop(state: SessionState, name: str, message: Any, why: str) -> None:
    state.dropped_commands += 1
    kind = type(message).__name__
    log.warning("%s: dropped display message %s: %s", name, kind, why)


def _retry_held(session: Session, name: str) -> None:
    """Progress on one channel may unblock messages held on the others."""
    for channel_id, held in session.state.held.items():
        while held:
            message, since = held.popleft()
            if not _apply(session, name, channel_id, message, since=since):
                break


def _after_streams(session: Session, channel_id: int) -> None:
    """Send the canvas's completed StreamReports, note shown frames, re-arm."""
    state = session.state
    streams = state.drivers[channel_id].streams
    for surface_id, dest in streams.shown:
        if surface_id == 0:
            session._note_change(_changed(dest.left, dest.top, dest.right, dest.bottom))
    if streams.shown:
        streams.shown.clear()
        state.last_display_activity = session._loop.time()
    reports = streams.take_reports()
    conn = session.connections.get((DISPLAY, channel_id))
    for report in reports:
        if conn is None or conn.closed.is_set():
            break
        machine: Any = conn.machine
        conn.call(
            machine.send_stream_report,
            report.stream_id,
            report.unique_id,
            report.start_frame_mm_time & 0xFFFFFFFF,
            report.end_frame_mm_time & 0xFFFFFFFF,
            report.num_frames,
            report.num_drops,
            max(-(1 << 31), min(report.last_frame_delay, (1 << 31) - 1)),
            report.audio_delay,
        )
        state.stream_reports.append(report)
        state.stream_reports_sent += 1
    arm_stream_timer(session)


def next_frame_time(session: Session) -> float | None:
    """Loop time at which the earliest queued video frame is due, or None."""
    now = mm_now(session)
    if now is None:
        return None
    waits = [
        mm_diff(t, now)
        for driver in session.state.drivers.values()
        if (t := driver.streams.next_deadline(now)) is not None
    ]
    if not waits:
        return None
    return session._loop.time() + max(0, min(waits)) / 1000


def arm_stream_timer(session: Session) -> None:
    """(Re-)arm the one timer that shows queued frames at their mm time."""
    state = session.state
    when = None if session._closed else next_frame_time(session)
    timer = state.stream_timer
    if timer is not None:
        if when is not None and abs(timer.when() - when) < 0.0005:
            return
        timer.cancel()
        state.stream_timer = None
    if when is not None:
        state.stream_timer = session._loop.call_at(when, _on_stream_timer, session)


def cancel_stream_timer(session: Session) -> None:
    if session.state.stream_timer is not None:
        session.state.stream_timer.cancel()
        session.state.stream_timer = None


def _on_stream_timer(session: Session) -> None:
    state = session.state
    state.stream_timer = None
    now = mm_now(session)
    if now is None or session._closed:
        return
    for channel_id, driver in list(state.drivers.items()):
        deadline = driver.streams.next_deadline(now)
        if deadline is None:
            continue
        # the timer was armed for the earliest frame: millisecond rounding must
        # not make it look early (spice-gtk shows its armed frame when it fires)
        early = mm_diff(deadline, now)
        driver.streams.run(deadline if 0 < early <= TIMER_SLACK_MS else now)
        _after_streams(session, channel_id)
    arm_stream_timer(session)
    session._wake()


def pending_frames(session: Session) -> int:
    """Video frames queued for a later mm time (pending display activity)."""
    return sum(d.streams.queued_frames for d in session.state.drivers.values())


def _note_command(session: Session, command: Any) -> None:
    for image in command.images:
        session.state.image_types[image.type] += 1
    if command.name.startswith("stream_"):
        return  # a frame's area changes when it is shown (_after_streams)
    args = command.args
    if args.get("surface_id") == 0:
        box = args.get("bbox") or args.get("dest")
        if box is None and command.name == "surface_create":
            session._note_change(
                _changed(0, 0, int(args.get("width", 0)), int(args.get("height", 0)))
            )
        elif box is not None:
            session._note_change(_changed(box.left, box.top, box.right, box.bottom))


def _changed(left: int, top: int, right: int, bottom: int) -> Any:
    from spicepy.session.session import ChangedRect

    return ChangedRect(int(left), int(top), int(right), int(bottom))


def after_connect(session: Session) -> None:
    pass


def primary_pixels(session: Session) -> npt.NDArray[np.uint8] | None:
    driver = session.state.drivers.get(0)
    return None if driver is None else driver.primary_pixels()


def send_key(conn: ChannelConnection, code: int, *, down: bool) -> None:
    machine: Any = conn.machine
    conn.call(machine.send_key_down if down else machine.send_key_up, code)


def send_mouse_move(session: Session, conn: ChannelConnection, x: int, y: int) -> None:
    state = session.state
    machine: Any = conn.machine
    if state.mouse_mode == MOUSE_MODE_CLIENT:
        conn.call(machine.send_mouse_position, max(0, x), max(0, y), state.buttons, 0)
    else:
        dx, dy = x - state.mouse_x, y - state.mouse_y
        conn.call(machine.send_mouse_motion, dx, dy, state.buttons)
    state.mouse_x, state.mouse_y = x, y


def send_mouse_button(
    session: Session, conn: ChannelConnection, button: int, *, down: bool
) -> None:
    if not 1 <= button <= 7:
        raise ValueError(f"mouse button {button} out of range 1..7")
    state = session.state
    machine: Any = conn.machine
    mask = 1 << (button - 1)
    state.buttons = state.buttons | mask if down else state.buttons & ~mask
    send = machine.send_mouse_press if down else machine.send_mouse_release
    conn.call(send, button, state.buttons)


__all__ = ["SessionError"]
