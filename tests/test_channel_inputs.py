"""Inputs channel: set-1 scancodes (E0 keys), mouse messages, motion flow control."""

from __future__ import annotations

import struct

import pytest
from _channel_helpers import drive, split_messages

from spicepy.channels import (
    InputsChannel,
    InputsInitReceived,
    KeyModifiersChanged,
    MotionAcked,
    make_scancode,
)
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire.enums import InputsMsgc
from spicepy.wire.msg_other import (
    InputsInit,
    KeyDown,
    KeyModifiers,
    KeyScancode,
    KeyUp,
    MouseMotion,
    MouseMotionAck,
    MousePosition,
    MousePress,
    MouseRelease,
)


def setup() -> tuple[InputsChannel, FakeServer]:
    srv = FakeServer()
    ch = InputsChannel()
    link_pair(ch, srv)
    drive(ch, srv.pack(InputsInit(2)))
    return ch, srv


@pytest.mark.parametrize(
    "code,down,up",
    [
        (0x1E, 0x1E, 0x9E),  # 'a'
        (0x1C, 0x1C, 0x9C),  # Enter
        (0x11C, 0x1CE0, 0x9CE0),  # keypad Enter = E0 1C / E0 9C
        (0x148, 0x48E0, 0xC8E0),  # Up arrow = E0 48 / E0 C8
        (0x11D, 0x1DE0, 0x9DE0),  # right Ctrl
    ],
)
def test_scancodes(code: int, down: int, up: int) -> None:
    assert make_scancode(code, False) == down
    assert make_scancode(code, True) == up
    ch, srv = setup()
    ch.send_key_down(code)
    ch.send_key_up(code)
    out = ch.data_to_send()
    assert out[:6] == struct.pack("<HI", 101, 4)
    # on the wire the u32 holds the bytes in order: E0 first for extended keys
    if code & 0x100:
        assert out[6:8] == bytes([0xE0, code & 0xFF])
    assert srv.client_messages(out, 3) == [KeyDown(down), KeyUp(up)]


def test_bad_scancode_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        make_scancode(0x200, False)


def test_init_and_modifiers_events() -> None:
    srv = FakeServer()
    ch = InputsChannel()
    link_pair(ch, srv)
    ch.next_event()
    events = drive(ch, srv.pack(InputsInit(4)) + srv.pack(KeyModifiers(1)))
    assert events == [InputsInitReceived(4), KeyModifiersChanged(1)]
    assert ch.modifiers == 1


def test_mouse_messages() -> None:
    ch, srv = setup()
    ch.send_mouse_position(100, 200, 1, 0)
    ch.send_mouse_press(1, 1)
    ch.send_mouse_release(1, 0)
    ch.send_mouse_motion(-3, 4, 0)
    ch.send_key_scancode(b"\x1e\x9e")
    out = ch.data_to_send()
    # spice.proto layouts, each behind a 6-byte mini header
    assert split_messages(out) == [
        (InputsMsgc.MOUSE_POSITION, struct.pack("<IIHB", 100, 200, 1, 0)),
        (InputsMsgc.MOUSE_PRESS, struct.pack("<BH", 1, 1)),
        (InputsMsgc.MOUSE_RELEASE, struct.pack("<BH", 1, 0)),
        (InputsMsgc.MOUSE_MOTION, struct.pack("<iiH", -3, 4, 0)),
        (InputsMsgc.KEY_SCANCODE, b"\x1e\x9e"),
    ]
    assert srv.client_messages(out, 3) == [
        MousePosition(100, 200, 1, 0),
        MousePress(1, 1),
        MouseRelease(1, 0),
        MouseMotion(-3, 4, 0),
        KeyScancode(b"\x1e\x9e"),
    ]


def test_motion_is_coalesced_beyond_eight_unacked() -> None:
    ch, srv = setup()
    for _ in range(8):
        assert ch.send_mouse_motion(1, 1)
    assert not ch.send_mouse_motion(2, 0)
    assert not ch.send_mouse_motion(3, 5)
    assert len(srv.client_messages(ch.data_to_send(), 3)) == 8
    events = drive(ch, srv.pack(MouseMotionAck()))
    assert events == [MotionAcked(4)]
    # the held motion goes out as one message with the summed deltas
    assert srv.client_messages(ch.data_to_send(), 3) == [MouseMotion(5, 5, 0)]
    assert ch.motion_unacked == 5
