"""The rarer draw commands: ROP3, transparent, alpha blend, composite, stroke, text.

Expected values come from the operation definitions (rop3 truth tables, pixman's
8-bit premultiplied arithmetic, X11 zero-width line rules), worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from _canvas_build import (
    Bitmap,
    Brush,
    Glyph,
    GlyphString,
    Image,
    LineAttr,
    PathSeg,
    Point,
    QMask,
    Rect,
    Transform,
    alpha_blend,
    composite,
    draw_rop3,
    fill,
    stroke,
    text,
    transparent,
)
from hypothesis import given
from hypothesis import strategies as st

from spicepy.canvas import Canvas, SurfaceFormat, rop3
from spicepy.canvas.draw_lines import fix_to_int, zero_line_points
from spicepy.wire.enums import (
    AlphaFlags,
    BitmapFlags,
    BitmapFmt,
    BrushType,
    ImageType,
    LineFlags,
    MaskFlags,
    PathFlags,
    StringFlags,
)
from spicepy.wire.enums import RopDescriptor as RopD

PUT = RopD.OP_PUT


def canvas(w: int = 8, h: int = 4, fmt: int = SurfaceFormat.FMT_32_xRGB) -> Canvas:
    c = Canvas()
    c.create_surface(0, w, h, fmt)
    return c


def img32(rows: list[list[int]], fmt: int = BitmapFmt.FMT_32BIT) -> Image:
    data = b"".join(v.to_bytes(4, "little") for row in rows for v in row)
    h, w = len(rows), len(rows[0])
    bm = Bitmap(fmt, BitmapFlags.TOP_DOWN, w, h, w * 4, data)
    return Image(1, ImageType.BITMAP, 0, w, h, bitmap=bm)


@given(
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)
)
def test_rop3_matches_truth_table(code: int, p: int, s: int, d: int) -> None:
    # bit i of the result is bit (p_i << 2 | s_i << 1 | d_i) of the code
    expected = 0
    for i in range(8):
        idx = (p >> i & 1) << 2 | (s >> i & 1) << 1 | (d >> i & 1)
        expected |= (code >> idx & 1) << i
    arr = lambda v: np.full((1, 1, 4), v, np.uint8)  # noqa: E731
    assert rop3(code, arr(p), arr(s), arr(d))[0, 0, 0] == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [(0xCC, 0x0F), (0xF0, 0x33), (0xAA, 0x55), (0x5A, 0x33 ^ 0x55)],
)
def test_draw_rop3_classic_codes(code: int, expected: int) -> None:
    # SRCCOPY 0xCC -> s, PATCOPY 0xF0 -> p, 0xAA -> d (no-op), PATINVERT 0x5A -> p ^ d
    c = canvas()
    fill(c, 0, Rect(0, 0, 1, 1), None, Brush(BrushType.SOLID, 0x55), PUT)
    draw_rop3(
        c,
        0,
        Rect(0, 0, 1, 1),
        None,
        img32([[0x0F]]),
        Rect(0, 0, 1, 1),
        Brush(BrushType.SOLID, 0x33),
        code,
        1,
    )
    assert c.primary.pixels[0, 0, 0] == expected


@pytest.mark.parametrize("invert", [False, True])
def test_draw_rop3_honours_its_mask(invert: bool) -> None:
    """A masked DRAW_ROP3 writes only where the 1 bpp mask is set (cleared with
    INVERS), placed at mask.pos in the bbox (canvas_draw_rop3 -> mask region)."""
    c = canvas(8, 2)
    fill(c, 0, Rect(0, 0, 8, 2), None, Brush(BrushType.SOLID, 0x55), PUT)
    # 1BIT_BE row 0b1011_0000 (MSB first): mask pixels m = 0..5 are 1,0,1,1,0,0.
    # With pos (1, 0) pixel m lands on x = bbox.left + m - 1 = m + 1, so the
    # bbox x 2..7 sees m 1..5 at x 2..6 (0,1,1,0,0) and no mask at all at x 7.
    bits = Bitmap(BitmapFmt.FMT_1BIT_BE, BitmapFlags.TOP_DOWN, 6, 1, 1, b"\xb0")
    mask_image = Image(9, ImageType.BITMAP, 0, 6, 1, bitmap=bits)
    mask = QMask(MaskFlags.INVERS if invert else 0, Point(1, 0), mask_image)
    draw_rop3(
        c,
        0,
        Rect(2, 0, 8, 1),
        None,
        img32([[0x0F] * 6]),
        Rect(0, 0, 6, 1),
        Brush(BrushType.SOLID, 0x33),
        0xCC,  # SRCCOPY: the masked pixels become the source, 0x0F
        1,
        mask,
    )
    inside = [False, False, False, True, True, False, False, False]  # x 3, 4
    if invert:  # the clear bits inside the mask's extent: x 2, 5, 6 (not 7)
        inside = [False, False, True, False, False, True, True, False]
    row = c.primary.pixels[0, :, 0].tolist()
    assert row == [0x0F if hit else 0x55 for hit in inside]
    assert c.primary.pixels[1, :, 0].tolist() == [0x55] * 8  # below the bbox


def test_transparent_skips_key_colour() -> None:
    c = canvas()
    fill(c, 0, Rect(0, 0, 8, 4), None, Brush(BrushType.SOLID, 0x000007), PUT)
    # the X byte is ignored when matching (0xFF00FF00 matches key 0x00FF00)
    image = img32([[0x00FF00, 0x123456, 0xFF00FF00]])
    transparent(c, 0, Rect(0, 0, 3, 1), None, image, Rect(0, 0, 3, 1), 0x00FF00)
    assert c.primary.pixels[0, 0:3, 0].tolist() == [7, 0x56, 7]


def test_alpha_blend_global_alpha_and_premultiplied_source() -> None:
    c = canvas()
    fill(
        c, 0, Rect(0, 0, 8, 4), None, Brush(BrushType.SOLID, 0x0000C8), PUT
    )  # blue 200
    # premultiplied half-transparent blue 100: a=0x80
    src = img32([[0x80000064]], BitmapFmt.FMT_RGBA)
    alpha_blend(c, 0, Rect(0, 0, 1, 1), None, 0, 0xFF, src, Rect(0, 0, 1, 1))
    # 100 + 200 * (255 - 128) / 255 = 100 + 99.6 -> pixman rounds to 100 + 100
    assert c.primary.pixels[0, 0, 0] == 200
    # opaque source at global alpha 51 (0.2): 255*0.2 + 200*0.8 = 51 + 160
    white = img32([[0x0000FF]])
    alpha_blend(c, 0, Rect(1, 0, 2, 1), None, 0, 51, white, Rect(0, 0, 1, 1))
    assert c.primary.pixels[0, 1, 0] == 211


def test_alpha_blend_zero_alpha_is_noop() -> None:
    c = canvas()
    alpha_blend(
        c,
        0,
        Rect(0, 0, 8, 4),
        None,
        AlphaFlags.DEST_HAS_ALPHA,
        0,
        img32([[0xFFFFFFFF]]),
        Rect(0, 0, 1, 1),
    )
    assert int(c.primary.pixels.sum()) == 0


def test_composite_src_and_over_with_origin() -> None:
    c = canvas()
    fill(c, 0, Rect(0, 0, 8, 4), None, Brush(BrushType.SOLID, 0x000050), PUT)
    src = img32([[0x000010, 0x000020], [0x000030, 0x000040]])
    # op SRC (1), src origin (1, 1): dest (0, 0) takes src (1, 1)
    composite(c, 0, Rect(0, 0, 1, 1), None, 1, src, Point(1, 1))
    assert c.primary.pixels[0, 0, 0] == 0x40
    # op OVER (3) of a premultiplied a=0x40 source over blue 0x50
    half = img32([[0x40000020]], BitmapFmt.FMT_RGBA)
    composite(c, 0, Rect(1, 0, 2, 1), None, 3, half, Point(0, 0))
    # 0x20 + 0x50 * (255 - 64) / 255 = 32 + 59.92 -> 92
    assert c.primary.pixels[0, 1, 0] == 92


def test_composite_repeat_normal_and_translation() -> None:
    c = canvas()
    src = img32([[1, 2]])
    flags = 1 | (1 << 14) | (1 << 20)  # SRC, repeat NORMAL, has src transform
    composite(
        c,
        0,
        Rect(0, 0, 4, 1),
        None,
        flags,
        src,
        Point(0, 0),
        src_transform=Transform(t02=1 << 16),
    )
    assert c.primary.pixels[0, 0:4, 0].tolist() == [2, 1, 2, 1]


def test_fix_to_int_rounds_half_down() -> None:
    # -0.5: floor gives -1 and a remainder of 8 does not round up
    assert [fix_to_int(v) for v in (0x10, 0x18, 0x19, -0x08)] == [1, 1, 2, -1]


def test_zero_line_horizontal_vertical_diagonal() -> None:
    xs, ys = zero_line_points(1, 1, 4, 1, 10, 10)
    assert xs.tolist() == [1, 2, 3] and ys.tolist() == [1, 1, 1]  # CapNotLast
    xs, ys = zero_line_points(2, 5, 2, 2, 10, 10)
    assert xs.tolist() == [2, 2, 2] and ys.tolist() == [5, 4, 3]
    xs, ys = zero_line_points(0, 0, 3, 3, 10, 10)
    assert list(zip(xs.tolist(), ys.tolist(), strict=True)) == [(0, 0), (1, 1), (2, 2)]


def test_zero_line_slope_and_clipping() -> None:
    # slope 2/5: y = round(0.4 x) for x = 0..4 -> 0, 0, 1, 1, 2
    xs, ys = zero_line_points(0, 0, 5, 2, 10, 10)
    assert ys.tolist() == [0, 0, 1, 1, 2]
    # same line starting far outside: only x in [0, 3) are produced
    xs, ys = zero_line_points(-100, 0, 3, 0, 3, 3)
    assert xs.tolist() == [0, 1, 2]


def test_zero_line_huge_coordinates_are_bounded() -> None:
    xs, _ = zero_line_points(-(1 << 27), 0, 1 << 27, 1, 64, 64)
    assert xs.size == 64


def test_stroke_polyline_with_close() -> None:
    c = canvas(6, 6)
    f = 16  # 28.4 fixed point
    seg = PathSeg(
        PathFlags.BEGIN | PathFlags.END | PathFlags.CLOSE,
        ((1 * f, 1 * f), (4 * f, 1 * f), (4 * f, 4 * f)),
    )
    stroke(
        c,
        0,
        Rect(0, 0, 6, 6),
        None,
        [seg],
        LineAttr(),
        Brush(BrushType.SOLID, 0xFF),
        PUT,
    )
    lit = {
        (int(x), int(y))
        for y, x in zip(*np.nonzero(c.primary.pixels[..., 0]), strict=True)
    }
    top = {(1, 1), (2, 1), (3, 1)}
    right = {(4, 1), (4, 2), (4, 3)}
    diagonal_back = {
        (4, 4),
        (3, 3),
        (2, 2),
    }  # closing segment, endpoint (1,1) not drawn
    assert lit == top | right | diagonal_back


def test_stroke_bezier_reaches_endpoint_region() -> None:
    c = canvas(16, 16)
    f = 16
    seg = PathSeg(
        PathFlags.BEGIN | PathFlags.END | PathFlags.BEZIER,
        ((0, 0), (10 * f, 0), (10 * f, 0), (10 * f, 10 * f)),
    )
    stroke(
        c,
        0,
        Rect(0, 0, 16, 16),
        None,
        [seg],
        LineAttr(),
        Brush(BrushType.SOLID, 0xFF),
        PUT,
    )
    lit = c.primary.pixels[..., 0] > 0
    assert lit[0, 0] and lit[9, 10] and not lit[10, 10]  # endpoint excluded
    assert lit.sum() >= 14  # at least the Chebyshev length of the curve's chord


def test_text_a1_glyph_bottom_up_rows() -> None:
    c = canvas(8, 4)
    # 3x2 A1 glyph; data rows are stored bottom-up: row 0 in data = bottom row
    glyph = Glyph(Point(2, 1), Point(0, 0), 3, 2, bytes([0b10100000, 0b01000000]))
    s = GlyphString(StringFlags.RASTER_A1, (glyph,))
    text(
        c,
        0,
        Rect(0, 0, 8, 4),
        None,
        s,
        Rect(0, 0, 0, 0),
        Brush(BrushType.SOLID, 0xFF),
        Brush(),
        PUT,
        PUT,
    )
    lit = (c.primary.pixels[..., 0] == 255).astype(int)
    assert lit[1, 2:5].tolist() == [0, 1, 0]  # top row = the second data row
    assert lit[2, 2:5].tolist() == [1, 0, 1]
    assert lit.sum() == 3


def test_text_a4_blends_and_back_area() -> None:
    c = canvas(4, 2)
    # one A4 glyph 2x1: nibbles 0xF and 0x8 -> mask 0xF0 and 0x80
    glyph = Glyph(Point(0, 0), Point(0, 0), 2, 1, bytes([0xF8]))
    s = GlyphString(StringFlags.RASTER_A4, (glyph,))
    text(
        c,
        0,
        Rect(0, 0, 4, 2),
        None,
        s,
        Rect(0, 0, 4, 2),
        Brush(BrushType.SOLID, 0xFF),
        Brush(BrushType.SOLID, 0x10),
        PUT,
        PUT,
    )
    # OVER with coverage m: 255*m/255 + 16*(255-m)/255
    assert c.primary.pixels[0, 0, 0] == 240 + 1  # 240 + 16*15/255 = 240.94 -> 240 + 1
    assert c.primary.pixels[0, 1, 0] == 128 + 8  # 128 + 16*127/255 = 7.97 -> 8
    assert c.primary.pixels[1, 0, 0] == 16  # back area only


def test_text_pattern_brush_is_anchored_at_the_glyph_mask() -> None:
    # sw_canvas composites the translated pattern at the string mask's origin, so
    # dest x takes tile[(x - mask_left - pos.x) mod w] (a fill would use x - pos.x)
    c = canvas(8, 1)
    glyph = Glyph(Point(3, 0), Point(0, 0), 2, 1, bytes([0b11000000]))
    s = GlyphString(StringFlags.RASTER_A1, (glyph,))
    pattern = img32([[1, 2]])
    brush = Brush(BrushType.PATTERN, pattern=pattern, pos=Point(0, 0))
    text(c, 0, Rect(0, 0, 8, 1), None, s, Rect(0, 0, 0, 0), brush, Brush(), PUT, PUT)
    assert c.primary.pixels[0, 3:5, 0].tolist() == [1, 2]


# Pixel sets printed by spice-common's own spice_canvas_zero_line (common/lines.c,
# compiled into a throwaway harness with CapNotLast, 10x10 drawable) for lines of
# slope 1/2 in all 8 octants: the ties round per octant (DEFAULTZEROLINEBIAS).
REFERENCE_TIES = {
    (0, 0, 4, 2): {(0, 0), (1, 1), (2, 1), (3, 2)},
    (4, 2, 0, 0): {(3, 2), (4, 2), (1, 1), (2, 1)},
    (0, 0, 2, 4): {(0, 0), (1, 1), (1, 2), (2, 3)},
    (2, 4, 0, 0): {(2, 4), (2, 3), (1, 2), (1, 1)},
    (0, 2, 4, 0): {(0, 2), (1, 1), (2, 1), (3, 0)},
    (4, 0, 0, 2): {(3, 0), (4, 0), (1, 1), (2, 1)},
    (0, 4, 2, 0): {(0, 4), (0, 3), (1, 2), (1, 1)},
    (2, 0, 0, 4): {(2, 0), (1, 1), (1, 2), (0, 3)},
}


@pytest.mark.parametrize("segment", sorted(REFERENCE_TIES))
def test_zero_line_ties_match_spice_common(segment: tuple[int, int, int, int]) -> None:
    xs, ys = zero_line_points(*segment, 10, 10)
    assert set(zip(xs.tolist(), ys.tolist(), strict=True)) == REFERENCE_TIES[segment]


def test_dashed_axis_aligned_polyline_matches_spice_common() -> None:
    # spice_canvas_zero_dash_line (miWideDash, width 1) with dashes [3, 2] drew, in
    # the same throwaway harness, x 0-2, 5-7, ... 25-27 on row 0, then at x = 30
    # rows 0-2, 5-7, 10-12, 15-17 (the pattern runs on around the corner)
    c = canvas(40, 40)
    f = 16
    seg = PathSeg(
        PathFlags.BEGIN | PathFlags.END, ((0, 0), (30 * f, 0), (30 * f, 20 * f))
    )
    style = LineAttr(LineFlags.STYLED, (3 * f, 2 * f))
    stroke(
        c, 0, Rect(0, 0, 40, 40), None, [seg], style, Brush(BrushType.SOLID, 0xFF), PUT
    )
    ys, xs = np.nonzero(c.primary.pixels[..., 0])
    got = set(zip(xs.tolist(), ys.tolist(), strict=True))
    row = {(x, 0) for start in range(0, 30, 5) for x in range(start, start + 3)}
    column = {(30, y) for start in range(0, 20, 5) for y in range(start, start + 3)}
    assert got == row | column
