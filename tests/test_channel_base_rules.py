"""The common channel machine's exact bytes, texts and counters (spicepy.channels.
base): outgoing headers and serials (full and mini), send_raw and DISCONNECTING,
deferred start, serials continued after a migration, EOF cleanliness in each
state, the refusals' texts, and the counters (messages, per type, unknown).
Expected bytes are packed here from spice.proto's header layouts
(SpiceDataHeader: u64 serial, u16 type, u32 size, u32 sub_list; mini: u16
type, u32 size), not by the encoder the machine uses."""

from __future__ import annotations

import struct

import pytest
from _channel_helpers import drive
from _channel_helpers import linked as helpers_linked

from spicepy.channels import (
    ChannelClosed,
    ChannelMigrateReceived,
    ChannelState,
    LinkCompleted,
    MessageReceived,
    PingAnswered,
    UnknownMessageSkipped,
)
from spicepy.channels.base import Channel, iter_frames
from spicepy.channels.sasl import SaslCredentials
from spicepy.errors import ProtocolError, WireError
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire.enums import ChannelType, CommonCap, CommonMsg, CommonMsgc, CursorMsg
from spicepy.wire.headers import SubMessage, pack_sub_message_list
from spicepy.wire.msg_common import Migrate, MigrateData, Ping, Pong
from spicepy.wire.msg_other import CursorHide

FULL_CAPS = frozenset({CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.AUTH_SPICE})


class Bare(Channel):
    """The base machine alone on a cursor connection."""

    CHANNEL_TYPE = ChannelType.CURSOR


class Greeter(Bare):
    """Sends one message as soon as it is started (as display sends INIT)."""

    def _on_linked(self) -> None:
        self.send_raw(4321, b"hi")


def mini(**kw: object) -> tuple[Bare, FakeServer]:
    return helpers_linked(Bare, FakeServer(), **kw)


def full(cls: type[Bare] = Bare) -> tuple[Bare, FakeServer]:
    return helpers_linked(cls, FakeServer(common_caps=FULL_CAPS))


def test_outgoing_headers_and_serials() -> None:
    ch, _ = full()
    assert ch.mini_header is False
    ch.send_raw(CommonMsgc.PONG, b"abc")
    ch.send_raw(CommonMsgc.ACK)  # an empty body by default
    ch.send_disconnecting(7, 0x1122334455)
    assert ch.data_to_send() == (
        struct.pack("<QHII", 1, CommonMsgc.PONG, 3, 0)
        + b"abc"
        + struct.pack("<QHII", 2, CommonMsgc.ACK, 0, 0)
        + struct.pack("<QHII", 3, CommonMsgc.DISCONNECTING, 12, 0)
        + struct.pack("<QI", 0x1122334455, 7)  # time_stamp, reason
    )
    assert ch.data_to_send() == b""
    m, _ = mini()
    m.send_disconnecting()
    m.send_message(Pong(5, 6))
    assert m.data_to_send() == (
        struct.pack("<HI", CommonMsgc.DISCONNECTING, 12)
        + bytes(12)
        + struct.pack("<HI", CommonMsgc.PONG, 12)
        + struct.pack("<IQ", 5, 6)
    )


def test_serials_continue_from_the_source() -> None:
    src, ssrv = full()
    drive(src, ssrv.pack(CursorHide()) + ssrv.pack(CursorHide()))
    src.send_raw(CommonMsgc.ACK)
    src.data_to_send()
    dst, dsrv = full()
    dst.continue_from(src)
    dst.send_raw(CommonMsgc.ACK)
    assert dst.data_to_send() == struct.pack("<QHII", 2, CommonMsgc.ACK, 0, 0)
    # incoming serials go on too (mini headers count them: serial 3 next)
    msrc, msrv = mini()
    drive(msrc, msrv.pack(CursorHide()) + msrv.pack(CursorHide()))
    mdst, mdsrv = mini()
    mdst.continue_from(msrc)
    [ev] = drive(mdst, mdsrv.pack(CursorHide()))
    assert isinstance(ev, MessageReceived) and ev.serial == 3


