"""DRAW_STROKE (zero-width lines and Béziers) and DRAW_TEXT (raster glyphs).

Stroke follows canvas_draw_stroke (common/canvas_base.c): path points are 28.4
fixed point rounded by ``fix_to_int``; Béziers are flattened by the same
recursive subdivision; every polyline is drawn as X11 zero-width lines
(``miZeroLine`` in common/lines.c) with CapNotLast, the default thin-line bias
(octants 2-5 round the other way on ties), one span batch per segment. The
Bresenham points come from a closed form of the error recurrence (no per-pixel
loop) and are limited to the surface. Styled (dashed) lines go through
miWideDash at width 1 upstream; we model each dash as a 1-pixel band with butt
caps and no joins (about 94% of the reference's pixels on random segments).

Text follows sw_canvas ``canvas_draw_text``: an optional back_area filled with
the back brush, then the glyph mask (A1 bits MSB-first, A4 high nibble first as
``nibble << 4``, A8 bytes; rows bottom-up; overlapping glyphs take the max)
composited OVER with the (opaque) fore brush.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas import kernels
from spicepy.canvas.canvas import Canvas
from spicepy.canvas.region import Region, make_region
from spicepy.canvas.rop import SRC_IS_BRUSH, Rop, ropd_to_rop
from spicepy.canvas.surface import Surface
from spicepy.errors import CanvasError
from spicepy.wire import msg_display as md
from spicepy.wire.enums import BrushType, ClipType, LineFlags, PathFlags, StringFlags
from spicepy.wire.types import LineAttr, PathSegment, String

__all__ = ["fix_to_int", "flatten_path", "stroke", "text", "zero_line_points"]

Pixels = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.int64]

#: Octants whose ties round the other way (DEFAULTZEROLINEBIAS: 2, 3, 4, 5).
_XDEC, _YDEC, _YMAJ = 4, 2, 1
_BIAS = (
    (1 << (_YDEC | _YMAJ))
    | (1 << (_XDEC | _YDEC | _YMAJ))
    | (1 << (_XDEC | _YDEC))
    | (1 << _XDEC)
)
#: Path limits (a hostile path must not make us subdivide forever).
MAX_POINTS = 1 << 16
MAX_BEZIER_DEPTH = 16


def fix_to_int(value: int) -> int:
    """28.4 fixed point to int, rounding .5 down (canvas_base.c ``fix_to_int``)."""
    return (value >> 4) + (1 if (value & 0x0F) > 8 else 0)


def _bezier(
    out: list[tuple[int, int]],
    p0: tuple[int, int],
    p1: tuple[int, int],
    p2: tuple[int, int],
    p3: tuple[int, int],
    depth: int,
) -> None:
    def dot(ax: int, ay: int, bx: int, by: int) -> int:
        return (ax * bx + ay * by) >> 4

    a2 = dot(p1[0] - p0[0], p1[1] - p0[1], p1[0] - p0[0], p1[1] - p0[1])
    b2 = dot(p3[0] - p0[0], p3[1] - p0[1], p3[0] - p0[0], p3[1] - p0[1])
    c2 = dot(p2[0] - p3[0], p2[1] - p3[1], p2[0] - p3[0], p2[1] - p3[1])
    ab = dot(p1[0] - p0[0], p1[1] - p0[1], p3[0] - p0[0], p3[1] - p0[1])
    cb = dot(p2[0] - p3[0], p2[1] - p3[1], p0[0] - p3[0], p0[1] - p3[1])
    h1 = (a2 * b2 - ab * ab) >> 3
    h2 = (c2 * b2 - cb * cb) >> 3
    if (h1 < b2 and h2 < b2) or depth >= MAX_BEZIER_DEPTH or len(out) > MAX_POINTS:
        out.append((fix_to_int(p3[0]), fix_to_int(p3[1])))
        return

    def mid(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        # C integer division truncates toward zero
        return (int((a[0] + b[0]) / 2), int((a[1] + b[1]) / 2))

    p01, p12, p23 = mid(p0, p1), mid(p1, p2), mid(p2, p3)
    p012, p123 = mid(p01, p12), mid(p12, p23)
    p0123 = mid(p012, p123)
    _bezier(out, p0, p01, p012, p0123, depth + 1)
    _bezier(out, p0123, p123, p23, p3, depth + 1)


def flatten_path(segments: Sequence[PathSegment]) -> list[list[tuple[int, int]]]:
    """Integer polylines of a path (28.4 points), as canvas_draw_stroke builds them."""
    lines: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    total = 0
    for seg in segments:
        points = [(p.x, p.y) for p in seg.points]
        if seg.flags & PathFlags.BEGIN and points:
            if current:
                lines.append(current)
            current = [(fix_to_int(points[0][0]), fix_to_int(points[0][1]))]
            points = points[1:]
        if seg.flags & PathFlags.BEZIER:
            if len(points) % 3 or not current:
                raise CanvasError("bad Bézier segment")
            for i in range(0, len(points), 3):
                x, y = current[-1]
                _bezier(
                    current,
                    (x << 4, y << 4),
                    points[i],
                    points[i + 1],
                    points[i + 2],
                    0,
                )
        else:
            current.extend((fix_to_int(x), fix_to_int(y)) for x, y in points)
        if seg.flags & PathFlags.END:
            if seg.flags & PathFlags.CLOSE and current:
                current.append(current[0])
            if current:
                lines.append(current)
            current = []
        total += len(seg.points)
        if total > MAX_POINTS:
            raise CanvasError("path has too many points")
    if current:
        lines.append(current)
    return lines


def zero_line_points(
    x1: int, y1: int, x2: int, y2: int, width: int, height: int
) -> tuple[Ints, Ints]:
    """Pixels of one miZeroLine segment, endpoint excluded, inside the surface."""
    adx, ady = abs(x2 - x1), abs(y2 - y1)
    sx = -1 if x2 < x1 else 1
    sy = -1 if y2 < y1 else 1
    octant = (_XDEC if x2 < x1 else 0) | (_YDEC if y2 < y1 else 0)
    if adx > ady:
        major, minor, extent = adx, ady, width
        start, step = x1, sx
    else:
        major, minor, extent = ady, adx, height
        start, step = y1, sy
        octant |= _YMAJ
    if major == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    e1 = minor << 1
    e = e1 - major - ((_BIAS >> octant) & 1)
    e0 = e - e1
    # only the iterations whose major coordinate lands inside the surface
    if step > 0:
        lo, hi = max(0, -start), min(major, extent - start)
    else:
        lo, hi = max(0, start - (extent - 1)), min(major, start + 1)
    if hi <= lo:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    k = np.arange(lo, hi, dtype=np.int64)
    # minor steps taken after k iterations: floor((e0 + k*e1 + 2*major) / (2*major))
    steps = (e0 + k * e1 + 2 * major) // (2 * major)
    along = start + step * k
    if adx > ady:
        return along, y1 + sy * steps
    return x1 + sx * steps, along


def _spans_region(base: Region, xs: Ints, ys: Ints) -> Region | None:
    inside = (xs >= base.x0) & (xs < base.x1) & (ys >= base.y0) & (ys < base.y1)
    xs, ys = xs[inside], ys[inside]
    if xs.size == 0:
        return None
    x0, x1 = int(xs.min()), int(xs.max()) + 1
    y0, y1 = int(ys.min()), int(ys.max()) + 1
    mask = np.zeros((y1 - y0, x1 - x0), np.bool_)
    mask[ys - y0, xs - x0] = True
    if base.mask is not None:
        mask &= base.mask[y0 - base.y0 : y1 - base.y0, x0 - base.x0 : x1 - base.x0]
    return Region(x0, y0, x1, y1, mask)


def _dashes(attr: LineAttr) -> tuple[npt.NDArray[np.float64], float] | None:
    """Cumulative dash boundaries and start offset of a STYLED line, else None.

    canvas_draw_stroke rounds the 28.4 style to ints; START_WITH_GAP rotates the
    list by one and starts at the (new) first entry's offset. Like X11, an odd
    list repeats once so on/off alternate.
    """
    if not attr.flags & LineFlags.STYLED or not attr.style:
        return None
    dash = [max(0, fix_to_int(v)) for v in attr.style]
    offset = 0
    if attr.flags & LineFlags.START_WITH_GAP:
        dash = dash[1:] + dash[:1]
        offset = dash[0]
    if len(dash) % 2:
        dash = dash * 2
    bounds = np.cumsum(np.asarray(dash, np.float64))
    if bounds[-1] <= 0:
        return None
    return bounds, float(offset)


def _dash_on(
    dashes: tuple[npt.NDArray[np.float64], float], distance: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Which distances along the line fall in an "on" dash."""
    bounds, offset = dashes
    phase = np.mod(distance + offset, bounds[-1])
    on: npt.NDArray[np.bool_] = np.searchsorted(bounds, phase, side="right") % 2 == 0
    return on


