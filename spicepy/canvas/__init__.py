"""spicepy.canvas: numpy framebuffers and every SPICE display drawing command.

``Canvas`` holds one display channel's surfaces (``Surface``: (h, w, 4) uint8
BGRX/BGRA) and applies draw commands; ``SharedState`` is the pixmap cache + GLZ
dictionary a session's display channels share. ``spicepy.canvas.adapter`` feeds
parsed display messages into a canvas; ``spicepy.canvas.streams`` plays video
streams.
"""

from spicepy.canvas.canvas import Canvas, Clip, color_bytes
from spicepy.canvas.images import CachedImage, PaletteCache, SharedState
from spicepy.canvas.rop import Rop, rop3, ropd_to_rop
from spicepy.canvas.surface import Rect, Surface, SurfaceFormat
from spicepy.canvas.types import (
    Bitmap,
    BitmapFlags,
    BitmapFmt,
    Brush,
    BrushType,
    Image,
    ImageFlags,
    ImageType,
    MaskFlags,
    Palette,
    Point,
    QMask,
    RopD,
    ScaleMode,
)

__all__ = [
    "Bitmap",
    "BitmapFlags",
    "BitmapFmt",
    "Brush",
    "BrushType",
    "CachedImage",
    "Canvas",
    "Clip",
    "Image",
    "ImageFlags",
    "ImageType",
    "MaskFlags",
    "Palette",
    "PaletteCache",
    "Point",
    "QMask",
    "Rect",
    "Rop",
    "RopD",
    "ScaleMode",
    "SharedState",
    "Surface",
    "SurfaceFormat",
    "color_bytes",
    "rop3",
    "ropd_to_rop",
]