def test_deferred_start() -> None:
    srv = FakeServer()
    ch = Greeter()
    ch.defer_start()
    with pytest.raises(ValueError) as err:
        ch.start_deferred()  # not linked yet
    assert str(err.value) == "no deferred start pending on a linked channel"
    link_pair(ch, srv)
    assert isinstance(ch.next_event(), LinkCompleted)
    assert ch.data_to_send() == b""  # held back
    ch.start_deferred()
    assert ch.data_to_send() == struct.pack("<HI", 4321, 2) + b"hi"
    with pytest.raises(ValueError) as err:
        ch.start_deferred()  # once
    assert str(err.value) == "no deferred start pending on a linked channel"
    with pytest.raises(ValueError) as err:
        ch.defer_start()
    assert str(err.value) == "the channel has already started"
    started, _ = helpers_linked(Greeter, FakeServer())
    with pytest.raises(ValueError) as err:
        started.defer_start()
    assert str(err.value) == "the channel has already started"
    plain, _ = mini()
    with pytest.raises(ValueError) as err:
        plain.start_deferred()  # nothing deferred
    assert str(err.value) == "no deferred start pending on a linked channel"
    assert plain.state is ChannelState.READY


def test_eof_cleanliness_by_state() -> None:
    linking = Bare()
    assert linking.state is ChannelState.LINKING
    linking.receive_data(b"")
    assert linking.next_event() == ChannelClosed(False)
    ch, srv = mini()
    assert drive(ch, b"") == [ChannelClosed(True)]
    assert ch.state is ChannelState.CLOSED and not ch.linked
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(b"x")
    assert str(err.value) == "data after EOF"
    assert ch.linked is False and ch.next_event() is None
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(b"x")
    assert str(err.value) == "channel is in ERROR and accepts no input"


def test_counters() -> None:
    ch, srv = mini()
    assert (ch.messages_received, ch.unknown_messages) == (0, 0)
    assert ch.message_counts == {}
    sub = pack_sub_message_list(
        [SubMessage(CursorMsg.HIDE, b""), SubMessage(CursorMsg.HIDE, b"")]
    )
    data = (
        srv.pack(CursorHide())
        + srv.pack_raw(4000, b"xyz")
        + srv.pack(Ping(1, 2))
        + srv.pack_raw(CommonMsg.LIST, sub)
    )
    evs = drive(ch, data)
    # the LIST's sub-messages carry the LIST's serial (4 with mini headers)
    assert [e.serial for e in evs[3:] if isinstance(e, MessageReceived)] == [4, 4]
    assert evs[1] == UnknownMessageSkipped(4000, 3)
    assert evs[2] == PingAnswered(1, 2, 12)
    assert ch.unknown_messages == 1
    assert ch.messages_received == 4  # the LIST counts once, as spice-gtk acks
    assert ch.message_counts == {CursorMsg.HIDE: 3, 4000: 1, CommonMsg.PING: 1}
    drive(ch, srv.pack(CursorHide()) + srv.pack_raw(4000, b""))
    assert ch.message_counts[CursorMsg.HIDE] == 4 and ch.unknown_messages == 2
    assert ch.get_timer() is None
    ch.handle_timer(0.0)


def test_migration_refusals() -> None:
    ch, srv = mini()
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(srv.pack(MigrateData(b"x")))
    assert str(err.value) == "MIGRATE_DATA without a MIGRATE announcing it"
    ch, srv = mini()
    drive(ch, srv.pack(Migrate(2)))  # NEED_DATA_TRANSFER only: no flush mark
    assert ch.data_to_send() == b""
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(srv.pack(Migrate(2)))
    assert str(err.value) == "MIGRATE while the previous one awaits its data"
    ch, srv = mini()
    assert drive(ch, srv.pack(Migrate(1))) == [ChannelMigrateReceived(1, None)]
    assert ch.data_to_send() == struct.pack("<HI", CommonMsgc.MIGRATE_FLUSH_MARK, 0)
    assert ch.state is ChannelState.CLOSED
    ch, srv = mini()
    assert drive(ch, srv.pack(Migrate(0)) + srv.pack(CursorHide())) == [
        ChannelMigrateReceived(0, None)
    ]
    assert ch.data_to_send() == b""