def _dash_points(
    xa: int,
    ya: int,
    xb: int,
    yb: int,
    width: int,
    height: int,
    dashes: tuple[npt.NDArray[np.float64], float],
    travelled: float,
) -> tuple[Ints, Ints]:
    """Pixels of the "on" dashes of one segment, as a 1-pixel-wide band.

    A pixel is in when its (integer) point lies less than half a pixel from the
    spine and its distance along the segment, shifted by half a pixel, is in
    [0, length) and in an "on" dash: a model of miWideDash's width-1 polygons
    (butt caps; joins are not drawn).
    """
    dx, dy = xb - xa, yb - ya
    length = float(np.hypot(dx, dy))
    empty = np.zeros(0, np.int64)
    if length == 0:
        return empty, empty
    x_major = abs(dx) >= abs(dy)
    a0, b0, da, db = (xa, ya, dx, dy) if x_major else (ya, xa, dy, dx)
    extent = width if x_major else height
    lo = max(min(a0, a0 + da) - 1, 0)
    hi = min(max(a0, a0 + da) + 1, extent - 1)
    if hi < lo:
        return empty, empty
    major = np.arange(lo, hi + 1, dtype=np.int64)
    ideal = b0 + (major - a0) * (db / da if da else 0.0)
    minor = np.floor(ideal).astype(np.int64)[:, None] + np.arange(-1, 3)
    major = np.broadcast_to(major[:, None], minor.shape).ravel()
    minor = minor.ravel()
    xs, ys = (major, minor) if x_major else (minor, major)
    along = ((xs - xa) * dx + (ys - ya) * dy) / length
    across = ((ys - ya) * dx - (xs - xa) * dy) / length
    keep = (np.abs(across) < 0.5) & (along >= -0.5) & (along < length - 0.5)
    keep &= _dash_on(dashes, travelled + along)
    return xs[keep], ys[keep]


