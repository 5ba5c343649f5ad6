"""Where the guest's picture sits in the window, and which window pixels a
damaged guest rectangle repaints (no toolkit here: pure arithmetic).

Scaling is nearest-neighbour through two index maps: window column ``X`` of
the picture shows guest column ``xmap[X]`` (``floor(X / scale)``), and the
same for rows.  A damaged guest rectangle repaints exactly the window pixels
whose source lies in it (``searchsorted`` on the maps), so a picture repainted
rectangle by rectangle equals the picture scaled whole: no seams, no drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spicepy.session.core import ChangedRect

__all__ = ["SCALE_MODES", "Viewport", "layout"]

#: "fit": the whole guest, aspect kept, centred; "1": one guest pixel a pixel
SCALE_MODES = ("fit", "1")


@dataclass(frozen=True, slots=True)
class Viewport:
    """The guest picture (``guest_w`` x ``guest_h``) shown at ``(x, y)`` of a
    ``win_w`` x ``win_h`` window as ``out_w`` x ``out_h`` pixels."""

    guest_w: int
    guest_h: int
    win_w: int
    win_h: int
    x: int
    y: int
    out_w: int
    out_h: int
    xmap: npt.NDArray[np.intp] = field(repr=False, compare=False)
    ymap: npt.NDArray[np.intp] = field(repr=False, compare=False)

    @property
    def identity(self) -> bool:
        """One guest pixel per window pixel (no scaling)."""
        return self.out_w == self.guest_w and self.out_h == self.guest_h

    def window_rect(self, rect: ChangedRect) -> ChangedRect | None:
        """The window pixels showing guest ``rect`` (None: none visible)."""
        left = int(np.searchsorted(self.xmap, rect.left, "left"))
        right = int(np.searchsorted(self.xmap, rect.right, "left"))
        top = int(np.searchsorted(self.ymap, rect.top, "left"))
        bottom = int(np.searchsorted(self.ymap, rect.bottom, "left"))
        if left >= right or top >= bottom:
            return None
        return ChangedRect(left + self.x, top + self.y, right + self.x, bottom + self.y)

    def to_guest(self, wx: int, wy: int) -> tuple[int, int]:
        """The guest pixel under window pixel (wx, wy), clamped to the guest."""
        px = min(max(wx - self.x, 0), self.out_w - 1)
        py = min(max(wy - self.y, 0), self.out_h - 1)
        return int(self.xmap[px]), int(self.ymap[py])

    def guest_delta(self, dx: int, dy: int) -> tuple[float, float]:
        """A window motion in guest pixels (relative mouse)."""
        return dx * self.guest_w / self.out_w, dy * self.guest_h / self.out_h


def _index_map(out: int, src: int, offset: int) -> npt.NDArray[np.intp]:
    # window pixel i (from the picture's edge) shows source floor(i * src / out)
    return (np.arange(offset, offset + out, dtype=np.intp) * src) // out


def layout(guest_w: int, guest_h: int, win_w: int, win_h: int, mode: str) -> Viewport:
    """Place a guest picture in a window.

    ``mode`` "fit" scales the guest into the window keeping its aspect and
    centres it; "1" shows it 1:1, centred when the window is bigger and
    cropped on the right/bottom when it is smaller.

    Raises:
        ValueError: an unknown mode or a size below one pixel.
    """
    if mode not in SCALE_MODES:
        raise ValueError(f"scale mode {mode!r}: one of {', '.join(SCALE_MODES)}")
    if min(guest_w, guest_h, win_w, win_h) < 1:
        raise ValueError(
            f"empty size: guest {guest_w}x{guest_h}, window {win_w}x{win_h}"
        )
    if mode == "1":
        out_w, out_h = min(guest_w, win_w), min(guest_h, win_h)
        x, y = (win_w - out_w) // 2, (win_h - out_h) // 2
        xmap = np.arange(out_w, dtype=np.intp)
        ymap = np.arange(out_h, dtype=np.intp)
        return Viewport(guest_w, guest_h, win_w, win_h, x, y, out_w, out_h, xmap, ymap)
    # integer comparison of the two ratios: the limiting side fills the window
    if win_w * guest_h <= win_h * guest_w:
        out_w, out_h = win_w, max(1, win_w * guest_h // guest_w)
    else:
        out_w, out_h = max(1, win_h * guest_w // guest_h), win_h
    x, y = (win_w - out_w) // 2, (win_h - out_h) // 2
    return Viewport(
        guest_w,
        guest_h,
        win_w,
        win_h,
        x,
        y,
        out_w,
        out_h,
        _index_map(out_w, guest_w, 0),
        _index_map(out_h, guest_h, 0),
    )
