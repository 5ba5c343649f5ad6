"""Inputs channel: keys as PC/AT set-1 scancodes and mouse events.

Theory of operation: key codes are set-1 scancodes; extended keys are given as
``0x100 | code`` and go on the wire as the bytes ``E0 code`` (release ORs 0x80 into
the code byte), as spice-gtk's ``spice_make_scancode`` does.  Mouse motion is flow
controlled: the server acks every 4 motion/position messages
(SPICE_INPUT_MOTION_ACK_BUNCH); with 8 un-acked the machine coalesces further motion
and sends it when an ack arrives.
"""

from __future__ import annotations

from typing import Any

from spicepy.channels.base import Channel
from spicepy.channels.events import (
    InputsInitReceived,
    KeyModifiersChanged,
    MessageReceived,
    MotionAcked,
)
from spicepy.wire.enums import ChannelType, InputsCap
from spicepy.wire.msg_other import (
    InputsInit,
    KeyDown,
    KeyModifiers,
    KeyModifiersC,
    KeyScancode,
    KeyUp,
    MouseMotion,
    MouseMotionAck,
    MousePosition,
    MousePress,
    MouseRelease,
)

__all__ = ["InputsChannel", "make_scancode", "EXTENDED", "MOTION_ACK_BUNCH"]

EXTENDED = 0x100
MOTION_ACK_BUNCH = 4


def make_scancode(code: int, release: bool) -> int:
    """The u32 KEY_DOWN/KEY_UP code of a set-1 scancode (``0x100|x`` = E0 x)."""
    if not 0 <= code < 0x200:
        raise ValueError(f"scancode {code:#x} out of range")
    if code & EXTENDED:
        return 0xE0 | ((code & 0xFF) | (0x80 if release else 0)) << 8
    return code | (0x80 if release else 0)


class InputsChannel(Channel):
    CHANNEL_TYPE = ChannelType.INPUTS
    DEFAULT_CAPS = frozenset({InputsCap.KEY_SCANCODE})

    def __init__(self, channel_id: int = 0, **kw: Any) -> None:
        super().__init__(channel_id, **kw)
        self.modifiers = 0
        self.motion_unacked = 0
        self._pending_motion: tuple[int, int, int] | None = None
        self._pending_position: tuple[int, int, int, int] | None = None

    # keys
    def send_key_down(self, code: int) -> None:
        """Press a set-1 scancode (``0x100 | x`` for E0-prefixed keys)."""
        self.send_message(KeyDown(make_scancode(code, False)))

    def send_key_up(self, code: int) -> None:
        self.send_message(KeyUp(make_scancode(code, True)))

    def send_key_scancode(self, data: bytes) -> None:
        """Raw scancode bytes (KEY_SCANCODE; needs the server's KEY_SCANCODE cap)."""
        self.send_message(KeyScancode(bytes(data)))

    def send_key_modifiers(self, modifiers: int) -> None:
        self.send_message(KeyModifiersC(modifiers))

    # mouse
    def send_mouse_motion(self, dx: int, dy: int, buttons: int = 0) -> bool:
        """Relative motion (server mouse mode); False if coalesced until an ack."""
        if self.motion_unacked >= 2 * MOTION_ACK_BUNCH:
            px, py, _ = self._pending_motion or (0, 0, 0)
            self._pending_motion = (px + dx, py + dy, buttons)
            return False
        self.send_message(MouseMotion(dx, dy, buttons))
        self.motion_unacked += 1
        return True

    def send_mouse_position(
        self, x: int, y: int, buttons: int = 0, display_id: int = 0
    ) -> bool:
        """Absolute position (client mouse mode); False if held until an ack."""
        if self.motion_unacked >= 2 * MOTION_ACK_BUNCH:
            self._pending_position = (x, y, buttons, display_id)
            return False
        self.send_message(MousePosition(x, y, buttons, display_id))
        self.motion_unacked += 1
        return True

    def send_mouse_press(self, button: int, buttons: int = 0) -> None:
        self.send_message(MousePress(button, buttons))

    def send_mouse_release(self, button: int, buttons: int = 0) -> None:
        self.send_message(MouseRelease(button, buttons))

    def _handle(self, msg: Any, serial: int) -> None:
        if isinstance(msg, InputsInit):
            self.modifiers = msg.keyboard_modifiers
            self._emit(InputsInitReceived(msg.keyboard_modifiers))
        elif isinstance(msg, KeyModifiers):
            self.modifiers = msg.modifiers
            self._emit(KeyModifiersChanged(msg.modifiers))
        elif isinstance(msg, MouseMotionAck):
            self.motion_unacked = max(0, self.motion_unacked - MOTION_ACK_BUNCH)
            self._emit(MotionAcked(self.motion_unacked))
            motion, self._pending_motion = self._pending_motion, None
            if motion is not None:
                self.send_mouse_motion(*motion)
            position, self._pending_position = self._pending_position, None
            if position is not None:
                self.send_mouse_position(*position)
        else:
            self._emit(MessageReceived(self.CHANNEL_TYPE, msg.MSG_TYPE, serial, msg))
