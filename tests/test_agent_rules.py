"""The agent machine's rules with exact bytes and exact state (spicepy.channels.
agent): what start/stop reset, token accounting, the message size limit at its
boundary, every command's wire bytes (selection prefix, grab serials and their
wrap), the refusals' texts, each incoming message's event, and the file
transfer's pieces.  Frames are written out here (``VDAgentMessage``: protocol 1,
type, opaque 0, size; spice-gtk ``channel-main.c``) rather than produced by the
encoder the machine uses."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels.agent import (
    CLIENT_AGENT_CAPS,
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
from spicepy.errors import LimitExceededError, ProtocolError, WireError
from spicepy.wire.agent import MaxClipboard, UnknownAgentMessage
from spicepy.wire.enums import AgentCap as C
from spicepy.wire.enums import AgentMsgType as M
from spicepy.wire.enums import ClipboardSelection as S
from spicepy.wire.enums import FileXferStatus

FULL = frozenset(
    {
        C.CLIPBOARD_BY_DEMAND,
        C.CLIPBOARD_SELECTION,
        C.CLIPBOARD_GRAB_SERIAL,
        C.MONITORS_CONFIG,
        C.DISPLAY_CONFIG,
        C.REPLY,
    }
)
PLAIN = frozenset({C.CLIPBOARD_BY_DEMAND, C.MONITORS_CONFIG, C.DISPLAY_CONFIG})


def frame(msg_type: int, body: bytes) -> bytes:
    return struct.pack("<IIQI", 1, msg_type, 0, len(body)) + body


def words(caps: frozenset[int]) -> bytes:
    return struct.pack("<I", sum(1 << c for c in caps))


def drain(m: AgentMachine) -> list[Any]:
    out = []
    while (ev := m.next_event()) is not None:
        out.append(ev)
    return out


def ready(caps: frozenset[int] = FULL, tokens: int = 100) -> AgentMachine:
    m = AgentMachine()
    m.start(tokens)
    m.receive_chunk(frame(M.ANNOUNCE_CAPABILITIES, struct.pack("<I", 0) + words(caps)))
    drain(m), m.take_chunks()
    return m


def sent(m: AgentMachine) -> bytes:
    return b"".join(m.take_chunks())


def test_start_announces_and_resets() -> None:
    m = AgentMachine()
    assert (m.connected, m.tokens, m.agent_caps, m.pending_chunks) == (
        False,
        0,
        None,
        0,
    )
    m.start(3)
    assert m.connected is True and m.tokens == 3 and m.agent_caps is None
    assert sent(m) == frame(
        M.ANNOUNCE_CAPABILITIES, struct.pack("<I", 1) + words(CLIENT_AGENT_CAPS)
    )
    assert m.tokens == 2
    m.start()  # no new grant: the tokens stay
    assert m.tokens == 2 and m.pending_chunks == 1
    # a restart forgets the agent's caps, the half message and the serials
    m = ready()
    m.grab_clipboard([1])
    m.receive_chunk(frame(M.CLIPBOARD_RELEASE, bytes(4))[:10])
    m.start()
    assert m.agent_caps is None and not m.has_cap(C.CLIPBOARD_BY_DEMAND)
    m.receive_chunk(frame(M.ANNOUNCE_CAPABILITIES, struct.pack("<I", 0) + words(FULL)))
    assert drain(m) == [AgentCapabilitiesReceived(FULL)]
    m.take_chunks()
    m.grab_clipboard([1])
    assert sent(m) == frame(M.CLIPBOARD_GRAB, bytes(4) + struct.pack("<II", 0, 1))


def test_stop_forgets_everything_but_the_tokens() -> None:
    m = ready(tokens=1)
    m.add_tokens(5)
    xid = m.send_file("a", b"x")
    m.grab_clipboard([1])
    m.receive_chunk(frame(M.CLIPBOARD_RELEASE, bytes(4))[:22])
    m.stop()
    assert m.connected is False and m.agent_caps is None
    assert m.pending_chunks == 0 and m.tokens == 5 and m.take_chunks() == []
    m.start()
    m.receive_chunk(frame(M.ANNOUNCE_CAPABILITIES, struct.pack("<I", 0) + words(FULL)))
    m.receive_chunk(frame(M.FILE_XFER_STATUS, struct.pack("<II", xid, 0)))
    assert drain(m) == [AgentCapabilitiesReceived(FULL)]  # the transfer is gone


def test_tokens_pace_the_chunks() -> None:
    m = ready(tokens=1)  # spent on our announce
    assert m.tokens == 0
    m.add_tokens(2)
    m.add_tokens(1)
    assert m.tokens == 3
    for t in (1, 2, 3, 4):
        m.set_display_config(t, 0)
    assert m.pending_chunks == 4
    got = m.take_chunks()
    assert got == [frame(M.DISPLAY_CONFIG, struct.pack("<II", t, 0)) for t in (1, 2, 3)]
    assert m.tokens == 0 and m.pending_chunks == 1 and m.take_chunks() == []
    m.add_tokens(5)
    assert m.take_chunks() == [frame(M.DISPLAY_CONFIG, struct.pack("<II", 4, 0))]
    assert m.tokens == 4


def test_message_size_limit_is_inclusive() -> None:
    m = AgentMachine(max_message_size=8)
    m.start(1)
    m.receive_chunk(frame(M.DISPLAY_CONFIG, struct.pack("<II", 1, 2)))  # 8 bytes
    assert drain(m) == [AgentMessageReceived(_display(1, 2))]
    with pytest.raises(LimitExceededError) as err:
        m.receive_chunk(frame(M.FILE_XFER_STATUS, bytes(9))[:20])  # header alone
    assert str(err.value) == (
        "agent message of 9 bytes exceeds the 8-byte limit (spicepy.Limits.agent)"
    )
    assert err.value.limit == "agent"
    assert AgentMachine().max_message_size == 128 * 1024 * 1024
    with pytest.raises(WireError) as werr:
        AgentMachine().receive_chunk(struct.pack("<IIQI", 2, 1, 0, 0))
    assert str(werr.value) == "agent protocol 2, expected 1"


def _display(flags: int, depth: int) -> Any:
    from spicepy.wire.agent import DisplayConfig

    return DisplayConfig(flags, depth)


@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5),
    cut=st.integers(0, 300),
)
def test_messages_across_and_within_chunks(sizes: list[int], cut: int) -> None:
    """Several messages in one chunk, one cut anywhere: each arrives whole,
    once, in order (an empty body included)."""
    stream = b"".join(frame(M.CLIENT_DISCONNECTED + 100, bytes([n]) * n) for n in sizes)
    m = ready()
    for part in (stream[:cut], stream[cut:]):
        m.receive_chunk(part)
    want = [
        AgentMessageReceived(
            UnknownAgentMessage(M.CLIENT_DISCONNECTED + 100, bytes([n]) * n)
        )
        for n in sizes
    ]
    assert drain(m) == want
    assert m._in == bytearray() and m._header is None


def test_refusals_name_what_is_missing() -> None:
    m = AgentMachine()
    for call in (
        lambda: m.grab_clipboard([1]),
        lambda: m.send_clipboard(1, b"x"),
        lambda: m.request_clipboard(1),
        lambda: m.release_clipboard(),
        lambda: m.set_monitors([Monitor(1, 1)]),
        lambda: m.set_display_config(),
        lambda: m.send_file("a", b""),
    ):
        with pytest.raises(ProtocolError) as err:
            call()
        assert str(err.value) == "no guest agent is connected"
    m.start(1)  # connected, but the agent's caps have not arrived
    with pytest.raises(ProtocolError) as err:
        m.grab_clipboard([1])
    assert str(err.value) == "the guest agent lacks CLIPBOARD_BY_DEMAND"
    with pytest.raises(ProtocolError) as err:
        m.send_file("a", b"")
    assert str(err.value) == "no guest agent is connected"
    bare = ready(frozenset({C.REPLY}))
    for call, cap in (
        (lambda: bare.grab_clipboard([1]), "CLIPBOARD_BY_DEMAND"),
        (lambda: bare.send_clipboard(1, b""), "CLIPBOARD_BY_DEMAND"),
        (lambda: bare.request_clipboard(1), "CLIPBOARD_BY_DEMAND"),
        (lambda: bare.release_clipboard(), "CLIPBOARD_BY_DEMAND"),
        (lambda: bare.set_monitors([Monitor(1, 1)]), "MONITORS_CONFIG"),
        (lambda: bare.set_display_config(), "DISPLAY_CONFIG"),
    ):
        with pytest.raises(ProtocolError) as err:
            call()
        assert str(err.value) == f"the guest agent lacks {cap}"
    plain = ready(PLAIN)
    for sel in (S.PRIMARY, S.SECONDARY):
        for call in (
            lambda sel=sel: plain.grab_clipboard([1], sel),
            lambda sel=sel: plain.send_clipboard(1, b"", sel),
            lambda sel=sel: plain.request_clipboard(1, sel),
            lambda sel=sel: plain.release_clipboard(sel),
        ):
            with pytest.raises(ProtocolError) as err:
                call()
            assert str(err.value) == "the guest agent lacks CLIPBOARD_SELECTION"
    assert plain.pending_chunks == 0
    disabled = ready(FULL | {C.FILE_XFER_DISABLED})
    with pytest.raises(ProtocolError) as err:
        disabled.send_file("a", b"")
    assert str(err.value) == "the guest agent disabled file transfer"
    for name in ("", "a/b", "a\nb", "a\0b"):
        with pytest.raises(ValueError) as verr:
            plain.send_file(name, b"")
        assert str(verr.value) == f"bad file name {name!r}"


def test_clipboard_commands_exact_bytes() -> None:
    m = ready(PLAIN)
    m.grab_clipboard([1, 2])
    m.send_clipboard(1, b"hi")
    m.request_clipboard(2)
    m.release_clipboard()
    assert sent(m) == (
        frame(M.CLIPBOARD_GRAB, struct.pack("<II", 1, 2))
        + frame(M.CLIPBOARD, struct.pack("<I", 1) + b"hi")
        + frame(M.CLIPBOARD_REQUEST, struct.pack("<I", 2))
        + frame(M.CLIPBOARD_RELEASE, b"")
    )
    m = ready(FULL)
    sel = b"\2\0\0\0"  # SECONDARY and three reserved bytes
    m.grab_clipboard([1], S.SECONDARY)
    m.send_clipboard(1, b"hi", S.SECONDARY)
    m.request_clipboard(2, S.SECONDARY)
    m.release_clipboard(S.SECONDARY)
    assert sent(m) == (
        frame(M.CLIPBOARD_GRAB, sel + struct.pack("<II", 0, 1))
        + frame(M.CLIPBOARD, sel + struct.pack("<I", 1) + b"hi")
        + frame(M.CLIPBOARD_REQUEST, sel + struct.pack("<I", 2))
        + frame(M.CLIPBOARD_RELEASE, sel)
    )


def test_grab_serials_per_selection_and_wrap() -> None:
    m = ready(FULL)
    m.grab_clipboard([1])
    m.grab_clipboard([1])
    m.grab_clipboard([1], S.PRIMARY)
    serials = [struct.unpack_from("<I", c, 24)[0] for c in m.take_chunks()]
    assert serials == [0, 1, 0]
    assert m._serial == [2, 1, 0]
    m._serial[S.CLIPBOARD] = 0xFFFFFFFF
    m.grab_clipboard([1])
    assert struct.unpack_from("<I", sent(m), 24)[0] == 0xFFFFFFFF
    assert m._serial[S.CLIPBOARD] == 0
    # incoming: only the current serial is accepted, then it counts up (wrapping)
    m._serial[S.PRIMARY] = 0xFFFFFFFF
    stale = frame(M.CLIPBOARD_GRAB, b"\1\0\0\0" + struct.pack("<II", 5, 1))
    m.receive_chunk(stale)
    assert drain(m) == [] and m._serial[S.PRIMARY] == 0xFFFFFFFF
    good = frame(M.CLIPBOARD_GRAB, b"\1\0\0\0" + struct.pack("<III", 0xFFFFFFFF, 1, 2))
    m.receive_chunk(good)
    assert drain(m) == [ClipboardGrabbed(S.PRIMARY, (1, 2))]
    assert m._serial == [0, 0, 0]
    m.receive_chunk(good)  # replayed: now stale
    assert drain(m) == []


def test_incoming_messages_become_events() -> None:
    m = ready(FULL)
    sel = b"\1\0\0\0"
    m.receive_chunk(
        frame(M.CLIPBOARD_REQUEST, sel + struct.pack("<I", 3))
        + frame(M.CLIPBOARD, sel + struct.pack("<I", 1) + b"text")
        + frame(M.CLIPBOARD_RELEASE, sel)
        + frame(M.REPLY, struct.pack("<II", M.MONITORS_CONFIG, 1))
        + frame(M.MAX_CLIPBOARD, struct.pack("<i", -1))
    )
    assert drain(m) == [
        ClipboardRequested(S.PRIMARY, 3),
        ClipboardReceived(S.PRIMARY, 1, b"text"),
        ClipboardReleased(S.PRIMARY),
        AgentReplyReceived(M.MONITORS_CONFIG, 1),
        AgentMessageReceived(MaxClipboard(-1)),
    ]
    assert m.pending_chunks == 0
    # an agent that asks for our caps gets them, with request=0
    m.receive_chunk(frame(M.ANNOUNCE_CAPABILITIES, struct.pack("<I", 1) + words(PLAIN)))
    assert drain(m) == [AgentCapabilitiesReceived(PLAIN)]
    assert m.has_cap(C.MONITORS_CONFIG) and not m.has_cap(C.REPLY)
    assert sent(m) == frame(
        M.ANNOUNCE_CAPABILITIES, struct.pack("<I", 0) + words(CLIENT_AGENT_CAPS)
    )
    # without the selection cap the same request has no prefix
    m.receive_chunk(frame(M.CLIPBOARD_REQUEST, struct.pack("<I", 3)))
    assert drain(m) == [ClipboardRequested(S.CLIPBOARD, 3)]


def test_monitors_and_display_config_exact_bytes() -> None:
    m = ready()
    with pytest.raises(ValueError) as err:
        m.set_monitors([])
    assert str(err.value) == "at least one monitor"
    with pytest.raises(ValueError) as err:
        m.set_monitors([Monitor(1, 1), Monitor(2, 2)], physical_mm=[(1, 1)])
    assert str(err.value) == "one physical size per monitor"
    m.set_monitors([Monitor(800, 600, -10, 20, 24), Monitor(1024, 768)])
    assert sent(m) == frame(
        M.MONITORS_CONFIG,
        struct.pack("<II", 2, 1)  # USE_POS
        + struct.pack("<IIIii", 600, 800, 24, -10, 20)
        + struct.pack("<IIIii", 768, 1024, 32, 0, 0),
    )
    m.set_monitors([Monitor(800, 600)], physical_mm=[(300, 200)])
    assert sent(m) == frame(
        M.MONITORS_CONFIG,
        struct.pack("<II", 1, 3)  # USE_POS | PHYSICAL_SIZE
        + struct.pack("<IIIii", 600, 800, 32, 0, 0)
        + struct.pack("<HH", 200, 300),  # height, width
    )
    m.set_display_config()
    m.set_display_config(5, 16)
    assert sent(m) == frame(M.DISPLAY_CONFIG, bytes(8)) + frame(
        M.DISPLAY_CONFIG, struct.pack("<II", 5, 16)
    )


def _status(xid: int, result: int, data: bytes = b"") -> bytes:
    return frame(M.FILE_XFER_STATUS, struct.pack("<II", xid, result) + data)


def _data(xid: int, piece: bytes) -> bytes:
    return frame(M.FILE_XFER_DATA, struct.pack("<IQ", xid, len(piece)) + piece)


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 2 * 65536])
def test_file_transfer_pieces(size: int) -> None:
    m = ready()
    payload = bytes(i & 0xFF for i in range(size))
    first = m.send_file("f.bin", payload)
    second = m.send_file("g", b"")
    assert (first, second) == (1, 2)
    key = f"[vdagent-file-xfer]\nname=f.bin\nsize={size}\n\0".encode()
    stream = sent(m)
    assert stream.startswith(frame(M.FILE_XFER_START, struct.pack("<I", 1) + key))
    m.receive_chunk(_status(first, FileXferStatus.CAN_SEND_DATA))
    assert drain(m) == [FileTransferStatusReceived(first, 0, b"", False)]
    pieces = [payload[p : p + 65536] for p in range(0, size, 65536)] or [b""]
    assert sent(m) == b"".join(_data(first, p) for p in pieces)
    assert m._xfers[first] == b""  # sent: the copy is dropped at once
    m.receive_chunk(_status(first, FileXferStatus.ERROR, b"why"))
    assert drain(m) == [FileTransferStatusReceived(first, 2, b"why", True)]
    m.receive_chunk(_status(first, FileXferStatus.SUCCESS))  # finished: ignored
    m.receive_chunk(_status(99, FileXferStatus.CAN_SEND_DATA))  # never started
    assert drain(m) == [] and sent(m) == b""
    assert m._xfers == {second: b""}
