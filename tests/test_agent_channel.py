"""The agent machine (channels/agent.py) and its place in the main channel: token
flow control, capability announce, reassembly across chunks (lying sizes
rejected), clipboard both ways with selections and grab serials, monitors
config, file transfer."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from _channel_helpers import events, linked
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.channels import ChannelState, MainChannel
from spicepy.channels.agent import (
    CLIENT_AGENT_CAPS,
    FILE_XFER_CHUNK_SIZE,
    AgentCapabilitiesReceived,
    AgentMachine,
    AgentMessageReceived,
    AgentReplyReceived,
    ClipboardGrabbed,
    ClipboardReceived,
    ClipboardReleased,
    ClipboardRequested,
    FileTransferStatusReceived,
    Monitor,
)
from spicepy.channels.events import AgentConnected, AgentStreamFailed, MouseModeChanged
from spicepy.errors import LimitExceededError, ProtocolError, SpiceError, WireError
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.agent import (
    AGENT_HEADER_SIZE,
    AnnounceCapabilities,
    Clipboard,
    ClipboardGrab,
    ClipboardRelease,
    ClipboardRequest,
    FileXferData,
    FileXferStart,
    FileXferStatusMessage,
    MaxClipboard,
    MonConfig,
    MonitorsConfig,
    Reply,
    caps_to_words,
    chunk_agent_message,
    decode_agent_message,
    encode_agent_message,
    parse_agent_header,
    words_to_caps,
)
from spicepy.wire.enums import (
    VD_AGENT_MAX_DATA_SIZE,
    AgentCap,
    AgentMsgType,
    AgentReplyError,
    ClipboardSelection,
    ClipboardType,
    FileXferStatus,
    MainCap,
)
from spicepy.wire.msg_common import (
    MainAgentConnectedTokens,
    MainAgentData,
    MainAgentDataC,
    MainAgentDisconnected,
    MainAgentStart,
    MainAgentToken,
    MainAttachChannels,
    MainInit,
    MainMouseMode,
)

#: what spice-vdagent (Linux) announces: by-demand clipboard with selections and
#: grab serials, monitors config, reply, sparse monitors...
LINUX_AGENT = frozenset(
    {
        AgentCap.MOUSE_STATE,
        AgentCap.MONITORS_CONFIG,
        AgentCap.REPLY,
        AgentCap.CLIPBOARD_BY_DEMAND,
        AgentCap.CLIPBOARD_SELECTION,
        AgentCap.SPARSE_MONITORS_CONFIG,
        AgentCap.GUEST_LINEEND_LF,
        AgentCap.MAX_CLIPBOARD,
        AgentCap.CLIPBOARD_GRAB_SERIAL,
    }
)


def from_agent(msg: Any, caps: frozenset[int] = LINUX_AGENT) -> bytes:
    """An agent message as the guest would send it once caps are exchanged."""
    return encode_agent_message(
        msg,
        selection_cap=AgentCap.CLIPBOARD_SELECTION in caps,
        grab_serial_cap=AgentCap.CLIPBOARD_GRAB_SERIAL in caps,
    )


def sent(chunks: list[bytes], caps: frozenset[int] = LINUX_AGENT) -> list[Any]:
    """Reassemble client chunks into messages (asserting the 2048-byte rule)."""
    assert all(len(c) <= VD_AGENT_MAX_DATA_SIZE for c in chunks)
    stream, out = b"".join(chunks), []
    while stream:
        hdr = parse_agent_header(stream)
        body = stream[AGENT_HEADER_SIZE : AGENT_HEADER_SIZE + hdr.size]
        out.append(
            decode_agent_message(
                hdr.type,
                body,
                selection_cap=AgentCap.CLIPBOARD_SELECTION in caps,
                grab_serial_cap=AgentCap.CLIPBOARD_GRAB_SERIAL in caps,
            )
        )
        stream = stream[AGENT_HEADER_SIZE + hdr.size :]
    return out


def drain(m: AgentMachine) -> list[Any]:
    out = []
    while (ev := m.next_event()) is not None:
        out.append(ev)
    return out


def ready(caps: frozenset[int] = LINUX_AGENT, tokens: int = 1000) -> AgentMachine:
    """A started machine that got the agent's announce; its output drained."""
    m = AgentMachine()
    m.start(tokens)
    m.receive_chunk(from_agent(AnnounceCapabilities(0, caps_to_words(caps))))
    assert drain(m) == [AgentCapabilitiesReceived(caps)]
    m.take_chunks()
    return m


