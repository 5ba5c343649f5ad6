"""Where draws land: glyph boxes, text back areas, pattern origins on the QMask
(numpy) path, masked draws against the unmasked kernel path.

Each test pins a coordinate rule of spice-common (common/canvas_base.c,
sw_canvas.c) with exact pixels, away from zero offsets where a sign or an
operand swap would go unnoticed.
"""

from __future__ import annotations

import numpy as np
from _canvas_build import (
    Bitmap,
    Brush,
    Glyph,
    GlyphString,
    Image,
    Point,
    QMask,
    Rect,
    alpha_blend,
    clip,
    copy,
    fill,
    text,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.canvas import Canvas
from spicepy.canvas.surface import SurfaceFormat
from spicepy.wire.enums import (
    BitmapFlags,
    BitmapFmt,
    BrushType,
    ImageType,
    StringFlags,
)
from spicepy.wire.enums import RopDescriptor as RopD

PUT = RopD.OP_PUT


def canvas(w: int = 8, h: int = 6) -> Canvas:
    c = Canvas()
    c.create_surface(0, w, h, SurfaceFormat.FMT_32_xRGB)
    return c


def img32(rows: list[list[int]], image_id: int = 1) -> Image:
    data = b"".join(v.to_bytes(4, "little") for row in rows for v in row)
    h, w = len(rows), len(rows[0])
    bm = Bitmap(BitmapFmt.FMT_32BIT, BitmapFlags.TOP_DOWN, w, h, w * 4, data)
    return Image(image_id, ImageType.BITMAP, 0, w, h, bitmap=bm)


def mask_image(bits: np.ndarray, image_id: int = 9) -> Image:
    """A top-down 1BIT_LE mask (bit 0 of a byte is its leftmost pixel)."""
    h, w = bits.shape
    packed = np.packbits(bits.astype(np.uint8), axis=1, bitorder="little")
    stride = packed.shape[1]
    bm = Bitmap(
        BitmapFmt.FMT_1BIT_LE, BitmapFlags.TOP_DOWN, w, h, stride, packed.tobytes()
    )
    return Image(image_id, ImageType.BITMAP, 0, w, h, bitmap=bm)


def _text(c: Canvas, glyphs: list[object], back: object, bbox: object) -> None:
    s = GlyphString(StringFlags.RASTER_A1, glyphs)
    fore = Brush(BrushType.SOLID, 0xFF)
    back_brush = Brush(BrushType.SOLID, 0x20)
    text(c, 0, bbox, None, s, back, fore, back_brush, PUT, PUT)  # type: ignore[arg-type]


def test_glyph_box_is_render_pos_plus_glyph_origin() -> None:
    # canvas_raster_glyph_box: top = render_pos.y + glyph_origin.y, and so left
    c = canvas(10, 8)
    glyph = Glyph(Point(5, 4), Point(-2, -3), 1, 1, bytes([0x80]))
    _text(c, [glyph], Rect(0, 0, 0, 0), Rect(0, 0, 10, 8))
    lit = np.argwhere(c.primary.pixels[..., 0] == 0xFF).tolist()
    assert lit == [[1, 3]]  # (y, x) = (4 - 3, 5 - 2)


def test_text_back_area_is_cut_to_the_bbox_on_every_side() -> None:
    # the back brush fills back_area ∩ bbox: rows above the back area stay
    c = canvas(8, 8)
    _text(c, [], Rect(1, 3, 6, 5), Rect(0, 1, 8, 7))
    painted = c.primary.pixels[..., 0] == 0x20
    expected = np.zeros((8, 8), bool)
    expected[3:5, 1:6] = True
    assert (painted == expected).all()
    # and a back area larger than the bbox is cut to it
    c = canvas(8, 8)
    _text(c, [], Rect(0, 0, 8, 8), Rect(2, 2, 5, 6))
    painted = c.primary.pixels[..., 0] == 0x20
    expected = np.zeros((8, 8), bool)
    expected[2:6, 2:5] = True
    assert (painted == expected).all()


TILE = [[1, 2, 3], [4, 5, 6]]  # 3x2: distinct bytes show which tile pixel landed


@settings(max_examples=40)
@given(
    st.integers(-4, 4),
    st.integers(-4, 4),
    st.lists(st.booleans(), min_size=48, max_size=48),
)
def test_masked_pattern_fill_equals_the_unmasked_fill_inside_the_mask(
    px: int, py: int, bits: list[bool]
) -> None:
    """A QMask only selects pixels: the numpy path (``tile_values``) and the
    kernel path (``kernels.fill``) put the same tile pixel at each spot, for a
    pattern position away from the origin."""
    mask = np.array(bits, bool).reshape(6, 8)
    mask[0, 0] = False  # never all set: the masked path must run
    mask[5, 7] = True  # never empty
    brush = Brush(BrushType.PATTERN, pattern=img32(TILE), pos=Point(px, py))
    plain = canvas()
    fill(plain, 0, Rect(0, 0, 8, 6), None, brush, PUT)
    masked = canvas()
    masked.primary.pixels[...] = 0x77
    fill(
        masked, 0, Rect(0, 0, 8, 6), None, brush, PUT, QMask(0, None, mask_image(mask))
    )
    got = masked.primary.pixels
    assert (got[mask] == plain.primary.pixels[mask]).all()
    assert (got[~mask] == 0x77).all()
    # and the kernel path itself: dest (x, y) takes tile[(y - py) % 2][(x - px) % 3]
    expect = [[TILE[(y - py) % 2][(x - px) % 3] for x in range(8)] for y in range(6)]
    assert plain.primary.pixels[..., 0].tolist() == expect


def test_text_with_a_none_fore_brush_draws_only_its_back_area() -> None:
    c = canvas(8, 4)
    c.primary.pixels[...] = 0x55
    glyph = Glyph(Point(1, 1), Point(0, 0), 2, 1, bytes([0xC0]))
    s = GlyphString(StringFlags.RASTER_A1, [glyph])
    back = Brush(BrushType.SOLID, 0x20)
    text(c, 0, Rect(0, 0, 8, 4), None, s, Rect(4, 0, 8, 4), Brush(), back, PUT, PUT)
    blue = c.primary.pixels[..., 0]
    assert (blue[:, :4] == 0x55).all()  # the glyphs: untouched, not colour 0
    assert (blue[:, 4:] == 0x20).all()


def test_a_scaled_alpha_blend_samples_nearest() -> None:
    # canvas_base asks sw_canvas for NEAREST whatever the scale mode: a 2-pixel
    # source stretched over 4 gives each pixel twice, never a blend of the two
    c = canvas(4, 1)
    source = img32([[0x10, 0x50]])
    alpha_blend(c, 0, Rect(0, 0, 4, 1), None, 0, 0xFF, source, Rect(0, 0, 2, 1))
    assert c.primary.pixels[0, :, 0].tolist() == [0x10, 0x10, 0x50, 0x50]


def test_a_non_square_video_frame_lands_unscaled_on_its_own_size() -> None:
    c = canvas(6, 4)
    frame = np.zeros((2, 4, 4), np.uint8)  # 4 wide, 2 high
    frame[..., 0] = np.arange(8, dtype=np.uint8).reshape(2, 4) + 1
    c.put_image(0, Rect(1, 1, 5, 3), frame, clip(None))
    blue = c.primary.pixels[..., 0]
    assert blue[1:3, 1:5].tolist() == frame[..., 0].tolist()
    assert int(blue.sum()) == int(frame[..., 0].sum())  # nothing outside


def test_a_scaled_copy_reads_the_other_surface_it_names() -> None:
    c = canvas(8, 8)
    c.primary.pixels[...] = 0x11
    c.create_surface(5, 2, 2, SurfaceFormat.FMT_32_xRGB)
    c.surface(5).pixels[..., 0] = [[1, 2], [3, 4]]
    source = Image(0, ImageType.SURFACE, 0, 2, 2, surface_id=5)
    # 2x2 stretched onto 4x4 (the numpy path): each source pixel twice each way
    copy(c, 0, Rect(2, 2, 6, 6), None, source, Rect(0, 0, 2, 2), PUT)
    expect = [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert c.primary.pixels[2:6, 2:6, 0].tolist() == expect