def stroke(canvas: Canvas, msg: md.DrawStroke) -> None:
    """DRAW_STROKE with zero-width (cosmetic) lines."""
    d = msg.data
    if d.path is None:
        raise CanvasError("stroke with a NULL path")
    brush = d.brush
    surface = canvas.surface(msg.base.surface_id)
    base = make_region(surface.width, surface.height, msg.base.box, msg.base.clip)
    if base is None:
        canvas.touch_brush(brush)
        return
    rop = ropd_to_rop(d.fore_mode, SRC_IS_BRUSH)
    dashes = _dashes(d.attr)
    for line in flatten_path(d.path.segments):
        travelled = 0.0  # the dash pattern runs on along a polyline
        for (xa, ya), (xb, yb) in zip(line, line[1:], strict=False):
            if dashes is None:
                xs, ys = zero_line_points(xa, ya, xb, yb, surface.width, surface.height)
            else:
                xs, ys = _dash_points(
                    xa, ya, xb, yb, surface.width, surface.height, dashes, travelled
                )
                travelled += float(np.hypot(xb - xa, yb - ya))
            region = _spans_region(base, xs, ys)
            if region is None:
                continue
            canvas.draw_brush(surface, region, brush, rop)
            canvas._finish(surface, region)


def _glyphs(string: String) -> tuple[int, list[kernels.Glyph]] | None:
    """Depth and (left, top, width, height, bits) of a string's raster glyphs;
    spice.proto switches on the first raster flag set (A1, then A4, then A8)."""
    raster: Sequence[Any]
    if string.flags & StringFlags.RASTER_A1:
        bpp, raster = 1, string.glyphs_a1 or ()
    elif string.flags & StringFlags.RASTER_A4:
        bpp, raster = 4, string.glyphs_a4 or ()
    elif string.flags & StringFlags.RASTER_A8:
        bpp, raster = 8, string.glyphs_a8 or ()
    else:
        return None  # vector glyphs: unsupported upstream too
    glyphs: list[kernels.Glyph] = [
        (
            g.render_pos.x + g.glyph_origin.x,
            g.render_pos.y + g.glyph_origin.y,
            g.width,
            g.height,
            g.data,
        )
        for g in raster
    ]
    return bpp, glyphs


