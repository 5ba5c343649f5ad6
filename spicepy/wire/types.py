"""Structures shared by the display and cursor messages (spice.proto ``struct``s).

Image bodies keep their codec payload as a zero-copy ``memoryview`` into the message
body (``Payload``); ``bytes(x)`` copies it when needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    FieldIn,
    FlagsMatch,
    Ptr,
    RasterSize,
    Rest,
    wt,
)

Payload = bytes | memoryview

#: Largest image (pixels) whose bitmap we accept: 16k x 16k.
MAX_IMAGE_PIXELS = 1 << 28


@dataclass(frozen=True, slots=True)
class Point:
    x: int = field(metadata=wt(I32))
    y: int = field(metadata=wt(I32))


@dataclass(frozen=True, slots=True)
class Point16:
    x: int = field(metadata=wt(I16))
    y: int = field(metadata=wt(I16))


@dataclass(frozen=True, slots=True)
class Rect:
    """spice.proto order: top, left, bottom, right."""

    top: int = field(metadata=wt(I32))
    left: int = field(metadata=wt(I32))
    bottom: int = field(metadata=wt(I32))
    right: int = field(metadata=wt(I32))

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class Transform:
    t00: int = field(metadata=wt(U32))
    t01: int = field(metadata=wt(U32))
    t02: int = field(metadata=wt(U32))
    t10: int = field(metadata=wt(U32))
    t11: int = field(metadata=wt(U32))
    t12: int = field(metadata=wt(U32))


_CLIP_RECTS = FieldIn("type", frozenset({ClipType.RECTS}))


@dataclass(frozen=True, slots=True)
class Clip:
    """type NONE, or RECTS with ``num_rects`` rects inline."""

    type: int = field(metadata=wt(U8))
    num_rects: int | None = field(
        default=None,
        kw_only=True,
        metadata=wt(U32, _CLIP_RECTS),
    )
    rects: tuple[Rect, ...] | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Array(Rect, "num_rects", 16), _CLIP_RECTS),
    )


CLIP_NONE = Clip(ClipType.NONE)


@dataclass(frozen=True, slots=True)
class DisplayBase:
    surface_id: int = field(metadata=wt(U32))
    box: Rect = field(metadata=wt(Rect))
    clip: Clip = field(metadata=wt(Clip))


@dataclass(frozen=True, slots=True)
class Palette:
    unique: int = field(metadata=wt(U64))
    num_ents: int = field(metadata=wt(U16))
    ents: tuple[int, ...] = field(metadata=wt(Array(U32, "num_ents", 4)))


@dataclass(frozen=True, slots=True)
class ImageDescriptor:
    id: int = field(metadata=wt(U64))
    type: int = field(metadata=wt(U8))
    flags: int = field(metadata=wt(U8))
    width: int = field(metadata=wt(U32))
    height: int = field(metadata=wt(U32))


_PAL_CACHED = FlagsMatch("flags", BitmapFlags.PAL_FROM_CACHE)
_PAL_SENT = FlagsMatch("flags", BitmapFlags.PAL_FROM_CACHE, 0)
#: a raw bitmap is ``stride * y`` bytes
_BITMAP_BYTES = RasterSize(8, "stride", "y", MAX_IMAGE_PIXELS * 4, "bitmap")


@dataclass(frozen=True, slots=True)
class BitmapData:
    """Raw bitmap: ``stride * y`` bytes; palette by id (PAL_FROM_CACHE) or pointer."""

    format: int = field(metadata=wt(U8))
    flags: int = field(metadata=wt(U8))
    x: int = field(metadata=wt(U32))
    y: int = field(metadata=wt(U32))
    stride: int = field(metadata=wt(U32))
    palette_id: int | None = field(
        default=None, kw_only=True, metadata=wt(U64, _PAL_CACHED)
    )
    palette: Palette | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Ptr(Palette), _PAL_SENT),
    )
    data: Payload = field(metadata=wt(Bytes(_BITMAP_BYTES, view=True)))


@dataclass(frozen=True, slots=True)
class BinaryData:
    """QUIC / LZ_RGB / GLZ_RGB / JPEG / LZ4: ``data_size`` then the codec stream."""

    data_size: int = field(metadata=wt(U32))
    data: Payload = field(metadata=wt(Bytes("data_size", view=True)))


@dataclass(frozen=True, slots=True)
class LZPLTData:
    flags: int = field(metadata=wt(U8))
    data_size: int = field(metadata=wt(U32))
    palette_id: int | None = field(
        default=None, kw_only=True, metadata=wt(U64, _PAL_CACHED)
    )
    palette: Palette | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Ptr(Palette), _PAL_SENT),
    )
    data: Payload = field(metadata=wt(Bytes("data_size", view=True)))


@dataclass(frozen=True, slots=True)
class ZlibGlzRGBData:
    glz_data_size: int = field(metadata=wt(U32))
    data_size: int = field(metadata=wt(U32))
    data: Payload = field(metadata=wt(Bytes("data_size", view=True)))


@dataclass(frozen=True, slots=True)
class JPEGAlphaData:
    flags: int = field(metadata=wt(U8))
    jpeg_size: int = field(metadata=wt(U32))
    data_size: int = field(metadata=wt(U32))
    data: Payload = field(metadata=wt(Bytes("data_size", view=True)))


@dataclass(frozen=True, slots=True)
class SurfaceRef:
    surface_id: int = field(metadata=wt(U32))


_BINARY = {
    ImageType.QUIC,
    ImageType.LZ_RGB,
    ImageType.GLZ_RGB,
    ImageType.JPEG,
    ImageType.LZ4,
}


def _is(*types: int) -> FieldIn:
    return FieldIn("descriptor", frozenset(types), attr="type")


@dataclass(frozen=True, slots=True)
class Image:
    """SpiceImage: descriptor + the body its type selects (the other bodies are None).

    FROM_CACHE / FROM_CACHE_LOSSLESS have no body.
    """

    descriptor: ImageDescriptor = field(metadata=wt(ImageDescriptor))
    bitmap: BitmapData | None = field(
        default=None, kw_only=True, metadata=wt(BitmapData, _is(ImageType.BITMAP))
    )
    binary: BinaryData | None = field(
        default=None, kw_only=True, metadata=wt(BinaryData, _is(*_BINARY))
    )
    lz_plt: LZPLTData | None = field(
        default=None, kw_only=True, metadata=wt(LZPLTData, _is(ImageType.LZ_PLT))
    )
    zlib_glz: ZlibGlzRGBData | None = field(
        default=None,
        kw_only=True,
        metadata=wt(ZlibGlzRGBData, _is(ImageType.ZLIB_GLZ_RGB)),
    )
    jpeg_alpha: JPEGAlphaData | None = field(
        default=None,
        kw_only=True,
        metadata=wt(JPEGAlphaData, _is(ImageType.JPEG_ALPHA)),
    )
    surface: SurfaceRef | None = field(
        default=None, kw_only=True, metadata=wt(SurfaceRef, _is(ImageType.SURFACE))
    )

    @property
    def payload(self) -> Payload | None:
        """The codec stream of any compressed type (None for BITMAP/SURFACE/cache)."""
        for body in (self.binary, self.lz_plt, self.zlib_glz, self.jpeg_alpha):
            if body is not None:
                return body.data
        return None


@dataclass(frozen=True, slots=True)
class Pattern:
    pat: Image = field(metadata=wt(Ptr(Image)))
    pos: Point = field(metadata=wt(Point))


@dataclass(frozen=True, slots=True)
class Brush:
    type: int = field(metadata=wt(U8))
    color: int | None = field(
        default=None,
        kw_only=True,
        metadata=wt(U32, FieldIn("type", frozenset({BrushType.SOLID}))),
    )
    pattern: Pattern | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Pattern, FieldIn("type", frozenset({BrushType.PATTERN}))),
    )


BRUSH_NONE = Brush(BrushType.NONE)


@dataclass(frozen=True, slots=True)
class QMask:
    flags: int = field(metadata=wt(U8))
    pos: Point = field(metadata=wt(Point))
    bitmap: Image | None = field(metadata=wt(Ptr(Image)))


QMASK_NONE = QMask(0, Point(0, 0), None)


@dataclass(frozen=True, slots=True)
class PathSegment:
    flags: int = field(metadata=wt(U8))
    count: int = field(metadata=wt(U32))
    points: tuple[Point, ...] = field(
        metadata=wt(Array(Point, "count", 8))
    )  # PointFix (28.4)


@dataclass(frozen=True, slots=True)
class Path:
    num_segments: int = field(metadata=wt(U32))
    segments: tuple[PathSegment, ...] = field(
        metadata=wt(Array(PathSegment, "num_segments", 5))
    )


_styled = FlagsMatch("flags", LineFlags.STYLED)


@dataclass(frozen=True, slots=True)
class LineAttr:
    flags: int = field(metadata=wt(U8))
    style_nseg: int | None = field(default=None, kw_only=True, metadata=wt(U8, _styled))
    style: tuple[int, ...] | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Ptr(Array(I32, "style_nseg", 4)), _styled),
    )


def _glyph_size(bpp: int) -> RasterSize:
    return RasterSize(bpp, "width", "height", what="glyph")


@dataclass(frozen=True, slots=True)
class RasterGlyphA1:
    render_pos: Point = field(metadata=wt(Point))
    glyph_origin: Point = field(metadata=wt(Point))
    width: int = field(metadata=wt(U16))
    height: int = field(metadata=wt(U16))
    data: bytes = field(metadata=wt(Bytes(_glyph_size(1))))


@dataclass(frozen=True, slots=True)
class RasterGlyphA4:
    render_pos: Point = field(metadata=wt(Point))
    glyph_origin: Point = field(metadata=wt(Point))
    width: int = field(metadata=wt(U16))
    height: int = field(metadata=wt(U16))
    data: bytes = field(metadata=wt(Bytes(_glyph_size(4))))


@dataclass(frozen=True, slots=True)
class RasterGlyphA8:
    render_pos: Point = field(metadata=wt(Point))
    glyph_origin: Point = field(metadata=wt(Point))
    width: int = field(metadata=wt(U16))
    height: int = field(metadata=wt(U16))
    data: bytes = field(metadata=wt(Bytes(_glyph_size(8))))


def _raster(bit: int) -> FlagsMatch:
    # spice.proto ``switch (flags)`` takes the first case that matches, so A4 is
    # read only without A1 and A8 only without both
    return FlagsMatch("flags", bit | (bit - 1), bit)


@dataclass(frozen=True, slots=True)
class String:
    """Glyph string: exactly one of the a1/a4/a8 tuples is set (by ``flags``)."""

    length: int = field(metadata=wt(U16))
    flags: int = field(metadata=wt(U8))
    glyphs_a1: tuple[RasterGlyphA1, ...] | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Array(RasterGlyphA1, "length", 20), _raster(StringFlags.RASTER_A1)),
    )
    glyphs_a4: tuple[RasterGlyphA4, ...] | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Array(RasterGlyphA4, "length", 20), _raster(StringFlags.RASTER_A4)),
    )
    glyphs_a8: tuple[RasterGlyphA8, ...] | None = field(
        default=None,
        kw_only=True,
        metadata=wt(Array(RasterGlyphA8, "length", 20), _raster(StringFlags.RASTER_A8)),
    )


@dataclass(frozen=True, slots=True)
class ChannelWait:
    channel_type: int = field(metadata=wt(U8))
    channel_id: int = field(metadata=wt(U8))
    message_serial: int = field(metadata=wt(U64))


@dataclass(frozen=True, slots=True)
class ChannelId:
    type: int = field(metadata=wt(U8))
    id: int = field(metadata=wt(U8))


@dataclass(frozen=True, slots=True)
class ResourceID:
    type: int = field(metadata=wt(U8))
    id: int = field(metadata=wt(U64))


@dataclass(frozen=True, slots=True)
class Head:
    monitor_id: int = field(metadata=wt(U32))
    surface_id: int = field(metadata=wt(U32))
    width: int = field(metadata=wt(U32))
    height: int = field(metadata=wt(U32))
    x: int = field(metadata=wt(U32))
    y: int = field(metadata=wt(U32))
    flags: int = field(metadata=wt(U32))


@dataclass(frozen=True, slots=True)
class StreamDataHeader:
    id: int = field(metadata=wt(U32))
    multi_media_time: int = field(metadata=wt(U32))


@dataclass(frozen=True, slots=True)
class CursorHeader:
    unique: int = field(metadata=wt(U64))
    type: int = field(metadata=wt(U8))
    width: int = field(metadata=wt(U16))
    height: int = field(metadata=wt(U16))
    hot_spot_x: int = field(metadata=wt(U16))
    hot_spot_y: int = field(metadata=wt(U16))


@dataclass(frozen=True, slots=True)
class Cursor:
    """flags, header unless NONE, then the shape bytes to the end of the body."""

    flags: int = field(metadata=wt(U16))
    header: CursorHeader | None = field(
        default=None,
        kw_only=True,
        metadata=wt(CursorHeader, FlagsMatch("flags", CursorFlags.NONE, 0)),
    )
    data: Payload = field(metadata=wt(Rest(view=True)))


@dataclass(frozen=True, slots=True)
class DstInfo:
    port: int = field(metadata=wt(U16))
    sport: int = field(metadata=wt(U16))
    host_size: int = field(metadata=wt(U32))
    host_data: bytes | None = field(metadata=wt(Ptr(Bytes("host_size"))))
    cert_subject_size: int = field(metadata=wt(U32))
    cert_subject_data: bytes | None = field(
        metadata=wt(Ptr(Bytes("cert_subject_size")))
    )
