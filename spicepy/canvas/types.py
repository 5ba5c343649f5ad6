"""The canvas's own small value types (images, brushes, glyphs), named after
spice.proto.

``spicepy.canvas.demarshal`` turns display message bodies into these; tests build
them directly. The spec enums and flags come from the wire layer below
(``spicepy.wire.enums``) and are re-exported here, ``RopD`` and ``ScaleMode``
under the canvas's shorter names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spicepy.canvas.surface import Rect
from spicepy.wire.enums import (
    AlphaFlags,
    BitmapFlags,
    BitmapFmt,
    BrushType,
    ImageFlags,
    ImageType,
    LineFlags,
    MaskFlags,
    PathFlags,
    StringFlags,
)
from spicepy.wire.enums import ImageScaleMode as ScaleMode
from spicepy.wire.enums import RopDescriptor as RopD

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
