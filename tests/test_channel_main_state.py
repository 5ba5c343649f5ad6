"""The main channel's exact state after each message and the exact messages it
sends (spicepy.channels.main), and the migration machine's whole table and
target parsing (spicepy.channels._migration).  The table below is written out
from spice-gtk ``channel-main.c``'s migration handling, not read from the
module, so a changed entry fails here."""

from __future__ import annotations

import itertools
import struct
from typing import Any

import pytest
from _channel_helpers import drive, linked
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels import (
    AgentConnected,
    AgentDataReceived,
    AgentTokensReceived,
    ChannelsListReceived,
    ChannelState,
    MainChannel,
    MainInitReceived,
    MigrationCancelled,
    MigrationStarted,
    MouseModeChanged,
    MultiMediaTimeReceived,
    SeamlessHandshakeDone,
)
from spicepy.channels._migration import (
    MAX_TARGET_TEXT,
    MigrationState,
    MigrationStep,
    MigrationTarget,
    next_migration_state,
    target_from,
)
from spicepy.channels.events import (
    AgentDisconnected,
    AgentStreamFailed,
    MessageReceived,
)
from spicepy.errors import ProtocolError
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire.enums import ChannelType, MainCap, MainMsg
from spicepy.wire.msg_common import (
    MainAgentConnected,
    MainAgentConnectedTokens,
    MainAgentData,
    MainAgentDataC,
    MainAgentDisconnected,
    MainAgentStart,
    MainAgentToken,
    MainAttachChannels,
    MainChannelsList,
    MainInit,
    MainMigrateBegin,
    MainMigrateBeginSeamless,
    MainMigrateCancel,
    MainMigrateConnectError,
    MainMigrateDstDoSeamless,
    MainMigrateDstSeamlessAck,
    MainMigrateDstSeamlessNack,
    MainMigrateEndC,
    MainMouseMode,
    MainMultiMediaTime,
    MainName,
    Migrate,
)
from spicepy.wire.types import ChannelId, DstInfo

S, P = MigrationState, MigrationStep
#: (state, step) -> state; every pair not listed is a ProtocolError
TABLE = {
    (S.NONE, P.BEGIN): S.CONNECTING,
    (S.CONNECTING, P.CONNECTED): S.CONNECTED,
    (S.CONNECTING, P.CONNECTED_SEAMLESS): S.SEAMLESS,
    (S.CONNECTING, P.CONNECT_ERROR): S.NONE,
    (S.NONE, P.CANCEL): S.NONE,
    (S.CONNECTING, P.CANCEL): S.NONE,
    (S.CONNECTED, P.CANCEL): S.NONE,
    (S.SEAMLESS, P.CANCEL): S.NONE,
    (S.CONNECTED, P.END): S.NONE,
    (S.SEAMLESS, P.HANDED_OVER): S.NONE,
    (S.NONE, P.SWITCH_HOST): S.NONE,
    (S.CONNECTING, P.SWITCH_HOST): S.NONE,
    (S.CONNECTED, P.SWITCH_HOST): S.NONE,
    (S.SEAMLESS, P.SWITCH_HOST): S.NONE,
    (S.NONE, P.DO_SEAMLESS): S.HANDSHAKE,
    (S.HANDSHAKE, P.SEAMLESS_REPLY): S.NONE,
}


@pytest.mark.parametrize("state,step", list(itertools.product(S, P)))
def test_migration_table(state: MigrationState, step: MigrationStep) -> None:
    if (state, step) in TABLE:
        assert next_migration_state(state, step) is TABLE[state, step]
        return
    with pytest.raises(ProtocolError) as err:
        next_migration_state(state, step)
    assert str(err.value) == (
        f"migration {step.value} is not allowed in state {state.value}"
    )


HOST = b"dst.example\0"


def dst(
    port: int = 5930,
    sport: int = 5931,
    host: bytes | None = HOST,
    subject: bytes | None = None,
    host_size: int | None = None,
) -> DstInfo:
    size = len(host or b"") if host_size is None else host_size
    return DstInfo(port, sport, size, host, len(subject or b""), subject)


def test_target_fields() -> None:
    assert target_from(dst(subject=b"CN=x\0"), seamless=True, version=3) == (
        MigrationTarget("dst.example", 5930, 5931, "CN=x", True, 3)
    )
    assert target_from(dst()) == MigrationTarget("dst.example", 5930, 5931)
    for no_port in (0, 0xFFFF):
        assert target_from(dst(no_port, 5931)).port is None
        assert target_from(dst(5930, no_port)).tls_port is None
    assert target_from(dst(1, 0xFFFE)) == MigrationTarget("dst.example", 1, 0xFFFE)
    assert target_from(dst(subject=b"\0")).cert_subject is None  # empty = none
    longest = b"h" * (MAX_TARGET_TEXT - 1) + b"\0"
    assert target_from(dst(host=longest)).host == "h" * (MAX_TARGET_TEXT - 1)