def test_nested_list_text() -> None:
    ch, srv = mini()
    inner = pack_sub_message_list([SubMessage(CursorMsg.HIDE, b"")])
    outer = pack_sub_message_list([SubMessage(CommonMsg.LIST, inner)])
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(srv.pack_raw(CommonMsg.LIST, outer))
    assert str(err.value) == "LIST message nested in a sub-message list"


def test_a_reused_buffer_is_copied() -> None:
    ch, srv = mini()
    whole = srv.pack(CursorHide())
    buf = bytearray(whole + whole[:3])
    ch.receive_data(buf)
    evs: list[object] = [ev for ev in iter(ch.next_event, None)]
    buf[:] = bytes(len(buf))  # the caller reuses its buffer
    evs += drive(ch, whole[3:])
    assert [type(e) for e in evs] == [MessageReceived, MessageReceived]


def test_partial_message_waits_for_its_bytes() -> None:
    ch, srv = mini()
    whole = srv.pack_raw(4000, b"\1" * 50)  # body bytes that look like sizes
    for i in range(len(whole) - 1):
        assert drive(ch, whole[i : i + 1]) == []
    assert drive(ch, whole[-1:]) == [UnknownMessageSkipped(4000, 50)]
    assert (ch._held, ch._parts) == (0, [])


def _with_sub_list(carrier: bytes, subs: list[SubMessage]) -> bytes:
    """A full-header body: ``carrier`` then its sub-message list, whose offsets
    count from the start of the body."""
    sub_list = bytearray(pack_sub_message_list(subs))
    for i in range(struct.unpack_from("<H", sub_list)[0]):
        pos = 2 + 4 * i
        off = struct.unpack_from("<I", sub_list, pos)[0]
        struct.pack_into("<I", sub_list, pos, off + len(carrier))
    return carrier + bytes(sub_list)


def test_full_header_sub_lists_carry_the_serial_and_refuse_lists() -> None:
    ch, srv = full()
    drive(ch, srv.pack(CursorHide()))  # serial 1
    move = struct.pack("<hh", 7, 8)  # a CURSOR_MOVE body
    body = _with_sub_list(move, [SubMessage(CursorMsg.HIDE, b"")])
    evs = drive(ch, srv.pack_raw(CursorMsg.MOVE, body, sub_list=len(move)))
    assert [(type(e), getattr(e, "serial", None)) for e in evs] == [
        (MessageReceived, 2),
        (MessageReceived, 2),
    ]
    inner = pack_sub_message_list([SubMessage(CursorMsg.HIDE, b"")])
    body = _with_sub_list(move, [SubMessage(CommonMsg.LIST, inner)])
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(srv.pack_raw(CursorMsg.MOVE, body, sub_list=len(move)))
    assert str(err.value) == "LIST message nested in a sub-message list"


def test_iter_frames_limits() -> None:
    ok = struct.pack("<HI", CursorMsg.HIDE, 0)
    big = struct.pack("<HI", 4000, 11) + bytes(11)
    frames = iter_frames(memoryview(ok + big), True, 0, 10)
    first = next(frames)
    assert (first[0], bytes(first[1])) == (CursorMsg.HIDE, b"")
    with pytest.raises(ProtocolError) as err:
        next(frames)
    assert str(err.value) == "message of 11 bytes exceeds the 10-byte limit"
    # the oversized header alone (6 mini bytes) is refused as well
    with pytest.raises(ProtocolError) as err:
        list(iter_frames(memoryview(ok + big[:6]), True, 0, 10))
    assert str(err.value) == "message of 11 bytes exceeds the 10-byte limit"
    got = list(iter_frames(memoryview(ok + big), True, 0, 11))
    assert [f[0] for f in got] == [CursorMsg.HIDE, 4000]


