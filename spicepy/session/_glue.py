"""Where the session meets the channel machines and the canvas.

Everything that depends on a channel machine's constructor, events and send
methods, or on the canvas driver, is here, so `session.py` only deals with
connections, waiting and user calls.  The machines are currently the session's
own minimal ``_fallback.FallbackChannel``; switching to spicepy.channels only
touches this module.
"""

from __future__ import annotations

import collections
import logging
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from spicepy.errors import CanvasError, SessionError, WireError
from spicepy.session._fallback import (
    ChannelClosed,
    FallbackChannel,
    LinkCompleted,
    MessageReceived,
)
from spicepy.session.keymap import EXTENDED

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

# Message numbers (spice.proto); only the ones the session acts on.
MAIN_INIT, MAIN_CHANNELS_LIST, MAIN_MOUSE_MODE = 103, 104, 105
MAIN_C_ATTACH_CHANNELS, MAIN_C_MOUSE_MODE_REQUEST = 104, 105
DISPLAY_MARK, DISPLAY_C_INIT, DISPLAY_C_PREFERRED_COMPRESSION = 102, 101, 103
INPUTS_C_KEY_DOWN, INPUTS_C_KEY_UP = 101, 102
INPUTS_C_MOUSE_MOTION, INPUTS_C_MOUSE_POSITION = 111, 112
INPUTS_C_MOUSE_PRESS, INPUTS_C_MOUSE_RELEASE = 113, 114
COMMON_PING, COMMON_DISCONNECTING, COMMON_NOTIFY = 4, 6, 7

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
DISPLAY_CAP_PREF_COMPRESSION = 6

# Display caps (spice/protocol.h) the canvas implements.
DISPLAY_CAPS = {0, 1, 2, 5, 6, 8, 9}  # SIZED_STREAM, MONITORS_CONFIG, COMPOSITE,
# LZ4_COMPRESSION, PREF_COMPRESSION, MULTI_CODEC, CODEC_MJPEG
INPUTS_CAPS = {0}  # KEY_SCANCODE
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
    held: dict[int, collections.deque[tuple[int, bytes, float]]] = field(
        default_factory=dict
    )
    notices: list[str] = field(default_factory=list)


def make_machine(
    ctype: int, cid: int, connection_id: int, password: str | None
) -> ChannelMachine:
    caps = {DISPLAY: DISPLAY_CAPS, INPUTS: INPUTS_CAPS}.get(ctype, set())
    return FallbackChannel(ctype, cid, connection_id, password, caps)


def is_linked(machine: ChannelMachine) -> bool:
    return bool(getattr(machine, "linked", False))


def _send(conn: ChannelConnection, msg_type: int, body: bytes = b"") -> None:
    machine: Any = conn.machine
    conn.call(machine.send_message, msg_type, body)


def handle_event(session: Session, conn: ChannelConnection, event: object) -> None:
    machine: Any = conn.machine
    ctype = machine.channel_type
    if isinstance(event, LinkCompleted):
        log.info("%s linked", conn.name)
        if ctype == DISPLAY:
            _display_linked(session, conn, event)
        return
    if isinstance(event, ChannelClosed):
        log.info("%s closed: %s", conn.name, event.reason)
        return
    if not isinstance(event, MessageReceived):
        return
    msg_type, body = event.msg_type, event.body
    if msg_type == COMMON_PING:
        session.state.last_ping[conn.name] = session._loop.time()
    if msg_type in (COMMON_NOTIFY, COMMON_DISCONNECTING):
        session.state.notices.append(f"{conn.name}: message {msg_type} {body[:80]!r}")
        return
    if ctype == MAIN:
        _main_message(session, conn, msg_type, body)
    elif ctype == DISPLAY and msg_type > 100:
        _display_message(session, conn, machine.channel_id, msg_type, body)


def _main_message(
    session: Session, conn: ChannelConnection, msg_type: int, body: bytes
) -> None:
    state = session.state
    if msg_type == MAIN_INIT and len(body) >= 32:
        fields = struct.unpack_from("<8I", body)
        session.session_id = fields[0]
        state.mouse_modes, state.mouse_mode = fields[2], fields[3]
        state.ram_hint = fields[7]
        _send(conn, MAIN_C_ATTACH_CHANNELS)
        if (
            state.mouse_modes & MOUSE_MODE_CLIENT
            and state.mouse_mode != MOUSE_MODE_CLIENT
        ):
            _send(conn, MAIN_C_MOUSE_MODE_REQUEST, struct.pack("<H", MOUSE_MODE_CLIENT))
    elif msg_type == MAIN_CHANNELS_LIST and len(body) >= 4:
        (count,) = struct.unpack_from("<I", body)
        if 4 + 2 * count > len(body):
            raise WireError("CHANNELS_LIST shorter than its count")
        session.channels_list = [
            (body[4 + 2 * i], body[5 + 2 * i]) for i in range(count)
        ]
    elif msg_type == MAIN_MOUSE_MODE and len(body) >= 4:
        state.mouse_modes, state.mouse_mode = struct.unpack_from("<HH", body)