def test_start_announces_our_caps_and_tokens_pace_the_chunks() -> None:
    m = AgentMachine()
    m.start(0)
    assert m.take_chunks() == []  # no token, nothing may leave
    assert m.pending_chunks == 1
    m.add_tokens(1)
    (msg,) = sent(m.take_chunks())
    assert msg == AnnounceCapabilities(1, caps_to_words(CLIENT_AGENT_CAPS))
    assert m.tokens == 0 and m.pending_chunks == 0


def test_agent_asking_for_caps_gets_them_without_request() -> None:
    m = AgentMachine()
    m.start(5)
    m.take_chunks()
    m.receive_chunk(from_agent(AnnounceCapabilities(1, caps_to_words(LINUX_AGENT))))
    assert drain(m) == [AgentCapabilitiesReceived(LINUX_AGENT)]
    assert sent(m.take_chunks()) == [
        AnnounceCapabilities(0, caps_to_words(CLIENT_AGENT_CAPS))
    ]
    assert m.has_cap(AgentCap.CLIPBOARD_SELECTION)
    assert not m.has_cap(AgentCap.DISPLAY_CONFIG)


def test_big_clipboard_is_chunked_and_waits_for_tokens() -> None:
    m = ready(tokens=3)  # one token goes to our announce
    text = ("spice " * 2000).encode()  # 12000 bytes -> 6 chunks
    m.send_clipboard(ClipboardType.UTF8_TEXT, text)
    first = m.take_chunks()
    assert len(first) == 2 and m.pending_chunks == 4
    m.add_tokens(10)
    rest = m.take_chunks()
    assert [len(c) for c in first + rest] == [2048] * 5 + [12000 + 28 - 5 * 2048]
    assert sent(first + rest) == [Clipboard(ClipboardType.UTF8_TEXT, text)]
    assert m.tokens == 6


@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(1, 3000), min_size=1, max_size=30))
def test_reassembly_is_independent_of_chunking(cuts: list[int]) -> None:
    png = bytes(range(256)) * 20
    stream = (
        from_agent(ClipboardGrab((ClipboardType.IMAGE_PNG,), serial=0))
        + from_agent(Clipboard(ClipboardType.IMAGE_PNG, png))
        + from_agent(ClipboardRelease(selection=ClipboardSelection.PRIMARY))
        + from_agent(Reply(AgentMsgType.MONITORS_CONFIG, AgentReplyError.SUCCESS))
        + from_agent(MaxClipboard(-1))
    )
    m = ready()
    pos = k = 0
    while pos < len(stream):
        n = cuts[k % len(cuts)]
        m.receive_chunk(stream[pos : pos + n])
        pos, k = pos + n, k + 1
    assert drain(m) == [
        ClipboardGrabbed(ClipboardSelection.CLIPBOARD, (ClipboardType.IMAGE_PNG,)),
        ClipboardReceived(ClipboardSelection.CLIPBOARD, ClipboardType.IMAGE_PNG, png),
        ClipboardReleased(ClipboardSelection.PRIMARY),
        AgentReplyReceived(AgentMsgType.MONITORS_CONFIG, AgentReplyError.SUCCESS),
        AgentMessageReceived(MaxClipboard(-1)),
    ]


