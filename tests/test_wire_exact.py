"""Exact boundaries and refusals of the wire layer's framing (spice/protocol.h).

Each case here pins one limit at its edge or one refusal by its message: the
values come from the protocol headers (SpiceDataHeader 18 bytes, mini header 6,
SpiceSubMessageList = u16 count + u32 offsets, SpiceSubMessage = u16 type + u32
size) and from the documented limits of spicepy.wire (MAX_SUB_MESSAGES,
max_size), not from the code under test.  Written against surviving mutants of
scripts/mutation.sh (tests/MUTATION.md).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import pytest

from spicepy.errors import WireError
from spicepy.wire.agent import (
    ClipboardGrab,
    ClipboardRequest,
    decode_agent_message,
    encode_agent_message,
    parse_agent_header,
)
from spicepy.wire.agent import caps_to_words as agent_caps_to_words
from spicepy.wire.agent import words_to_caps as agent_words_to_caps
from spicepy.wire.buffer import Buffer
from spicepy.wire.enums import message_name
from spicepy.wire.headers import (
    MAX_SUB_MESSAGES,
    SubMessage,
    pack_header,
    parse_header,
    split_frames_ref,
    split_sub_messages,
)
from spicepy.wire.link import LinkHeader, LinkMess, LinkReply
from spicepy.wire.schema import (
    I8,
    I16,
    I32,
    I64,
    MAX_DEPTH,
    U8,
    U16,
    U32,
    U64,
    Array,
    Bytes,
    Ptr,
    RasterSize,
    Reader,
    Writer,
    _Int,
    decode_struct,
    encode_struct,
    wt,
)


# -- split_frames_ref ------------------------------------------------------------------
def test_split_frames_starts_at_zero_by_default() -> None:
    data = memoryview(struct.pack("<HI", 7, 2) + b"ab")
    frames, stop = split_frames_ref(data, True)
    assert [(t, bytes(b), s, sl, a, e) for t, b, s, sl, a, e in frames] == [
        (7, b"ab", 0, 0, 0, 8)
    ]
    assert stop == 8


def test_split_frames_takes_an_empty_message_that_is_all_header() -> None:
    # a header announcing 0 bytes is a whole message (SPICE_MSG_ACK has no body)
    frames, stop = split_frames_ref(memoryview(struct.pack("<HI", 4, 0)), True)
    assert [(f[0], bytes(f[1]), f[4], f[5]) for f in frames] == [(4, b"", 0, 6)]
    assert stop == 6
    full = struct.pack("<QHII", 9, 4, 0, 0)
    frames, stop = split_frames_ref(memoryview(full), False)
    assert [(f[0], f[2], f[5]) for f in frames] == [(4, 9, 18)] and stop == 18


def test_split_frames_accepts_a_body_of_exactly_max_size() -> None:
    data = memoryview(struct.pack("<HI", 1, 4) + b"wxyz" + struct.pack("<HI", 2, 5))
    frames, stop = split_frames_ref(data, True, 0, 4)
    assert [bytes(f[1]) for f in frames] == [b"wxyz"]
    assert stop == 10  # stops at the 5-byte message: one above max_size


# -- split_sub_messages ----------------------------------------------------------------
def _list(offsets: list[int]) -> bytes:
    return struct.pack(f"<H{len(offsets)}I", len(offsets), *offsets)


def test_sub_message_list_at_an_offset_inside_the_body() -> None:
    # the main message's 4 bytes, then the list (a full header's sub_list offset)
    body = b"MAIN" + _list([10]) + struct.pack("<HI", 5, 3) + b"xyz"
    assert split_sub_messages(body, 4) == [SubMessage(5, b"xyz")]


def test_sub_message_count_is_unsigned_and_bounded() -> None:
    with pytest.raises(
        WireError, match=r"^sub-message list of 65535 entries does not fit$"
    ):
        split_sub_messages(struct.pack("<H", 0xFFFF) + bytes(8))
    # above MAX_SUB_MESSAGES even when every offset fits the body
    n = MAX_SUB_MESSAGES + 1
    body = _list([2 + 4 * n] * n) + struct.pack("<HI", 1, 0)
    with pytest.raises(
        WireError, match=rf"^sub-message list of {n} entries does not fit$"
    ):
        split_sub_messages(body)


def test_sub_message_count_of_exactly_the_limit_is_read() -> None:
    n = MAX_SUB_MESSAGES
    body = _list([2 + 4 * n] * n) + struct.pack("<HI", 3, 0)
    subs = split_sub_messages(body)
    assert len(subs) == n and subs[0] == subs[-1] == SubMessage(3, b"")


def test_sub_message_offsets_one_byte_short() -> None:
    # list at offset 4 with one entry needs 4 + 2 + 4 bytes; 9 is one short
    body = b"MAIN" + struct.pack("<HI", 1, 10)
    with pytest.raises(
        WireError, match=r"^sub-message list of 1 entries does not fit$"
    ):
        split_sub_messages(body[:-1], 4)
    # the offsets fit exactly, the sub-message they point at does not
    with pytest.raises(WireError, match=r"^truncated sub-message list$"):
        split_sub_messages(body, 4)


def test_sub_message_size_is_unsigned() -> None:
    body = _list([6]) + struct.pack("<HI", 1, 0x80000000) + b"abc"
    with pytest.raises(WireError, match=r"^sub-message runs past the message body$"):
        split_sub_messages(body)
    # a type above 0x7FFF is a type like any other (u16)
    body = _list([6]) + struct.pack("<HI", 0x8001, 1) + b"z"
    assert split_sub_messages(body) == [SubMessage(0x8001, b"z")]


def test_aliased_sub_messages_may_total_the_body_size_but_not_more() -> None:
    # two entries pointing at one 16-byte sub-message: 2 * 16 bytes = the whole
    # 32-byte body (10 of list, 6 of header, 16 of data), the most accepted
    body = _list([10, 10]) + struct.pack("<HI", 2, 16) + bytes(range(16))
    assert len(body) == 32
    assert split_sub_messages(body) == [SubMessage(2, bytes(range(16)))] * 2
    three = _list([14, 14, 14]) + struct.pack("<HI", 2, 16) + bytes(range(16))
    with pytest.raises(
        WireError, match=r"^sub-messages overlap \(more bytes than the body\)$"
    ):
        split_sub_messages(three)


def test_empty_sub_message_list_and_two_offsets_one_byte_short() -> None:
    assert split_sub_messages(struct.pack("<H", 0)) == []
    body = _list([10, 10]) + struct.pack("<HI", 1, 0)
    with pytest.raises(
        WireError, match=r"^sub-message list of 2 entries does not fit$"
    ):
        split_sub_messages(body[:9])


# -- link phase (SpiceLinkHeader 16 bytes, SpiceLinkMess 18, SpiceLinkReply 178) ----
def _link_header(
    size: int, magic: bytes = b"REDQ", major: int = 2, minor: int = 2
) -> bytes:
    return magic + struct.pack("<III", major, minor, size)


def test_link_header_of_exactly_16_bytes_keeps_every_field() -> None:
    hdr = LinkHeader.parse(_link_header(4096, major=3, minor=7))
    assert (hdr.magic, hdr.major, hdr.minor, hdr.size) == (0x51444552, 3, 7, 4096)
    with pytest.raises(WireError, match=r"^truncated SpiceLinkHeader$"):
        LinkHeader.parse(_link_header(0)[:15])
    with pytest.raises(WireError, match=r"^bad link magic 0x58444552$"):
        LinkHeader.parse(_link_header(0, b"REDX"))
    # spice-server refuses link messages above 4096 bytes (reds.cpp)
    with pytest.raises(WireError, match=r"^link message of 4097 bytes is too big$"):
        LinkHeader.parse(_link_header(4097))


def _mess(n_common: int, n_channel: int, offset: int = 18) -> bytes:
    return struct.pack("<IBBIII", 1, 2, 0, n_common, n_channel, offset)


def test_link_mess_of_exactly_18_bytes_has_no_caps() -> None:
    assert LinkMess.parse(_mess(0, 0)) == LinkMess(1, 2, 0, (), ())
    with pytest.raises(WireError, match=r"^truncated SpiceLinkMess$"):
        LinkMess.parse(_mess(0, 0)[:17])


def test_link_caps_words_limit() -> None:
    limit = 1024  # MAX_CAPS_WORDS
    words = tuple(range(limit))
    got = LinkMess.parse(
        _mess(limit, limit) + struct.pack(f"<{2 * limit}I", *words, *words)
    )
    assert got.common_caps == got.channel_caps == words
    for n_common, n_channel in ((limit + 1, 0), (0, limit + 1)):
        body = _mess(n_common, n_channel) + bytes(4 * (n_common + n_channel))
        with pytest.raises(WireError, match=r"^too many capability words$"):
            LinkMess.parse(body)


def test_link_caps_one_byte_short() -> None:
    for n_common, n_channel in ((1, 0), (0, 2), (2, 1)):
        body = _mess(n_common, n_channel) + bytes(4 * (n_common + n_channel))
        assert len(LinkMess.parse(body).channel_caps) == n_channel
        with pytest.raises(
            WireError, match=r"^capabilities run past the link message$"
        ):
            LinkMess.parse(body[:-1])


def test_link_reply_words_are_unsigned() -> None:
    # error is a u32 (spice/protocol.h SpiceLinkReply.error)
    reply = LinkReply(0x80000001, bytes(162), (0xFFFFFFFF,), ())
    raw = reply.pack()
    assert raw[:4] == b"\x01\x00\x00\x80"
    assert LinkReply.parse(raw) == reply
    assert LinkReply.parse(b"\xff\xff\xff\xff").error == 0xFFFFFFFF
    bad = bytearray(raw)
    struct.pack_into("<I", bad, 166, 0x80000000)  # num_common_caps
    with pytest.raises(WireError, match=r"^too many capability words$"):
        LinkReply.parse(bytes(bad))


def test_link_reply_refusals() -> None:
    with pytest.raises(WireError, match=r"^truncated SpiceLinkReply$"):
        LinkReply.parse(b"\x07\x00\x00")
    ok = LinkReply(0).pack()
    assert len(ok) == 178 and LinkReply.parse(ok) == LinkReply(0)
    with pytest.raises(WireError, match=r"^truncated SpiceLinkReply$"):
        LinkReply.parse(ok[:177])
    with pytest.raises(ValueError, match=r"^pub_key must be 162 bytes$"):
        LinkReply(0, bytes(161)).pack()


# -- schema engine limits (spicepy.wire.schema: MAX_DEPTH pointer hops) ----------------
def _chain(hops: int) -> type:
    """A struct reached through ``hops`` nested pointers (L0 = one u8)."""
    cls = dataclasses.make_dataclass(
        "L0", [("value", int, dataclasses.field(metadata=wt(U8)))], frozen=True
    )
    for i in range(1, hops + 1):
        cls = dataclasses.make_dataclass(
            f"L{i}",
            [("next", Any, dataclasses.field(metadata=wt(Ptr(cls))))],
            frozen=True,
        )
    return cls


def _chain_body(hops: int) -> bytes:
    # each pointer (a u32 offset from the body start) points at the next word
    return b"".join(struct.pack("<I", 4 * (j + 1)) for j in range(hops)) + b"\x2a"


def test_pointers_nest_at_most_max_depth_deep() -> None:
    top = _chain(MAX_DEPTH)
    got: Any = decode_struct(top, _chain_body(MAX_DEPTH))
    for _ in range(MAX_DEPTH):
        got = got.next
    assert got.value == 42
    deeper = _chain(MAX_DEPTH + 1)
    with pytest.raises(WireError, match=r"^pointers nested too deeply$"):
        decode_struct(deeper, _chain_body(MAX_DEPTH + 1))


def test_raster_limit_is_inclusive() -> None:
    @dataclasses.dataclass(frozen=True)
    class Raster:
        w: int = dataclasses.field(metadata=wt(U8))
        h: int = dataclasses.field(metadata=wt(U8))
        data: bytes = dataclasses.field(
            metadata=wt(Bytes(RasterSize(8, "w", "h", limit=6, what="tile")))
        )

    got = decode_struct(Raster, b"\x03\x02" + b"abcdef").data
    assert type(got) is bytes and got == b"abcdef"  # a copy unless view=True
    with pytest.raises(WireError, match=r"^tile of 7 bytes is too big$"):
        decode_struct(Raster, b"\x07\x01" + b"abcdefg")


def test_array_items_see_the_fields_of_their_struct() -> None:
    # uint8 size; uint8 n; uint8 names[n][size]: each item's length is a field
    # of the struct holding the array, on the way out as on the way in
    @dataclasses.dataclass(frozen=True)
    class Names:
        size: int = dataclasses.field(metadata=wt(U8))
        n: int = dataclasses.field(metadata=wt(U8))
        names: tuple[bytes, ...] = dataclasses.field(
            metadata=wt(Array(Bytes("size"), "n"))
        )

    msg = Names(2, 3, (b"ab", b"cd", b"ef"))
    assert encode_struct(msg) == b"\x02\x03abcdef"
    assert decode_struct(Names, b"\x02\x03abcdef") == msg
    with pytest.raises(
        ValueError, match=r"^array has 2 items, its count field says otherwise$"
    ):
        encode_struct(Names(2, 3, (b"ab", b"cd")))
    assert [repr(t) for t in (U8, U16, U32, U64, I8, I16, I32, I64)] == [
        "U8",
        "U16",
        "U32",
        "U64",
        "I8",
        "I16",
        "I32",
        "I64",
    ]


def test_header_defaults_and_truncation() -> None:
    # SpiceDataHeader: uint64 serial; uint16 type; uint32 size; uint32 sub_list
    assert pack_header(7, 3, mini=False) == struct.pack("<QHII", 0, 7, 3, 0)
    assert pack_header(7, 3, mini=True) == struct.pack("<HI", 7, 3)
    with pytest.raises(WireError, match=r"^truncated data header$"):
        parse_header(bytes(17), False)
    with pytest.raises(WireError, match=r"^truncated data header$"):
        parse_header(bytes(5), True)


def test_integer_wire_types_by_name() -> None:
    # little-endian, width and sign from the spice.proto type name
    data = bytes([0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88])
    expect = {
        "u8": 0x81,
        "u16": 0x8281,
        "u32": 0x84838281,
        "u64": 0x8887868584838281,
        "i8": 0x81 - (1 << 8),
        "i16": 0x8281 - (1 << 16),
        "i32": 0x84838281 - (1 << 32),
        "i64": 0x8887868584838281 - (1 << 64),
    }
    for name, value in expect.items():
        wtype = _Int(name)
        assert wtype.name == name and repr(wtype) == name.upper()
        r = Reader(Buffer(data))
        assert wtype.pull(r, {}) == value
        assert r.buf.position == int(name[1:]) // 8
        w = Writer()
        wtype.push(w, value, {})
        assert w.finish() == data[: int(name[1:]) // 8]


def test_array_elements_are_one_byte_at_least_by_default() -> None:
    # the pre-check assumes 1 byte an element unless told more: n u8 items in
    # exactly n bytes fit
    @dataclasses.dataclass(frozen=True)
    class Bytes3:
        n: int = dataclasses.field(metadata=wt(U8))
        items: tuple[int, ...] = dataclasses.field(metadata=wt(Array(U8, "n")))

    assert decode_struct(Bytes3, b"\x03abc").items == (97, 98, 99)
    with pytest.raises(WireError, match=r"^array of 4 items does not fit in 3 bytes$"):
        decode_struct(Bytes3, b"\x04abc")


def test_message_names_by_direction_and_range() -> None:
    # spice.proto: 100 is no message of any channel (BASE_LAST: common ones are
    # below, a channel's own start at 101); INPUTS 101 is INIT from the server
    # and KEY_DOWN from the client; common 4 is PING / MIGRATE_FLUSH_MARK
    assert message_name(2, 100) == "UNKNOWN_100"
    assert message_name(3, 101) == "INIT"
    assert message_name(3, 101, from_server=False) == "KEY_DOWN"
    assert message_name(1, 4) == "PING"
    assert message_name(1, 4, from_server=False) == "MIGRATE_FLUSH_MARK"
    assert message_name(2, 99) == "UNKNOWN_99"


def test_array_to_the_end_refuses_elements_of_no_bytes() -> None:
    # an element whose only field is absent takes no bytes: reading "to the
    # end" would never end, so the engine refuses it
    @dataclasses.dataclass(frozen=True)
    class Empty:
        x: int | None = dataclasses.field(metadata=wt(U8, lambda v: False))

    @dataclasses.dataclass(frozen=True)
    class Tail:
        items: tuple[Empty, ...] = dataclasses.field(metadata=wt(Array(Empty, None)))

    assert decode_struct(Tail, b"").items == ()
    with pytest.raises(WireError, match=r"^array element of no bytes before @end$"):
        decode_struct(Tail, b"\x01")


# -- VD-agent framing (spice-protocol vd_agent.h) --------------------------------------
def test_agent_header_size_limit_is_inclusive() -> None:
    # VDAgentMessage: uint32 protocol (1), type; uint64 opaque; uint32 size
    limit = 128 * 1024 * 1024  # MAX_AGENT_MESSAGE_SIZE
    assert parse_agent_header(struct.pack("<IIQI", 1, 4, 0, limit)).size == limit
    with pytest.raises(WireError, match=rf"^agent message of {limit + 1} bytes"):
        parse_agent_header(struct.pack("<IIQI", 1, 4, 0, limit + 1))


def test_agent_encode_refusals_and_defaults() -> None:
    with pytest.raises(TypeError, match=r"^bytes is not an agent message$"):
        encode_agent_message(b"x")
    # without CLIPBOARD_SELECTION only the CLIPBOARD selection (0) exists
    with pytest.raises(
        ValueError, match=r"^the agent lacks CLIPBOARD_SELECTION: clipboard only$"
    ):
        encode_agent_message(ClipboardRequest(1, selection=1))
    with pytest.raises(
        ValueError,
        match=r"^CLIPBOARD_GRAB_SERIAL negotiated: the grab needs a serial$",
    ):
        encode_agent_message(ClipboardGrab((1,)), grab_serial_cap=True)
    # no serial without the cap: header (20 bytes) + one u32 type
    raw = encode_agent_message(ClipboardGrab((1,), serial=9))
    assert raw == struct.pack("<IIQI", 1, 7, 0, 4) + struct.pack("<I", 1)


def test_agent_decode_refusals_and_defaults() -> None:
    grab = struct.pack("<I", 9) + struct.pack("<I", 1)
    # without the serial cap the first word is a type, not a serial
    got = decode_agent_message(7, grab)
    assert got.types == (9, 1) and got.serial is None
    with pytest.raises(
        WireError, match=r"^ClipboardRequest: selection prefix truncated$"
    ):
        decode_agent_message(8, b"\x00\x00\x00", selection_cap=True)
    with pytest.raises(WireError, match=r"^ClipboardRequest: unknown selection 3$"):
        decode_agent_message(8, b"\x03\x00\x00\x00" + bytes(4), selection_cap=True)
    with pytest.raises(WireError, match=r"^ClipboardGrab: serial truncated$"):
        decode_agent_message(7, b"\x01\x00\x00", grab_serial_cap=True)
    with pytest.raises(WireError, match=r"^agent REPLY: "):
        decode_agent_message(3, b"\x01")
    plain = decode_agent_message(3, struct.pack("<II", 4, 0))
    assert (plain.type, plain.error) == (4, 0)


def test_agent_caps_words_beyond_the_first() -> None:
    # vd_agent.h VD_AGENT_SET_CAPABILITY: caps[index / 32] |= 1 << (index % 32)
    assert agent_caps_to_words({32}) == (0, 1)
    assert agent_caps_to_words({0, 65}) == (1, 0, 2)
    assert agent_words_to_caps((0, 1)) == frozenset({32})