@pytest.mark.parametrize(
    "info,text",
    [
        (dst(host=None), "migration target without a host"),
        (dst(host=HOST, host_size=0), "migration target without a host"),
        (dst(host=b"\0"), "migration target without a host"),
        (dst(0, 0), "migration target without a port"),
        (dst(0xFFFF, 0xFFFF), "migration target without a port"),
        (dst(host=b"h" * MAX_TARGET_TEXT + b"\0"), "migration host of 1025 bytes"),
        (dst(host=b"dst"), "migration host is not NUL-terminated"),
        (dst(host=b"d\xe9st\0"), "migration host is not ASCII"),
        (dst(host=b"d\nst\0"), "migration host has control characters"),
        (dst(host=b"d\0st\0"), "migration host has control characters"),
        (dst(subject=b"CN=x"), "migration cert subject is not NUL-terminated"),
        (dst(subject=b"CN=\x01\0"), "migration cert subject has control characters"),
    ],
)
def test_lying_targets(info: DstInfo, text: str) -> None:
    with pytest.raises(ProtocolError) as err:
        target_from(info)
    assert str(err.value) == text


# -- the main channel --------------------------------------------------------------
def main(**kw: Any) -> tuple[MainChannel, FakeServer]:
    srv = FakeServer(channel_caps=frozenset({MainCap.AGENT_CONNECTED_TOKENS}))
    return linked(MainChannel, srv, **kw)


def mig(ch: MainChannel) -> MigrationState:
    return ch.migration_state  # read afresh (mypy narrows the attribute)


def sent(ch: MainChannel, srv: FakeServer) -> list[Any]:
    return srv.client_messages(ch.data_to_send(), ChannelType.MAIN)


def test_fresh_state() -> None:
    ch = MainChannel(3)
    assert (ch.channel_id, ch.agent, ch.migration_target) == (3, False, False)
    assert ch.migration_state is S.NONE and ch.agent_machine is None
    assert (ch.session_id, ch.agent_connected, ch.agent_tokens, ch.channels) == (
        None,
        False,
        0,
        (),
    )
    assert (ch.mouse_mode, ch.supported_mouse_modes, ch.multi_media_time) == (0, 0, 0)
    assert MainChannel(agent=True).agent_machine is not None
    assert MainChannel().channel_id == 0
    srv = FakeServer()
    link_pair(MainChannel(connection_id=0x1234), srv)  # passed on to the link
    assert srv.link_mess is not None and srv.link_mess.connection_id == 0x1234


def test_agent_data_before_any_connect_reaches_the_machine() -> None:
    ch, srv = main(agent=True)
    ok = struct.pack("<IIQI", 1, 1000, 0, 0)
    assert [type(e).__name__ for e in drive(ch, srv.pack(MainAgentData(ok)))] == [
        "AgentMessageReceived"
    ]


def test_init_sets_every_field() -> None:
    ch, srv = main()
    init = MainInit(0xDEAD, 2, 3, 2, 7, 11, 5000, 1 << 20)  # agent_connected 7
    assert drive(ch, srv.pack(init)) == [
        MainInitReceived(0xDEAD, 2, 3, 2, True, 11, 5000, 1 << 20)
    ]
    assert (ch.session_id, ch.agent_connected, ch.agent_tokens) == (0xDEAD, True, 11)
    assert (ch.mouse_mode, ch.supported_mouse_modes, ch.multi_media_time) == (
        2,
        3,
        5000,
    )
    assert ch.agent_connected is True
    assert sent(ch, srv) == [MainAttachChannels()]  # no agent machine: no START
    target, tsrv = main(migration_target=True)
    drive(target, tsrv.pack(MainInit(1, 1, 3, 2, 0, 0, 0, 0)))
    assert target.agent_connected is False and target.data_to_send() == b""


def test_init_with_the_agent_starts_it_with_the_init_tokens() -> None:
    ch, srv = main(agent=True)
    drive(ch, srv.pack(MainInit(1, 1, 3, 2, 1, 4, 0, 0)))
    out = sent(ch, srv)
    assert out[:2] == [MainAgentStart(0xFFFFFFFF), MainAttachChannels()]
    assert [type(m) for m in out[2:]] == [MainAgentDataC]  # our announce: 1 token
    assert ch.agent_machine is not None and ch.agent_machine.connected
    assert ch.agent_tokens == ch.agent_machine.tokens == 3
    ch2, srv2 = main(agent=True)
    drive(ch2, srv2.pack(MainInit(1, 1, 3, 2, 0, 4, 0, 0)))  # no agent yet
    assert sent(ch2, srv2) == [MainAttachChannels()]
    assert ch2.agent_machine is not None and not ch2.agent_machine.connected


