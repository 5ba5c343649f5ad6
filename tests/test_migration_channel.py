"""Live migration in the sans-IO machines: the main channel's migration states
(source and target side), MIGRATE / MIGRATE_DATA hand-over on any channel, and
the migration target parsed from MIGRATE_BEGIN / SWITCH_HOST."""

from __future__ import annotations

import struct

import pytest
from _channel_helpers import drive, events, linked, split_messages
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels import (
    ChannelMigrateReceived,
    ChannelState,
    DisplayChannel,
    InputsChannel,
    MainChannel,
    MainInitReceived,
    MigrationCancelled,
    MigrationEndReceived,
    MigrationStarted,
    PingAnswered,
    SeamlessHandshakeDone,
    SwitchHostReceived,
)
from spicepy.channels._migration import (
    MigrationState,
    MigrationTarget,
    target_from,
)
from spicepy.errors import ProtocolError, SpiceError
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.enums import (
    CommonMsgc,
    DisplayMsgc,
    MainCap,
    MainMsg,
    MainMsgc,
    MigrateFlags,
)
from spicepy.wire.msg_common import (
    MainInit,
    MainMigrateBegin,
    MainMigrateBeginSeamless,
    MainMigrateCancel,
    MainMigrateDstSeamlessAck,
    MainMigrateDstSeamlessNack,
    MainMigrateEnd,
    MainMigrateSwitchHost,
    Migrate,
    MigrateData,
    Ping,
)
from spicepy.wire.types import DstInfo

HOST = b"127.0.0.1\0"
SUBJECT = b"C=IL,O=Red Hat,CN=dst\0"


def dst(port: int = 5930, sport: int = 0xFFFF, subject: bytes | None = None) -> DstInfo:
    return DstInfo(port, sport, len(HOST), HOST, len(subject or b""), subject or None)


def main() -> tuple[MainChannel, FakeServer]:
    return linked(MainChannel)


def sent(ch: MainChannel) -> list[int]:
    return [t for t, _ in split_messages(ch.data_to_send())]


# -- source side ---------------------------------------------------------------------


def test_main_advertises_both_migration_kinds() -> None:
    ch, srv = main()
    assert srv.link_mess is not None
    words = srv.link_mess.channel_caps
    bits = {i for i in range(32) if words[0] >> i & 1}
    assert {MainCap.SEMI_SEAMLESS_MIGRATE, MainCap.SEAMLESS_MIGRATE} <= bits


def test_semi_seamless_begin_connected_end() -> None:
    ch, srv = main()
    assert drive(ch, srv.pack(MainMigrateBegin(dst(5930, 5931, SUBJECT)))) == [
        MigrationStarted(
            MigrationTarget("127.0.0.1", 5930, 5931, "C=IL,O=Red Hat,CN=dst")
        )
    ]
    assert ch.migration_state is MigrationState.CONNECTING
    ch.send_migrate_connected()
    assert sent(ch) == [MainMsgc.MIGRATE_CONNECTED]
    # END, and a PING behind it that belongs to nobody: the source is done
    data = srv.pack(MainMigrateEnd()) + srv.pack(Ping(1, 2))
    assert drive(ch, data) == [MigrationEndReceived()]
    assert ch.migration_state is MigrationState.NONE
    assert ch.data_to_send() == b""  # no PONG: the PING was not read
    with pytest.raises(ProtocolError):
        ch.receive_data(srv.pack(Ping(3, 4)))


def test_seamless_begin_then_the_main_channels_own_migrate() -> None:
    ch, srv = main()
    [started] = drive(ch, srv.pack(MainMigrateBeginSeamless(dst(), 2)))
    assert started == MigrationStarted(
        MigrationTarget("127.0.0.1", 5930, None, None, True, 2)
    )
    ch.send_migrate_connected(seamless=True)
    assert sent(ch) == [MainMsgc.MIGRATE_CONNECTED_SEAMLESS]
    flags = MigrateFlags.NEED_FLUSH | MigrateFlags.NEED_DATA_TRANSFER
    assert drive(ch, srv.pack(Migrate(flags))) == []
    assert sent(ch) == [CommonMsgc.MIGRATE_FLUSH_MARK]
    data = srv.pack(MigrateData(b"main state")) + srv.pack(Ping(1, 2))
    assert drive(ch, data) == [ChannelMigrateReceived(flags, b"main state")]
    assert ch.migration_state is MigrationState.NONE
    assert ch.data_to_send() == b""


def test_cancel_leaves_the_channel_working() -> None:
    ch, srv = main()
    drive(ch, srv.pack(MainMigrateBegin(dst())))
    ch.send_migrate_connected()
    ch.data_to_send()
    assert drive(ch, srv.pack(MainMigrateCancel())) == [MigrationCancelled()]
    assert ch.migration_state is MigrationState.NONE
    # a late CANCEL (the server's answer to a CONNECTED after its timeout)
    assert drive(ch, srv.pack(MainMigrateCancel())) == []
    assert drive(ch, srv.pack(Ping(7, 8))) == [PingAnswered(7, 8, 12)]
    assert sent(ch) == [CommonMsgc.PONG]