def test_fresh_state_and_what_the_link_carries() -> None:
    ch = Bare()
    assert (ch.channel_id, ch.state, ch.mini_header, ch.linked) == (
        0,
        ChannelState.LINKING,
        False,
        False,
    )
    assert (ch.server_common_caps, ch.server_channel_caps) == (frozenset(), frozenset())
    assert (ch.ack_window, ch.ack_generation, ch.messages_received) == (0, 0, 0)
    assert ch.mini_header is False
    srv = FakeServer()
    link_pair(ch, srv)
    assert srv.link_mess is not None
    assert (srv.link_mess.channel_id, srv.link_mess.connection_id) == (0, 0)
    caps = sum(
        1 << c
        for c in (
            CommonCap.PROTOCOL_AUTH_SELECTION,
            CommonCap.AUTH_SPICE,
            CommonCap.MINI_HEADER,
        )
    )
    assert srv.link_mess.common_caps == (caps,)
    assert ch.server_common_caps == srv.common_caps and ch.mini_header is True
    ch = Bare(5, connection_id=9, password="pw", channel_caps=frozenset({4}))
    srv = FakeServer(password="pw")
    link_pair(ch, srv)
    assert ch.channel_id == 5 and ch.linked
    assert srv.link_mess is not None
    assert (srv.link_mess.channel_id, srv.link_mess.connection_id) == (5, 9)
    assert srv.link_mess.channel_caps == (1 << 4,)
    ch = Bare(common_caps=frozenset({CommonCap.PROTOCOL_AUTH_SELECTION}))
    srv = FakeServer()
    link_pair(ch, srv)
    assert srv.link_mess is not None
    assert srv.link_mess.common_caps == (1 << CommonCap.PROTOCOL_AUTH_SELECTION,)
    assert ch.mini_header is False  # we did not offer it


def test_a_header_at_the_limit_waits_for_its_body() -> None:
    ok = struct.pack("<HI", CursorMsg.HIDE, 0)
    head = struct.pack("<HI", 4000, 11)
    got = list(iter_frames(memoryview(ok + head), True, 0, 11))
    assert [f[0] for f in got] == [CursorMsg.HIDE]


def test_a_whole_message_over_the_limit_is_refused() -> None:
    ch, srv = helpers_linked(Bare, FakeServer(), max_message_size=10)
    assert drive(ch, srv.pack_raw(4000, bytes(10))) == [UnknownMessageSkipped(4000, 10)]
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(srv.pack_raw(4000, bytes(11)))
    assert str(err.value) == "message of 11 bytes exceeds the 10-byte limit"


def test_a_malformed_message_is_named_in_its_error() -> None:
    ch, srv = mini()
    with pytest.raises(WireError) as err:
        ch.receive_data(srv.pack_raw(CursorMsg.MOVE, b"\1"))
    assert str(err.value) == "MOVE: truncated: need 2 bytes at offset 0, have 1"


class BareInputs(Channel):
    CHANNEL_TYPE = ChannelType.INPUTS


def test_the_first_channel_message_number_in_a_list_is_the_channels() -> None:
    """101, the first channel message number, goes to the channel from a LIST."""
    ch, srv = helpers_linked(BareInputs, FakeServer())
    sub = pack_sub_message_list([SubMessage(101, struct.pack("<H", 5))])
    [ev] = drive(ch, srv.pack_raw(CommonMsg.LIST, sub))
    assert isinstance(ev, MessageReceived) and ev.msg_type == 101
    assert ev.message.keyboard_modifiers == 5


def test_sasl_only_over_tls_by_default() -> None:
    """Channels are plain unless told ``secure``: SASL credentials alone do
    not make the link offer SASL (spicepy does SASL over TLS only)."""
    creds = SaslCredentials("alice", "pw")
    for kw, offered in (({}, False), ({"secure": True}, True)):
        srv = FakeServer()
        link_pair(Bare(sasl=creds, **kw), srv)  # type: ignore[arg-type]
        assert srv.link_mess is not None
        assert bool(srv.link_mess.common_caps[0] >> CommonCap.AUTH_SASL & 1) is offered


def test_eof_while_waiting_for_the_link_result_is_not_clean() -> None:
    ch, srv = Bare(), FakeServer()
    ch.receive_data(srv.reply_to(ch.data_to_send()))
    assert ch.state is ChannelState.AUTHENTICATING
    ch.receive_data(b"")
    assert ch.next_event() == ChannelClosed(False)
