"""Drawing kernels: the per-pixel loops of the canvas, on plain arrays.

Theory of operation: a draw resolves its destination once into disjoint
rectangles (``region_rects``), then one kernel call does the pixels of all of
them. The kernels come as two twins with identical pixels and errors:
``_draw.pyx`` (C loops, no numpy call per rectangle) and ``_draw_ref.py``
(numpy, readable, the specification). ``FAST`` says which one is in use;
``SPICEPY_PUREPYTHON=1`` selects the reference, as for the codecs.

Common arguments:

- ``dst``: the surface, a writable C-contiguous ``uint8`` ``(h, w, 4)`` array
  (B, G, R, X/A).
- ``rects``: ``(left, top, right, bottom)`` rectangles, right/bottom exclusive:
  a tuple or list of plain-int 4-tuples (what the canvas passes; up to 4 are
  read without any allocation), an int64 ``(n, 4)`` array (what
  ``region_rects`` returns) or any sequence of 4-int sequences. Each is cut to
  the surface and to the source / mask extent; draws go rectangle after
  rectangle, so pass disjoint rectangles when the result reads the destination
  (every ROP but COPY, blends): ``region_rects`` gives those.
- ``src`` / ``tile``: ``uint8`` ``(h, w, 4)`` arrays (any strides). A source
  or tile sharing memory with ``dst`` (the array itself or any view of it) is
  read as it was before the call: a COPY of one rectangle from a source with
  dst's row stride moves the rows in place (memmove, in the row order the
  overlap needs), anything else reads a snapshot of the area read.
- ``dx, dy``: destination pixel (x, y) reads source pixel (x - dx, y - dy),
  i.e. ``dx = bbox.left - src_area.left`` for same-size draws.
- ``color``: an xRGB u32 (bytes B, G, R, X in memory, X included).
- ``tile, tile_x, tile_y``: a pattern brush; pixel (x, y) takes
  ``tile[(y - tile_y) mod th, (x - tile_x) mod tw]`` (``region.tile_values``);
  ``tile=None`` means the solid ``color``.
- ``rop``: a ``spicepy.canvas.rop.Rop`` value 0..15 (from ``ropd_to_rop``).

Functions, and the canvas code each replaces:

- ``region_rects(width, height, bbox, clips) -> int64 (n, 4)``: bbox ∩ surface
  ∩ union(clips) as disjoint pixman-banded rectangles (``clips`` None for
  CLIP_TYPE_NONE, else the clip rectangles). Replaces ``region.make_region``
  for draws without a QMask (a QMask keeps the numpy ``Region`` path).
- ``fill(dst, rects, rop, color, tile=None, tile_x=0, tile_y=0)``:
  dest = rop(brush, dest). ``Canvas.draw_brush`` (DRAW_FILL, the brush pass of
  DRAW_OPAQUE, stroke spans), ``blackness``/``whiteness``/``invers``
  (rop CLEAR/SET/INVERT, color 0), the text back brush (rop COPY); a NONE brush
  is color 0 without tile.
- ``blit(dst, rects, src, dx, dy, rop, opaque=False) -> int``: dest =
  rop(src, dest) inside the source; returns the pixels drawn. ``opaque`` reads
  the source alpha byte as 0xFF (the canvas's ``_opaque_alpha``, which it
  applies only for rop COPY). Same-size
  DRAW_COPY/DRAW_BLEND, the copy pass of DRAW_OPAQUE, and ``copy_bits``
  (``blit(p, rects, p, dx, dy, Rop.COPY)`` with dx/dy = bbox - src_pos; a
  single rectangle moves in place, several read a snapshot), each on an
  unmasked region.
- ``blit_clipped(dst, bbox, clip, src, dx, dy, rop, opaque=False) -> int``,
  ``copy_clipped(dst, bbox, clip, src, src_area, rop, opaque=False) -> int``
  and ``fill_clipped(dst, bbox, clip, rop, color) -> int``: ``blit`` / solid
  ``fill`` over ``region.clip_box(dst size, bbox, clip)``, where bbox and clip
  are the wire ``Rect`` and ``Clip`` of a display message's base; they return
  the pixels drawn, or -1 for a clip of several rectangles (and
  ``copy_clipped``, which reads dx, dy from src_area's top-left, for a
  src_area that is not bbox's size): the canvas's region path takes those.
  One call per COPY_BITS, same-size DRAW_COPY of a cache entry or surface,
  solid DRAW_FILL (no box tuple, no ``clip_box`` call).
- ``rop3_blit(dst, rects, src, dx, dy, code, color, tile=None, tile_x=0,
  tile_y=0)``: dest = rop3 ``code`` (0..255) of (brush, src, dest). Same-size
  ``draw_blend.draw_rop3`` without a QMask.
- ``transparent(dst, rects, src, dx, dy, key, key_mask=0xFFFFFF)``: copy the
  source pixels whose ``B, G, R & key_mask`` differ from ``key``'s; key_mask is
  0xF8FCF8 on FMT_16_565 surfaces, 0xF8F8F8 on FMT_16_555. Same-size
  ``draw_blend.transparent``.
- ``alpha_blend(dst, rects, src, dx, dy, alpha, src_opaque, dest_alpha)``:
  premultiplied OVER of src scaled by alpha (0..255); ``src_opaque`` = the
  source has no alpha; ``dest_alpha`` = DEST_HAS_ALPHA or an alpha surface (if
  not, dest alpha ends 0xFF). Same-size ``draw_blend.alpha_blend``.
- ``glyph_mask(glyphs, bpp) -> (x0, y0, mask) | None``: glyphs as (left, top,
  width, height, bits) with left/top = render_pos + glyph_origin, bpp 1/4/8;
  the uint8 coverage of the string's bounding box at (x0, y0).
  ``draw_lines._glyph_mask``.
- ``mask_over(dst, rects, mask, mask_x, mask_y, color, dest_alpha, tile=None,
  tile_x=0, tile_y=0)``: opaque brush OVER dest through the A8 mask placed at
  (mask_x, mask_y); without ``dest_alpha`` the alpha byte is kept. The glyph
  composite of ``draw_lines.text`` (tile origin = brush.pos + (x0, y0)).

Scaled draws (src_area size != bbox size), QMasks and several clip
rectangles (a ``Region`` mask), composite, stroke geometry and the 16/8/1-bit
re-quantisation stay in numpy. Every bad argument raises ``CanvasError``.

Cost: the compiled twin's fixed cost per call is about that of one numpy slice
assignment or less (callgrind, 8x16: blit ~5k instructions against ~7.7k for
the slice; ``benchmarks/bench_kernels.py --callgrind`` prints the table), and
it releases the GIL only for draws of 16384 pixels or more.
"""

from __future__ import annotations

from spicepy.canvas import _draw_ref
from spicepy.canvas._draw_ref import Glyph
from spicepy.codecs._common import pick_twin

_impl, FAST = pick_twin("spicepy.canvas._draw", _draw_ref)

__all__ = [
    "FAST",
    "Glyph",
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

region_rects = _impl.region_rects
fill = _impl.fill
blit = _impl.blit
blit_clipped = _impl.blit_clipped
copy_clipped = _impl.copy_clipped
fill_clipped = _impl.fill_clipped
rop3_blit = _impl.rop3_blit
transparent = _impl.transparent
alpha_blend = _impl.alpha_blend
glyph_mask = _impl.glyph_mask
mask_over = _impl.mask_over
