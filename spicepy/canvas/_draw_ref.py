"""Drawing kernels, pure-Python + numpy reference twin of ``_draw.pyx``.

Read ``spicepy.canvas.kernels`` for the API. Every kernel works on a surface
array ``dst`` (``uint8`` ``(h, w, 4)``, B, G, R, X/A, C-contiguous) and a list
of rectangles ``(left, top, right, bottom)`` (right/bottom exclusive) that it
first cuts to the surface, and to the source/mask extent where there is one,
then draws one rectangle after the other: pass disjoint rectangles (as
``region_rects`` gives) when the operation reads the destination. A source that
shares memory with ``dst`` is read as it was before the call (snapshot), as
the canvas's copy of a SURFACE image naming its own destination.

The per-pixel rules are the canvas's (common/sw_canvas.c, pixman): ROPs are
bitwise on the 32-bit word (``rop.apply_rop`` / ``rop.rop3``), blending uses
pixman's ``MUL_UN8`` on premultiplied bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from spicepy.canvas.region import clip_box, surface_box
from spicepy.canvas.rop import Rop, apply_rop, rop3
from spicepy.errors import CanvasError
from spicepy.wire.types import Clip, Rect

__all__ = [
    "GLYPH_MAX_PIXELS",
    "REGION_MAX_SWEEP",
    "alpha_blend",
    "blit",
    "blit_clipped",
    "copy_clipped",
    "fill",
    "fill_clipped",
    "glyph_mask",
    "mask_over",
    "region_rects",
    "rop3_blit",
    "transparent",
]

Pixels = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.uint8]
Rects = npt.NDArray[np.int64]
#: A glyph as ``glyph_mask`` takes it: (left, top, width, height, bits).
Glyph = tuple[int, int, int, int, bytes | bytearray | memoryview]

#: Largest text mask (width x height) a DRAW_TEXT may ask for.
GLYPH_MAX_PIXELS = 1 << 24
#: Above this many clip rectangles the compiled twin builds the region from a
#: raster (bounded by the area) instead of its quadratic sweep; same result.
REGION_MAX_SWEEP = 256

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


# -- argument checks (both twins raise the same CanvasError for the same input) -----


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise CanvasError(f"{name} must be an int, not {type(value).__name__}")
    number = int(value)
    if not _I64_MIN <= number <= _I64_MAX:
        raise CanvasError(f"{name} {number} is out of range")
    return number


def _surface(dst: object) -> Pixels:
    if (
        not isinstance(dst, np.ndarray)
        or dst.dtype != np.uint8
        or dst.ndim != 3
        or dst.shape[2] != 4
        or not dst.flags.c_contiguous
        or not dst.flags.writeable
    ):
        raise CanvasError("destination must be a writable C-contiguous (h, w, 4) uint8")
    return dst


def _image(src: object, name: str) -> Pixels:
    if (
        not isinstance(src, np.ndarray)
        or src.dtype != np.uint8
        or src.ndim != 3
        or src.shape[2] != 4
    ):
        raise CanvasError(f"{name} must be an (h, w, 4) uint8 array")
    return src


def _rects(rects: object) -> Rects:
    """``rects`` as an int64 ``(n, 4)`` array."""
    try:
        arr = np.asarray(rects, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CanvasError(f"bad rectangle list: {exc}") from None
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise CanvasError(f"rectangles must be (n, 4), not {arr.shape}")
    return arr


def _rop(rop: object) -> Rop:
    code = _int(rop, "rop")
    if not 0 <= code <= 15:
        raise CanvasError(f"unknown rop {code}")
    return Rop(code)


def _color(color: object) -> Pixels:
    """An xRGB u32 as the 4 canvas bytes B, G, R, X (``canvas.color_bytes``)."""
    value = _int(color, "color") & 0xFFFFFFFF
    return np.frombuffer(value.to_bytes(4, "little"), np.uint8).copy()


def _cut(
    rect: npt.NDArray[np.int64], x0: int, y0: int, x1: int, y1: int
) -> tuple[int, int, int, int] | None:
    """``rect`` ∩ [x0, x1) x [y0, y1), None when empty."""
    left, top = max(int(rect[0]), x0), max(int(rect[1]), y0)
    right, bottom = min(int(rect[2]), x1), min(int(rect[3]), y1)
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def _snapshot(src: Pixels, dst: Pixels) -> Pixels:
    return src.copy() if np.may_share_memory(src, dst) else src


def _source_boxes(
    dst: Pixels, rects: object, src: Pixels, ox: int, oy: int
) -> list[tuple[tuple[int, int, int, int], Pixels]]:
    """Each rectangle cut to dst and to the source placed at (ox, oy), with the
    source pixels it reads; those come from a snapshot of the union of the areas
    read when the source shares memory with dst (never more than the source)."""
    h, w = dst.shape[:2]
    sh, sw = src.shape[:2]
    x0, y0, x1, y1 = max(0, ox), max(0, oy), min(w, ox + sw), min(h, oy + sh)
    boxes = [b for b in (_cut(r, x0, y0, x1, y1) for r in _rects(rects)) if b]
    if boxes and np.may_share_memory(src, dst):
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
        snap = src[top - oy : bottom - oy, left - ox : right - ox].copy()
        src, ox, oy = snap, left, top  # snap[y - top, x - left] is dst (x, y)'s
    return [(b, src[b[1] - oy : b[3] - oy, b[0] - ox : b[2] - ox]) for b in boxes]


def _brush(
    color: object,
    tile: object,
    tile_x: object,
    tile_y: object,
    dst: Pixels,
) -> tuple[Pixels, Pixels | None, int, int]:
    """Solid colour bytes, or a (snapshot) tile with its origin."""
    value = _color(color)
    tx, ty = _int(tile_x, "tile_x"), _int(tile_y, "tile_y")
    if tile is None:
        return value, None, tx, ty
    pattern = _image(tile, "tile")
    if pattern.shape[0] == 0 or pattern.shape[1] == 0:
        raise CanvasError("empty pattern tile")
    return value, _snapshot(pattern, dst), tx, ty


def _brush_values(
    value: Pixels,
    tile: Pixels | None,
    tile_x: int,
    tile_y: int,
    box: tuple[int, int, int, int],
) -> Pixels:
    """Brush pixels over ``box``: tile[(y - ty) mod h, (x - tx) mod w]
    (``region.tile_values``), or the single colour."""
    if tile is None:
        return value
    left, top, right, bottom = box
    th, tw = tile.shape[:2]
    ys = (np.arange(top, bottom, dtype=np.int64) - tile_y) % th
    xs = (np.arange(left, right, dtype=np.int64) - tile_x) % tw
    out: Pixels = tile[ys][:, xs]
    return out


def _mul_un8(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """pixman's rounded a * b / 255 on 8-bit values (``MUL_UN8``)."""
    t = np.asarray(a, np.int32) * np.asarray(b, np.int32) + 0x80
    return ((t >> 8) + t) >> 8