def test_lists_modes_and_time_set_their_fields() -> None:
    ch, srv = main()
    lst = MainChannelsList(2, (ChannelId(2, 0), ChannelId(9, 3)))
    assert drive(ch, srv.pack(lst)) == [ChannelsListReceived(((2, 0), (9, 3)))]
    assert ch.channels == ((2, 0), (9, 3))
    assert drive(ch, srv.pack(MainMouseMode(3, 1))) == [MouseModeChanged(3, 1)]
    assert (ch.supported_mouse_modes, ch.mouse_mode) == (3, 1)
    assert drive(ch, srv.pack(MainMultiMediaTime(4242))) == [
        MultiMediaTimeReceived(4242)
    ]
    assert ch.multi_media_time == 4242
    name = MainName(4, b"vm1\0")
    serial = srv.serial + 1
    assert drive(ch, srv.pack(name)) == [
        MessageReceived(ChannelType.MAIN, MainMsg.NAME, serial, name)
    ]


def test_agent_connect_disconnect_tokens_raw() -> None:
    ch, srv = main()
    assert drive(ch, srv.pack(MainAgentConnected())) == [AgentConnected(None)]
    assert ch.agent_connected is True and ch.agent_tokens == 0
    assert ch.data_to_send() == b""  # no machine: no AGENT_START
    assert drive(ch, srv.pack(MainAgentConnectedTokens(9))) == [AgentConnected(9)]
    assert ch.agent_tokens == 9
    assert drive(ch, srv.pack(MainAgentToken(3))) == [AgentTokensReceived(3)]
    assert ch.agent_tokens == 12
    assert drive(ch, srv.pack(MainAgentData(b"raw"))) == [AgentDataReceived(b"raw")]
    assert drive(ch, srv.pack(MainAgentDisconnected(5))) == [AgentDisconnected(5)]
    assert ch.agent_connected is False


def test_raw_agent_data_costs_a_token() -> None:
    ch, srv = main()
    drive(ch, srv.pack(MainAgentConnectedTokens(2)))
    ch.send_agent_data(b"x" * 2048)
    assert ch.agent_tokens == 1
    ch.send_agent_data(b"y")
    assert ch.agent_tokens == 0
    ch.send_agent_data(b"y")
    assert ch.agent_tokens == 0  # never below 0
    assert sent(ch, srv) == [MainAgentDataC(b"x" * 2048)] + [MainAgentDataC(b"y")] * 2
    with pytest.raises(ValueError) as err:
        ch.send_agent_data(b"x" * 2049)
    assert str(err.value) == "AGENT_DATA chunks are at most 2048 bytes"
    with_machine, _ = main(agent=True)
    with pytest.raises(ValueError) as err:
        with_machine.send_agent_data(b"x")
    assert str(err.value) == "the agent machine owns AGENT_DATA; use agent_machine"


def test_agent_machine_follows_the_server() -> None:
    ch, srv = main(agent=True)
    machine = ch.agent_machine
    assert machine is not None
    drive(ch, srv.pack(MainAgentConnected()))  # no grant: the machine keeps 0
    out = sent(ch, srv)
    assert out == [MainAgentStart(0xFFFFFFFF)] and machine.connected
    assert machine.pending_chunks == 1 and ch.agent_tokens == 0
    drive(ch, srv.pack(MainAgentToken(2)))
    assert machine.tokens == 2 and ch.agent_tokens == 2
    assert [type(m) for m in sent(ch, srv)] == [MainAgentDataC]
    assert machine.tokens == ch.agent_tokens == 1
    # bad agent data: the stream fails, later data is ignored until reconnect
    bad = struct.pack("<IIQI", 9, 1, 0, 0)  # protocol 9
    assert drive(ch, srv.pack(MainAgentData(bad))) == [
        AgentStreamFailed("agent protocol 9, expected 1")
    ]
    assert not machine.connected
    assert drive(ch, srv.pack(MainAgentData(bad))) == []
    drive(ch, srv.pack(MainAgentConnectedTokens(5)))
    assert machine.connected and machine.tokens == 5
    assert [type(m) for m in sent(ch, srv)] == [MainAgentStart, MainAgentDataC]
    ok = struct.pack("<IIQI", 1, 1000, 0, 0)  # an unknown type: passed on
    assert [type(e).__name__ for e in drive(ch, srv.pack(MainAgentData(ok)))] == [
        "AgentMessageReceived"
    ]
    drive(ch, srv.pack(MainAgentDisconnected(0)))
    assert not machine.connected and machine.pending_chunks == 0


