"""Short builders of ``spicepy.wire`` display messages for the canvas tests.

The canvas takes the wire dataclasses as decoded; these helpers build them from
the few fields a test cares about (``Rect`` here takes left, top, right,
bottom; the wire ``Rect`` is in spice.proto order top, left, bottom, right),
and the draw helpers build the whole message and apply it, e.g.
``fill(c, 0, Rect(0, 0, 4, 4), None, solid(RED), PUT)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spicepy.canvas import Canvas, draw_blend, draw_lines
from spicepy.wire import msg_display as md
from spicepy.wire import types as wt
from spicepy.wire.enums import (
    BitmapFlags,
    BrushType,
    ClipType,
    CompositeFlags,
    ImageScaleMode,
    ImageType,
    LineFlags,
    StringFlags,
)

Point = wt.Point
NEAREST = ImageScaleMode.NEAREST


def Transform(  # noqa: N802
    t00: int = 1 << 16,
    t01: int = 0,
    t02: int = 0,
    t10: int = 0,
    t11: int = 1 << 16,
    t12: int = 0,
) -> wt.Transform:
    """A 16.16 affine matrix, the identity unless told."""
    return wt.Transform(t00, t01, t02, t10, t11, t12)


def Rect(left: int, top: int, right: int, bottom: int) -> wt.Rect:  # noqa: N802
    return wt.Rect(top, left, bottom, right)


def clip(rects: Sequence[wt.Rect] | None) -> wt.Clip:
    if rects is None:
        return wt.CLIP_NONE
    return wt.Clip(ClipType.RECTS, num_rects=len(rects), rects=tuple(rects))


def base(surface_id: int, bbox: wt.Rect, rects: Sequence[wt.Rect] | None) -> Any:
    return wt.DisplayBase(surface_id, bbox, clip(rects))


def Palette(unique: int, ents: Sequence[int]) -> wt.Palette:  # noqa: N802
    return wt.Palette(unique, len(ents), tuple(ents))


def Bitmap(  # noqa: N802
    fmt: int,
    flags: int,
    x: int,
    y: int,
    stride: int,
    data: bytes,
    palette: wt.Palette | None = None,
    palette_id: int | None = None,
) -> wt.BitmapData:
    if flags & BitmapFlags.PAL_FROM_CACHE and palette_id is None:
        palette_id = palette.unique if palette is not None else 0
    return wt.BitmapData(
        fmt, flags, x, y, stride, palette_id=palette_id, palette=palette, data=data
    )


def Image(  # noqa: N802
    image_id: int,
    kind: int,
    flags: int,
    width: int,
    height: int,
    *,
    data: bytes = b"",
    bitmap: wt.BitmapData | None = None,
    surface_id: int | None = None,
    lz_flags: int = 0,
    lz_palette: wt.Palette | None = None,
    lz_palette_id: int | None = None,
    jpeg_size: int = 0,
    jpeg_flags: int = 0,
    glz_size: int = 0,
) -> wt.Image:
    """A SpiceImage with the body its type selects."""
    desc = wt.ImageDescriptor(image_id, kind, flags, width, height)
    if kind == ImageType.BITMAP:
        return wt.Image(desc, bitmap=bitmap)
    if kind == ImageType.SURFACE:
        return wt.Image(desc, surface=wt.SurfaceRef(surface_id or 0))
    if kind == ImageType.LZ_PLT:
        body = wt.LZPLTData(
            lz_flags, len(data), palette_id=lz_palette_id, palette=lz_palette, data=data
        )
        return wt.Image(desc, lz_plt=body)
    if kind == ImageType.ZLIB_GLZ_RGB:
        return wt.Image(desc, zlib_glz=wt.ZlibGlzRGBData(glz_size, len(data), data))
    if kind == ImageType.JPEG_ALPHA:
        body2 = wt.JPEGAlphaData(jpeg_flags, jpeg_size, len(data), data)
        return wt.Image(desc, jpeg_alpha=body2)
    if kind in (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS):
        return wt.Image(desc)
    return wt.Image(desc, binary=wt.BinaryData(len(data), data))


def Brush(  # noqa: N802
    kind: int = BrushType.NONE,
    color: int = 0,
    pattern: wt.Image | None = None,
    pos: wt.Point | None = None,
) -> wt.Brush:
    if kind == BrushType.SOLID:
        return wt.Brush(kind, color=color)
    if kind == BrushType.PATTERN:
        assert pattern is not None
        return wt.Brush(kind, pattern=wt.Pattern(pattern, pos or Point(0, 0)))
    return wt.Brush(kind)


def solid(color: int) -> wt.Brush:
    return Brush(BrushType.SOLID, color)


def QMask(  # noqa: N802
    flags: int = 0, pos: wt.Point | None = None, bitmap: wt.Image | None = None
) -> wt.QMask:
    return wt.QMask(flags, pos or Point(0, 0), bitmap)


def PathSeg(flags: int, points: Sequence[tuple[int, int]]) -> wt.PathSegment:  # noqa: N802
    return wt.PathSegment(flags, len(points), tuple(Point(x, y) for x, y in points))


def LineAttr(flags: int = 0, style: Sequence[int] = ()) -> wt.LineAttr:  # noqa: N802
    if flags & LineFlags.STYLED:
        return wt.LineAttr(flags, style_nseg=len(style), style=tuple(style))
    return wt.LineAttr(flags)


def Glyph(  # noqa: N802
    render_pos: wt.Point, glyph_origin: wt.Point, width: int, height: int, data: bytes
) -> wt.RasterGlyphA1:
    """A raster glyph (the A1/A4/A8 classes have the same fields)."""
    return wt.RasterGlyphA1(render_pos, glyph_origin, width, height, data)


def GlyphString(flags: int, glyphs: Sequence[Any]) -> wt.String:  # noqa: N802
    glyphs = tuple(glyphs)
    if flags & StringFlags.RASTER_A1:
        return wt.String(len(glyphs), flags, glyphs_a1=glyphs)
    if flags & StringFlags.RASTER_A4:
        a4 = tuple(wt.RasterGlyphA4(*_fields(g)) for g in glyphs)
        return wt.String(len(glyphs), flags, glyphs_a4=a4)
    if flags & StringFlags.RASTER_A8:
        a8 = tuple(wt.RasterGlyphA8(*_fields(g)) for g in glyphs)
        return wt.String(len(glyphs), flags, glyphs_a8=a8)
    return wt.String(len(glyphs), flags)


def _fields(g: Any) -> tuple[Any, ...]:
    return (g.render_pos, g.glyph_origin, g.width, g.height, g.data)


# -- draws: build the message and apply it ------------------------------------------

Rects = Sequence[wt.Rect] | None
NO_MASK = QMask()


def fill(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    brush: wt.Brush,
    rop: int,
    mask: wt.QMask | None = None,
) -> None:
    c.fill(md.DrawFill(base(sid, bbox, rects), md.Fill(brush, rop, mask or NO_MASK)))


def copy(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    image: wt.Image | None,
    src_area: wt.Rect,
    rop: int,
    scale_mode: int = NEAREST,
    mask: wt.QMask | None = None,
) -> None:
    body = md.Copy(image, src_area, rop, scale_mode, mask or NO_MASK)
    c.copy(md.DrawCopy(base(sid, bbox, rects), body))


def opaque(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    image: wt.Image | None,
    src_area: wt.Rect,
    brush: wt.Brush,
    rop: int,
    scale_mode: int = NEAREST,
    mask: wt.QMask | None = None,
) -> None:
    body = md.Opaque(image, src_area, brush, rop, scale_mode, mask or NO_MASK)
    c.opaque(md.DrawOpaque(base(sid, bbox, rects), body))


def _mask_only(cls: Any, method: str) -> Any:
    def draw(
        c: Canvas, sid: int, bbox: wt.Rect, rects: Rects, mask: wt.QMask | None = None
    ) -> None:
        getattr(c, method)(cls(base(sid, bbox, rects), md.MaskOnly(mask or NO_MASK)))

    return draw


blackness = _mask_only(md.DrawBlackness, "blackness")
whiteness = _mask_only(md.DrawWhiteness, "whiteness")
invers = _mask_only(md.DrawInvers, "invers")


def copy_bits(
    c: Canvas, sid: int, bbox: wt.Rect, rects: Rects, src_pos: wt.Point
) -> None:
    c.copy_bits(md.CopyBits(base(sid, bbox, rects), src_pos))


def draw_rop3(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    image: wt.Image | None,
    src_area: wt.Rect,
    brush: wt.Brush,
    rop3_code: int,
    scale_mode: int = NEAREST,
    mask: wt.QMask | None = None,
) -> None:
    body = md.Rop3(image, src_area, brush, rop3_code, scale_mode, mask or NO_MASK)
    draw_blend.draw_rop3(c, md.DrawRop3(base(sid, bbox, rects), body))


def transparent(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    image: wt.Image | None,
    src_area: wt.Rect,
    true_color: int,
) -> None:
    body = md.Transparent(image, src_area, 0, true_color)
    draw_blend.transparent(c, md.DrawTransparent(base(sid, bbox, rects), body))


def alpha_blend(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    alpha_flags: int,
    alpha: int,
    image: wt.Image | None,
    src_area: wt.Rect,
) -> None:
    body = md.AlphaBlend(alpha_flags, alpha, image, src_area)
    draw_blend.alpha_blend(c, md.DrawAlphaBlend(base(sid, bbox, rects), body))


def composite(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    flags: int,
    src_image: wt.Image | None,
    src_origin: wt.Point,
    mask_image: wt.Image | None = None,
    mask_origin: wt.Point | None = None,
    src_transform: wt.Transform | None = None,
    mask_transform: wt.Transform | None = None,
) -> None:
    if mask_image is not None:
        flags |= CompositeFlags.HAS_MASK
    if src_transform is not None:
        flags |= CompositeFlags.HAS_SRC_TRANSFORM
    if mask_transform is not None:
        flags |= CompositeFlags.HAS_MASK_TRANSFORM
    mo = mask_origin or Point(0, 0)
    body = md.Composite(
        flags,
        src_image,
        mask_bitmap=mask_image,
        src_transform=src_transform,
        mask_transform=mask_transform,
        src_origin=wt.Point16(src_origin.x, src_origin.y),
        mask_origin=wt.Point16(mo.x, mo.y),
    )
    draw_blend.composite(c, md.DrawComposite(base(sid, bbox, rects), body))


def stroke(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    path: Sequence[wt.PathSegment],
    attr: wt.LineAttr,
    brush: wt.Brush,
    fore_mode: int,
    back_mode: int = 0,
) -> None:
    p = wt.Path(len(path), tuple(path))
    body = md.Stroke(p, attr, brush, fore_mode, back_mode)
    draw_lines.stroke(c, md.DrawStroke(base(sid, bbox, rects), body))


def text(
    c: Canvas,
    sid: int,
    bbox: wt.Rect,
    rects: Rects,
    string: wt.String,
    back_area: wt.Rect,
    fore_brush: wt.Brush,
    back_brush: wt.Brush,
    fore_mode: int,
    back_mode: int,
) -> None:
    body = md.Text(string, back_area, fore_brush, back_brush, fore_mode, back_mode)
    draw_lines.text(c, md.DrawText(base(sid, bbox, rects), body))
