"""Main channel: INIT -> ATTACH_CHANNELS, CHANNELS_LIST, mouse mode, agent."""

from __future__ import annotations

import struct

import pytest
from _channel_helpers import drive

from spicepy.channels import (
    AgentConnected,
    AgentDataReceived,
    AgentTokensReceived,
    ChannelsListReceived,
    ChannelState,
    MainChannel,
    MainInitReceived,
    MouseModeChanged,
    MultiMediaTimeReceived,
)
from spicepy.errors import ProtocolError, SpiceError
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire.enums import ChannelType, MainCap, MainMsg, MainMsgc, MouseMode
from spicepy.wire.msg_common import (
    MainAgentConnectedTokens,
    MainAgentData,
    MainAgentStart,
    MainAgentToken,
    MainAttachChannels,
    MainChannelsList,
    MainInit,
    MainMouseMode,
    MainMouseModeRequest,
    MainMultiMediaTime,
)
from spicepy.wire.types import ChannelId


def setup(**kw: object) -> tuple[MainChannel, FakeServer]:
    srv = FakeServer(channel_caps=frozenset({MainCap.AGENT_CONNECTED_TOKENS}))
    ch = MainChannel(**kw)  # type: ignore[arg-type]
    link_pair(ch, srv)
    while ch.next_event() is not None:  # LinkCompleted
        pass
    return ch, srv


def test_link_message_is_main_with_connection_id_zero() -> None:
    srv = FakeServer()
    ch = MainChannel()
    link_pair(ch, srv)
    assert srv.link_mess is not None
    assert srv.link_mess.channel_type == ChannelType.MAIN
    assert srv.link_mess.connection_id == 0


def test_init_is_reported_and_channels_are_attached() -> None:
    ch, srv = setup()
    init = MainInit(0xABCDEF, 1, 3, 1, 0, 10, 5000, 1 << 20)
    events = drive(ch, srv.pack(init))
    assert events == [MainInitReceived(0xABCDEF, 1, 3, 1, False, 10, 5000, 1 << 20)]
    assert ch.session_id == 0xABCDEF
    assert srv.client_messages(ch.data_to_send(), 1) == [MainAttachChannels()]
    lst = MainChannelsList(3, (ChannelId(2, 0), ChannelId(3, 0), ChannelId(4, 0)))
    assert drive(ch, srv.pack(lst)) == [ChannelsListReceived(((2, 0), (3, 0), (4, 0)))]


def test_agent_start_only_when_asked_and_agent_connected() -> None:
    ch, srv = setup(agent=True)
    drive(ch, srv.pack(MainInit(1, 1, 3, 2, 1, 10, 0, 0)))
    sent = srv.client_messages(ch.data_to_send(), 1)
    # then our VD-agent capabilities (tests/test_agent_channel.py checks them)
    assert sent[:2] == [MainAgentStart(0xFFFFFFFF), MainAttachChannels()]
    assert [type(m).__name__ for m in sent[2:]] == ["MainAgentDataC"]
    ch2, srv2 = setup()
    drive(ch2, srv2.pack(MainInit(1, 1, 3, 2, 1, 10, 0, 0)))
    assert srv2.client_messages(ch2.data_to_send(), 1) == [MainAttachChannels()]


def test_mouse_mode_and_time_and_agent_events() -> None:
    ch, srv = setup()
    data = (
        srv.pack(MainMouseMode(3, 2))
        + srv.pack(MainMultiMediaTime(777))
        + srv.pack(MainAgentConnectedTokens(10))
        + srv.pack(MainAgentToken(5))
        + srv.pack(MainAgentData(b"agent bytes"))
    )
    events = drive(ch, data)
    assert events == [
        MouseModeChanged(3, 2),
        MultiMediaTimeReceived(777),
        AgentConnected(10),
        AgentTokensReceived(5),
        AgentDataReceived(b"agent bytes"),
    ]
    assert ch.mouse_mode == MouseMode.CLIENT and ch.agent_tokens == 15
    ch.send_mouse_mode_request(MouseMode.SERVER)
    out = ch.data_to_send()
    # spice.proto: mouse_mode_request is a u16 mode (mini header: u16 type, u32 size)
    assert out == struct.pack("<HIH", MainMsgc.MOUSE_MODE_REQUEST, 2, MouseMode.SERVER)
    assert srv.client_messages(out, 1) == [MainMouseModeRequest(1)]


def test_channels_list_shorter_than_its_count_is_an_error() -> None:
    ch, srv = setup()
    with pytest.raises(SpiceError):
        ch.receive_data(
            srv.pack_raw(MainMsg.CHANNELS_LIST, struct.pack("<I", 1000) + bytes(4))
        )
    assert ch.state is ChannelState.ERROR


def test_commands_before_link_are_refused() -> None:
    ch = MainChannel()
    with pytest.raises(ProtocolError):
        ch.send_mouse_mode_request(MouseMode.CLIENT)
    assert ch.state is ChannelState.ERROR