# -- regions -------------------------------------------------------------------------


def region_rects(
    width: int, height: int, bbox: Sequence[int], clips: object | None
) -> Rects:
    """Disjoint rectangles of bbox ∩ surface ∩ union(clips), banded as pixman keeps
    regions: ordered by top then left, maximal runs in each band, vertically
    adjacent bands with the same runs merged (``canvas_clip_pixman``).

    Args:
        width, height: the surface size.
        bbox: the draw's bounding box (left, top, right, bottom).
        clips: None (SPICE_CLIP_TYPE_NONE) or the clip rectangles.

    Returns:
        int64 ``(n, 4)``; ``n == 0`` when nothing is left.
    """
    w, h = _int(width, "width"), _int(height, "height")
    box = _rects([bbox])
    if box.shape[0] != 1:
        raise CanvasError("bbox must be one rectangle")
    area = _cut(box[0], 0, 0, max(w, 0), max(h, 0))
    if area is None:
        return np.zeros((0, 4), np.int64)
    if clips is None:
        return np.array([area], np.int64)
    clip = _rects(clips)
    left, top, right, bottom = area
    parts = [p for p in (_cut(c, left, top, right, bottom) for c in clip) if p]
    if len(parts) <= 1:
        return np.array(parts, np.int64).reshape(-1, 4)
    mask = np.zeros((bottom - top, right - left), np.bool_)
    for pl, pt, pr, pb in parts:
        mask[pt - top : pb - top, pl - left : pr - left] = True
    # a band starts at every row whose runs differ from the row above
    starts = [0, *(np.flatnonzero(np.any(mask[1:] != mask[:-1], axis=1)) + 1)]
    out: list[tuple[int, int, int, int]] = []
    for i, y0 in enumerate(starts):
        y1 = starts[i + 1] if i + 1 < len(starts) else mask.shape[0]
        edges = np.flatnonzero(np.diff(mask[y0].astype(np.int8), prepend=0, append=0))
        for xa, xb in zip(edges[::2], edges[1::2], strict=True):
            out.append((left + int(xa), top + y0, left + int(xb), top + y1))
    return np.array(out, np.int64).reshape(-1, 4)


