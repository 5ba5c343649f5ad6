"""Inputs channel properties: motion flow control against a model, and the
set-1 scancode encoding (spice-gtk ``spice_make_scancode``).

Flow control (spice-gtk ``inputs_send_motion``): the server acks every
MOTION_ACK_BUNCH (4) motion/position messages; with twice that un-acked the
client holds further motion (relative deltas summed, the last buttons kept; the
last absolute position kept) and sends it when an ack arrives.  No motion is
ever lost and the client never runs more than 8 messages ahead of the acks.
"""

from __future__ import annotations

from _channel_helpers import drive, events
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels import InputsChannel, MotionAcked, make_scancode
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire.enums import ChannelType
from spicepy.wire.msg_other import (
    InputsInit,
    KeyDown,
    KeyUp,
    MouseMotion,
    MouseMotionAck,
    MousePosition,
)

BUNCH = 4

_action = st.one_of(
    st.tuples(
        st.just("motion"),
        st.integers(-50, 50),
        st.integers(-50, 50),
        st.integers(0, 7),
    ),
    st.tuples(
        st.just("position"),
        st.integers(0, 2000),
        st.integers(0, 2000),
        st.integers(0, 7),
    ),
    st.tuples(st.just("ack")),
)


@given(st.lists(_action, max_size=40))
def test_motion_flow_control_follows_the_model(actions: list[tuple[int, ...]]) -> None:
    srv = FakeServer()
    ch = InputsChannel()
    link_pair(ch, srv)
    drive(ch, srv.pack(InputsInit(0)))
    ch.data_to_send()
    unacked = 0
    pending_motion: tuple[int, int, int] | None = None
    pending_position: tuple[int, int, int] | None = None
    sent_dx = wanted_dx = 0

    def send_motion(dx: int, dy: int, b: int, out: list[object]) -> bool:
        nonlocal unacked, pending_motion
        if unacked >= 2 * BUNCH:
            px, py, _ = pending_motion or (0, 0, 0)
            pending_motion = (px + dx, py + dy, b)
            return False
        out.append(MouseMotion(dx, dy, b))
        unacked += 1
        return True

    def send_position(x: int, y: int, b: int, out: list[object]) -> bool:
        nonlocal unacked, pending_position
        if unacked >= 2 * BUNCH:
            pending_position = (x, y, b)
            return False
        out.append(MousePosition(x, y, b, 0))
        unacked += 1
        return True

    for action in actions:
        expected: list[object] = []
        if action[0] == "motion":
            _, dx, dy, b = action
            wanted_dx += dx
            assert ch.send_mouse_motion(dx, dy, b) == send_motion(dx, dy, b, expected)
        elif action[0] == "position":
            _, x, y, b = action
            assert ch.send_mouse_position(x, y, b) == send_position(x, y, b, expected)
        else:
            unacked = max(0, unacked - BUNCH)
            acked_to = unacked  # the event reports it before held motion goes out
            motion, pending_motion = pending_motion, None
            if motion is not None:
                send_motion(*motion, expected)
            position, pending_position = pending_position, None
            if position is not None:
                send_position(*position, expected)
            evs = drive(ch, srv.pack(MouseMotionAck()))
            assert evs == [MotionAcked(acked_to)], (evs, acked_to)
        got = srv.client_messages(ch.data_to_send(), ChannelType.INPUTS)
        assert got == expected, (action, got, expected)
        sent_dx += sum(m.dx for m in got if isinstance(m, MouseMotion))
        assert ch.motion_unacked == unacked <= 2 * BUNCH
    # nothing lost: what was sent plus what is held is what was asked for
    held = pending_motion[0] if pending_motion else 0
    assert sent_dx + held == wanted_dx
    assert events(ch) == []


@given(st.integers(0, 0x1FF), st.booleans())
def test_scancode_encoding(code: int, release: bool) -> None:
    """Plain codes are one byte, release ORs 0x80; 0x100|x is E0 then x."""
    value = make_scancode(code, release)
    if code & 0x100:
        assert value & 0xFF == 0xE0
        assert value >> 8 == (code & 0xFF) | (0x80 if release else 0)
    else:
        assert value == code | (0x80 if release else 0)


def test_key_messages_carry_the_encoded_scancode() -> None:
    srv = FakeServer()
    ch = InputsChannel()
    link_pair(ch, srv)
    ch.data_to_send()
    ch.send_key_down(0x11D)  # right ctrl: E0 1D
    ch.send_key_up(0x11D)
    ch.send_key_down(0x2A)
    ch.send_key_up(0x2A)
    got = srv.client_messages(ch.data_to_send(), ChannelType.INPUTS)
    assert got == [KeyDown(0x1DE0), KeyUp(0x9DE0), KeyDown(0x2A), KeyUp(0xAA)]
