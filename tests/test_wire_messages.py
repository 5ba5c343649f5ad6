"""Round trips generated from the message definitions, for every message type.

Values are drawn from the schema itself: integers by wire type, count fields small,
switch selectors from their meaningful values, pointers NULL or set.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spicepy.errors import WireError
from spicepy.wire import all_messages, decode_message, encode_message
from spicepy.wire.enums import BrushType, ClipType, CursorFlags, ImageType
from spicepy.wire.schema import Array, Bytes, Ptr, Rest, Struct, _Int, spec
from spicepy.wire.types import (
    BitmapData,
    Brush,
    Clip,
    Cursor,
    ImageDescriptor,
    RasterGlyphA1,
    RasterGlyphA4,
    RasterGlyphA8,
)

MESSAGES = sorted(
    all_messages(), key=lambda c: (c.CHANNEL, not c.FROM_SERVER, c.MSG_TYPE)
)
_RANGES = {"u8": 8, "u16": 16, "u32": 32, "u64": 64}
#: classes whose byte counts are computed from several fields: keep them tiny
_SMALL = {BitmapData, RasterGlyphA1, RasterGlyphA4, RasterGlyphA8}
#: switch selectors: draw from the values that select something
_SELECTORS: dict[tuple[type, str], list[int]] = {
    (Clip, "type"): [ClipType.NONE, ClipType.RECTS],
    (Brush, "type"): [BrushType.NONE, BrushType.SOLID, BrushType.PATTERN],
    (ImageDescriptor, "type"): [int(t) for t in ImageType],
    (Cursor, "flags"): [
        0,
        CursorFlags.NONE,
        CursorFlags.CACHE_ME,
        CursorFlags.FROM_CACHE,
    ],
}


def _int_strategy(wtype: _Int) -> st.SearchStrategy[int]:
    signed = wtype.name.startswith("i")
    bits = int(wtype.name[1:]) if signed else _RANGES[wtype.name]
    if signed:
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return st.integers(0, (1 << bits) - 1)


def _count_fields(cls: type) -> set[str]:
    names = set()
    for _, wtype, _ in spec(cls):
        target = wtype.target if isinstance(wtype, Ptr) else wtype
        count = getattr(target, "count", None)
        if isinstance(count, str):
            names.add(count)
    return names


def build(cls: type, data: st.DataObject, depth: int = 0) -> Any:
    """A random, self-consistent instance of a schema dataclass."""
    values: dict[str, Any] = {}
    counts = _count_fields(cls)
    for name, wtype, cond in spec(cls):
        if cond is not None and not cond(values):
            values[name] = None
            continue
        values[name] = _value(cls, name, wtype, values, counts, data, depth)
    return cls(**values)


def _value(
    cls: type,
    name: str,
    wtype: Any,
    values: dict[str, Any],
    counts: set[str],
    data: st.DataObject,
    depth: int,
) -> Any:
    if isinstance(wtype, _Int):
        if (cls, name) in _SELECTORS:
            return data.draw(st.sampled_from(_SELECTORS[(cls, name)]))
        if name in counts or cls in _SMALL:
            return data.draw(st.integers(0, 3))
        return data.draw(_int_strategy(wtype))
    if isinstance(wtype, Struct):
        return build(wtype.cls, data, depth + 1)
    if isinstance(wtype, Ptr):
        if depth > 3 or data.draw(st.booleans()):
            return None
        return _value(cls, name, wtype.target, values, counts, data, depth + 1)
    if isinstance(wtype, Array):
        n = _resolve(wtype.count, values)
        return tuple(
            _value(cls, name, wtype.elem, values, set(), data, depth + 1)
            for _ in range(n)
        )
    if isinstance(wtype, Bytes):
        return data.draw(
            st.binary(
                min_size=_resolve(wtype.count, values),
                max_size=_resolve(wtype.count, values),
            )
        )
    if isinstance(wtype, Rest):
        return data.draw(st.binary(max_size=16))
    raise AssertionError(f"no strategy for {wtype!r}")


def _resolve(count: Any, values: dict[str, Any]) -> int:
    if isinstance(count, int):
        return count
    if isinstance(count, str):
        return int(values[count])
    return int(count(values))


def test_every_channel_has_definitions() -> None:
    channels = {(c.CHANNEL, c.FROM_SERVER) for c in MESSAGES}
    for ch in (0, 1, 2, 3, 4, 5, 6):
        assert (ch, True) in channels
    assert len(MESSAGES) > 120


@pytest.mark.parametrize(
    "cls", MESSAGES, ids=lambda c: f"{c.CHANNEL}-{c.FROM_SERVER}-{c.__name__}"
)
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    msg = build(cls, data)
    msg_type, body = encode_message(msg)
    assert msg_type == cls.MSG_TYPE
    channel = cls.CHANNEL if cls.CHANNEL else 1
    back = decode_message(channel, msg_type, body, from_server=cls.FROM_SERVER)
    assert type(back) is cls
    assert back == msg
    assert encode_message(back) == (msg_type, body)
    # every truncation either still parses (trailing optional bytes) or is a WireError
    for cut in sorted({0, len(body) // 2, max(len(body) - 1, 0)}):
        try:
            decode_message(channel, msg_type, body[:cut], from_server=cls.FROM_SERVER)
        except WireError:
            pass


def test_rect_is_top_left_bottom_right() -> None:
    from spicepy.wire.msg_display import CopyBits, SurfaceCreate
    from spicepy.wire.types import CLIP_NONE, DisplayBase, Point, Rect

    body = struct.pack("<I4iB2i", 7, 10, 20, 30, 40, 0, 5, 6)
    msg = decode_message(2, 104, body)
    assert isinstance(msg, CopyBits)
    assert msg.base == DisplayBase(
        7, Rect(top=10, left=20, bottom=30, right=40), CLIP_NONE
    )
    assert msg.src_pos == Point(5, 6)
    assert msg.base.box.width == 20 and msg.base.box.height == 20
    assert encode_message(SurfaceCreate(0, 1024, 768, 32, 1)) == (
        314,
        struct.pack("<5I", 0, 1024, 768, 32, 1),
    )


def test_draw_copy_pointer_layout() -> None:
    """A DRAW_COPY as spice-server lays it out: fixed part, then the image."""
    from spicepy.wire.msg_display import DrawCopy

    fixed = struct.pack("<I4iB", 0, 0, 0, 8, 8, 0)  # base, clip NONE
    image_off = len(fixed) + 4 + 16 + 2 + 1 + 13
    fixed += struct.pack("<I4iHB", image_off, 0, 0, 8, 8, 8, 0)  # src, area, PUT, scale
    fixed += struct.pack("<B2iI", 0, 0, 0, 0)  # mask: none
    payload = b"\x20\x20ZL" + bytes(24)
    image = struct.pack("<QBBII", 77, ImageType.LZ_RGB, 1, 8, 8)
    image += struct.pack("<I", len(payload)) + payload
    msg = decode_message(2, 304, fixed + image)
    assert isinstance(msg, DrawCopy)
    src = msg.data.src_bitmap
    assert src is not None and src.descriptor.id == 77 and src.descriptor.flags == 1
    assert src.binary is not None and bytes(src.binary.data) == payload
    assert bytes(src.payload or b"") == payload
    assert msg.data.rop_descriptor == 8 and msg.data.mask.bitmap is None
    assert encode_message(msg)[1] == fixed + image


@pytest.mark.parametrize(
    "channel,msg_type,body",
    [
        (
            2,
            304,
            struct.pack("<I4iB", 0, 0, 0, 8, 8, 0)
            + struct.pack("<I", 4000)
            + bytes(40),
        ),
        (2, 302, struct.pack("<I4iBI", 0, 0, 0, 8, 8, 1, 0xFFFFFFF)),  # huge clip count
        (2, 123, struct.pack("<III", 1, 2, 1 << 30)),  # stream data beyond body
        (1, 104, struct.pack("<I", 1 << 31)),  # channels list count
        (4, 101, b"\x00" * 5),
    ],
)
def test_hostile_bodies_raise_wire_error(
    channel: int, msg_type: int, body: bytes
) -> None:
    with pytest.raises(WireError):
        decode_message(channel, msg_type, body)


def test_unknown_message_kept() -> None:
    from spicepy.wire import UnknownMessage

    msg = decode_message(2, 999, b"abc")
    assert msg == UnknownMessage(2, 999, b"abc", True)
    assert encode_message(msg) == (999, b"abc")


def test_definitions_are_frozen_slotted() -> None:
    for cls in MESSAGES:
        assert dataclasses.is_dataclass(cls)
        assert "__slots__" in cls.__dict__
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen
