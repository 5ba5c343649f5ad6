"""usbredir packets (spicepy.wire.usbredir): generated round trips for every type,
the negotiated short layouts, exact bytes of usbredirproto.h's structs, and
malformed bodies ending in WireError."""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.errors import WireError
from spicepy.wire import schema
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirCap as Cap
from spicepy.wire.usbredir import UsbredirType as T

ALL = frozenset(Cap)
NONE: frozenset[int] = frozenset()
CLASSES = sorted(u.packet_classes().items())


def _strategy(wtype: Any) -> st.SearchStrategy[Any]:
    """Values for one field, from its declared wire type."""
    if isinstance(wtype, schema._Int):
        bits = {"u8": 8, "u16": 16, "u32": 32, "u64": 64}[wtype.name]
        return st.integers(0, (1 << bits) - 1)
    if isinstance(wtype, schema.Array):
        elem = _strategy(wtype.elem)
        if isinstance(wtype.count, int):
            return st.tuples(*[elem] * wtype.count)
        return st.lists(elem, max_size=4).map(tuple)
    if isinstance(wtype, schema.Bytes):
        assert isinstance(wtype.count, int)
        return st.binary(min_size=wtype.count, max_size=wtype.count)
    if isinstance(wtype, schema.Rest):
        return st.binary(max_size=64)
    raise AssertionError(f"no strategy for {wtype!r}")


def packets(cls: type[Any]) -> st.SearchStrategy[Any]:
    kwargs = {name: _strategy(w) for name, w, _ in schema.spec(cls)}
    if cls is u.InterfaceInfo:
        kwargs["interface_count"] = st.integers(0, 32)
    if cls is u.FilterFilter:
        kwargs["rules"] = st.binary(max_size=40).map(lambda b: b + b"\0")
    return st.builds(cls, **kwargs)


def _short(pkt: Any, negotiated: frozenset[int]) -> Any:
    """``pkt`` with the fields the negotiated layout drops set to zero."""
    drops: dict[int, dict[str, Any]] = {
        T.DEVICE_CONNECT: {"device_version_bcd": 0},
        T.BULK_PACKET: {"length_high": 0},
        T.EP_INFO: {"max_streams": (0,) * 32},
    }
    cut = drops.get(pkt.PACKET_TYPE, {})
    if pkt.PACKET_TYPE == T.EP_INFO and Cap.EP_INFO_MAX_PACKET_SIZE not in negotiated:
        cut = {**cut, "max_packet_size": (0,) * 32}
    return dataclasses.replace(pkt, **cut)


@pytest.mark.parametrize("ptype,cls", CLASSES, ids=[c.__name__ for _, c in CLASSES])
@given(data=st.data(), ids64=st.booleans(), packet_id=st.integers(0, 2**32 - 1))
def test_round_trip_every_packet(
    ptype: int, cls: type[Any], data: st.DataObject, ids64: bool, packet_id: int
) -> None:
    pkt = data.draw(packets(cls))
    for negotiated in (ALL, NONE, frozenset({Cap.EP_INFO_MAX_PACKET_SIZE})):
        want = _short(pkt, negotiated) if negotiated != ALL else pkt
        raw = u.encode_packet(want, packet_id, negotiated=negotiated, ids64=ids64)
        hdr = u.parse_packet_header(raw, ids64)
        assert (hdr.type, hdr.id) == (ptype, packet_id)
        assert hdr.length == len(raw) - u.header_size(ids64)
        body = raw[u.header_size(ids64) :]
        assert u.decode_packet(ptype, body, negotiated) == want