# -- draws ---------------------------------------------------------------------------


def fill(
    dst: Pixels,
    rects: object,
    rop: int,
    color: int,
    tile: Pixels | None = None,
    tile_x: int = 0,
    tile_y: int = 0,
) -> None:
    """dest = rop(brush, dest) (``Canvas.draw_brush``)."""
    dst = _surface(dst)
    op = _rop(rop)
    value, pattern, tx, ty = _brush(color, tile, tile_x, tile_y, dst)
    h, w = dst.shape[:2]
    for rect in _rects(rects):
        box = _cut(rect, 0, 0, w, h)
        if box is None:
            continue
        left, top, right, bottom = box
        values = _brush_values(value, pattern, tx, ty, box)
        d = dst[top:bottom, left:right]
        d[...] = values if op == Rop.COPY else apply_rop(op, values, d)


def blit(
    dst: Pixels,
    rects: object,
    src: Pixels,
    dx: int,
    dy: int,
    rop: int,
    opaque: bool = False,
) -> int:
    """dest(x, y) = rop(src(x - dx, y - dy), dest) inside the source; returns
    the number of pixels drawn."""
    dst = _surface(dst)
    image = _image(src, "source")
    op = _rop(rop)
    ox, oy = _int(dx, "dx"), _int(dy, "dy")
    drawn = 0
    for box, s in _source_boxes(dst, rects, image, ox, oy):
        left, top, right, bottom = box
        if opaque:
            s = s.copy()
            s[..., 3] = 0xFF
        d = dst[top:bottom, left:right]
        d[...] = s if op == Rop.COPY else apply_rop(op, s, d)
        drawn += (right - left) * (bottom - top)
    return drawn


def blit_clipped(
    dst: Pixels,
    bbox: Rect,
    clip: Clip,
    src: Pixels,
    dx: int,
    dy: int,
    rop: int,
    opaque: bool = False,
) -> int:
    """``blit`` over ``region.clip_box`` of dst's size (a display message's
    bbox and clip); returns the pixels drawn, -1 for a clip of several
    rectangles (the caller's region path takes those)."""
    box = _message_box(dst, bbox, clip)
    if not isinstance(box, tuple):
        return 0 if box is None else -1
    _image(src, "source")
    _rop(rop)
    return blit(dst, (box,), src, dx, dy, rop, opaque)


def copy_clipped(
    dst: Pixels,
    bbox: Rect,
    clip: Clip,
    src: Pixels,
    src_area: Rect,
    rop: int,
    opaque: bool = False,
) -> int:
    """``blit_clipped`` of a same-size draw (DRAW_COPY): source pixel
    (src_area.left, src_area.top) lands on (bbox.left, bbox.top); -1 also when
    src_area's size is not bbox's (a scaled draw: the caller's path)."""
    _surface(dst)
    if (
        src_area.right - src_area.left != bbox.right - bbox.left
        or src_area.bottom - src_area.top != bbox.bottom - bbox.top
    ):
        return -1
    dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
    return blit_clipped(dst, bbox, clip, src, dx, dy, rop, opaque)


def fill_clipped(dst: Pixels, bbox: Rect, clip: Clip, rop: int, color: int) -> int:
    """Solid ``fill`` over ``region.clip_box`` of dst's size; returns the
    pixels drawn, -1 for a clip of several rectangles."""
    box = _message_box(dst, bbox, clip)
    if not isinstance(box, tuple):
        return 0 if box is None else -1
    fill(dst, (box,), rop, color)
    left, top, right, bottom = box
    return (right - left) * (bottom - top)


