"""The common channel machinery: headers, ACK window, PING, LIST, unknown types,
limits, EOF and the sticky ERROR state (driven against spicepy's FakeServer)."""

from __future__ import annotations

import struct

import pytest
from _channel_helpers import drive, names
from _channel_helpers import linked as helpers_linked
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.channels import (
    AckWindowSet,
    ChannelClosed,
    ChannelState,
    DisconnectingReceived,
    MessageReceived,
    NotifyReceived,
    PingAnswered,
    UnknownMessageSkipped,
    WaitForChannelsReceived,
)
from spicepy.channels.base import Channel
from spicepy.errors import ProtocolError, SpiceError, WireError
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire.enums import ChannelType, CommonCap, CommonMsg, CursorFlags, CursorMsg
from spicepy.wire.headers import SubMessage, pack_sub_message_list
from spicepy.wire.msg_common import (
    Ack,
    AckSync,
    Disconnecting,
    Notify,
    Ping,
    Pong,
    SetAck,
    WaitForChannels,
)
from spicepy.wire.msg_other import CursorHide, CursorMove, CursorReset, CursorSet
from spicepy.wire.types import ChannelWait, Cursor, Point16


class GenericCursor(Channel):
    """The bare base machine on a cursor connection: every channel message becomes
    a MessageReceived, so these tests see only the common behaviour."""

    CHANNEL_TYPE = ChannelType.CURSOR


def linked(**server_kw: object) -> tuple[GenericCursor, FakeServer]:
    server = FakeServer(**server_kw)  # type: ignore[arg-type]
    return helpers_linked(GenericCursor, server, connection_id=9)


def test_ack_window_counts_messages_after_set_ack() -> None:
    ch, srv = linked()
    events = drive(ch, srv.pack(SetAck(7, 3)))
    assert events == [AckWindowSet(7, 3)]
    assert srv.client_messages(ch.data_to_send(), 4) == [AckSync(7)]
    moves = b"".join(srv.pack(CursorMove(Point16(i, i))) for i in range(7))
    drive(ch, moves)
    # 7 messages with a window of 3: ACK after the 3rd and the 6th
    assert srv.client_messages(ch.data_to_send(), 4) == [Ack(), Ack()]
    drive(ch, srv.pack(CursorHide()) + srv.pack(CursorHide()))
    assert srv.client_messages(ch.data_to_send(), 4) == [Ack()]
    assert ch.ack_window == 3 and ch.ack_generation == 7


@pytest.mark.parametrize("window", [1, 3, 20])
def test_ack_after_every_window_messages(window: int) -> None:
    ch, srv = linked()
    drive(ch, srv.pack(SetAck(0xAB, window)))
    assert srv.client_messages(ch.data_to_send(), 4) == [AckSync(0xAB)]
    acks_at = []
    for i in range(1, 4 * window):
        drive(ch, srv.pack(CursorHide()))
        if srv.client_messages(ch.data_to_send(), 4) == [Ack()]:
            acks_at.append(i)
    assert acks_at == [window, 2 * window, 3 * window]


def test_ping_is_answered_at_once_with_id_and_timestamp() -> None:
    ch, srv = linked()
    events = drive(ch, srv.pack(Ping(41, 123456789, b"\0" * 100)))
    assert events == [PingAnswered(41, 123456789, 112)]
    assert srv.client_messages(ch.data_to_send(), 4) == [Pong(41, 123456789)]


def test_common_messages_become_events() -> None:
    ch, srv = linked()
    text = b"hello\0"
    data = (
        srv.pack(Notify(1, 1, 2, 3, len(text), text, b""))
        + srv.pack(Disconnecting(5, 2))
        + srv.pack(WaitForChannels(1, (ChannelWait(2, 0, 99),)))
    )
    events = drive(ch, data)
    assert events == [
        NotifyReceived(1, 2, 3, "hello"),
        DisconnectingReceived(5, 2),
        WaitForChannelsReceived(((2, 0, 99),)),
    ]


def test_list_sub_messages_are_dispatched_in_order() -> None:
    ch, srv = linked()
    ping = struct.pack("<IQ", 5, 6)
    body = pack_sub_message_list(
        [
            SubMessage(CursorMsg.MOVE, struct.pack("<hh", 3, 4)),
            SubMessage(CommonMsg.PING, ping),
            SubMessage(CursorMsg.HIDE, b""),
        ]
    )
    events = drive(ch, srv.pack_raw(CommonMsg.LIST, body))
    assert names(events) == ["MessageReceived", "PingAnswered", "MessageReceived"]
    assert [type(e.message) for e in events if isinstance(e, MessageReceived)] == [
        CursorMove,
        CursorHide,
    ]
    # a common message inside the list is handled like a top-level one
    assert srv.client_messages(ch.data_to_send(), 4) == [Pong(5, 6)]


def test_nested_list_is_refused() -> None:
    ch, srv = linked()
    inner = pack_sub_message_list([SubMessage(CursorMsg.HIDE, b"")])
    outer = pack_sub_message_list([SubMessage(8, inner)])
    with pytest.raises(ProtocolError):
        ch.receive_data(srv.pack_raw(8, outer))
    assert ch.state is ChannelState.ERROR