def test_exact_bytes_follow_usbredirproto_h() -> None:
    # usb_redir_header_32bit_id + usb_redir_device_connect_header, little-endian
    pkt = u.DeviceConnect(u.UsbSpeed.HIGH, 9, 1, 2, 0x1D6B, 0x0104, 0x0510)
    full = u.encode_packet(pkt, 5, negotiated=ALL, ids64=False)
    assert full == struct.pack("<III4BHHH", 1, 10, 5, 2, 9, 1, 2, 0x1D6B, 0x104, 0x510)
    # without CONNECT_DEVICE_VERSION the bcd is not on the wire (compat header)
    pkt8 = dataclasses.replace(pkt, device_version_bcd=0)
    short = u.encode_packet(pkt8, 5, negotiated=NONE, ids64=True)
    assert short == struct.pack("<IIQ4BHH", 1, 8, 5, 2, 9, 1, 2, 0x1D6B, 0x104)
    # bulk: 16-bit length layout unless 32BITS_BULK_LENGTH
    bulk = u.BulkPacket(0x02, 0, 3, 0, 0, b"abc")
    assert u.encode_packet(bulk, 1, negotiated=NONE, ids64=False) == (
        struct.pack("<III2BHI", 101, 11, 1, 2, 0, 3, 0) + b"abc"
    )
    hello = u.Hello(b"qemu".ljust(64, b"\0"), (0xFF,))
    raw = u.encode_packet(hello, 0, negotiated=NONE, ids64=False)
    assert (
        raw == struct.pack("<III", 0, 68, 0) + b"qemu".ljust(64, b"\0") + b"\xff\0\0\0"
    )
    assert u.decode_packet(0, raw[12:], NONE).version_text == "qemu"


@pytest.mark.parametrize(
    "negotiated,size",
    [
        (ALL, 288),
        (frozenset({Cap.EP_INFO_MAX_PACKET_SIZE}), 160),
        (frozenset({Cap.BULK_STREAMS}), 96),
        (NONE, 96),
    ],
)
def test_ep_info_layout_by_caps(negotiated: frozenset[int], size: int) -> None:
    # usbredirparser_get_type_header_len: streams need the max-packet-size cap too
    assert u.type_header_size(T.EP_INFO, u.negotiate(negotiated, ALL)) == size


def test_negotiate_drops_streams_without_packet_size() -> None:
    assert u.negotiate(ALL, {Cap.BULK_STREAMS, Cap.FILTER}) == {Cap.FILTER}
    assert u.negotiate(ALL, ALL) == ALL
    assert u.words_to_caps(u.caps_to_words({0, 5, 33})) == {0, 5, 33}
    assert u.caps_to_words({Cap.IDS_64BITS}) == (32,)


def test_ep_index_is_usbredirhost_ep2i() -> None:
    assert [u.ep_index(a) for a in (0x00, 0x01, 0x0F, 0x80, 0x81, 0x8F)] == [
        0,
        1,
        15,
        16,
        17,
        31,
    ]


def test_encode_refuses_what_the_layout_cannot_carry() -> None:
    big = u.BulkPacket(0x82, 0, 0, 0, 1)  # 64 KiB: needs length_high
    with pytest.raises(ValueError, match="capability"):
        u.encode_packet(big, negotiated=NONE, ids64=False)
    with pytest.raises(ValueError, match="64-bit ids"):
        u.encode_packet(u.Reset(), 1 << 32, negotiated=ALL, ids64=False)


@pytest.mark.parametrize(
    "ptype,body,match",
    [
        (999, b"", "unknown"),
        (T.DEVICE_CONNECT, b"\0" * 9, "header needs 10"),
        (T.RESET, b"\0", "expected 0"),
        (T.SET_CONFIGURATION, b"\1\2", "expected 1"),
        (T.CONTROL_PACKET, b"\0" * 9, "header needs"),
        (T.INTERFACE_INFO, struct.pack("<I", 33) + bytes(128), "interface_count"),
        (T.FILTER_FILTER, b"0x03,-1,-1,-1,1", "NUL"),
        (T.FILTER_FILTER, b"", "NUL"),
        (T.HELLO, b"v" * 63, "header needs 64"),
    ],
)
def test_malformed_bodies_are_wire_errors(ptype: int, body: bytes, match: str) -> None:
    with pytest.raises(WireError, match=match):
        u.decode_packet(ptype, body, ALL)


@given(ptype=st.sampled_from([t for t, _ in CLASSES]), body=st.binary(max_size=300))
def test_random_bodies_decode_or_raise_wire_error(ptype: int, body: bytes) -> None:
    for negotiated in (ALL, NONE):
        try:
            pkt = u.decode_packet(ptype, body, negotiated)
        except WireError:
            continue
        # what decodes re-encodes to the same bytes (hello drops a partial word)
        again = u.encode_packet(pkt, negotiated=negotiated, ids64=False)[12:]
        assert again == (body[: 64 + (len(body) - 64) // 4 * 4] if ptype == 0 else body)
