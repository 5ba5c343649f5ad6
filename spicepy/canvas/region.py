"""Destination regions and pixel sampling shared by the draw commands.

A draw's destination region is its bbox, cut to the surface, the clip rectangles
and the QMask (spice-common ``canvas_clip_pixman`` / ``canvas_mask_pixman``). It is
kept as a rectangle plus an optional boolean mask over that rectangle, which lets
the common case (no clip or one clip rect) write through a plain numpy slice.
Rectangles come as ``spicepy.wire.types.Rect`` (right/bottom exclusive) or as
plain ints.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from spicepy.errors import CanvasError
from spicepy.wire.enums import ClipType
from spicepy.wire.types import Clip, Rect

__all__ = [
    "Box",
    "Region",
    "clip_box",
    "make_region",
    "sample_scaled",
    "surface_box",
    "tile_values",
]

Pixels = npt.NDArray[np.uint8]
_CLIP_NONE = int(ClipType.NONE)
BoolMask = npt.NDArray[np.bool_]


class Region:
    """Rectangle ``x0..x1, y0..y1`` (exclusive ends) and an optional inside-mask."""

    __slots__ = ("x0", "y0", "x1", "y1", "mask")

    def __init__(
        self, x0: int, y0: int, x1: int, y1: int, mask: BoolMask | None
    ) -> None:
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
        self.mask = mask

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def view(self, pixels: Pixels) -> Pixels:
        return pixels[self.y0 : self.y1, self.x0 : self.x1]

    def write(self, pixels: Pixels, values: Pixels) -> None:
        """Store ``values`` (shaped like the rectangle, or broadcastable) inside."""
        if self.mask is None:
            pixels[self.y0 : self.y1, self.x0 : self.x1] = values
        else:
            dest = self.view(pixels)
            np.copyto(
                dest, np.broadcast_to(values, dest.shape), where=self.mask[..., None]
            )

    def intersect(self, rect: Rect) -> Region | None:
        """The part of this region inside ``rect`` (None when empty)."""
        return self.cut(rect.left, rect.top, rect.right, rect.bottom)

    def cut(self, left: int, top: int, right: int, bottom: int) -> Region | None:
        """The part of this region inside the rectangle (None when empty)."""
        x0 = left if left > self.x0 else self.x0
        y0 = top if top > self.y0 else self.y0
        x1 = right if right < self.x1 else self.x1
        y1 = bottom if bottom < self.y1 else self.y1
        if x1 <= x0 or y1 <= y0:
            return None
        mask = None
        if self.mask is not None:
            mask = self.mask[y0 - self.y0 : y1 - self.y0, x0 - self.x0 : x1 - self.x0]
            if not mask.any():
                return None
        return Region(x0, y0, x1, y1, mask)

    def and_mask(self, extra: BoolMask) -> Region | None:
        mask = extra if self.mask is None else (self.mask & extra)
        if not mask.any():
            return None
        return Region(self.x0, self.y0, self.x1, self.y1, None if mask.all() else mask)


Box = tuple[int, int, int, int]


def surface_box(width: int, height: int, bbox: Rect) -> Box | None:
    """bbox ∩ the ``width`` x ``height`` surface, None when empty."""
    x0, y0 = max(bbox.left, 0), max(bbox.top, 0)
    x1, y1 = min(bbox.right, width), min(bbox.bottom, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def clip_box(width: int, height: int, bbox: Rect, clip: Clip) -> Box | None:
    """(x0, y0, x1, y1) of bbox ∩ the ``width`` x ``height`` surface ∩ a clip
    of at most one rectangle (NONE, or RECTS with none or one: most draws);
    None when nothing is left. A draw takes this box without a ``Region`` object
    (``kernels.blit_clipped`` / ``fill_clipped`` compute it themselves).

    Raises:
        CanvasError: a clip type other than NONE and RECTS, or a clip of
            several rectangles (``make_region`` takes those).
    """
    box = surface_box(width, height, bbox)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    rects = clip.rects
    if rects is None:
        if clip.type != _CLIP_NONE:
            raise CanvasError(f"unknown clip type {clip.type}")
        return x0, y0, x1, y1
    if len(rects) != 1:
        if not rects:
            return None
        raise CanvasError(f"clip_box of {len(rects)} clip rectangles")
    r = rects[0]
    if r.left > x0:
        x0 = r.left
    if r.top > y0:
        y0 = r.top
    if r.right < x1:
        x1 = r.right
    if r.bottom < y1:
        y1 = r.bottom
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def make_region(width: int, height: int, bbox: Rect, clip: Clip) -> Region | None:
    """bbox ∩ the ``width`` x ``height`` surface ∩ union(clip rects); None when
    nothing is left.

    Raises:
        CanvasError: a clip type other than NONE and RECTS.
    """
    rects = clip.rects
    if rects is None or len(rects) <= 1:
        box = clip_box(width, height, bbox, clip)
        return None if box is None else Region(*box, None)
    box = surface_box(width, height, bbox)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.bool_)
    for r in rects:
        cx0, cy0 = max(x0, r.left), max(y0, r.top)
        cx1, cy1 = min(x1, r.right), min(y1, r.bottom)
        if cx1 > cx0 and cy1 > cy0:
            mask[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = True
    if not mask.any():
        return None
    if mask.all():
        return Region(x0, y0, x1, y1, None)
    return Region(x0, y0, x1, y1, mask)


def _scaled_coords(
    start: int,
    count: int,
    dest_origin: int,
    dest_size: int,
    src_origin: int,
    src_size: int,
) -> npt.NDArray[np.int64]:
    """16.16 fixed source coordinates of destination pixel centres (pixman style).

    sw_canvas ``__scale_image`` uses a scale transform of src/dest (16.16) and a
    translation of the source origin; pixman samples at pixel centres.
    """
    scale = (src_size << 16) // dest_size
    i = np.arange(start - dest_origin, start - dest_origin + count, dtype=np.int64)
    # pixman transforms the first pixel centre (i + 0.5) with a rounded 16.16
    # product, then steps by ``scale`` per pixel
    half = (scale * 0x8000 + 0x8000) >> 16
    return i * scale + half + (src_origin << 16)


def _take(src: Pixels, ys: npt.NDArray[np.int64], xs: npt.NDArray[np.int64]) -> Pixels:
    """src[ys][:, xs] with zeros (transparent) outside the image (REPEAT_NONE)."""
    h, w = src.shape[:2]
    vy = (ys >= 0) & (ys < h)
    vx = (xs >= 0) & (xs < w)
    out = src[np.clip(ys, 0, h - 1)][:, np.clip(xs, 0, w - 1)]
    if not (vy.all() and vx.all()):
        out = out * (vy[:, None] & vx[None, :])[..., None].astype(np.uint8)
    return out


def sample_scaled(
    src: Pixels,
    src_area: Rect,
    bbox: Rect,
    region: Region,
    interpolate: bool,
) -> Pixels:
    """Source pixels for ``region`` when ``src_area`` is stretched onto ``bbox``.

    Nearest uses pixman's rule (fixed coordinate minus epsilon, floored); the
    interpolating mode is bilinear with 7-bit weights like pixman's bilinear path.
    """
    xs = _scaled_coords(
        region.x0, region.width, bbox.left, bbox.width, src_area.left, src_area.width
    )
    ys = _scaled_coords(
        region.y0, region.height, bbox.top, bbox.height, src_area.top, src_area.height
    )
    if not interpolate:
        return _take(src, (ys - 1) >> 16, (xs - 1) >> 16)
    xs = xs - 0x8000
    ys = ys - 0x8000
    x0, y0 = xs >> 16, ys >> 16
    fx = ((xs >> 9) & 0x7F)[None, :, None]
    fy = ((ys >> 9) & 0x7F)[:, None, None]
    p00 = _take(src, y0, x0).astype(np.int64)
    p01 = _take(src, y0, x0 + 1).astype(np.int64)
    p10 = _take(src, y0 + 1, x0).astype(np.int64)
    p11 = _take(src, y0 + 1, x0 + 1).astype(np.int64)
    top = p00 * (128 - fx) + p01 * fx
    bottom = p10 * (128 - fx) + p11 * fx
    # pixman (GOOD == BILINEAR) truncates the weighted sum, no rounding term
    out: Pixels = ((top * (128 - fy) + bottom * fy) >> 14).astype(np.uint8)
    return out


def tile_values(tile: Pixels, region: Region, offset_x: int, offset_y: int) -> Pixels:
    """Pattern pixels for ``region``: tile[(y - oy) mod h, (x - ox) mod w]."""
    h, w = tile.shape[:2]
    ys = (np.arange(region.y0, region.y1) - offset_y) % h
    xs = (np.arange(region.x0, region.x1) - offset_x) % w
    out: Pixels = tile[ys][:, xs]
    return out
