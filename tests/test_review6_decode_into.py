"""Review of decoding into the surface (``ImageResolver.copy_onto``): clips
that cut columns and ROPs other than COPY, which ``test_canvas_decode_into``'s
sequences never draw, must give the pixels of the fresh-array path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _canvas_build import Image, Rect, copy
from spicepy.codecs import glz, lz4, quic
from test_canvas_decode_into import fresh_canvas, never_in_place

from spicepy.canvas import Canvas
from spicepy.canvas.images import CachedImage, ImageResolver
from spicepy.canvas.surface import SurfaceFormat
from spicepy.wire import types as wt
from spicepy.wire.enums import ImageFlags, ImageType
from spicepy.wire.enums import RopDescriptor as RopD

W, H = 12, 9
WHOLE = Rect(0, 0, W, 6)


def draw(
    kind: int,
    rects: list[wt.Rect] | None,
    rop: int,
    in_place: bool,
    area: wt.Rect = WHOLE,
) -> np.ndarray:
    """A whole-rows image (rows 2..8, source ``area``) drawn over a primary
    painted 0x5A."""
    img = np.random.default_rng(kind).integers(0, 256, (6, W, 4), np.uint8)
    img[..., 3] = 0
    data = (
        lz4.encode(img)
        if kind == ImageType.LZ4
        else quic.encode(img, image_type="RGB32")
    )
    c = fresh_canvas(W, H)
    assert c.primary is not None
    c.primary.pixels[...] = 0x5A
    image = Image(1, kind, 0, W, 6, data=data)
    with pytest.MonkeyPatch.context() as mp:
        if not in_place:
            mp.setattr(ImageResolver, "copy_onto", never_in_place)
        copy(c, 0, Rect(0, 2, W, 8), rects, image, area, rop)
    return c.primary.pixels.copy()


CLIPS = {
    "left columns cut": [Rect(3, 0, W, H)],
    "right columns cut": [Rect(0, 0, W - 2, H)],
    "both sides cut": [Rect(1, 2, W - 1, 8)],
    "a clip past the surface": [Rect(-4, -4, W + 4, H + 4)],
}


@pytest.mark.parametrize("kind", [ImageType.LZ4, ImageType.QUIC])
@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_a_clip_cutting_columns_keeps_them(kind: int, clip: str) -> None:
    rects = CLIPS[clip]
    got = draw(kind, rects, RopD.OP_PUT, True)
    np.testing.assert_array_equal(got, draw(kind, rects, RopD.OP_PUT, False))
    x0 = max(rects[0].left, 0)
    if x0:  # the columns left of the clip keep the paint, rows 2..8 included
        assert (got[:, :x0] == 0x5A).all()


@pytest.mark.parametrize("rop", [RopD.OP_OR, RopD.OP_XOR, RopD.OP_AND])
def test_a_rop_other_than_copy_combines_with_the_rows(rop: int) -> None:
    got = draw(ImageType.LZ4, None, rop, True)
    np.testing.assert_array_equal(got, draw(ImageType.LZ4, None, rop, False))
    assert not (
        got[2:8, :, :3] == draw(ImageType.LZ4, None, RopD.OP_PUT, False)[2:8, :, :3]
    ).all()


@pytest.mark.parametrize("kind", [ImageType.LZ4, ImageType.QUIC])
@pytest.mark.parametrize("offset", [(0, 1), (1, 0), (0, -1), (-1, 0), (2, 3)])
def test_a_source_area_off_the_origin_reads_the_same_pixels(
    kind: int, offset: tuple[int, int]
) -> None:
    sx, sy = offset
    area = Rect(sx, sy, sx + W, sy + 6)
    got = draw(kind, None, RopD.OP_PUT, True, area)
    np.testing.assert_array_equal(got, draw(kind, None, RopD.OP_PUT, False, area))


def _lz4_image(flags: int) -> tuple[Any, np.ndarray]:
    img = np.random.default_rng(5).integers(0, 256, (6, W, 4), np.uint8)
    img[..., 3] = 0
    return Image(1, ImageType.LZ4, flags, W, 6, data=lz4.encode(img)), img


@pytest.mark.parametrize("flags", [0, ImageFlags.HIGH_BITS_SET])
def test_high_bits_set_on_an_alpha_surface(flags: int) -> None:
    """On an ARGB primary the X byte shows: HIGH_BITS_SET makes it 0xFF in
    place as in the fresh array."""
    out = []
    for in_place in (True, False):
        c = Canvas()
        c.create_surface(0, W, H, SurfaceFormat.FMT_32_ARGB)
        assert c.primary is not None
        c.primary.pixels[...] = 0x5A
        image, img = _lz4_image(flags)
        hooked: list[Any] = []
        c.images.decoded_hook = lambda im, _decoded, seen=hooked: seen.append(im)
        with pytest.MonkeyPatch.context() as mp:
            if not in_place:
                mp.setattr(ImageResolver, "copy_onto", never_in_place)
            copy(c, 0, Rect(0, 2, W, 8), None, image, WHOLE, RopD.OP_PUT)
        assert hooked == [image]  # the stats hook sees the decode either way
        out.append(
            (
                c.primary.pixels.copy(),
                c.images.decoded_pixels,
                c.pixels_drawn,
                c.images.decode_seconds,
            )
        )
    np.testing.assert_array_equal(out[0][0], out[1][0])
    assert (out[0][0][2:8, :, 3] == (0xFF if flags else 0)).all()
    assert out[0][1] == out[1][1] == W * 6  # decoded_pixels counts it
    assert out[0][2] == out[1][2] == W * 6  # and the canvas's pixels_drawn
    assert out[0][3] > 0  # the in-place decode's seconds are counted


def test_an_image_decoded_ahead_is_drawn_not_decoded_again() -> None:
    """A picture ``session.offload`` decoded on a worker (``predecoded``) is
    the one drawn, and taken out of ``predecoded``."""
    c = fresh_canvas(W, H)
    assert c.primary is not None
    image, _ = _lz4_image(0)
    ahead = np.full((6, W, 4), 0x33, np.uint8)
    c.images.predecoded[id(image)] = (image, CachedImage(ahead, False, False), None)
    copy(c, 0, Rect(0, 2, W, 8), None, image, WHOLE, RopD.OP_PUT)
    assert (c.primary.pixels[2:8, :, :3] == 0x33).all()
    assert not c.images.predecoded


def test_high_bits_set_leaves_an_alpha_images_alpha() -> None:
    """HIGH_BITS_SET forces 0xFF only where the image has no alpha of its own."""
    img = np.random.default_rng(9).integers(0, 256, (6, W, 4), np.uint8)
    data = quic.encode(img, image_type="RGBA")
    out = []
    for in_place in (True, False):
        c = Canvas()
        c.create_surface(0, W, H, SurfaceFormat.FMT_32_ARGB)
        assert c.primary is not None
        image = Image(1, ImageType.QUIC, ImageFlags.HIGH_BITS_SET, W, 6, data=data)
        with pytest.MonkeyPatch.context() as mp:
            if not in_place:
                mp.setattr(ImageResolver, "copy_onto", never_in_place)
            copy(c, 0, Rect(0, 2, W, 8), None, image, WHOLE, RopD.OP_PUT)
        out.append(c.primary.pixels.copy())
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0][2:8, :, 3], img[..., 3])


def test_a_whole_rows_glz_image_is_drawn_not_refused() -> None:
    """GLZ keeps the array it decodes to, so it never decodes into the rows;
    it is drawn as any image (not dropped as a codec refusal)."""
    img = np.random.default_rng(11).integers(0, 256, (6, W, 4), np.uint8)
    img[..., 3] = 0
    data = glz.encode(img, encoder=glz.Encoder())
    c = fresh_canvas(W, H)
    assert c.primary is not None
    image = Image(1, ImageType.GLZ_RGB, 0, W, 6, data=data)
    copy(c, 0, Rect(0, 2, W, 8), None, image, WHOLE, RopD.OP_PUT)
    np.testing.assert_array_equal(c.primary.pixels[2:8, :, :3], img[..., :3])
    assert c.images.decode_seconds > 0  # the stats count this decode
