"""Behaviour of the channel machines after the link, from hand-built server bytes.

Message layouts come from PROTOCOL.md sections 3-8; each test builds the server
bytes with ``struct`` and checks the events and the exact bytes queued in reply.
The hypothesis tests throw random, truncated and oversized input at every
machine: the only exceptions allowed are SpiceError subclasses.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_channel_link import FakeServer, events, full, linked, mini

from spicepy.channels import (
    CHANNEL_CLASSES,
    ChannelClosed,
    ChannelState,
    DisplayChannel,
    InputsChannel,
    MainChannel,
    MessageReceived,
)
from spicepy.channels.base import Channel
from spicepy.channels.events import (
    CursorCacheInvalidated,
    CursorChanged,
    CursorHidden,
    CursorMoved,
    CursorReset,
    CursorShape,
    CursorTrailSet,
)
from spicepy.errors import ProtocolError, SpiceError, WireError

SET_ACK, PING, WAIT_FOR_CHANNELS, DISCONNECTING, NOTIFY, LIST = 3, 4, 5, 6, 7, 8
ACK_SYNC, ACK, PONG = 1, 2, 3
DISPLAY_MARK = 102


def sent(ch: Channel) -> list[tuple[int, bytes]]:
    """Split what a mini-header machine queued into (type, body) pairs."""
    data, out, pos = ch.data_to_send(), [], 0
    while pos < len(data):
        msg_type, size = struct.unpack_from("<HI", data, pos)
        out.append((msg_type, data[pos + 6 : pos + 6 + size]))
        pos += 6 + size
    return out


def names(evs: list[object]) -> list[str]:
    return [type(e).__name__ for e in evs]


# -- common messages -----------------------------------------------------------------


@pytest.mark.parametrize("window", [1, 3, 20])
def test_ack_after_every_window_messages(window: int) -> None:
    ch = linked(DisplayChannel)
    ch.receive_data(mini(SET_ACK, struct.pack("<II", 0xAB, window)))
    assert sent(ch) == [(ACK_SYNC, struct.pack("<I", 0xAB))]
    acks_at = []
    for i in range(1, 4 * window):
        ch.receive_data(mini(DISPLAY_MARK))
        if sent(ch) == [(ACK, b"")]:
            acks_at.append(i)
    assert acks_at == [window, 2 * window, 3 * window]


def test_ping_answered_at_once_with_id_and_timestamp() -> None:
    ch = linked(MainChannel)
    ch.receive_data(mini(PING, struct.pack("<IQ", 7, 0x1122334455) + bytes(300)))
    assert sent(ch) == [(PONG, struct.pack("<IQ", 7, 0x1122334455))]
    (ev,) = events(ch)
    assert (ev.id, ev.timestamp) == (7, 0x1122334455)  # type: ignore[attr-defined]


def test_notify_disconnecting_wait_and_migrate_are_events() -> None:
    ch = linked(DisplayChannel)
    text = b"hello\0"
    ch.receive_data(
        mini(NOTIFY, struct.pack("<QIIII", 1, 2, 3, 4, len(text)) + text)
        + mini(DISCONNECTING, struct.pack("<QI", 99, 5))
        + mini(WAIT_FOR_CHANNELS, b"\x01" + struct.pack("<BBQ", 2, 1, 77))
        + mini(1, struct.pack("<I", 1))  # MIGRATE
    )
    notify, disc, wait, migrate = events(ch)
    assert (notify.severity, notify.text) == (2, "hello")  # type: ignore[attr-defined]
    assert (disc.time_stamp, disc.reason) == (99, 5)  # type: ignore[attr-defined]
    assert wait.waits == ((2, 1, 77),)  # type: ignore[attr-defined]
    assert type(migrate).__name__ == "MigrateRequested"


def test_list_sub_messages_come_before_the_carrier() -> None:
    ch = linked(DisplayChannel, common=(0, 1))  # full headers carry sub_list
    ping = struct.pack("<HI", PING, 12) + struct.pack("<IQ", 5, 6)
    sub_list = struct.pack("<HI", 1, 0)  # one sub-message at offset 0
    ch.receive_data(full(1, DISPLAY_MARK, ping + sub_list, sub_list=len(ping)))
    assert names(events(ch)) == ["PingAnswered", "MessageReceived"]
    # and a LIST message whose body is the list itself (offsets from body start)
    ping_off = 2 + 4 * 2
    lst = struct.pack("<HII", 2, ping_off, ping_off + len(ping)) + ping + ping
    ch.receive_data(full(2, LIST, lst))
    assert names(events(ch)) == ["PingAnswered", "PingAnswered"]


def test_unknown_types_are_skipped_and_counted() -> None:
    ch = linked(MainChannel)
    ch.receive_data(mini(99, b"xyz") + mini(999, bytes(40)) + mini(PING, bytes(12)))
    evs = events(ch)
    assert names(evs)[-1] == "PingAnswered"
    assert ch.unknown_messages == 2 and ch.state is ChannelState.READY


def test_oversized_header_is_refused_at_once_and_sticks() -> None:
    ch = linked(DisplayChannel)
    with pytest.raises((ProtocolError, WireError)):  # before any body byte
        ch.receive_data(struct.pack("<HI", DISPLAY_MARK, 0xFFFFFFFF))
    assert ch.state is ChannelState.ERROR
    with pytest.raises(ProtocolError):
        ch.receive_data(mini(DISPLAY_MARK))


def test_receive_limit_is_configurable() -> None:
    ch = DisplayChannel(0, max_message_size=1000)
    FakeServer().link(ch)
    ch.receive_data(mini(DISPLAY_MARK, bytes(1000)))
    with pytest.raises(ProtocolError):
        ch.receive_data(struct.pack("<HI", DISPLAY_MARK, 1001))


def test_eof_between_messages_is_clean_inside_one_not() -> None:
    ch = linked(DisplayChannel)
    ch.receive_data(mini(DISPLAY_MARK))
    ch.receive_data(b"")
    assert names(events(ch)) == ["MessageReceived", "ChannelClosed"]
    ch = linked(DisplayChannel)
    ch.receive_data(mini(DISPLAY_MARK, b"")[:3])
    ch.receive_data(b"")
    (closed,) = events(ch)
    assert isinstance(closed, ChannelClosed) and not closed.clean


def test_sending_before_link_is_refused() -> None:
    ch = MainChannel(0)
    with pytest.raises(ProtocolError):
        ch.send_mouse_mode_request(2)


# -- main ----------------------------------------------------------------------------


def test_main_init_attaches_channels_then_lists_them() -> None:
    ch = linked(MainChannel)
    init = struct.pack("<8I", 0xC0FFEE, 1, 3, 1, 0, 10, 5000, 1 << 20)
    ch.receive_data(mini(103, init))
    (ev,) = events(ch)
    assert (ev.session_id, ev.supported_mouse_modes, ev.current_mouse_mode) == (
        0xC0FFEE,
        3,
        1,
    )  # type: ignore[attr-defined]
    assert ev.ram_hint == 1 << 20  # type: ignore[attr-defined]
    assert sent(ch) == [(104, b"")]  # ATTACH_CHANNELS
    ch.receive_data(mini(104, struct.pack("<I", 3) + bytes([1, 0, 2, 0, 3, 0])))
    ch.receive_data(mini(105, struct.pack("<HH", 3, 2)))
    listed, mode = events(ch)
    assert listed.channels == ((1, 0), (2, 0), (3, 0))  # type: ignore[attr-defined]
    assert (mode.supported_modes, mode.current_mode) == (3, 2)  # type: ignore[attr-defined]
    ch.send_mouse_mode_request(2)
    assert sent(ch) == [(105, struct.pack("<H", 2))]


def test_channels_list_shorter_than_its_count_is_a_wire_error() -> None:
    ch = linked(MainChannel)
    with pytest.raises(SpiceError):
        ch.receive_data(mini(104, struct.pack("<I", 1000) + bytes(4)))
    assert ch.state is ChannelState.ERROR


# -- display -------------------------------------------------------------------------


def test_display_init_goes_out_right_after_the_link() -> None:
    ch = DisplayChannel(0, glz_window_size=1234, pixmap_cache_size=5678)
    FakeServer().link(ch)
    init = sent(ch)
    assert init[0] == (101, struct.pack("<BqBi", 1, 5678, 1, 1234))
    assert all(t != 103 for t, _ in init)  # no preference asked


@pytest.mark.parametrize("server_has_cap", [True, False])
def test_preferred_compression_only_if_the_server_advertises_it(
    server_has_cap: bool,
) -> None:
    ch = DisplayChannel(0, preferred_compression=7)
    FakeServer(channel=(6,) if server_has_cap else ()).link(ch)
    types = [t for t, _ in sent(ch)]
    assert types[0] == 101
    assert (103 in types) is server_has_cap


def test_every_display_message_becomes_an_event_in_order() -> None:
    ch = linked(DisplayChannel)
    surface = struct.pack("<5I", 0, 640, 480, 32, 1)
    ch.receive_data(mini(314, surface) + mini(DISPLAY_MARK) + mini(103))
    evs = events(ch)
    assert [e.msg_type for e in evs] == [314, 102, 103]  # type: ignore[attr-defined]
    assert all(isinstance(e, MessageReceived) for e in evs)


def test_stream_report_layout() -> None:
    ch = linked(DisplayChannel)
    ch.send_stream_report(1, 2, 3, 4, 5, 6, -7)
    assert sent(ch) == [
        (102, struct.pack("<IIIIIIiI", 1, 2, 3, 4, 5, 6, -7, 0xFFFFFFFF))
    ]


# -- inputs --------------------------------------------------------------------------


def test_keys_are_set1_scancodes_with_e0_prefix() -> None:
    ch = linked(InputsChannel)
    ch.send_key_down(0x1E)  # 'a'
    ch.send_key_up(0x1E)
    ch.send_key_down(0x100 | 0x1D)  # right ctrl = E0 1D
    ch.send_key_up(0x100 | 0x1D)
    assert sent(ch) == [
        (101, struct.pack("<I", 0x1E)),
        (102, struct.pack("<I", 0x9E)),
        (101, struct.pack("<I", 0x1DE0)),
        (102, struct.pack("<I", 0x9DE0)),
    ]
    ch.send_key_scancode(b"\xe0\x1d")
    assert sent(ch) == [(104, b"\xe0\x1d")]


def test_mouse_messages_layout() -> None:
    ch = linked(InputsChannel)
    ch.send_mouse_position(10, 20, 1, 0)
    ch.send_mouse_press(1, 1)
    ch.send_mouse_release(1, 0)
    ch.send_mouse_motion(-3, 4, 0)
    assert sent(ch) == [
        (112, struct.pack("<IIHB", 10, 20, 1, 0)),
        (113, struct.pack("<BH", 1, 1)),
        (114, struct.pack("<BH", 1, 0)),
        (111, struct.pack("<iiH", -3, 4, 0)),
    ]


def test_never_more_than_eight_unacked_motions() -> None:
    ch = linked(InputsChannel)
    for _ in range(20):
        ch.send_mouse_motion(1, 1)
    assert len(sent(ch)) == 8 and ch.motion_unacked == 8
    ch.receive_data(mini(111))  # MOUSE_MOTION_ACK: 4 acknowledged
    out = sent(ch)
    # the 12 held-back moves go out merged, as one message
    assert out == [(111, struct.pack("<iiH", 12, 12, 0))]
    assert ch.motion_unacked == 5


def test_inputs_modifiers_events() -> None:
    ch = linked(InputsChannel)
    ch.receive_data(mini(101, struct.pack("<H", 4)) + mini(102, struct.pack("<H", 2)))
    init, changed = events(ch)
    assert (init.modifiers, changed.modifiers) == (4, 2)  # type: ignore[attr-defined]


# -- cursor / playback / record --------------------------------------------------------


def test_cursor_playback_record_messages_are_recognised() -> None:
    cur = linked(CHANNEL_CLASSES[4])
    cur.receive_data(mini(104, struct.pack("<hh", 5, -6)) + mini(105))
    assert events(cur) == [CursorMoved(5, -6), CursorHidden()]
    play = linked(CHANNEL_CLASSES[5])
    play.receive_data(
        mini(103, struct.pack("<IHII", 2, 1, 44100, 9))
        + mini(101, struct.pack("<I", 10) + bytes(8))
        + mini(104)
    )
    assert [e.msg_type for e in events(play)] == [103, 101, 104]  # type: ignore[attr-defined]
    assert play.unknown_messages == 0
    rec = linked(CHANNEL_CLASSES[6])
    rec.receive_data(mini(101, struct.pack("<IHI", 1, 1, 48000)) + mini(102))
    assert [e.msg_type for e in events(rec)] == [101, 102]  # type: ignore[attr-defined]


def cursor_body(flags: int, unique: int = 0, data: bytes = b"") -> bytes:
    """A SpiceCursor: flags u16, header (unless NONE: 1), then the image bytes."""
    if flags & 1:
        return struct.pack("<H", flags)
    return struct.pack("<HQBHHHH", flags, unique, 0, 2, 1, 1, 0) + data


def test_cursor_shapes_are_cached_and_invalidated() -> None:
    ch = linked(CHANNEL_CLASSES[4])
    pixels = bytes(range(8))  # 2x1 ALPHA = 8 bytes
    init = struct.pack("<hhHHB", 10, 20, 0, 0, 1) + cursor_body(2, 0x77, pixels)
    ch.receive_data(mini(101, init))  # INIT with CACHE_ME
    trail, changed = events(ch)
    shape = CursorShape(0x77, 0, 2, 1, 1, 0, pixels)
    assert trail == CursorTrailSet(0, 0)
    assert changed == CursorChanged(10, 20, True, shape)
    ch.receive_data(mini(103, struct.pack("<hhB", 3, 4, 1) + cursor_body(4, 0x77)))
    assert events(ch) == [CursorChanged(3, 4, True, shape)]  # FROM_CACHE
    ch.receive_data(mini(107, struct.pack("<Q", 0x77)))  # INVAL_ONE
    ch.receive_data(mini(103, struct.pack("<hhB", 3, 4, 1) + cursor_body(4, 0x77)))
    assert events(ch) == [
        CursorCacheInvalidated(0x77),
        CursorChanged(3, 4, True, None),  # a miss: no shape
    ]
    ch.receive_data(mini(103, struct.pack("<hhB", 0, 0, 0) + cursor_body(1)))
    ch.receive_data(mini(106, struct.pack("<HH", 5, 6)) + mini(108) + mini(102))
    assert events(ch) == [
        CursorChanged(0, 0, False, None),
        CursorTrailSet(5, 6),
        CursorCacheInvalidated(None),
        CursorReset(),
    ]


def test_cursor_cache_is_bounded() -> None:
    from spicepy.channels.cursor import MAX_CACHED

    ch = linked(CHANNEL_CLASSES[4])
    head = struct.pack("<hhB", 0, 0, 1)
    data = b"".join(
        mini(103, head + cursor_body(2, i, bytes(8))) for i in range(MAX_CACHED + 5)
    )
    ch.receive_data(data)
    assert ch.cached_shapes == MAX_CACHED  # type: ignore[attr-defined]


# -- hostile input -------------------------------------------------------------------

CLASSES = [CHANNEL_CLASSES[t] for t in sorted(CHANNEL_CLASSES)]


def _feed_all(ch: Channel, chunks: list[bytes]) -> None:
    for chunk in chunks:
        try:
            ch.receive_data(chunk)
        except SpiceError:
            assert ch.state is ChannelState.ERROR
            with pytest.raises(ProtocolError):
                ch.receive_data(b"x")
            return
        events(ch)
        ch.data_to_send()


@given(
    st.sampled_from(CLASSES),
    st.lists(st.binary(max_size=300), max_size=8),
)
def test_random_bytes_after_link_only_raise_spice_errors(
    cls: type[Channel], chunks: list[bytes]
) -> None:
    _feed_all(linked(cls), chunks)


@given(
    st.sampled_from(CLASSES),
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.binary(max_size=120),
            st.integers(-8, 8),
        ),
        max_size=8,
    ),
)
def test_wellframed_random_bodies_only_raise_spice_errors(
    cls: type[Channel], msgs: list[tuple[int, bytes, int]]
) -> None:
    """Right headers, random types and bodies, sizes off by a few bytes."""
    data = b"".join(struct.pack("<HI", t, max(0, len(b) + d)) + b for t, b, d in msgs)
    _feed_all(linked(cls), [data, b""])


@given(st.sampled_from(CLASSES), st.binary(max_size=400))
def test_random_bytes_during_link_only_raise_spice_errors(
    cls: type[Channel], data: bytes
) -> None:
    ch = cls(0)
    ch.data_to_send()
    _feed_all(ch, [b"REDQ\x02\x00\x00\x00" + data[:8], data[8:], b""])
