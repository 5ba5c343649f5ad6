"""Structures shared by the display and cursor messages (spice.proto ``struct``s).

Image bodies keep their codec payload as a zero-copy ``memoryview`` into the message
body (``Payload``); ``bytes(x)`` copies it when needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from spicepy.errors import WireError
from spicepy.wire.enums import (
    BitmapFlags,
    BrushType,
    ClipType,
    CursorFlags,
    ImageType,
    LineFlags,
    StringFlags,
)
from spicepy.wire.schema import (
    I16,
    I32,
    U8,
    U16,
    U32,
    U64,
    Array,
    Bytes,
    Ptr,
    Rest,
    Values,
    wf,
)

Payload = bytes | memoryview
_DC = dataclass(frozen=True, slots=True)

#: Largest image (pixels) whose bitmap we accept: 16k x 16k.
MAX_IMAGE_PIXELS = 1 << 28


def image_size(bpp: int, width: int, height: int) -> int:
    """spice.proto ``image_size(bpp, w, h)``: bytes of a packed raster."""
    return ((bpp * width + 7) // 8) * height


@_DC
class Point:
    x: int = wf(I32)
    y: int = wf(I32)


@_DC
class Point16:
    x: int = wf(I16)
    y: int = wf(I16)


@_DC
class Rect:
    """spice.proto order: top, left, bottom, right."""

    top: int = wf(I32)
    left: int = wf(I32)
    bottom: int = wf(I32)
    right: int = wf(I32)

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@_DC
class Transform:
    t00: int = wf(U32)
    t01: int = wf(U32)
    t02: int = wf(U32)
    t10: int = wf(U32)
    t11: int = wf(U32)
    t12: int = wf(U32)


@_DC
class Clip:
    """type NONE, or RECTS with ``num_rects`` rects inline."""

    type: int = wf(U8)
    num_rects: int | None = wf(U32, cond=lambda v: v["type"] == ClipType.RECTS)
    rects: tuple[Rect, ...] | None = wf(
        Array(Rect, "num_rects", 16), cond=lambda v: v["type"] == ClipType.RECTS
    )


CLIP_NONE = Clip(ClipType.NONE)


@_DC
class DisplayBase:
    surface_id: int = wf(U32)
    box: Rect = wf(Rect)
    clip: Clip = wf(Clip)


@_DC
class Palette:
    unique: int = wf(U64)
    num_ents: int = wf(U16)
    ents: tuple[int, ...] = wf(Array(U32, "num_ents", 4))


@_DC
class ImageDescriptor:
    id: int = wf(U64)
    type: int = wf(U8)
    flags: int = wf(U8)
    width: int = wf(U32)
    height: int = wf(U32)


def _pal_cached(v: Values) -> bool:
    return bool(v["flags"] & BitmapFlags.PAL_FROM_CACHE)


def _bitmap_bytes(v: Values) -> int:
    n = image_size(8, v["stride"], v["y"])
    if n > MAX_IMAGE_PIXELS * 4:
        raise WireError(f"bitmap of {n} bytes is too big")
    return n


@_DC
class BitmapData:
    """Raw bitmap: ``stride * y`` bytes; palette by id (PAL_FROM_CACHE) or pointer."""

    format: int = wf(U8)
    flags: int = wf(U8)
    x: int = wf(U32)
    y: int = wf(U32)
    stride: int = wf(U32)
    palette_id: int | None = wf(U64, cond=_pal_cached)
    palette: Palette | None = wf(Ptr(Palette), cond=lambda v: not _pal_cached(v))
    data: Payload = wf(Bytes(_bitmap_bytes, view=True))


@_DC
class BinaryData:
    """QUIC / LZ_RGB / GLZ_RGB / JPEG / LZ4: ``data_size`` then the codec stream."""

    data_size: int = wf(U32)
    data: Payload = wf(Bytes("data_size", view=True))


@_DC
class LZPLTData:
    flags: int = wf(U8)
    data_size: int = wf(U32)
    palette_id: int | None = wf(U64, cond=_pal_cached)
    palette: Palette | None = wf(Ptr(Palette), cond=lambda v: not _pal_cached(v))
    data: Payload = wf(Bytes("data_size", view=True))


@_DC
class ZlibGlzRGBData:
    glz_data_size: int = wf(U32)
    data_size: int = wf(U32)
    data: Payload = wf(Bytes("data_size", view=True))


@_DC
class JPEGAlphaData:
    flags: int = wf(U8)
    jpeg_size: int = wf(U32)
    data_size: int = wf(U32)
    data: Payload = wf(Bytes("data_size", view=True))


@_DC
class SurfaceRef:
    surface_id: int = wf(U32)


_BINARY = {
    ImageType.QUIC,
    ImageType.LZ_RGB,
    ImageType.GLZ_RGB,
    ImageType.JPEG,
    ImageType.LZ4,
}


def _is(*types: int) -> object:
    return lambda v: v["descriptor"].type in types


@_DC
class Image:
    """SpiceImage: descriptor + the body its type selects (the other bodies are None).

    FROM_CACHE / FROM_CACHE_LOSSLESS have no body.
    """

    descriptor: ImageDescriptor = wf(ImageDescriptor)
    bitmap: BitmapData | None = wf(BitmapData, cond=_is(ImageType.BITMAP))  # type: ignore[arg-type]
    binary: BinaryData | None = wf(BinaryData, cond=_is(*_BINARY))  # type: ignore[arg-type]
    lz_plt: LZPLTData | None = wf(LZPLTData, cond=_is(ImageType.LZ_PLT))  # type: ignore[arg-type]
    zlib_glz: ZlibGlzRGBData | None = wf(
        ZlibGlzRGBData, cond=_is(ImageType.ZLIB_GLZ_RGB)
    )  # type: ignore[arg-type]
    jpeg_alpha: JPEGAlphaData | None = wf(JPEGAlphaData, cond=_is(ImageType.JPEG_ALPHA))  # type: ignore[arg-type]
    surface: SurfaceRef | None = wf(SurfaceRef, cond=_is(ImageType.SURFACE))  # type: ignore[arg-type]

    @property
    def payload(self) -> Payload | None:
        """The codec stream of any compressed type (None for BITMAP/SURFACE/cache)."""
        for body in (self.binary, self.lz_plt, self.zlib_glz, self.jpeg_alpha):
            if body is not None:
                return body.data
        return None


@_DC
class Pattern:
    pat: Image = wf(Ptr(Image))
    pos: Point = wf(Point)


@_DC
class Brush:
    type: int = wf(U8)
    color: int | None = wf(U32, cond=lambda v: v["type"] == BrushType.SOLID)
    pattern: Pattern | None = wf(Pattern, cond=lambda v: v["type"] == BrushType.PATTERN)  # type: ignore[arg-type]


BRUSH_NONE = Brush(BrushType.NONE)


@_DC
class QMask:
    flags: int = wf(U8)
    pos: Point = wf(Point)
    bitmap: Image | None = wf(Ptr(Image))


QMASK_NONE = QMask(0, Point(0, 0), None)


@_DC
class PathSegment:
    flags: int = wf(U8)
    count: int = wf(U32)
    points: tuple[Point, ...] = wf(Array(Point, "count", 8))  # PointFix (28.4)


@_DC
class Path:
    num_segments: int = wf(U32)
    segments: tuple[PathSegment, ...] = wf(Array(PathSegment, "num_segments", 5))


def _styled(v: Values) -> bool:
    return bool(v["flags"] & LineFlags.STYLED)


@_DC
class LineAttr:
    flags: int = wf(U8)
    style_nseg: int | None = wf(U8, cond=_styled)
    style: tuple[int, ...] | None = wf(Ptr(Array(I32, "style_nseg", 4)), cond=_styled)


def _glyph_size(bpp: int) -> object:
    return lambda v: image_size(bpp, v["width"], v["height"])


@_DC
class RasterGlyphA1:
    render_pos: Point = wf(Point)
    glyph_origin: Point = wf(Point)
    width: int = wf(U16)
    height: int = wf(U16)
    data: bytes = wf(Bytes(_glyph_size(1)))  # type: ignore[arg-type]


@_DC
class RasterGlyphA4:
    render_pos: Point = wf(Point)
    glyph_origin: Point = wf(Point)
    width: int = wf(U16)
    height: int = wf(U16)
    data: bytes = wf(Bytes(_glyph_size(4)))  # type: ignore[arg-type]


@_DC
class RasterGlyphA8:
    render_pos: Point = wf(Point)
    glyph_origin: Point = wf(Point)
    width: int = wf(U16)
    height: int = wf(U16)
    data: bytes = wf(Bytes(_glyph_size(8)))  # type: ignore[arg-type]


def _raster(bit: int) -> object:
    return lambda v: bool(v["flags"] & bit)


@_DC
class String:
    """Glyph string: exactly one of the a1/a4/a8 tuples is set (by ``flags``)."""

    length: int = wf(U16)
    flags: int = wf(U8)
    glyphs_a1: tuple[RasterGlyphA1, ...] | None = wf(
        Array(RasterGlyphA1, "length", 20),
        cond=_raster(StringFlags.RASTER_A1),  # type: ignore[arg-type]
    )
    glyphs_a4: tuple[RasterGlyphA4, ...] | None = wf(
        Array(RasterGlyphA4, "length", 20),
        cond=_raster(StringFlags.RASTER_A4),  # type: ignore[arg-type]
    )
    glyphs_a8: tuple[RasterGlyphA8, ...] | None = wf(
        Array(RasterGlyphA8, "length", 20),
        cond=_raster(StringFlags.RASTER_A8),  # type: ignore[arg-type]
    )


@_DC
class ChannelWait:
    channel_type: int = wf(U8)
    channel_id: int = wf(U8)
    message_serial: int = wf(U64)


@_DC
class ChannelId:
    type: int = wf(U8)
    id: int = wf(U8)


@_DC
class ResourceID:
    type: int = wf(U8)
    id: int = wf(U64)


@_DC
class Head:
    monitor_id: int = wf(U32)
    surface_id: int = wf(U32)
    width: int = wf(U32)
    height: int = wf(U32)
    x: int = wf(U32)
    y: int = wf(U32)
    flags: int = wf(U32)


@_DC
class StreamDataHeader:
    id: int = wf(U32)
    multi_media_time: int = wf(U32)


@_DC
class CursorHeader:
    unique: int = wf(U64)
    type: int = wf(U8)
    width: int = wf(U16)
    height: int = wf(U16)
    hot_spot_x: int = wf(U16)
    hot_spot_y: int = wf(U16)


@_DC
class Cursor:
    """flags, header unless NONE, then the shape bytes to the end of the body."""

    flags: int = wf(U16)
    header: CursorHeader | None = wf(
        CursorHeader,
        cond=lambda v: not v["flags"] & CursorFlags.NONE,  # type: ignore[arg-type]
    )
    data: Payload = wf(Rest(view=True))


@_DC
class DstInfo:
    port: int = wf(U16)
    sport: int = wf(U16)
    host_size: int = wf(U32)
    host_data: bytes | None = wf(Ptr(Bytes("host_size")))
    cert_subject_size: int = wf(U32)
    cert_subject_data: bytes | None = wf(Ptr(Bytes("cert_subject_size")))