def _message_box(
    dst: object, bbox: Rect, clip: Clip
) -> tuple[int, int, int, int] | int | None:
    """``clip_box`` of the destination's size, -1 for several clip rectangles."""
    h, w = _surface(dst).shape[:2]
    rects = clip.rects
    if rects is not None and len(rects) > 1:
        # clip_box refuses these; an empty bbox ∩ surface is empty whatever the clip
        return None if surface_box(w, h, bbox) is None else -1
    return clip_box(w, h, bbox, clip)


def rop3_blit(
    dst: Pixels,
    rects: object,
    src: Pixels,
    dx: int,
    dy: int,
    code: int,
    color: int,
    tile: Pixels | None = None,
    tile_x: int = 0,
    tile_y: int = 0,
) -> None:
    """dest = rop3(code)(brush, src(x - dx, y - dy), dest) inside the source."""
    dst = _surface(dst)
    image = _image(src, "source")
    rop_code = _int(code, "rop3 code")
    if not 0 <= rop_code <= 0xFF:
        raise CanvasError(f"rop3 code {rop_code} is not 0..255")
    ox, oy = _int(dx, "dx"), _int(dy, "dy")
    value, pattern, tx, ty = _brush(color, tile, tile_x, tile_y, dst)
    for box, s in _source_boxes(dst, rects, image, ox, oy):
        left, top, right, bottom = box
        p = _brush_values(value, pattern, tx, ty, box)
        d = dst[top:bottom, left:right]
        d[...] = rop3(rop_code, p, s, d)


def transparent(
    dst: Pixels,
    rects: object,
    src: Pixels,
    dx: int,
    dy: int,
    key: int,
    key_mask: int = 0xFFFFFF,
) -> None:
    """Copy source pixels whose ``B, G, R & key_mask`` differ from ``key``'s."""
    dst = _surface(dst)
    image = _image(src, "source")
    ox, oy = _int(dx, "dx"), _int(dy, "dy")
    want = _color(key)[:3]
    bits = _color(key_mask)[:3]
    for box, s in _source_boxes(dst, rects, image, ox, oy):
        left, top, right, bottom = box
        keep = ~np.all((s[..., :3] & bits) == (want & bits), axis=-1)
        d = dst[top:bottom, left:right]
        np.copyto(d, s, where=keep[..., None])


def alpha_blend(
    dst: Pixels,
    rects: object,
    src: Pixels,
    dx: int,
    dy: int,
    alpha: int,
    src_opaque: bool,
    dest_alpha: bool,
) -> None:
    """Premultiplied OVER of the source scaled by ``alpha`` (draw_blend.alpha_blend).

    ``src_opaque`` takes source alpha as 0xFF; without ``dest_alpha`` the destination
    counts as opaque and its alpha byte ends 0xFF.
    """
    dst = _surface(dst)
    image = _image(src, "source")
    a = _int(alpha, "alpha")
    if not 0 <= a <= 0xFF:
        raise CanvasError(f"alpha {a} is not 0..255")
    ox, oy = _int(dx, "dx"), _int(dy, "dy")
    for box, src in _source_boxes(dst, rects, image, ox, oy):
        left, top, right, bottom = box
        s = src.astype(np.int32)
        if src_opaque:
            s[..., 3] = 0xFF
        if a != 0xFF:
            s = _mul_un8(s, a)
        d = dst[top:bottom, left:right]
        dw = d.astype(np.int32)
        if not dest_alpha:
            dw[..., 3] = 0xFF
        out = np.minimum(s + _mul_un8(dw, 255 - s[..., 3:4]), 255).astype(np.uint8)
        if not dest_alpha:
            out[..., 3] = 0xFF
        d[...] = out


# -- text ----------------------------------------------------------------------------