def test_connect_error_and_a_second_begin() -> None:
    ch, srv = main()
    drive(ch, srv.pack(MainMigrateBegin(dst())))
    # spice-gtk refuses a BEGIN while the first still connects
    assert drive(ch, srv.pack(MainMigrateBegin(dst(6000)))) == []
    assert sent(ch) == [MainMsgc.MIGRATE_CONNECT_ERROR]
    ch.send_migrate_connect_error()
    assert sent(ch) == [MainMsgc.MIGRATE_CONNECT_ERROR]
    assert ch.migration_state is MigrationState.NONE
    with pytest.raises(ProtocolError):  # nothing to answer any more
        ch.send_migrate_connected()
    assert ch.state is ChannelState.READY  # a caller's mistake, not the server's


def test_switch_host() -> None:
    ch, srv = main()
    msg = MainMigrateSwitchHost(0, 5931, len(HOST), HOST, len(SUBJECT), SUBJECT)
    assert drive(ch, srv.pack(msg)) == [
        SwitchHostReceived(
            MigrationTarget("127.0.0.1", None, 5931, "C=IL,O=Red Hat,CN=dst")
        )
    ]


@pytest.mark.parametrize(
    "lie",
    [
        MainMigrateEnd(),  # nothing began
        MainMigrateDstSeamlessAck(),  # we never asked
        MainMigrateDstSeamlessNack(),
        # the main channel hands over only in a seamless migration
        Migrate(MigrateFlags.NEED_FLUSH),
    ],
)
def test_messages_out_of_order_are_protocol_errors(lie: object) -> None:
    ch, srv = main()
    with pytest.raises(ProtocolError):
        ch.receive_data(srv.pack(lie))
    assert ch.state is ChannelState.ERROR
    assert ch.data_to_send() == b""  # no FLUSH_MARK for a refused MIGRATE


def test_end_of_a_seamless_migration_is_a_lie() -> None:
    ch, srv = main()
    drive(ch, srv.pack(MainMigrateBeginSeamless(dst(), 1)))
    ch.send_migrate_connected(seamless=True)
    with pytest.raises(ProtocolError):
        ch.receive_data(srv.pack(MainMigrateEnd()))


@pytest.mark.parametrize(
    "info",
    [
        DstInfo(5930, 0, 9, b"127.0.0.1", 0, None),  # no NUL
        DstInfo(5930, 0, 10, b"127.0\x000.1\0", 0, None),  # NUL inside
        DstInfo(5930, 0, 0, None, 0, None),  # no host
        DstInfo(0, 0xFFFF, len(HOST), HOST, 0, None),  # no port at all
        DstInfo(5930, 0, 5, b"h\xffst\0", 0, None),  # not ASCII
        DstInfo(5930, 0, len(HOST), HOST, 3, b"C\nX\0"[:3]),  # subject without NUL
    ],
)
def test_lying_targets_are_protocol_errors(info: DstInfo) -> None:
    ch, srv = main()
    with pytest.raises(ProtocolError):
        ch.receive_data(srv.pack(MainMigrateBegin(info)))
    assert ch.state is ChannelState.ERROR


# -- target side ---------------------------------------------------------------------


def test_target_main_handshake_and_no_attach() -> None:
    ch, srv = linked(MainChannel, migration_target=True)
    ch.send_migrate_dst_do_seamless(1)
    [(msg_type, body)] = split_messages(ch.data_to_send())
    assert (msg_type, body) == (MainMsgc.MIGRATE_DST_DO_SEAMLESS, struct.pack("<I", 1))
    assert ch.migration_state is MigrationState.HANDSHAKE
    assert drive(ch, srv.pack(MainMigrateDstSeamlessNack())) == [
        SeamlessHandshakeDone(False)
    ]
    ch.send_migrate_end()
    assert sent(ch) == [MainMsgc.MIGRATE_END]
    # the target's INIT after a semi-seamless switch: no ATTACH_CHANNELS
    init = MainInit(77, 1, 3, 2, 0, 10, 1234, 0)
    [event] = drive(ch, srv.pack(init))
    assert isinstance(event, MainInitReceived)
    assert sent(ch) == []


def test_source_main_attaches_on_init() -> None:
    ch, srv = main()
    drive(ch, srv.pack(MainInit(77, 1, 3, 2, 0, 10, 1234, 0)))
    assert sent(ch) == [MainMsgc.ATTACH_CHANNELS]


def test_target_commands_need_a_target_channel() -> None:
    ch, _ = main()
    with pytest.raises(ValueError):
        ch.send_migrate_dst_do_seamless(1)
    with pytest.raises(ValueError):
        ch.send_migrate_end()


