"""spicepy.canvas: numpy framebuffers and every SPICE display drawing command.

``Canvas`` holds a display channel's surfaces and draws (``draw_blend`` and
``draw_lines`` the rest), ``StreamManager`` its video; ``spicepy.session.core``'s
``DisplayDriver`` applies decoded display messages to both.  ``SharedState`` is
the pixmap cache + GLZ dictionary that a session's display channels share.
Surfaces are ``Surface`` objects: (h, w, 4) uint8 B, G, R, X/A arrays.
"""

from spicepy.canvas.canvas import Canvas, color_bytes
from spicepy.canvas.images import CachedImage, ImageNotReady, PaletteCache, SharedState
from spicepy.canvas.rop import Rop, rop3, ropd_to_rop
from spicepy.canvas.streams import StreamManager
from spicepy.canvas.surface import Surface, SurfaceFormat

__all__ = [
    "CachedImage",
    "Canvas",
    "ImageNotReady",
    "PaletteCache",
    "Rop",
    "SharedState",
    "StreamManager",
    "Surface",
    "SurfaceFormat",
    "color_bytes",
    "rop3",
    "ropd_to_rop",
]