def test_full_header_sub_list_comes_before_its_carrier() -> None:
    srv = FakeServer(
        common_caps=frozenset({CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.AUTH_SPICE})
    )
    ch = GenericCursor()
    link_pair(ch, srv)
    assert ch.next_event() is not None and not ch.mini_header
    carrier = struct.pack("<hh", 7, 8)  # a CURSOR_MOVE body; the list follows it
    # the sub-list offsets count from the start of the body
    sub_list = pack_sub_message_list([SubMessage(CursorMsg.RESET, b"")])
    shifted = bytearray(sub_list)
    struct.pack_into("<I", shifted, 2, struct.unpack_from("<I", sub_list, 2)[0] + 4)
    body = carrier + bytes(shifted)
    events = drive(ch, srv.pack_raw(CursorMsg.MOVE, body, sub_list=len(carrier)))
    msgs = [e.message for e in events if isinstance(e, MessageReceived)]
    assert msgs == [CursorReset(), CursorMove(Point16(7, 8))]
    assert all(e.serial == 1 for e in events if isinstance(e, MessageReceived))


def test_unknown_types_are_skipped_by_size_and_counted() -> None:
    ch, srv = linked()
    events = drive(ch, srv.pack_raw(4000, b"x" * 33) + srv.pack(CursorHide()))
    assert events[0] == UnknownMessageSkipped(4000, 33)
    assert isinstance(events[1], MessageReceived)
    assert ch.unknown_messages == 1


def test_mini_header_serials_are_implicit() -> None:
    ch, srv = linked()
    events = drive(ch, srv.pack(CursorHide()) + srv.pack(CursorHide()))
    assert [e.serial for e in events if isinstance(e, MessageReceived)] == [1, 2]


def test_oversized_message_is_a_protocol_error_and_sticks() -> None:
    srv = FakeServer()
    ch = GenericCursor(max_message_size=1000)
    link_pair(ch, srv)
    # the limit is on the body: exactly 1000 bytes still go through
    assert drive(ch, srv.pack_raw(4000, bytes(1000)))[-1] == UnknownMessageSkipped(
        4000, 1000
    )
    with pytest.raises(ProtocolError):
        ch.receive_data(struct.pack("<HI", CursorMsg.HIDE, 1001))
    assert ch.state is ChannelState.ERROR
    with pytest.raises(ProtocolError):
        ch.receive_data(srv.pack(CursorHide()))
    with pytest.raises(ProtocolError):
        ch.send_message(Pong(1, 2))


def test_malformed_known_message_is_a_wire_error() -> None:
    ch, srv = linked()
    with pytest.raises(WireError):
        ch.receive_data(srv.pack_raw(CursorMsg.MOVE, b"\x01"))
    assert ch.state is ChannelState.ERROR


def test_sending_before_link_is_illegal() -> None:
    ch = GenericCursor()
    with pytest.raises(ProtocolError):
        ch.send_message(Pong(1, 2))
    assert ch.state is ChannelState.ERROR


def test_eof_mid_message_is_not_clean_and_later_data_is_refused() -> None:
    ch, srv = linked()
    whole = srv.pack(CursorHide())
    events = drive(ch, whole + whole[:3])
    assert len(events) == 1
    assert drive(ch, b"") == [ChannelClosed(clean=False)]
    assert ch.state is ChannelState.CLOSED
    with pytest.raises(SpiceError):
        ch.receive_data(b"more")


def test_clean_eof() -> None:
    ch, srv = linked()
    assert len(drive(ch, srv.pack(CursorHide()))) == 1
    assert drive(ch, b"") == [ChannelClosed(clean=True)]


def test_split_anywhere_gives_the_same_events() -> None:
    ch1, srv = linked()
    data = (
        srv.pack(SetAck(1, 2))
        + srv.pack(Ping(1, 2, b"abc"))
        + srv.pack(CursorMove(Point16(5, -5)))
        + srv.pack_raw(999, b"zz")
        + srv.pack(CursorHide())
    )
    whole = drive(ch1, data)
    out1 = ch1.data_to_send()
    ch2, _ = linked()
    bytewise: list[object] = []
    for i in range(len(data)):
        bytewise += drive(ch2, data[i : i + 1])
    assert bytewise == whole
    assert ch2.data_to_send() == out1


def _big_stream(srv: FakeServer) -> bytes:
    """Messages larger than most chunks (payload views, a skipped unknown one,
    a PING), between small ones."""
    shape = bytes(range(256)) * 12
    return (
        srv.pack(CursorMove(Point16(1, 2)))
        + srv.pack(CursorSet(Point16(3, 4), 1, Cursor(CursorFlags.NONE, data=shape)))
        + srv.pack_raw(4000, b"\7" * 2000)
        + srv.pack(Ping(5, 6, b"p" * 1500))
        + srv.pack(
            CursorSet(Point16(7, 8), 0, Cursor(CursorFlags.NONE, data=shape[:9]))
        )
        + srv.pack(CursorHide())
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 9000), max_size=12),
    st.sampled_from(["bytes", "view", "reused bytearray"]),
)
def test_messages_over_many_chunks_give_the_same_events(
    cuts: list[int], kind: str
) -> None:
    """Cut anywhere, into chunks of any kind (a bytearray the caller zeroes after
    each call), a stream gives the events it gives whole, payloads included,
    and nothing stays held once its last message is whole."""
    ch1, srv = linked()
    data = _big_stream(srv)
    whole = drive(ch1, data)
    ch2, _ = linked()
    events: list[object] = []
    bounds = sorted({0, len(data), *(c % len(data) for c in cuts)})
    for start, end in zip(bounds, bounds[1:], strict=False):
        if kind == "bytes":
            events += drive(ch2, data[start:end])
        elif kind == "view":
            events += drive(ch2, memoryview(data)[start:end])
        else:
            chunk = bytearray(data[start:end])
            ch2.receive_data(chunk)
            chunk[:] = bytes(len(chunk))  # the caller reuses its buffer
            events += list(iter(ch2.next_event, None))
    assert events == whole and len(whole) == 6
    assert (ch2._held, ch2._parts) == (0, [])
