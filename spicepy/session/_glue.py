"""Where the session meets spicepy.channels and spicepy.canvas.

Everything that depends on the channel machines' constructors, event classes
and send methods, or on the canvas adapter, is here, so the session proper
(`session.py`) only deals with connections, waiting and user calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from spicepy.errors import LinkError, SessionError

if TYPE_CHECKING:
    from spicepy.session.connection import ChannelConnection, ChannelMachine
    from spicepy.session.session import Session

log = logging.getLogger(__name__)

# SpiceChannelType values (spice/protocol.h).
MAIN, DISPLAY, INPUTS, CURSOR, PLAYBACK, RECORD = 1, 2, 3, 4, 5, 6
NAMES = {1: "main", 2: "display", 3: "inputs", 4: "cursor", 5: "playback", 6: "record"}
#: Channel types the session links (record would need a microphone).
SUPPORTED = frozenset({MAIN, DISPLAY, INPUTS, CURSOR, PLAYBACK})
MOUSE_MODE_SERVER, MOUSE_MODE_CLIENT = 1, 2


def channel_name(ctype: int) -> str:
    return NAMES.get(ctype, f"type{ctype}")


@dataclass
class SessionState:
    """What the session learnt from events (plain data, mutated by handle_event)."""

    marks: int = 0
    last_display_activity: float = 0.0
    linked: set[int] = field(default_factory=set)  # id() of linked machines
    mouse_modes: int = 0
    mouse_mode: int = MOUSE_MODE_SERVER
    mouse_x: int = 0
    mouse_y: int = 0
    buttons: int = 0
    canvases: dict[int, Any] = field(default_factory=dict)  # display id -> Canvas
    shared: Any = None  # canvas.SharedState, shared by display channels
    notices: list[str] = field(default_factory=list)


def make_machine(
    ctype: int, cid: int, connection_id: int, password: str | None
) -> ChannelMachine:
    raise SessionError("spicepy.channels is not available yet")


def is_linked(machine: ChannelMachine) -> bool:
    return False


def handle_event(session: Session, conn: ChannelConnection, event: object) -> None:
    log.debug("%s: %r", conn.name, event)


def after_connect(session: Session) -> None:
    pass


def primary_pixels(session: Session) -> npt.NDArray[np.uint8] | None:
    return None


def send_key(conn: ChannelConnection, code: int, *, down: bool) -> None:
    raise SessionError("inputs not available yet")


def send_mouse_move(session: Session, conn: ChannelConnection, x: int, y: int) -> None:
    raise SessionError("inputs not available yet")


def send_mouse_button(
    session: Session, conn: ChannelConnection, button: int, *, down: bool
) -> None:
    raise SessionError("inputs not available yet")


__all__ = ["LinkError"]