def test_lying_sizes_are_rejected_before_buffering() -> None:
    m = ready()
    with pytest.raises(WireError, match="exceeds"):
        m.receive_chunk(struct.pack("<IIQI", 1, AgentMsgType.CLIPBOARD, 0, 1 << 31))
    small = AgentMachine(max_message_size=1000)
    small.start(1)
    with pytest.raises(LimitExceededError, match="limit"):
        small.receive_chunk(struct.pack("<IIQI", 1, AgentMsgType.CLIPBOARD, 0, 1001))
    with pytest.raises(WireError, match="protocol"):
        AgentMachine().receive_chunk(struct.pack("<IIQI", 7, 4, 0, 4))
    # a size too small for the body it announces: the body does not parse
    with pytest.raises(WireError):
        ready().receive_chunk(
            struct.pack("<IIQI", 1, AgentMsgType.REPLY, 0, 4) + b"1234"
        )


def test_disconnect_drops_partial_message_and_queue() -> None:
    m = ready(tokens=0)
    m.send_clipboard(ClipboardType.UTF8_TEXT, b"queued")
    half = from_agent(Clipboard(ClipboardType.UTF8_TEXT, b"x" * 100))[:50]
    m.receive_chunk(half)
    m.stop()
    assert m.pending_chunks == 0 and not m.connected and m.agent_caps is None
    m.start(10)
    m.receive_chunk(from_agent(AnnounceCapabilities(0, caps_to_words(LINUX_AGENT))))
    assert drain(m) == [AgentCapabilitiesReceived(LINUX_AGENT)]


def test_grab_serials_are_shared_both_ways_like_spice_gtk() -> None:
    m = ready()
    m.grab_clipboard([ClipboardType.UTF8_TEXT])
    m.grab_clipboard([ClipboardType.UTF8_TEXT], ClipboardSelection.PRIMARY)
    m.grab_clipboard([ClipboardType.IMAGE_PNG])
    assert [g.serial for g in sent(m.take_chunks())] == [0, 0, 1]
    # the agent's grab must carry the current counter (2 for CLIPBOARD)
    m.receive_chunk(from_agent(ClipboardGrab((1,), serial=1)))
    m.receive_chunk(from_agent(ClipboardGrab((1,), serial=7)))
    assert drain(m) == []  # stale or ahead: both dropped (spice-gtk compares ==)
    m.receive_chunk(from_agent(ClipboardGrab((1,), serial=2)))
    assert drain(m) == [ClipboardGrabbed(0, (1,))]
    m.grab_clipboard([ClipboardType.UTF8_TEXT])
    assert sent(m.take_chunks())[0].serial == 3


def test_clipboard_round_both_ways() -> None:
    m = ready()
    m.receive_chunk(from_agent(ClipboardRequest(ClipboardType.UTF8_TEXT, selection=1)))
    assert drain(m) == [ClipboardRequested(1, ClipboardType.UTF8_TEXT)]
    m.send_clipboard(ClipboardType.UTF8_TEXT, "héllo".encode(), selection=1)
    m.request_clipboard(ClipboardType.IMAGE_PNG)
    m.release_clipboard(ClipboardSelection.PRIMARY)
    assert sent(m.take_chunks()) == [
        Clipboard(ClipboardType.UTF8_TEXT, "héllo".encode(), selection=1),
        ClipboardRequest(ClipboardType.IMAGE_PNG),
        ClipboardRelease(selection=1),
    ]


