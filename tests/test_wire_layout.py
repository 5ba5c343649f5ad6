"""``wire.layout``: the offsets it derives are where the schema's writer puts
each field, for every shape the display lane reads (clip none / 0 / 1
rectangles, solid brush, cached and surface images)."""

from __future__ import annotations

from typing import Any

import pytest
from _canvas_build import Image, Point, QMask, Rect, base, solid
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.wire import msg_display as md
from spicepy.wire import types as wt
from spicepy.wire.enums import BrushType, ClipType, ImageType
from spicepy.wire.layout import Slot, layout
from spicepy.wire.schema import encode_struct

I32 = st.integers(-(1 << 31), (1 << 31) - 1)
U32 = st.integers(0, (1 << 32) - 1)
U16 = st.integers(0, 0xFFFF)
U8 = st.integers(0, 0xFF)
RECT = st.builds(wt.Rect, I32, I32, I32, I32)
CLIP = st.one_of(st.none(), st.lists(RECT, max_size=1))
#: the self-contained codecs whose kept images the lane decodes itself
LANE_STREAM_TYPES = (ImageType.LZ_RGB, ImageType.QUIC, ImageType.LZ4)
#: the image types the lane reads, in its order (``_lane.offsets``)
LANE_IMAGE_TYPES = (
    ImageType.FROM_CACHE,
    ImageType.FROM_CACHE_LOSSLESS,
    ImageType.SURFACE,
    *LANE_STREAM_TYPES,
)


@st.composite
def images(draw: Any) -> wt.Image:
    kind = draw(st.sampled_from(LANE_IMAGE_TYPES))
    surface = draw(U32) if kind == ImageType.SURFACE else None
    data = draw(st.binary(max_size=12)) if kind in LANE_STREAM_TYPES else b""
    return Image(
        draw(st.integers(0, (1 << 64) - 1)),
        kind,
        draw(U8),
        draw(U32),
        draw(U32),
        surface_id=surface,
        data=data,
    )


def image_shape(image: wt.Image) -> dict[str, int]:
    """The values of the fields that decide ``image``'s layout."""
    given = {"descriptor.type": image.descriptor.type}
    if image.binary is not None:
        given["binary.data_size"] = image.binary.data_size
    return given


def _base(draw: Any) -> Any:
    return base(draw(U32), draw(RECT), draw(CLIP))


@st.composite
def draws(draw: Any) -> Any:
    """A DRAW_FILL (solid), DRAW_COPY / DRAW_BLEND (an image the lane may read)
    or COPY_BITS, clipped by nothing or by 0 or 1 rectangle."""
    kind = draw(st.sampled_from([md.DrawFill, md.DrawCopy, md.DrawBlend, md.CopyBits]))
    mask = QMask(draw(U8), Point(draw(I32), draw(I32)))
    if kind is md.DrawFill:
        return md.DrawFill(_base(draw), md.Fill(solid(draw(U32)), draw(U16), mask))
    if kind is md.CopyBits:
        return md.CopyBits(_base(draw), wt.Point(draw(I32), draw(I32)))
    data = md.Copy(draw(images()), draw(RECT), draw(U16), draw(U8), mask)
    return kind(_base(draw), data)


def shape_of(msg: Any) -> dict[str, int]:
    """The values of the fields that decide ``msg``'s layout."""
    clip = msg.base.clip
    given = {"base.clip.type": clip.type}
    if clip.rects is not None:
        given["base.clip.num_rects"] = len(clip.rects)
    if type(msg) is md.DrawFill:
        given["data.brush.type"] = msg.data.brush.type
    return given


def value_at(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = obj[int(name)] if name.isdigit() else getattr(obj, name)
    return obj


def read(body: bytes, slot: Slot) -> int:
    return int.from_bytes(
        body[slot.offset : slot.offset + slot.width], "little", signed=slot.signed
    )


@settings(max_examples=300, deadline=None)
@given(draws())
def test_every_slot_is_where_the_writer_puts_the_field(msg: Any) -> None:
    body = encode_struct(msg)
    lay = layout(type(msg), shape_of(msg))
    assert lay.size is not None and lay.size <= len(body)
    pointers = 0
    for path, slot in lay.slots.items():
        value = value_at(msg, path)
        if path in ("data.src_bitmap", "data.mask.bitmap"):
            # the writer appends the first target right after the fixed part
            if value is not None:
                assert read(body, slot) == lay.size
                pointers += 1
            else:
                assert read(body, slot) == 0
            continue
        assert read(body, slot) == value, path
    if not pointers:
        assert lay.size == len(body)
    # every integer field of the message has a slot
    assert "base.box.right" in lay.slots and "base.clip.type" in lay.slots


@settings(max_examples=100, deadline=None)
@given(images())
def test_an_image_layout_ends_where_its_body_does(image: wt.Image) -> None:
    body = encode_struct(image)
    lay = layout(wt.Image, image_shape(image))
    assert lay.size == len(body)
    for path, slot in lay.slots.items():
        assert read(body, slot) == value_at(image, path), path


def test_the_walk_stops_where_the_shape_is_not_given() -> None:
    lay = layout(md.DrawFill, {"base.clip.type": ClipType.NONE})
    assert lay.size is None
    assert list(lay.slots)[-1] == "data.brush.type"  # the color's presence is unknown
    lay = layout(md.DrawCopy)
    assert lay.size is None and list(lay.slots)[-1] == "base.clip.type"
    rects = layout(md.CopyBits, {"base.clip.type": ClipType.RECTS})
    assert rects.size is None and list(rects.slots)[-1] == "base.clip.num_rects"
    absent = layout(wt.Brush, {"type": BrushType.NONE})
    assert absent == layout(wt.Brush, {"type": BrushType.NONE}) and absent.size == 1


@pytest.mark.parametrize("count", [0, 1, 3])
def test_an_array_takes_its_given_count(count: int) -> None:
    lay = layout(wt.Clip, {"type": ClipType.RECTS, "num_rects": count})
    assert lay.size == 5 + 16 * count
    assert (f"rects.{count - 1}.right" in lay.slots) == (count > 0)
    msg = wt.Clip(
        ClipType.RECTS,
        num_rects=count,
        rects=tuple(Rect(k, 2 * k, 3 * k, 4 * k) for k in range(count)),
    )
    assert len(encode_struct(msg)) == lay.size


#: the image types whose body is ``BinaryData`` (data_size, then the stream)
BINARY_TYPES = (ImageType.QUIC, ImageType.LZ_RGB, ImageType.GLZ_RGB, ImageType.LZ4)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(BINARY_TYPES), st.binary(max_size=40), U8, U32, U32)
def test_a_byte_string_starts_where_the_writer_puts_its_first_byte(
    kind: int, data: bytes, flags: int, width: int, height: int
) -> None:
    """A byte string's start is in ``starts``; its count not given, the walk
    stops there, given it ends where the body does."""
    image = Image(7, kind, flags, width, height, data=data)
    body = encode_struct(image)
    open_ended = layout(wt.Image, {"descriptor.type": kind})
    assert open_ended.size is None
    at = open_ended.starts["binary.data"]
    size = open_ended.slots["binary.data_size"]
    assert read(body, size) == len(data) and size.offset + 4 == at
    assert body[at:] == data
    given_size = layout(
        wt.Image, {"descriptor.type": kind, "binary.data_size": len(data)}
    )
    assert given_size.size == len(body) and given_size.starts == {"binary.data": at}
