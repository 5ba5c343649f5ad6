"""Draw known content on an X display and read its framebuffer (python-xlib).

Used by the live tests and ``spicepy demo``: everything is drawn straight onto
the root window (there is no window manager). Every drawing call flushes its
requests to the X server before it returns (python-xlib buffers them until a
reply is needed, so a test that drew and then waited for spicepy to see the
change would otherwise wait for nothing); ``sync()`` also waits until the server
executed them, so the SPICE server has the draw commands queued.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.errors import SessionError

RGB = tuple[int, int, int]

try:  # python-xlib is a test/demo extra
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.error import DisplayError
except ImportError:  # pragma: no cover - reported by XDraw()
    X = None


def _pixel(color: RGB) -> int:
    """A TrueColor depth-24 pixel value (the only visual Xspice offers)."""
    r, g, b = color
    return (r << 16) | (g << 8) | b


class XDraw:
    """A connection to one X display with simple drawing primitives.

    Args:
        display: X display name, e.g. ``":41"``.

    Raises:
        SessionError: python-xlib is missing or the display cannot be opened.
    """

    def __init__(self, display: str) -> None:
        if X is None:
            raise SessionError("python-xlib is not installed (pip install python-xlib)")
        try:
            self._d: Any = xdisplay.Display(display)
        except (DisplayError, OSError) as exc:
            raise SessionError(f"cannot open X display {display}: {exc}") from exc
        self._screen: Any = self._d.screen()
        self.root: Any = self._screen.root
        self.width = int(self._screen.width_in_pixels)
        self.height = int(self._screen.height_in_pixels)
        self._gc: Any = self.root.create_gc(foreground=0, background=0)
        self._font: Any = None

    def close(self) -> None:
        self._d.close()

    def __enter__(self) -> XDraw:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def sync(self) -> None:
        """Wait until the X server has executed every request sent so far."""
        self._d.sync()

    def flush(self) -> None:
        """Send every buffered request to the X server (no round trip)."""
        self._d.flush()

    def fill_rect(self, x: int, y: int, w: int, h: int, color: RGB) -> None:
        """Fill a solid rectangle (arrives as DRAW_FILL); flushed."""
        self._gc.change(foreground=_pixel(color))
        self.root.fill_rectangle(self._gc, x, y, w, h)
        self.flush()

    def clear(self, color: RGB = (0, 0, 0)) -> None:
        self.fill_rect(0, 0, self.width, self.height, color)

    def draw_text(
        self,
        x: int,
        y: int,
        text: str,
        color: RGB = (255, 255, 255),
        background: RGB | None = None,
        font: str = "fixed",
    ) -> None:
        """Draw text with a core X font at baseline (x, y); flushed.

        ``fixed`` is built into Xorg, so it works without any font package.
        """
        if self._font is None:
            self._font = self._d.open_font(font)
        self._gc.change(foreground=_pixel(color), font=self._font)
        data = text.encode("latin-1", "replace")
        if background is None:
            self.root.poly_text(self._gc, x, y, [data])
        else:
            self._gc.change(background=_pixel(background))
            self.root.image_text(self._gc, x, y, data)
        self.flush()

    def put_image(self, x: int, y: int, rgb: npt.NDArray[np.uint8]) -> None:
        """Put an (h, w, 3) uint8 RGB image at (x, y) (arrives as DRAW_COPY); flushed.

        Sent in bands so each PutImage request stays well under the X limit.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError("put_image wants an (h, w, 3) uint8 array")
        h, w = rgb.shape[:2]
        bgrx = np.zeros((h, w, 4), np.uint8)
        bgrx[..., 0] = rgb[..., 2]
        bgrx[..., 1] = rgb[..., 1]
        bgrx[..., 2] = rgb[..., 0]
        band = max(1, (200 * 1024) // max(1, w * 4))  # < 65535 words per request
        for top in range(0, h, band):
            part = bgrx[top : top + band]
            self.root.put_image(
                self._gc, x, y + top, w, part.shape[0], X.ZPixmap, 24, 0, part.tobytes()
            )
        self.flush()

    def framebuffer(self) -> npt.NDArray[np.uint8]:
        """The root window as an (h, w, 3) uint8 RGB array (X GetImage)."""
        self.sync()
        rows: list[npt.NDArray[np.uint8]] = []
        band = 128
        for top in range(0, self.height, band):
            h = min(band, self.height - top)
            reply = self.root.get_image(0, top, self.width, h, X.ZPixmap, 0xFFFFFFFF)
            raw = np.frombuffer(reply.data, np.uint8)
            rows.append(raw.reshape(h, self.width, 4)[..., 2::-1])
        return np.ascontiguousarray(np.concatenate(rows))

    def warp_pointer(self, x: int, y: int) -> None:
        self.root.warp_pointer(x, y)
        self.sync()


def draw_test_scene(draw: XDraw, seed: int = 1) -> None:
    """Deterministic visible content: coloured bars, text and a small photo-like image.

    Every primitive the first end-to-end screenshot needs shows up: solid fills,
    text (rendered by Xorg into images), and a PutImage of a gradient.
    """
    rng = np.random.default_rng(seed)
    draw.clear((32, 32, 48))
    colours: list[RGB] = [
        (220, 50, 47),
        (133, 153, 0),
        (38, 139, 210),
        (181, 137, 0),
        (211, 54, 130),
        (42, 161, 152),
    ]
    for i, colour in enumerate(colours):
        draw.fill_rect(40 + i * 150, 40, 130, 90, colour)
    draw.fill_rect(40, 160, 600, 60, (250, 250, 250))
    draw.draw_text(56, 196, "spicepy: hello from Xspice 0123456789", (0, 0, 0))
    draw.draw_text(56, 260, "white on blue", (255, 255, 255), (0, 0, 160))
    h, w = 160, 240
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = (xx * 255 // (w - 1)).astype(np.uint8)
    img[..., 1] = (yy * 255 // (h - 1)).astype(np.uint8)
    img[..., 2] = rng.integers(0, 256, (h, w), dtype=np.uint8)
    draw.put_image(680, 200, img)
    draw.sync()
