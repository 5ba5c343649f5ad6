"""Narrow surfaces: DRAW_TRANSPARENT compares its key in the surface's own bits.

sw_canvas converts both the key colour and the source to the 16-bit surface
format before comparing, so on x555 two colours that differ only below the top
5 bits of green match, while on r5g6b5 green keeps 6 bits and the same two
colours differ.  Exact pixels on both formats, on the kernel (same-size) path
and the numpy (scaled) path.
"""

from __future__ import annotations

import pytest
from _canvas_build import Bitmap, Brush, Image, Rect, fill, transparent

from spicepy.canvas import Canvas
from spicepy.canvas.surface import SurfaceFormat
from spicepy.wire.enums import BitmapFlags, BitmapFmt, BrushType, ImageType
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
    out: list[list[int]] = c.primary.pixels[0].tolist()
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