def test_seamless_ack() -> None:
    ch, srv = linked(MainChannel, migration_target=True)
    ch.send_migrate_dst_do_seamless(1)
    assert drive(ch, srv.pack(MainMigrateDstSeamlessAck())) == [
        SeamlessHandshakeDone(True)
    ]
    assert ch.migration_state is MigrationState.NONE


def test_deferred_display_sends_init_only_when_started() -> None:
    srv = FakeServer()
    ch = DisplayChannel()
    ch.defer_start()
    from spicepy.testing.fake_server import link_pair

    link_pair(ch, srv)
    events(ch)
    assert ch.linked and ch.data_to_send() == b""
    ch.start_deferred()
    assert [t for t, _ in split_messages(ch.data_to_send())][0] == DisplayMsgc.INIT
    with pytest.raises(ValueError):
        ch.start_deferred()
    with pytest.raises(ValueError):
        ch.defer_start()


def test_continue_from_takes_the_serials_and_the_session_state() -> None:
    src, ssrv = main()
    drive(src, ssrv.pack(MainInit(77, 1, 3, 2, 1, 10, 1234, 0)))
    drive(src, ssrv.pack(Ping(1, 2)))
    dst_ch, _ = linked(MainChannel, migration_target=True)
    dst_ch.continue_from(src)
    assert dst_ch._in_serial == src._in_serial == 2
    assert dst_ch._out_serial == src._out_serial
    assert (dst_ch.session_id, dst_ch.mouse_mode, dst_ch.agent_connected) == (
        77,
        2,
        True,
    )


# -- MIGRATE on any channel ----------------------------------------------------------


def test_inputs_channel_hands_over_without_data() -> None:
    ch, srv = linked(InputsChannel)
    assert drive(ch, srv.pack(Migrate(0))) == [ChannelMigrateReceived(0, None)]
    assert ch.data_to_send() == b""  # no FLUSH_MARK without NEED_FLUSH


def test_display_hand_over_byte_by_byte() -> None:
    ch, srv = linked(DisplayChannel)
    flags = MigrateFlags.NEED_FLUSH | MigrateFlags.NEED_DATA_TRANSFER
    data = srv.pack(Migrate(flags)) + srv.pack(MigrateData(b"\x01" * 300))
    got: list[object] = []
    for i in range(len(data)):
        got += drive(ch, data[i : i + 1])
    assert got == [ChannelMigrateReceived(flags, b"\x01" * 300)]
    assert sent(ch) == [CommonMsgc.MIGRATE_FLUSH_MARK]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        [MigrateData(b"x")],  # no MIGRATE announced it
        [Migrate(MigrateFlags.NEED_DATA_TRANSFER), Migrate(0)],  # two MIGRATEs
    ],
)
def test_migrate_data_out_of_order_is_a_protocol_error(data: list[object]) -> None:
    ch, srv = linked(DisplayChannel)
    with pytest.raises(ProtocolError):
        ch.receive_data(b"".join(srv.pack(m) for m in data))
    assert ch.state is ChannelState.ERROR


# -- property tests ------------------------------------------------------------------

_text = st.binary(min_size=0, max_size=40)


@given(
    port=st.integers(0, 0xFFFF),
    sport=st.integers(0, 0xFFFF),
    host=_text,
    subject=st.one_of(st.none(), _text),
)
def test_any_begin_gives_a_target_or_a_protocol_error(
    port: int, sport: int, host: bytes, subject: bytes | None
) -> None:
    info = DstInfo(port, sport, len(host), host or None, len(subject or b""), subject)
    try:
        target = target_from(info)
    except ProtocolError:
        return
    assert target.host.encode() + b"\0" == host
    assert target.port in (None, port) and target.tls_port in (None, sport)
    assert target.port is not None or target.tls_port is not None


@given(
    port=st.integers(1, 0xFFFE),
    host=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60
    ),
    seamless=st.booleans(),
)
def test_begin_round_trips_through_the_machine(
    port: int, host: str, seamless: bool
) -> None:
    raw = host.encode() + b"\0"
    info = DstInfo(port, 0, len(raw), raw, 0, None)
    msg = MainMigrateBeginSeamless(info, 1) if seamless else MainMigrateBegin(info)
    ch, srv = main()
    assert drive(ch, srv.pack(msg)) == [
        MigrationStarted(
            MigrationTarget(host, port, None, None, seamless, int(seamless))
        )
    ]


@given(
    st.binary(max_size=64),
    st.sampled_from(
        [
            MainMsg.MIGRATE_BEGIN,
            MainMsg.MIGRATE_BEGIN_SEAMLESS,
            MainMsg.MIGRATE_SWITCH_HOST,
            MainMsg.MIGRATE_END,
            MainMsg.MIGRATE_DST_SEAMLESS_ACK,
        ]
    ),
)
def test_random_migration_bodies_give_events_or_spice_errors(
    body: bytes, msg_type: int
) -> None:
    ch, srv = main()
    try:
        drive(ch, srv.pack_raw(msg_type, body))
    except SpiceError:
        assert ch.state is ChannelState.ERROR
