"""Buffer, data headers, sub-message lists and link structures."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.errors import WireError
from spicepy.wire import Buffer
from spicepy.wire.enums import ChannelType, CommonCap, DisplayMsg, message_name
from spicepy.wire.headers import (
    SubMessage,
    pack_header,
    pack_sub_message_list,
    parse_header,
    split_sub_messages,
)
from spicepy.wire.link import (
    LinkHeader,
    LinkMess,
    LinkReply,
    caps_to_words,
    has_cap,
    words_to_caps,
)


def test_buffer_pull_push() -> None:
    w = Buffer()
    w.push_u8(1)
    w.push_u16(0x0203)
    w.push_u32(0x04050607)
    w.push_u64(0x08090A0B0C0D0E0F)
    w.push_i8(-1)
    w.push_i16(-2)
    w.push_i32(-3)
    w.push_i64(-4)
    w.push_bytes(b"xyz")
    data = w.data()
    assert (
        data
        == struct.pack(
            "<BHIQbhiq", 1, 0x0203, 0x04050607, 0x08090A0B0C0D0E0F, -1, -2, -3, -4
        )
        + b"xyz"
    )
    r = Buffer(data)
    got = (
        r.pull_u8(),
        r.pull_u16(),
        r.pull_u32(),
        r.pull_u64(),
        r.pull_i8(),
        r.pull_i16(),
        r.pull_i32(),
        r.pull_i64(),
        r.pull_bytes(3),
    )
    assert got == (1, 0x0203, 0x04050607, 0x08090A0B0C0D0E0F, -1, -2, -3, -4, b"xyz")
    assert r.remaining == 0
    with pytest.raises(WireError):
        r.pull_u8()


@given(st.binary(max_size=9), st.sampled_from(["u8", "u16", "u32", "u64", "i32"]))
def test_buffer_truncation_is_wire_error(data: bytes, kind: str) -> None:
    size = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "i32": 4}[kind]
    r = Buffer(data)
    if len(data) < size:
        with pytest.raises(WireError):
            getattr(r, "pull_" + kind)()
        assert r.position == 0
    else:
        getattr(r, "pull_" + kind)()
        assert r.position == size


def test_buffer_push_overflow_is_value_error() -> None:
    with pytest.raises(ValueError):
        Buffer().push_u8(256)


def test_headers() -> None:
    full = pack_header(304, 10, mini=False, serial=5, sub_list=0)
    assert full == struct.pack("<QHII", 5, 304, 10, 0) and len(full) == 18
    mini = pack_header(304, 10, mini=True)
    assert mini == struct.pack("<HI", 304, 10) and len(mini) == 6
    assert parse_header(full, False).serial == 5
    h = parse_header(b"xx" + mini, True, 2)
    assert (h.msg_type, h.size) == (304, 10)
    with pytest.raises(WireError):
        parse_header(mini[:5], True)
    with pytest.raises(WireError):
        parse_header(struct.pack("<HI", 1, 0xFFFFFFFF), True)


def test_sub_message_list() -> None:
    subs = [SubMessage(3, struct.pack("<II", 1, 20)), SubMessage(4, b"p" * 12)]
    body = pack_sub_message_list(subs)
    # u16 count, two u32 offsets, then {u16 type, u32 size, body} each
    assert body[:2] == b"\x02\x00"
    assert struct.unpack_from("<I", body, 2)[0] == 10
    assert split_sub_messages(body) == subs
    with pytest.raises(WireError):
        split_sub_messages(body[:-1])
    with pytest.raises(WireError):
        split_sub_messages(struct.pack("<HI", 1, 1000))
    # many offsets aliasing one big sub-message: refused instead of copied N times
    big = struct.pack("<H", 64) + struct.pack("<64I", *([258] * 64))
    big += struct.pack("<HI", 4, 1000) + bytes(1000)
    with pytest.raises(WireError):
        split_sub_messages(big)


def test_link_mess_layout() -> None:
    mess = LinkMess(42, ChannelType.DISPLAY, 1, caps_to_words({0, 1, 3}), (0x11,))
    raw = mess.pack_with_header()
    assert raw[:4] == b"REDQ"
    magic, major, minor, size = struct.unpack_from("<4I", raw)
    assert (major, minor, size) == (2, 2, 18 + 8)
    assert struct.unpack_from("<IBBIII", raw, 16) == (42, 2, 1, 1, 1, 18)
    assert struct.unpack_from("<II", raw, 34) == (0b1011, 0x11)
    assert LinkMess.parse(raw[16:]) == mess


def test_link_reply() -> None:
    key = bytes(range(162))
    reply = LinkReply(0, key, (0b1011,), (1, 2))
    raw = reply.pack_with_header()
    hdr = LinkHeader.parse(raw)
    assert hdr.size == 178 + 12 == len(raw) - 16
    assert LinkReply.parse(raw[16:]) == reply
    assert LinkReply.parse(struct.pack("<I", 7)).error == 7
    with pytest.raises(WireError):
        LinkReply.parse(struct.pack("<I", 0))
    bad = bytearray(raw[16:])
    struct.pack_into("<I", bad, 166, 5000)  # common caps count
    with pytest.raises(WireError):
        LinkReply.parse(bytes(bad))
    with pytest.raises(WireError):
        LinkHeader.parse(b"REDX" + raw[4:16])


@given(st.frozensets(st.integers(0, 100)))
def test_caps_words(bits: frozenset[int]) -> None:
    words = caps_to_words(bits)
    assert words_to_caps(words) == bits
    for b in range(110):
        assert has_cap(words, b) == (b in bits)


def test_message_names() -> None:
    assert message_name(2, DisplayMsg.DRAW_COPY) == "DRAW_COPY"
    assert message_name(1, 4) == "PING"
    assert message_name(1, 3, from_server=False) == "PONG"
    assert message_name(3, 555) == "UNKNOWN_555"
    assert CommonCap.MINI_HEADER == 3