def test_agent_chunks_wait_for_ready() -> None:
    ch = MainChannel(agent=True)
    assert ch.agent_machine is not None
    ch.agent_machine.start(5)
    assert ch.data_to_send() != b"" and ch.agent_machine.pending_chunks == 1


def test_target_commands() -> None:
    ch, srv = main()
    with pytest.raises(ValueError) as err:
        ch.send_migrate_dst_do_seamless(2)
    assert str(err.value) == "DO_SEAMLESS goes to a migration target's main channel"
    with pytest.raises(ValueError) as err:
        ch.send_migrate_end()
    assert str(err.value) == "MIGRATE_END goes to a migration target's main channel"
    assert ch.migration_state is S.NONE and ch.data_to_send() == b""
    t, tsrv = main(migration_target=True)
    t.send_migrate_dst_do_seamless(0x10002)
    assert sent(t, tsrv) == [MainMigrateDstDoSeamless(0x10002)]
    assert t.migration_state is S.HANDSHAKE
    assert drive(t, tsrv.pack(MainMigrateDstSeamlessNack())) == [
        SeamlessHandshakeDone(False)
    ]
    assert mig(t) is S.NONE
    t.send_migrate_dst_do_seamless(1)
    t.data_to_send()
    assert drive(t, tsrv.pack(MainMigrateDstSeamlessAck())) == [
        SeamlessHandshakeDone(True)
    ]
    t.send_migrate_end()
    assert sent(t, tsrv) == [MainMigrateEndC()]
    assert mig(t) is S.NONE


def test_begin_while_connecting_and_cancel_when_idle() -> None:
    ch, srv = main()
    [ev] = drive(ch, srv.pack(MainMigrateBeginSeamless(dst(), 7)))
    assert ev == MigrationStarted(
        MigrationTarget("dst.example", 5930, 5931, None, True, 7)
    )
    assert drive(ch, srv.pack(MainMigrateBegin(dst(1)))) == []
    assert sent(ch, srv) == [MainMigrateConnectError()]
    assert ch.migration_state is S.CONNECTING  # the first goes on
    assert drive(ch, srv.pack(MainMigrateCancel())) == [MigrationCancelled()]
    assert mig(ch) is S.NONE
    assert drive(ch, srv.pack(MainMigrateCancel())) == []  # nothing to cancel


def test_only_a_seamless_migration_hands_the_main_channel_over() -> None:
    ch, srv = main()
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(srv.pack(Migrate(1)))
    assert str(err.value) == "migration handed_over is not allowed in state none"
    assert ch.state is ChannelState.ERROR
    ch, srv = main()
    drive(ch, srv.pack(MainMigrateBegin(dst())))
    ch.send_migrate_connected()
    with pytest.raises(ProtocolError) as err:
        ch.receive_data(srv.pack(Migrate(1)))
    assert str(err.value) == "migration handed_over is not allowed in state connected"


def test_continue_from_takes_every_field() -> None:
    src, srv = main(agent=True)
    drive(src, srv.pack(MainInit(77, 1, 3, 2, 1, 6, 900, 0)))
    drive(src, srv.pack(MainChannelsList(1, (ChannelId(2, 0),))))
    drive(src, srv.pack(MainMouseMode(3, 1)))
    src.data_to_send()
    dst_ch, _ = main(migration_target=True)
    dst_ch.continue_from(src)
    for name in (
        "session_id",
        "channels",
        "mouse_mode",
        "supported_mouse_modes",
        "multi_media_time",
        "agent_connected",
        "agent_tokens",
    ):
        assert getattr(dst_ch, name) == getattr(src, name), name
    assert dst_ch.agent_machine is src.agent_machine
    assert (dst_ch.session_id, dst_ch.mouse_mode, dst_ch.agent_tokens) == (77, 1, 5)


@given(
    steps=st.lists(st.sampled_from(list(P)), max_size=12),
)
def test_any_step_sequence_follows_the_table(steps: list[MigrationStep]) -> None:
    """Walking the machine: each step either moves as the table says or is a
    ProtocolError that leaves the state for the caller to keep."""
    state = S.NONE
    for step in steps:
        want = TABLE.get((state, step))
        if want is None:
            with pytest.raises(ProtocolError):
                next_migration_state(state, step)
            continue
        state = next_migration_state(state, step)
        assert state is want
