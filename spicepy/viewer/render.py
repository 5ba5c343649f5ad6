"""Painting the guest's primary surface into the SDL window (pygame-ce).

The window surface is XRGB8888, the canvas's BGRX byte order read as
little-endian words, so a damaged rectangle is one numpy word copy into the
window (``pixels2d``), through the viewport's index maps when scaled
(``geometry``); then only those window rectangles are pushed to the screen.
The guest pointer is the desktop's own pointer (an SDL colour cursor) while
the viewer does not hold a relative-mouse grab; during one it is drawn into
the window as a sprite and its old place is repainted from the guest.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pygame

from spicepy.canvas.cursor import CursorImage
from spicepy.session.core import ChangedRect
from spicepy.viewer.geometry import Viewport, layout

__all__ = ["Renderer", "cursor_surface"]

Pixels = npt.NDArray[np.uint8]


def cursor_surface(image: CursorImage) -> pygame.Surface:
    """The pointer as a straight-alpha RGBA surface."""
    rgba = np.ascontiguousarray(image.straight_rgba())
    return pygame.image.frombuffer(rgba.tobytes(), (image.width, image.height), "RGBA")


class Renderer:
    """One head's picture in one window surface.

    Args:
        mode: "fit" or "1" (``geometry.layout``).
        present: pushes window rectangles to the screen (default: the display
            module's window; another window flips its whole surface).
    """

    def __init__(
        self,
        mode: str,
        present: Callable[[list[pygame.Rect]], object] | None = None,
    ) -> None:
        self.mode = mode
        self.viewport: Viewport | None = None
        #: the head's size, and where it sits in its display's surface
        self.guest_size: tuple[int, int] | None = None
        self.origin = (0, 0)
        self._present = present or pygame.display.update
        self.sprite: tuple[pygame.Surface, int, int] | None = None
        self._sprite_rect: pygame.Rect | None = None
        #: window rectangles painted since the last ``flush``
        self.dirty: list[pygame.Rect] = []

    def relayout(self, window: pygame.Surface) -> None:
        """The window or the guest changed size: place the picture again."""
        if self.guest_size is None:
            self.viewport = None
            return
        gw, gh = self.guest_size
        ww, wh = window.get_size()
        self.viewport = layout(gw, gh, max(1, ww), max(1, wh), self.mode)
        window.fill((0, 0, 0))
        self.dirty = [window.get_rect()]
        self._sprite_rect = None

    def paint(
        self, window: pygame.Surface, pixels: Pixels, rects: tuple[ChangedRect, ...]
    ) -> None:
        """Copy the head's damaged ``rects`` (head coordinates) of its display's
        surface (BGRX ``pixels``) into the window."""
        vp = self.viewport
        if vp is None:
            return
        ox, oy = self.origin
        words = _words(pixels)[oy : oy + vp.guest_h, ox : ox + vp.guest_w]
        if words.shape != (vp.guest_h, vp.guest_w):
            return  # the surface is not (yet) the one laid out
        view = pygame.surfarray.pixels2d(window)  # (w, h): x first
        try:
            for rect in rects:
                dst = vp.window_rect(rect)
                if dst is None:
                    continue
                xs = vp.xmap[dst.left - vp.x : dst.right - vp.x]
                ys = vp.ymap[dst.top - vp.y : dst.bottom - vp.y]
                if vp.identity:
                    block = words[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]
                else:
                    block = words[np.ix_(ys, xs)]
                view[dst.left : dst.right, dst.top : dst.bottom] = block.T
                self.dirty.append(
                    pygame.Rect(
                        dst.left, dst.top, dst.right - dst.left, dst.bottom - dst.top
                    )
                )
        finally:
            del view  # unlocks the surface
        if self.sprite is not None:
            self._draw_sprite(window)

    def repaint(self, window: pygame.Surface, pixels: Pixels) -> None:
        if self.guest_size is not None:
            w, h = self.guest_size
            self.paint(window, pixels, (ChangedRect(0, 0, w, h),))

    # -- the drawn pointer (relative-mouse grab) ------------------------------------
    def move_sprite(
        self,
        window: pygame.Surface,
        pixels: Pixels | None,
        sprite: tuple[pygame.Surface, int, int] | None,
    ) -> None:
        """Show ``(surface, window_x, window_y)`` (None: no drawn pointer)."""
        old, self._sprite_rect, self.sprite = self._sprite_rect, None, None
        if old is not None and pixels is not None and self.viewport is not None:
            # the guest pixels under the old sprite (one more for the rounding)
            gx0, gy0 = self.viewport.to_guest(old.left, old.top)
            gx1, gy1 = self.viewport.to_guest(old.right, old.bottom)
            self.paint(window, pixels, (ChangedRect(gx0, gy0, gx1 + 1, gy1 + 1),))
        self.sprite = sprite
        if sprite is not None:
            self._draw_sprite(window)

    def _draw_sprite(self, window: pygame.Surface) -> None:
        assert self.sprite is not None
        surface, x, y = self.sprite
        self._sprite_rect = window.blit(surface, (x, y))
        self.dirty.append(self._sprite_rect)

    def flush(self) -> int:
        """Push the painted rectangles to the screen; returns how many."""
        if not self.dirty:
            return 0
        n = len(self.dirty)
        self._present(self.dirty)
        self.dirty = []
        return n


def _words(pixels: Pixels) -> npt.NDArray[np.uint32]:
    """BGRX bytes as (h, w) little-endian XRGB words (a view when contiguous)."""
    if not pixels.flags.c_contiguous:
        pixels = np.ascontiguousarray(pixels)
    return pixels.view(np.uint32)[..., 0]