def text(canvas: Canvas, msg: md.DrawText) -> None:
    """DRAW_TEXT (see the module docstring); the pixels go through the kernels
    (``kernels.fill`` for the back area, ``glyph_mask`` + ``mask_over``)."""
    d = msg.data
    if d.str is None:
        raise CanvasError("text with a NULL string")
    base = msg.base
    surface = canvas.surface(base.surface_id)
    box, clip = base.box, base.clip
    if clip.rects is None and clip.type != ClipType.NONE:
        raise CanvasError(f"unknown clip type {clip.type}")
    clips = None
    if clip.rects is not None:
        clips = [(r.left, r.top, r.right, r.bottom) for r in clip.rects]
    w, h, pixels = surface.width, surface.height, surface.pixels
    bbox = (box.left, box.top, box.right, box.bottom)
    rects = kernels.region_rects(w, h, bbox, clips)
    if not len(rects):
        return
    back = d.back_area
    if back.right > back.left and back.bottom > back.top:
        inner = (
            max(box.left, back.left),
            max(box.top, back.top),
            min(box.right, back.right),
            min(box.bottom, back.bottom),
        )
        back_rects = kernels.region_rects(w, h, inner, clips)
        if len(back_rects):
            color, tile, tx, ty = canvas.brush_args(d.back_brush, surface)
            kernels.fill(pixels, back_rects, Rop.COPY, color, tile, tx, ty)
            _finish(canvas, surface, back_rects.tolist())
    got = _glyphs(d.str)
    if got is None or d.fore_brush.type == BrushType.NONE:
        return
    mask = kernels.glyph_mask(got[1], got[0])
    if mask is None:
        return
    x0, y0, coverage = mask
    # sw_canvas translates a pattern relative to the glyph mask's origin
    # (canvas_get_pixman_brush + composite at the mask position)
    color, tile, tx, ty = canvas.brush_args(d.fore_brush, surface, x0, y0)
    kernels.mask_over(
        pixels, rects, coverage, x0, y0, color, surface.has_alpha, tile, tx, ty
    )
    mh, mw = coverage.shape
    drawn = [
        (max(r[0], x0), max(r[1], y0), min(r[2], x0 + mw), min(r[3], y0 + mh))
        for r in rects.tolist()
    ]
    _finish(canvas, surface, [r for r in drawn if r[2] > r[0] and r[3] > r[1]])


def _finish(canvas: Canvas, surface: Surface, rects: list[Any]) -> None:
    """Count the pixels and re-quantise narrow surfaces, per rectangle."""
    for left, top, right, bottom in rects:
        canvas._finish(surface, Region(left, top, right, bottom, None))