def test_commands_need_the_agent_and_its_caps() -> None:
    with pytest.raises(ProtocolError, match="no guest agent"):
        AgentMachine().grab_clipboard([1])
    m = ready(frozenset({AgentCap.CLIPBOARD_BY_DEMAND}))
    with pytest.raises(ProtocolError, match="CLIPBOARD_SELECTION"):
        m.grab_clipboard([1], ClipboardSelection.PRIMARY)
    with pytest.raises(ProtocolError, match="MONITORS_CONFIG"):
        m.set_monitors([Monitor(800, 600)])
    with pytest.raises(ProtocolError, match="DISPLAY_CONFIG"):
        m.set_display_config()
    m.grab_clipboard([1])  # no selection prefix, no serial for this agent
    chunk = m.take_chunks()[0]
    assert chunk[AGENT_HEADER_SIZE:] == struct.pack("<I", 1)
    disabled = ready(LINUX_AGENT | {AgentCap.FILE_XFER_DISABLED})
    with pytest.raises(ProtocolError, match="disabled"):
        disabled.send_file("a.txt", b"x")


def test_monitors_config_asks_for_a_size() -> None:
    m = ready()
    m.set_monitors([Monitor(800, 600)], physical_mm=[(300, 200)])
    (msg,) = sent(m.take_chunks())
    assert isinstance(msg, MonitorsConfig)
    assert msg.monitors == (MonConfig(600, 800, 32, 0, 0),)
    assert msg.flags == 3 and msg.physical_sizes[0].width == 300  # type: ignore[index]


def test_file_transfer_sends_data_after_can_send() -> None:
    m = ready()
    payload = bytes(range(256)) * 300  # 76800 bytes: two FILE_XFER_DATA messages
    xid = m.send_file("notes.txt", payload)
    (start,) = sent(m.take_chunks())
    assert start == FileXferStart(
        xid, b"[vdagent-file-xfer]\nname=notes.txt\nsize=76800\n\0"
    )
    m.receive_chunk(
        from_agent(FileXferStatusMessage(xid, FileXferStatus.CAN_SEND_DATA))
    )
    assert drain(m) == [FileTransferStatusReceived(xid, 0, b"", False)]
    data = sent(m.take_chunks())
    assert [d.size for d in data] == [
        FILE_XFER_CHUNK_SIZE,
        76800 - FILE_XFER_CHUNK_SIZE,
    ]
    assert b"".join(d.data for d in data) == payload
    assert all(isinstance(d, FileXferData) and d.id == xid for d in data)
    m.receive_chunk(from_agent(FileXferStatusMessage(xid, FileXferStatus.SUCCESS)))
    assert drain(m) == [FileTransferStatusReceived(xid, 3, b"", True)]
    # a status for a transfer we do not know is ignored
    m.receive_chunk(from_agent(FileXferStatusMessage(77, FileXferStatus.SUCCESS)))
    assert drain(m) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_arbitrary_agent_streams_end_in_spice_errors_only(chunks: list[bytes]) -> None:
    m = ready()
    try:
        for c in chunks:
            m.receive_chunk(c)
    except SpiceError:
        return
    drain(m)


# --- inside the main channel ---------------------------------------------------------
def main_with_agent() -> tuple[MainChannel, FakeServer]:
    srv = FakeServer(channel_caps=frozenset({MainCap.AGENT_CONNECTED_TOKENS}))
    ch, srv = linked(MainChannel, srv, agent=True)
    return ch, srv


def test_main_starts_agent_on_init_and_routes_agent_data() -> None:
    ch, srv = main_with_agent()
    ch.receive_data(srv.pack(MainInit(1, 1, 3, 2, 1, 10, 0, 0)))
    events(ch)
    out = srv.client_messages(ch.data_to_send(), 1)
    assert out[0] == MainAgentStart(0xFFFFFFFF)
    assert out[1] == MainAttachChannels()
    assert sent([out[2].data]) == [
        AnnounceCapabilities(1, caps_to_words(CLIENT_AGENT_CAPS))
    ]
    assert ch.agent_tokens == 9
    announce = from_agent(AnnounceCapabilities(0, caps_to_words(LINUX_AGENT)))
    grab = from_agent(ClipboardGrab((ClipboardType.UTF8_TEXT,), serial=0))
    # two agent messages split over three AGENT_DATA messages
    blob = announce + grab
    ch.receive_data(
        srv.pack(MainAgentData(blob[:7]))
        + srv.pack(MainAgentData(blob[7:30]))
        + srv.pack(MainAgentData(blob[30:]))
    )
    assert events(ch) == [
        AgentCapabilitiesReceived(LINUX_AGENT),
        ClipboardGrabbed(0, (ClipboardType.UTF8_TEXT,)),
    ]
    machine = ch.agent_machine
    assert machine is not None
    machine.request_clipboard(ClipboardType.UTF8_TEXT)
    (req,) = srv.client_messages(ch.data_to_send(), 1)
    assert isinstance(req, MainAgentDataC)
    assert sent([req.data]) == [ClipboardRequest(ClipboardType.UTF8_TEXT)]