def glyph_mask(glyphs: Sequence[Glyph], bpp: int) -> tuple[int, int, Mask] | None:
    """The A8 coverage of a raster glyph string (``draw_lines._glyph_mask``).

    Args:
        glyphs: (left, top, width, height, bits) per glyph, left/top being
            render_pos + glyph_origin; rows are stored bottom-up, each
            ``(width * bpp + 7) // 8`` bytes (A1 MSB first, A4 high nibble first).
        bpp: 1, 4 or 8.

    Returns:
        (x0, y0, mask): the uint8 mask ``(h, w)`` of the glyphs' bounding box at
        (x0, y0), overlapping glyphs taking the max (A1 -> 255, A4 -> nibble << 4);
        None for an empty string.
    """
    depth = _int(bpp, "bpp")
    if depth not in (1, 4, 8):
        raise CanvasError(f"glyph depth {depth} is not 1, 4 or 8")
    boxes: list[tuple[int, int, int, int]] = []
    try:
        for glyph in glyphs:
            left, top, gw, gh, _ = glyph
            width, height = _int(gw, "glyph width"), _int(gh, "glyph height")
            if width < 0 or height < 0:
                raise CanvasError(f"glyph size {width}x{height}")
            boxes.append((_int(left, "glyph x"), _int(top, "glyph y"), width, height))
    except (TypeError, ValueError) as exc:
        raise CanvasError(f"bad glyph: {exc}") from None
    if not boxes:
        return None
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    if (x1 - x0) * (y1 - y0) > GLYPH_MAX_PIXELS:
        raise CanvasError("text extent too large")
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for glyph, (left, top, width, height) in zip(glyphs, boxes, strict=True):
        if width == 0 or height == 0:
            continue
        stride = (width * depth + 7) // 8
        try:
            data = memoryview(glyph[4]).cast("B")  # bytes, whatever the item type
        except (TypeError, ValueError) as exc:
            raise CanvasError(f"bad glyph data: {exc}") from None
        if len(data) < stride * height:
            raise CanvasError("glyph data truncated")
        rows = np.frombuffer(data, np.uint8, stride * height).reshape(height, stride)
        rows = rows[::-1]  # canvas_put_glyph_bits reads rows bottom-up
        if depth == 1:
            vals = np.unpackbits(rows, axis=1)[:, :width] * np.uint8(255)
        elif depth == 4:
            nib = np.stack([rows & 0xF0, (rows << 4) & 0xF0], axis=2)
            vals = nib.reshape(height, -1)[:, :width]
        else:
            vals = rows[:, :width]
        view = mask[top - y0 : top - y0 + height, left - x0 : left - x0 + width]
        np.maximum(view, vals, out=view)
    return x0, y0, mask


def mask_over(
    dst: Pixels,
    rects: object,
    mask: Mask,
    mask_x: int,
    mask_y: int,
    color: int,
    dest_alpha: bool,
    tile: Pixels | None = None,
    tile_x: int = 0,
    tile_y: int = 0,
) -> None:
    """The opaque brush OVER dest through an A8 ``mask`` placed at (mask_x, mask_y):
    dest = brush * m + dest * (1 - m) (``draw_lines.text``). Without ``dest_alpha``
    the alpha byte is kept."""
    dst = _surface(dst)
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.ndim != 2:
        raise CanvasError("mask must be an (h, w) uint8 array")
    mx, my = _int(mask_x, "mask_x"), _int(mask_y, "mask_y")
    value, pattern, tx, ty = _brush(color, tile, tile_x, tile_y, dst)
    h, w = dst.shape[:2]
    mh, mw = mask.shape
    for rect in _rects(rects):
        box = _cut(rect, max(0, mx), max(0, my), min(w, mx + mw), min(h, my + mh))
        if box is None:
            continue
        left, top, right, bottom = box
        m = mask[top - my : bottom - my, left - mx : right - mx, None]
        brush = _brush_values(value, pattern, tx, ty, box)
        s = np.broadcast_to(brush, (bottom - top, right - left, 4)).astype(np.int32)
        s[..., 3] = 0xFF  # the solid fill is opaque
        d = dst[top:bottom, left:right]
        out = np.minimum(_mul_un8(s, m) + _mul_un8(d, 255 - m), 255).astype(np.uint8)
        if not dest_alpha:
            out[..., 3] = d[..., 3]
        d[...] = out
