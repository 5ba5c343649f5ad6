"""spicepy.canvas: numpy framebuffers and every SPICE display drawing command.

Live channels and offline replay call ``DisplayDriver.handle_message(type, body,
now)`` (parse + apply). ``Canvas`` holds one display channel's surfaces
(``Surface``: (h, w, 4) uint8 BGRX/BGRA) and applies draw commands;
``SharedState`` is the pixmap cache + GLZ dictionary that a session's display
channels share; ``StreamManager`` plays video streams.
"""

from spicepy.canvas.canvas import Canvas, Clip, color_bytes
from spicepy.canvas.demarshal import Command, parse_display
from spicepy.canvas.driver import DisplayDriver
from spicepy.canvas.images import CachedImage, ImageNotReady, PaletteCache, SharedState
from spicepy.canvas.rop import Rop, rop3, ropd_to_rop
from spicepy.canvas.streams import StreamManager, StreamReport
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
    "Command",
    "DisplayDriver",
    "ImageNotReady",
    "StreamManager",
    "StreamReport",
    "parse_display",
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
