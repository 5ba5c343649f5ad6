"""Where the guest's picture sits in the window, and which window pixels a
damaged guest rectangle repaints (no toolkit here: pure arithmetic).

Scaling is nearest-neighbour through two index maps: window column ``X`` of
the picture shows guest column ``xmap[X]`` (``floor(X / scale)``), and the
same for rows.  A damaged guest rectangle repaints exactly the window pixels
whose source lies in it (``searchsorted`` on the maps), so a picture repainted
rectangle by rectangle equals the picture scaled whole: no seams, no drift.

Heads: every display channel's surface, or each monitor MONITORS_CONFIG put
on it, is one ``Head`` (one window, as remote-viewer shows them); a damaged
surface rectangle becomes each head's own rectangle (``Head.local``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spicepy.session.core import ChangedRect
from spicepy.session.frames import Monitor

__all__ = ["SCALE_MODES", "Head", "Viewport", "heads", "layout"]

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
    #: "fit" (out_w x out_h show the whole guest); False: "1", one guest pixel a
    #: window pixel, cropped when the window is smaller
    scaled: bool = True

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
        if not self.scaled:  # 1:1, also when cropped (out_w < guest_w)
            return float(dx), float(dy)
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
        return Viewport(
            guest_w, guest_h, win_w, win_h, x, y, out_w, out_h, xmap, ymap, False
        )
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


@dataclass(frozen=True, slots=True)
class Head:
    """One guest monitor, shown in its own window: the area (``x``, ``y``,
    ``width`` x ``height``) of display channel ``display``'s primary surface;
    ``monitor`` is None for a display that announced no monitors."""

    display: int
    monitor: int | None
    x: int
    y: int
    width: int
    height: int

    @property
    def key(self) -> tuple[int, int]:
        """What stays the same while this head changes size."""
        return (self.display, self.monitor or 0)

    @property
    def mouse_display(self) -> int:
        """The display id of pointer positions on this head (spice-gtk's rule:
        monitor ids on display channel 0, the channel id otherwise); the
        positions themselves are relative to the head (``local``)."""
        if self.display == 0 and self.monitor is not None:
            return self.monitor
        return self.display

    def local(self, rect: ChangedRect) -> ChangedRect | None:
        """Surface ``rect`` in this head's coordinates, clipped (None: outside)."""
        left, right = max(rect.left, self.x), min(rect.right, self.x + self.width)
        top, bottom = max(rect.top, self.y), min(rect.bottom, self.y + self.height)
        if left >= right or top >= bottom:
            return None
        return ChangedRect(left - self.x, top - self.y, right - self.x, bottom - self.y)


def heads(surfaces: Mapping[int, tuple[int, int, Sequence[Monitor]]]) -> list[Head]:
    """The heads to show: ``surfaces`` maps a display channel id to its primary
    surface's (width, height, monitors).  Each monitor clipped to its surface
    is a head; a display without a monitor that meets its surface (none
    announced yet, or a stale config) is shown whole.  Ordered by display,
    then monitor id: the first is the main window."""
    out: list[Head] = []
    for display in sorted(surfaces):
        width, height, monitors = surfaces[display]
        if width < 1 or height < 1:
            continue
        whole = ChangedRect(0, 0, width, height)
        shown = []
        for m in sorted(monitors, key=lambda m: m.monitor_id):
            area = Head(display, m.monitor_id, m.x, m.y, m.width, m.height)
            clip = area.local(whole) if m.width > 0 and m.height > 0 else None
            if clip is not None:
                left, top = m.x + clip.left, m.y + clip.top
                shown.append(
                    Head(
                        display,
                        m.monitor_id,
                        left,
                        top,
                        clip.right - clip.left,
                        clip.bottom - clip.top,
                    )
                )
        out += shown or [Head(display, None, 0, 0, width, height)]
    return out
