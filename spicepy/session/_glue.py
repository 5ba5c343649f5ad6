"""Where the session meets the channel machines and the canvas.

Everything that depends on the machines of ``spicepy.channels`` (constructors,
events, send methods) or on the canvas driver is here, so `session.py` only
deals with connections, waiting and user calls.

Display messages: the display machine emits parsed ``spicepy.wire`` dataclasses;
``canvas.demarshal.to_command`` turns each into a canvas command for the
channel's ``DisplayDriver`` (one per display channel, sharing caches).
"""

from __future__ import annotations

import collections
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas.demarshal import to_command
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
#: The session sends no STREAM_REPORTs (yet), so it does not offer the cap.
DISPLAY_CAPS = DEFAULT_DISPLAY_CAPS - {DisplayCap.STREAM_REPORT}
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


def make_machine(session: Session, ctype: int, cid: int, connection_id: int) -> Any:
    """A ``spicepy.channels`` machine for one channel connection."""
    kwargs: dict[str, Any] = {
        "connection_id": connection_id,
        "password": session.uri.password or "",
    }
    if ctype == DISPLAY:
        kwargs["channel_caps"] = DISPLAY_CAPS
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
        if (
            state.mouse_modes & MOUSE_MODE_CLIENT
            and state.mouse_mode != MOUSE_MODE_CLIENT
        ):  # absolute positions: what a script means by "move to (x, y)"
            conn.call(machine.send_mouse_mode_request, MOUSE_MODE_CLIENT)
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
        state.shared = SharedState()
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
        if command is not None:
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


def _note_command(session: Session, command: Any) -> None:
    for image in command.images:
        session.state.image_types[image.type] += 1
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
