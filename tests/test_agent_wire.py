"""VD-agent messages: generated round trips, vd_agent.h layouts, spice-gtk chunking,
and hostile bodies/headers ending in WireError only."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.errors import WireError
from spicepy.wire.agent import (
    AGENT_HEADER_SIZE,
    CLIPBOARD_MESSAGES,
    MAX_AGENT_MESSAGE_SIZE,
    AnnounceCapabilities,
    Clipboard,
    ClipboardGrab,
    ClipboardRelease,
    MonConfig,
    MonitorsConfig,
    UnknownAgentMessage,
    agent_message_classes,
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
    ClipboardSelection,
    ClipboardType,
    MonitorsConfigFlags,
)
from spicepy.wire.schema import Array, Bytes, Rest, Struct, _Int, spec

CLASSES = sorted(agent_message_classes(), key=lambda c: c.AGENT_TYPE)


def _int(wtype: _Int) -> st.SearchStrategy[int]:
    bits = int(wtype.name[1:])
    if wtype.name.startswith("i"):
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return st.integers(0, (1 << bits) - 1)


def build(cls: type, data: st.DataObject) -> Any:
    """A random instance drawn from the schema (counts small and consistent)."""
    counts = {
        getattr(w, "count", None) for _, w, _ in spec(cls) if isinstance(w, Array)
    } | {getattr(w, "count", None) for _, w, _ in spec(cls) if isinstance(w, Bytes)}
    values: dict[str, Any] = {}
    for name, wtype, cond in spec(cls):
        if cond is not None and not cond(values):
            values[name] = None
        elif isinstance(wtype, _Int):
            if name in counts:
                values[name] = data.draw(st.integers(0, 3))
            elif name == "flags" and cls is MonitorsConfig:
                values[name] = data.draw(st.integers(0, 3))
            else:
                values[name] = data.draw(_int(wtype))
        elif isinstance(wtype, Array):
            n = (
                data.draw(st.integers(0, 4))
                if wtype.count is None
                else values[str(wtype.count)]
            )
            elem = wtype.elem
            values[name] = tuple(
                build(elem.cls, data)
                if isinstance(elem, Struct)
                else data.draw(
                    _int(elem)  # type: ignore[arg-type]
                )
                for _ in range(n)
            )
        elif isinstance(wtype, Bytes):
            n = int(values[str(wtype.count)])
            values[name] = data.draw(st.binary(min_size=n, max_size=n))
        elif isinstance(wtype, Rest):
            values[name] = data.draw(st.binary(max_size=40))
        else:
            raise AssertionError(f"no strategy for {wtype!r}")
    return cls(**values)


def test_every_vd_agent_message_type_is_defined() -> None:
    assert [c.AGENT_TYPE for c in CLASSES] == [int(t) for t in AgentMsgType]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data(), selection_cap=st.booleans(), serial_cap=st.booleans())
def test_round_trip(
    cls: type, data: st.DataObject, selection_cap: bool, serial_cap: bool
) -> None:
    msg = build(cls, data)
    extra: dict[str, Any] = {}
    if cls.AGENT_TYPE in CLIPBOARD_MESSAGES and selection_cap:
        extra["selection"] = data.draw(st.sampled_from(list(ClipboardSelection)))
    if cls is ClipboardGrab and serial_cap:
        extra["serial"] = data.draw(st.integers(0, 0xFFFFFFFF))
    msg = type(msg)(**{**{k: getattr(msg, k) for k, _, _ in spec(cls)}, **extra})
    encoded = encode_agent_message(
        msg, selection_cap=selection_cap, grab_serial_cap=serial_cap
    )
    header = parse_agent_header(encoded)
    assert (header.protocol, header.type, header.opaque) == (1, cls.AGENT_TYPE, 0)
    assert header.size == len(encoded) - AGENT_HEADER_SIZE
    body = encoded[AGENT_HEADER_SIZE:]
    back = decode_agent_message(
        header.type, body, selection_cap=selection_cap, grab_serial_cap=serial_cap
    )
    assert back == msg
    again = encode_agent_message(
        back, selection_cap=selection_cap, grab_serial_cap=serial_cap
    )
    assert again == encoded
    for cut in range(len(body)):  # every truncation: a message or WireError
        try:
            decode_agent_message(
                header.type,
                body[:cut],
                selection_cap=selection_cap,
                grab_serial_cap=serial_cap,
            )
        except WireError:
            pass


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=64), selection_cap=st.booleans(), serial=st.booleans())
def test_arbitrary_bodies_parse_or_raise_wire_error(
    cls: type, body: bytes, selection_cap: bool, serial: bool
) -> None:
    try:
        msg = decode_agent_message(
            cls.AGENT_TYPE, body, selection_cap=selection_cap, grab_serial_cap=serial
        )
    except WireError:
        return
    assert type(msg) is cls


def test_layouts_follow_vd_agent_h() -> None:
    # VDAgentMonConfig: height, width, depth, x, y (height first)
    mon = MonitorsConfig(
        1, MonitorsConfigFlags.USE_POS, (MonConfig(600, 800, 32, 5, -7),)
    )
    assert encode_agent_message(mon) == struct.pack(
        "<IIQI", 1, AgentMsgType.MONITORS_CONFIG, 0, 28
    ) + struct.pack("<IIIIIii", 1, 1, 600, 800, 32, 5, -7)
    # selection u8 + 3 reserved bytes, then the u32 grab serial, then the types
    grab = ClipboardGrab(
        (ClipboardType.UTF8_TEXT, ClipboardType.IMAGE_PNG),
        selection=ClipboardSelection.PRIMARY,
        serial=9,
    )
    assert encode_agent_message(grab, selection_cap=True, grab_serial_cap=True)[
        AGENT_HEADER_SIZE:
    ] == bytes([1, 0, 0, 0]) + struct.pack("<III", 9, 1, 2)
    # without the selection cap: no prefix, and only CLIPBOARD is expressible
    clip = Clipboard(ClipboardType.UTF8_TEXT, b"hi")
    assert (
        encode_agent_message(clip)[AGENT_HEADER_SIZE:] == struct.pack("<I", 1) + b"hi"
    )
    with pytest.raises(ValueError):
        encode_agent_message(ClipboardRelease(selection=ClipboardSelection.PRIMARY))
    with pytest.raises(ValueError):
        encode_agent_message(ClipboardGrab((1,)), grab_serial_cap=True)


def _spice_gtk_chunks(header_and_body: bytes) -> list[bytes]:
    """spice-gtk agent_msg_queue_many's loop, transcribed: the first chunk is
    MIN(2048, size + 20) with the header, later ones MIN(2048, size left)."""
    header, body = header_and_body[:20], header_and_body[20:]
    size = len(body)
    out: list[bytes] = []
    paysize = min(VD_AGENT_MAX_DATA_SIZE, size + 20) - 20
    current = bytearray(header)
    if paysize == 0:
        out.append(bytes(current))
        current = None  # type: ignore[assignment]
    pos = 0
    while size > 0:
        if current is None:
            paysize = min(VD_AGENT_MAX_DATA_SIZE, size)
            current = bytearray()
        n = min(paysize, len(body) - pos)
        current += body[pos : pos + n]
        pos, size, paysize = pos + n, size - n, paysize - n
        if paysize == 0:
            out.append(bytes(current))
            current = None  # type: ignore[assignment]
    assert current is None
    return out


@settings(max_examples=200, deadline=None)
@given(size=st.one_of(st.integers(0, 5000), st.sampled_from([2027, 2028, 2029, 4076])))
def test_chunks_are_spice_gtk_s(size: int) -> None:
    encoded = encode_agent_message(Clipboard(1, bytes(range(256)) * (size // 256 + 1)))
    chunks = chunk_agent_message(encoded)
    assert chunks == _spice_gtk_chunks(encoded)
    assert all(0 < len(c) <= VD_AGENT_MAX_DATA_SIZE for c in chunks)
    assert b"".join(chunks) == encoded


def test_empty_message_is_one_header_chunk() -> None:
    encoded = encode_agent_message(ClipboardRelease())
    assert len(encoded) == AGENT_HEADER_SIZE
    assert chunk_agent_message(encoded) == [encoded]


def test_hostile_headers() -> None:
    good = encode_agent_message(ClipboardRelease())
    with pytest.raises(WireError):
        parse_agent_header(good[:19])
    with pytest.raises(WireError, match="protocol"):
        parse_agent_header(struct.pack("<IIQI", 2, 9, 0, 0))
    with pytest.raises(WireError, match="exceeds"):
        parse_agent_header(struct.pack("<IIQI", 1, 4, 0, MAX_AGENT_MESSAGE_SIZE + 1))
    # a selection byte beyond SECONDARY, a grab whose serial is cut
    with pytest.raises(WireError, match="selection"):
        decode_agent_message(
            AgentMsgType.CLIPBOARD, bytes([3, 0, 0, 0, 1, 0, 0, 0]), selection_cap=True
        )
    with pytest.raises(WireError, match="serial"):
        decode_agent_message(AgentMsgType.CLIPBOARD_GRAB, b"\0\0", grab_serial_cap=True)
    # FILE_XFER_DATA whose size field lies about the bytes that follow
    with pytest.raises(WireError):
        decode_agent_message(
            AgentMsgType.FILE_XFER_DATA, struct.pack("<IQ", 1, 1 << 40) + b"x"
        )


def test_unknown_type_keeps_its_body() -> None:
    assert decode_agent_message(99, b"abc") == UnknownAgentMessage(99, b"abc")


@given(st.frozensets(st.integers(0, 95)))
def test_caps_words_round_trip(caps: frozenset[int]) -> None:
    assert words_to_caps(caps_to_words(caps)) == caps


def test_announce_caps_bits() -> None:
    words = caps_to_words(
        {AgentCap.CLIPBOARD_BY_DEMAND, AgentCap.CLIPBOARD_GRAB_SERIAL}
    )
    assert words == ((1 << 5) | (1 << 17),)
    body = encode_agent_message(AnnounceCapabilities(1, words))[AGENT_HEADER_SIZE:]
    assert body == struct.pack("<II", 1, words[0])
