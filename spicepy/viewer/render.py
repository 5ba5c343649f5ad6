"""Painting the guest's primary surface into the SDL window (pygame-ce).

The window surface is XRGB8888, the canvas's BGRX byte order read as
little-endian words, so a damaged rectangle is one numpy word copy into the
window (``pixels2d``), through the viewport's index maps when scaled
(``geometry``); then only those window rectangles are pushed to the screen.
The guest pointer is the desktop's own pointer (an SDL colour cursor) while
the viewer does not hold a relative-mouse grab; during one, and for shapes
that invert the screen (SDL cursors cannot), it is drawn into the window as a
sprite: "over" its RGBA, then its XOR plane into the window's words, the
spec's ``(screen AND mask) XOR colour``.  Damage under the sprite repaints the
guest under all of it before drawing it again (an XOR drawn twice undoes
itself); moving it repaints its old place from the guest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pygame

from spicepy.canvas.cursor import CursorImage
from spicepy.session.core import ChangedRect
from spicepy.viewer.geometry import Viewport, layout

__all__ = ["Renderer", "Sprite", "cursor_sprite", "cursor_surface"]

Pixels = npt.NDArray[np.uint8]


class Sprite(NamedTuple):
    """A pointer drawn into the window: ``surface`` with its top-left corner
    at window pixel (x, y), then ``xor`` (h, w) XRGB words XORed in (None:
    nothing inverts)."""

    surface: pygame.Surface
    x: int
    y: int
    xor: npt.NDArray[np.uint32] | None = None


def cursor_surface(image: CursorImage) -> pygame.Surface:
    """The pointer as a straight-alpha RGBA surface."""
    rgba = np.ascontiguousarray(image.straight_rgba())
    return pygame.image.frombuffer(rgba.tobytes(), (image.width, image.height), "RGBA")


def cursor_sprite(image: CursorImage, x: int, y: int) -> Sprite:
    """The pointer as a sprite with its hot spot on window pixel (x, y)."""
    xor: npt.NDArray[np.uint32] | None = None
    if image.xor is not None:
        rgb = image.xor.astype(np.uint32)
        xor = ((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]).astype(np.uint32)
    return Sprite(cursor_surface(image), x - image.hot_x, y - image.hot_y, xor)


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
        self.sprite: Sprite | None = None
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
        painted = self._copy(window, words, rects)
        under = self._sprite_rect
        if self.sprite is not None and under is not None:
            if under.collidelist(painted) >= 0:  # the guest under all of it
                self._copy(window, words, (self._guest_under(under),))
                self._draw_sprite(window)
        elif self.sprite is not None:
            self._draw_sprite(window)

    def _copy(
        self,
        window: pygame.Surface,
        words: npt.NDArray[np.uint32],
        rects: tuple[ChangedRect, ...],
    ) -> list[pygame.Rect]:
        vp = self.viewport
        assert vp is not None
        painted = []
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
                painted.append(
                    pygame.Rect(
                        dst.left, dst.top, dst.right - dst.left, dst.bottom - dst.top
                    )
                )
        finally:
            del view  # unlocks the surface
        self.dirty += painted
        return painted

    def _guest_under(self, rect: pygame.Rect) -> ChangedRect:
        """The guest pixels shown in window ``rect`` (one more for rounding)."""
        assert self.viewport is not None
        gx0, gy0 = self.viewport.to_guest(rect.left, rect.top)
        gx1, gy1 = self.viewport.to_guest(rect.right, rect.bottom)
        return ChangedRect(gx0, gy0, gx1 + 1, gy1 + 1)

    def repaint(self, window: pygame.Surface, pixels: Pixels) -> None:
        if self.guest_size is not None:
            w, h = self.guest_size
            self.paint(window, pixels, (ChangedRect(0, 0, w, h),))

    # -- the drawn pointer (relative-mouse grab, inverting shapes) -----------------
    def move_sprite(
        self, window: pygame.Surface, pixels: Pixels | None, sprite: Sprite | None
    ) -> None:
        """Show ``sprite`` (None: no drawn pointer)."""
        old, self._sprite_rect, self.sprite = self._sprite_rect, None, None
        if old is not None and pixels is not None and self.viewport is not None:
            self.paint(window, pixels, (self._guest_under(old),))
        self.sprite = sprite
        if sprite is not None:
            self._draw_sprite(window)

    def _draw_sprite(self, window: pygame.Surface) -> None:
        assert self.sprite is not None
        surface, x, y, xor = self.sprite
        rect = window.blit(surface, (x, y))
        self._sprite_rect = rect
        self.dirty.append(rect)
        if xor is not None and rect.width and rect.height:
            view = pygame.surfarray.pixels2d(window)
            try:  # the blit's rect is the sprite clipped to the window
                part = xor[
                    rect.top - y : rect.bottom - y, rect.left - x : rect.right - x
                ]
                view[rect.left : rect.right, rect.top : rect.bottom] ^= part.T
            finally:
                del view

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