def test_main_agent_tokens_and_reconnect() -> None:
    ch, srv = main_with_agent()
    ch.receive_data(srv.pack(MainInit(1, 1, 3, 2, 0, 0, 0, 0)))
    events(ch)
    assert srv.client_messages(ch.data_to_send(), 1) == [MainAttachChannels()]
    ch.receive_data(srv.pack(MainAgentConnectedTokens(0)))
    events(ch)
    # AGENT_START goes out at once, the announce waits for a token
    assert srv.client_messages(ch.data_to_send(), 1) == [MainAgentStart(0xFFFFFFFF)]
    ch.receive_data(srv.pack(MainAgentToken(1)))
    events(ch)
    (data,) = srv.client_messages(ch.data_to_send(), 1)
    assert isinstance(data, MainAgentDataC)
    ch.receive_data(srv.pack(MainAgentDisconnected(0)))
    events(ch)
    machine = ch.agent_machine
    assert machine is not None and not machine.connected
    with pytest.raises(ProtocolError):
        machine.grab_clipboard([1])


def test_main_hostile_agent_data_drops_the_agent_stream_only() -> None:
    """Bad agent data is the guest's fault: the agent stream is dropped (until
    the agent connects again), the main channel goes on (spice-server removes
    such an agent; spice-gtk drops the message)."""
    ch, srv = main_with_agent()
    ch.receive_data(srv.pack(MainInit(1, 1, 3, 2, 1, 10, 0, 0)))
    events(ch)
    announce = from_agent(AnnounceCapabilities(0, caps_to_words(LINUX_AGENT)))
    lying = struct.pack("<IIQI", 1, 4, 0, 1 << 31)  # 2 GiB clipboard
    ch.receive_data(srv.pack(MainAgentData(announce + lying)))
    got = events(ch)
    assert got[0] == AgentCapabilitiesReceived(LINUX_AGENT)  # before the lie
    assert isinstance(got[1], AgentStreamFailed) and "exceeds" in got[1].reason
    assert ch.state is ChannelState.READY
    machine = ch.agent_machine
    assert machine is not None and not machine.connected
    # the rest of the broken stream is ignored; the channel still works
    ch.receive_data(srv.pack(MainAgentData(announce)) + srv.pack(MainMouseMode(3, 1)))
    assert events(ch) == [MouseModeChanged(3, 1)]
    # a reconnected agent is heard again
    ch.receive_data(
        srv.pack(MainAgentConnectedTokens(5)) + srv.pack(MainAgentData(announce))
    )
    assert events(ch) == [AgentConnected(5), AgentCapabilitiesReceived(LINUX_AGENT)]
    # a body that does not parse drops the stream the same way
    bad_reply = struct.pack("<IIQI", 1, AgentMsgType.REPLY, 0, 4) + b"1234"
    ch.receive_data(srv.pack(MainAgentData(bad_reply)))
    (failed,) = events(ch)
    assert isinstance(failed, AgentStreamFailed) and ch.state is ChannelState.READY


def test_words_helpers_used_by_the_tests_agree() -> None:
    assert words_to_caps(caps_to_words(LINUX_AGENT)) == LINUX_AGENT
    assert chunk_agent_message(b"") == []
