"""Narrow surfaces: DRAW_TRANSPARENT compares its key in the surface's own bits;
32-bit bitmaps drawn from the message's bytes.

sw_canvas converts both the key colour and the source to the 16-bit surface
format before comparing, so on x555 two colours that differ only below the top
5 bits of green match, while on r5g6b5 green keeps 6 bits and the same two
colours differ.  Exact pixels on both formats, on the kernel (same-size) path
and the numpy (scaled) path.
"""

from __future__ import annotations

import numpy as np
import pytest
from _canvas_build import Bitmap, Brush, Image, Rect, copy, fill, transparent
from hypothesis import given
from hypothesis import strategies as st

from spicepy.canvas import Canvas
from spicepy.canvas.bitmap import bitmap_to_pixels
from spicepy.canvas.surface import SurfaceFormat
from spicepy.errors import CanvasError
from spicepy.wire.enums import BitmapFlags, BitmapFmt, BrushType, ImageFlags, ImageType
from spicepy.wire.enums import RopDescriptor as RopD

KEY = 0x000800  # green 0x08
# green 0x0C differs from the key in bit 2 (kept by 6-bit green only), 0x0A in
# bit 1 (dropped by both 16-bit formats), 0x08 is the key itself
ROW = [0x000C00, 0x000A00, 0x000800]
BLUE = [255, 0, 0, 0]  # the background, B G R X


def _draw(fmt: int, scaled: bool) -> list[list[int]]:
    c = Canvas()
    c.create_surface(0, 4, 2, fmt)
    fill(c, 0, Rect(0, 0, 4, 2), None, Brush(BrushType.SOLID, 0x0000FF), RopD.OP_PUT)
    rows = [ROW, [0, 0, 0]] if scaled else [ROW]
    data = b"".join(v.to_bytes(4, "little") for row in rows for v in row)
    bm = Bitmap(BitmapFmt.FMT_32BIT, BitmapFlags.TOP_DOWN, 3, len(rows), 12, data)
    image = Image(1, ImageType.BITMAP, 0, 3, len(rows), bitmap=bm)
    # scaled: a 3x2 source squeezed onto one row goes through sample_scaled
    transparent(c, 0, Rect(0, 0, 3, 1), None, image, Rect(0, 0, 3, len(rows)), KEY)
    out: list[list[int]] = c.surface(0).pixels[0].tolist()
    return out


@pytest.mark.parametrize("scaled", [False, True])
def test_transparent_key_in_565_keeps_six_bits_of_green(scaled: bool) -> None:
    assert _draw(SurfaceFormat.FMT_16_565, scaled) == [
        [0, 0x0C, 0, 0],  # drawn (0x0C survives 6-bit quantisation)
        BLUE,
        BLUE,
        BLUE,
    ]


@pytest.mark.parametrize("scaled", [False, True])
def test_transparent_key_in_555_keeps_five_bits_of_green(scaled: bool) -> None:
    assert _draw(SurfaceFormat.FMT_16_555, scaled) == [BLUE] * 4


# -- 32-bit bitmaps read in place ------------------------------------------------------


@given(
    st.sampled_from([BitmapFmt.FMT_32BIT, BitmapFmt.FMT_RGBA]),
    st.booleans(), st.integers(1, 9), st.integers(1, 9), st.integers(0, 9),
    st.sampled_from([0, ImageFlags.CACHE_ME]), st.integers(0, 2**32),
)  # fmt: skip
def test_uncached_32_bit_bitmap_is_read_in_place(
    fmt: int, top_down: bool, w: int, h: int, pad: int, flags: int, seed: int
) -> None:
    """A 32-bit BITMAP no cache keeps is drawn from a read-only view of the
    message's bytes (rows ``stride`` apart, bottom-up ones upside down) with the
    pixels a copy gives; a cached one is copied (the cache owns it)."""
    stride = 4 * w + pad
    data = np.random.default_rng(seed).integers(0, 256, stride * h, np.uint8).tobytes()
    bm = Bitmap(fmt, BitmapFlags.TOP_DOWN if top_down else 0, w, h, stride, data)
    copied, alpha = bitmap_to_pixels(bm, None)
    view, view_alpha = bitmap_to_pixels(bm, None, copy=False)
    assert np.array_equal(view, copied) and alpha == view_alpha
    assert not view.flags.writeable and np.shares_memory(
        view, np.frombuffer(data, np.uint8)
    )
    assert copied.flags.writeable and copied.flags.c_contiguous
    c = Canvas()
    c.create_surface(0, 12, 12, SurfaceFormat.FMT_32_xRGB)
    image = Image(5, ImageType.BITMAP, flags, w, h, bitmap=bm)
    copy(c, 0, Rect(2, 1, 2 + w, 1 + h), None, image, Rect(0, 0, w, h), RopD.OP_PUT)
    assert np.array_equal(c.surface(0).pixels[1 : 1 + h, 2 : 2 + w], copied)
    cached = c.shared.cache.entries.get(5)
    assert (cached is not None) == bool(flags)
    if cached is not None:
        assert cached.pixels.flags.writeable  # the cache's own copy


@pytest.mark.parametrize(
    ("fmt", "stride", "size", "message"),
    [
        (BitmapFmt.INVALID, 8, 16, "invalid bitmap format"),
        (77, 8, 16, "unknown bitmap format 77"),
        (BitmapFmt.FMT_32BIT, 7, 16, "stride 7 < row size 8"),
        (BitmapFmt.FMT_32BIT, 8, 15, "truncated: 15 < 16"),
        (BitmapFmt.FMT_24BIT, 6, 11, "truncated: 11 < 12"),
    ],
)
def test_bad_bitmaps_are_refused(
    fmt: int, stride: int, size: int, message: str
) -> None:
    bm = Bitmap(fmt, BitmapFlags.TOP_DOWN, 2, 2, stride, bytes(size))
    with pytest.raises(CanvasError, match=message):
        bitmap_to_pixels(bm, None)


def test_bitmap_view_of_a_bytearray_is_read_only() -> None:
    """The view never lets a draw write into the message's (mutable) bytes."""
    data = bytearray(range(20))
    bm = Bitmap(BitmapFmt.FMT_32BIT, 0, 2, 2, 12, data)  # type: ignore[arg-type]
    view, _ = bitmap_to_pixels(bm, None, copy=False)
    assert not view.flags.writeable
    assert view.tolist() == [
        [[12, 13, 14, 15], [16, 17, 18, 19]],
        [[0, 1, 2, 3], [4, 5, 6, 7]],
    ]
