"""The canvas's own small input types, named after spice.proto.

The canvas does not depend on the wire layer: ``spicepy.canvas.demarshal`` turns
display message bodies into these. Tests build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

from spicepy.canvas.surface import Rect

__all__ = [
    "AlphaFlags",
    "BitmapFmt",
    "Glyph",
    "GlyphString",
    "LineAttr",
    "LineFlags",
    "PathFlags",
    "PathSeg",
    "StringFlags",
    "Transform",
    "BitmapFlags",
    "Bitmap",
    "Brush",
    "BrushType",
    "Image",
    "ImageFlags",
    "ImageType",
    "MaskFlags",
    "Palette",
    "Point",
    "QMask",
    "Rect",
    "RopD",
    "ScaleMode",
]


class ImageType(IntEnum):
    """spice.proto ``enum8 image_type``."""

    BITMAP = 0
    QUIC = 1
    RESERVED = 2
    LZ_PLT = 100
    LZ_RGB = 101
    GLZ_RGB = 102
    FROM_CACHE = 103
    SURFACE = 104
    JPEG = 105
    FROM_CACHE_LOSSLESS = 106
    ZLIB_GLZ_RGB = 107
    JPEG_ALPHA = 108
    LZ4 = 109


class ImageFlags(IntFlag):
    """spice.proto ``flags8 image_flags``."""

    CACHE_ME = 1
    HIGH_BITS_SET = 2
    CACHE_REPLACE_ME = 4


class BitmapFmt(IntEnum):
    """spice.proto ``enum8 bitmap_fmt``."""

    INVALID = 0
    FMT_1BIT_LE = 1
    FMT_1BIT_BE = 2
    FMT_4BIT_LE = 3
    FMT_4BIT_BE = 4
    FMT_8BIT = 5
    FMT_16BIT = 6
    FMT_24BIT = 7
    FMT_32BIT = 8
    FMT_RGBA = 9
    FMT_8BIT_A = 10


class BitmapFlags(IntFlag):
    """spice.proto ``flags8 bitmap_flags``."""

    PAL_CACHE_ME = 1
    PAL_FROM_CACHE = 2
    TOP_DOWN = 4


class BrushType(IntEnum):
    NONE = 0
    SOLID = 1
    PATTERN = 2


class MaskFlags(IntFlag):
    INVERS = 1


class ScaleMode(IntEnum):
    INTERPOLATE = 0
    NEAREST = 1


class RopD(IntFlag):
    """ROP descriptor bits (spice.proto ``flags16 ropd``)."""

    INVERS_SRC = 1
    INVERS_BRUSH = 2
    INVERS_DEST = 4
    OP_PUT = 8
    OP_OR = 16
    OP_AND = 32
    OP_XOR = 64
    OP_BLACKNESS = 128
    OP_WHITENESS = 256
    OP_INVERS = 512
    INVERS_RES = 1024


@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class Palette:
    """A palette: ``unique`` id for the palette cache and xRGB u32 entries."""

    unique: int
    ents: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Bitmap:
    """An uncompressed bitmap (``BitmapData``); ``palette`` or ``palette_id``."""

    format: int
    flags: int
    x: int
    y: int
    stride: int
    data: bytes
    palette: Palette | None = None
    palette_id: int = 0


@dataclass(frozen=True, slots=True)
class Image:
    """A SpiceImage: descriptor fields plus the body of its type.

    ``data`` is the compressed payload (QUIC, LZ, GLZ, JPEG, LZ4, ...);
    ``bitmap`` the BITMAP body; ``surface_id`` the SURFACE body. LZ_PLT carries
    ``lz_palette``/``lz_palette_id``/``lz_flags``; JPEG_ALPHA ``jpeg_size`` and
    ``jpeg_flags``; ZLIB_GLZ_RGB ``glz_size``.
    """

    id: int
    type: int
    flags: int
    width: int
    height: int
    data: bytes = b""
    bitmap: Bitmap | None = None
    surface_id: int | None = None
    lz_flags: int = 0
    lz_palette: Palette | None = None
    lz_palette_id: int = 0
    jpeg_size: int = 0
    jpeg_flags: int = 0
    glz_size: int = 0


@dataclass(frozen=True, slots=True)
class Brush:
    """Brush: NONE, SOLID ``color`` (xRGB u32) or PATTERN ``pattern`` at ``pos``."""

    type: int = BrushType.NONE
    color: int = 0
    pattern: Image | None = None
    pos: Point = field(default_factory=lambda: Point(0, 0))


@dataclass(frozen=True, slots=True)
class QMask:
    """A 1 bpp mask image placed at ``pos`` in the bbox (no mask if bitmap is None)."""

    flags: int = 0
    pos: Point = field(default_factory=lambda: Point(0, 0))
    bitmap: Image | None = None


class PathFlags(IntFlag):
    """spice.proto ``flags8 path_flags``."""

    BEGIN = 1
    END = 2
    CLOSE = 8
    BEZIER = 16


class LineFlags(IntFlag):
    START_WITH_GAP = 4
    STYLED = 8


class StringFlags(IntFlag):
    RASTER_A1 = 1
    RASTER_A4 = 2
    RASTER_A8 = 4
    RASTER_TOP_DOWN = 8


class AlphaFlags(IntFlag):
    DEST_HAS_ALPHA = 1
    SRC_SURFACE_HAS_ALPHA = 2


@dataclass(frozen=True, slots=True)
class PathSeg:
    """A path segment; ``points`` are 28.4 fixed-point (x, y) pairs."""

    flags: int
    points: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class LineAttr:
    flags: int = 0
    style: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Glyph:
    """A raster glyph (A1/A4/A8 rows, stored bottom-up as spice-common reads them)."""

    render_pos: Point
    glyph_origin: Point
    width: int
    height: int
    data: bytes


@dataclass(frozen=True, slots=True)
class GlyphString:
    flags: int
    glyphs: tuple[Glyph, ...]


@dataclass(frozen=True, slots=True)
class Transform:
    """A 2x3 affine matrix in 16.16 fixed point (as pixman_transform rows)."""

    t00: int = 1 << 16
    t01: int = 0
    t02: int = 0
    t10: int = 0
    t11: int = 1 << 16
    t12: int = 0