def _display_linked(
    session: Session, conn: ChannelConnection, event: LinkCompleted
) -> None:
    from spicepy.canvas.driver import DisplayDriver
    from spicepy.canvas.images import SharedState

    state = session.state
    if state.shared is None:
        state.shared = SharedState()
    state.drivers[event.channel_id] = DisplayDriver(state.shared)
    # DISPLAY INIT: pixmap cache id/size, GLZ dictionary id/window (pixels)
    init = struct.pack("<BqBi", 1, 80 * 1024 * 1024 // 4, 1, state.shared.glz_window)
    _send(conn, DISPLAY_C_INIT, init)
    wanted = session.preferred_compression
    if wanted is not None:
        if event.channel_caps & (1 << DISPLAY_CAP_PREF_COMPRESSION):
            body = struct.pack("<B", IMAGE_COMPRESSIONS[wanted])
            _send(conn, DISPLAY_C_PREFERRED_COMPRESSION, body)
        else:
            log.warning("%s: server ignores preferred compression", conn.name)


def _display_message(
    session: Session,
    conn: ChannelConnection,
    channel_id: int,
    msg_type: int,
    body: bytes,
) -> None:
    state = session.state
    if channel_id not in state.drivers:
        return
    now = session._loop.time()
    state.last_display_activity = now
    held = state.held.setdefault(channel_id, collections.deque())
    if held:  # keep this channel's order behind a held message
        if len(held) >= MAX_HELD:
            _drop(state, conn.name, *held.popleft()[:2], "hold queue full")
        held.append((msg_type, body, now))
        _retry_held(session, conn.name)  # drops the head once it waited too long
        return
    if _apply(session, conn.name, channel_id, msg_type, body, hold_ok=True, since=now):
        _retry_held(session, conn.name)


def _apply(
    session: Session,
    name: str,
    channel_id: int,
    msg_type: int,
    body: bytes,
    *,
    hold_ok: bool,
    since: float,
) -> bool:
    """Apply one message; False when it was held for a later retry."""
    from spicepy.canvas.images import ImageNotReady

    state = session.state
    try:
        command = state.drivers[channel_id].handle_message(msg_type, body)
    except ImageNotReady as exc:
        # Another display channel may still deliver that cache entry or GLZ
        # image (PROTOCOL.md section 6, "Caches"); with one display channel
        # it never will.
        fresh = session._loop.time() - since < HOLD_SECONDS
        if hold_ok and fresh and len(state.drivers) > 1:
            state.held.setdefault(channel_id, collections.deque()).appendleft(
                (msg_type, body, since)
            )
            return False
        _drop(state, name, msg_type, body, str(exc))
        return True
    except (CanvasError, WireError) as exc:
        # the canvas refuses this one command; the session goes on (spice-gtk does)
        _drop(state, name, msg_type, body, str(exc))
        return True
    if msg_type == DISPLAY_MARK:
        state.marks += 1
    if command is not None:
        _note_command(session, command)
    return True


def _drop(state: SessionState, name: str, msg_type: int, body: bytes, why: str) -> None:
    state.dropped_commands += 1
    log.warning(
        "%s: dropped display message %d (%d bytes): %s", name, msg_type, len(body), why
    )


def _retry_held(session: Session, name: str) -> None:
    """Progress on one channel may unblock messages held on the others."""
    for channel_id, held in session.state.held.items():
        while held:
            msg_type, body, since = held.popleft()
            if not _apply(
                session, name, channel_id, msg_type, body, hold_ok=True, since=since
            ):
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


def _scancode_u32(code: int, down: bool) -> int:
    """spice-gtk ``spice_make_scancode``: E0 prefix in the low byte, bit 7 = release."""
    low = (code & 0x7F) | (0 if down else 0x80)
    return 0xE0 | (low << 8) if code & EXTENDED else low


def send_key(conn: ChannelConnection, code: int, *, down: bool) -> None:
    msg = INPUTS_C_KEY_DOWN if down else INPUTS_C_KEY_UP
    _send(conn, msg, struct.pack("<I", _scancode_u32(code, down)))


def send_mouse_move(session: Session, conn: ChannelConnection, x: int, y: int) -> None:
    state = session.state
    if state.mouse_mode == MOUSE_MODE_CLIENT:
        body = struct.pack("<IIHB", max(0, x), max(0, y), state.buttons, 0)
        _send(conn, INPUTS_C_MOUSE_POSITION, body)
    else:
        dx, dy = x - state.mouse_x, y - state.mouse_y
        _send(conn, INPUTS_C_MOUSE_MOTION, struct.pack("<iiH", dx, dy, state.buttons))
    state.mouse_x, state.mouse_y = x, y


def send_mouse_button(
    session: Session, conn: ChannelConnection, button: int, *, down: bool
) -> None:
    if not 1 <= button <= 7:
        raise ValueError(f"mouse button {button} out of range 1..7")
    state = session.state
    mask = 1 << (button - 1)
    state.buttons = state.buttons | mask if down else state.buttons & ~mask
    msg = INPUTS_C_MOUSE_PRESS if down else INPUTS_C_MOUSE_RELEASE
    _send(conn, msg, struct.pack("<BH", button, state.buttons))


__all__ = ["SessionError"]
