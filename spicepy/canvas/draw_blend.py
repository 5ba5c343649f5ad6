"""DRAW_ROP3, DRAW_TRANSPARENT, DRAW_ALPHA_BLEND and DRAW_COMPOSITE.

Blending uses pixman's 8-bit arithmetic on premultiplied pixels
(``MUL_UN8(a, b) = ((t >> 8) + t) >> 8`` with ``t = a * b + 0x80``), so an OVER
here gives the same bytes as sw_canvas's ``pixman_image_composite32``.
Composite supports every Porter-Duff operator of pixman (CLEAR .. ADD), with
identity, translation or general affine transforms sampled NEAREST (pixman's
bilinear filters are approximated by nearest), repeat NONE/NORMAL/PAD/REFLECT,
and a non-component-alpha mask; other operators (the PDF blend modes) raise
CanvasError.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from spicepy.canvas import kernels
from spicepy.canvas.canvas import Canvas, color_bytes
from spicepy.canvas.region import Region, make_region
from spicepy.canvas.rop import rop3 as ternary
from spicepy.canvas.surface import SurfaceFormat
from spicepy.errors import CanvasError
from spicepy.wire import msg_display as md
from spicepy.wire.enums import AlphaFlags, CompositeFlags
from spicepy.wire.types import Point16, Rect, Transform

__all__ = ["alpha_blend", "composite", "draw_rop3", "mul_un8", "over", "transparent"]

Pixels = npt.NDArray[np.uint8]
Wide = npt.NDArray[np.int32]

# The multi-bit fields of spice.proto ``composite_flags`` (the single-bit flags are
# ``wire.enums.CompositeFlags``): op in bits 0-7, src/mask repeat at 14 and 16.
_OP_BITS = 0xFF
_SRC_REPEAT_SHIFT, _MASK_REPEAT_SHIFT = 14, 16
#: DRAW_TRANSPARENT compares B, G, R reduced to a 16-bit surface's bits.
_KEY_MASKS = {SurfaceFormat.FMT_16_565: 0xF8FCF8, SurfaceFormat.FMT_16_555: 0xF8F8F8}


def mul_un8(a: npt.ArrayLike, b: npt.ArrayLike) -> Wide:
    """pixman's rounded a * b / 255 on 8-bit values."""
    t = np.asarray(a, np.int32) * np.asarray(b, np.int32) + 0x80
    return ((t >> 8) + t) >> 8


def over(src: Pixels, dest: Pixels, dest_alpha: bool) -> Pixels:
    """Premultiplied OVER: ``s + d * (1 - sa)`` per channel (saturating)."""
    sa = src[..., 3:4].astype(np.int32)
    total = src.astype(np.int32) + mul_un8(dest, 255 - sa)
    out: Pixels = np.minimum(total, 255).astype(np.uint8)
    if not dest_alpha:
        out[..., 3] = dest[..., 3]
    return out


def draw_rop3(canvas: Canvas, msg: md.DrawRop3) -> None:
    """DRAW_ROP3: dest = rop3(pattern, source, dest) bitwise, inside the mask."""
    d, bbox = msg.data, msg.base.box
    surface = canvas.surface(msg.base.surface_id)
    region = canvas._region(surface, msg.base, d.mask)
    src = canvas.source(d.src_bitmap, surface)
    if region is None:
        return
    src_area, brush, scale_mode = d.src_area, d.brush, d.scale_mode
    same = src_area.width == bbox.width and src_area.height == bbox.height
    if same and (
        src_area.left < 0
        or src_area.top < 0
        or src_area.right > src.width
        or src_area.bottom > src.height
    ):
        raise CanvasError("rop3 source area outside the source image")
    if same and region.mask is None:
        dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
        box = canvas.source_box(region, dx, dy, src.pixels)
        if box is None:
            return
        color, tile, tx, ty = canvas.brush_args(brush, surface)  # NONE: colour 0
        kernels.rop3_blit(
            surface.pixels, (box,), src.pixels, dx, dy, d.rop3, color, tile, tx, ty
        )
        canvas._finish_box(surface, box)
        return
    got = canvas._image_values(src, src_area, bbox, region, scale_mode)
    if got is None:
        return
    region, s = got
    p = canvas.brush_values(brush, region, surface)
    if p is None:
        p = np.zeros(4, np.uint8)
    dest = region.view(surface.pixels)
    region.write(surface.pixels, ternary(d.rop3, p, s, dest))
    canvas._finish(surface, region)


def transparent(canvas: Canvas, msg: md.DrawTransparent) -> None:
    """DRAW_TRANSPARENT: copy except source pixels whose RGB equals ``true_color``."""
    d, base = msg.data, msg.base
    surface = canvas.surface(base.surface_id)
    region = make_region(surface.width, surface.height, base.box, base.clip)
    src = canvas.source(d.src_bitmap, surface)
    if region is None:
        return
    # compared after both are reduced to the surface's 16-bit format
    key_mask = _KEY_MASKS.get(surface.format, 0xFFFFFF)
    bbox, src_area = base.box, d.src_area
    if region.mask is None and (
        src_area.width == bbox.width and src_area.height == bbox.height
    ):
        dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
        box = canvas.source_box(region, dx, dy, src.pixels)
        if box is None:
            return
        kernels.transparent(
            surface.pixels, (box,), src.pixels, dx, dy, d.true_color, key_mask
        )
        canvas._finish_box(surface, box)
        return
    got = canvas._image_values(src, src_area, bbox, region, 1)
    if got is None:
        return
    region, values = got
    key = color_bytes(d.true_color)[:3]
    bgr = values[..., :3]
    if key_mask != 0xFFFFFF:
        bits = color_bytes(key_mask)[:3]
        bgr, key = bgr & bits, key & bits
    keep = ~np.all(bgr == key, axis=-1)
    sub = region.and_mask(keep)
    if sub is None:
        return
    sub.write(surface.pixels, values)
    canvas._finish(surface, sub)


def alpha_blend(canvas: Canvas, msg: md.DrawAlphaBlend) -> None:
    """DRAW_ALPHA_BLEND: premultiplied OVER of the source scaled by ``alpha``.

    A SURFACE source counts as opaque unless SRC_SURFACE_HAS_ALPHA; the
    destination's alpha byte takes part only with DEST_HAS_ALPHA (sw_canvas
    ``__blend_image``). Scaled blends sample NEAREST, as canvas_base asks.
    """
    d, base = msg.data, msg.base
    alpha, alpha_flags = d.alpha, d.alpha_flags
    surface = canvas.surface(base.surface_id)
    region = make_region(surface.width, surface.height, base.box, base.clip)
    src = canvas.source(d.src_bitmap, surface)
    if region is None or alpha == 0:
        return
    has_alpha = src.has_alpha
    if d.src_bitmap is not None and d.src_bitmap.surface is not None:
        has_alpha = bool(alpha_flags & AlphaFlags.SRC_SURFACE_HAS_ALPHA)
    dest_alpha = bool(alpha_flags & AlphaFlags.DEST_HAS_ALPHA) or surface.has_alpha
    bbox, src_area = base.box, d.src_area
    if region.mask is None and (
        src_area.width == bbox.width and src_area.height == bbox.height
    ):
        dx, dy = bbox.left - src_area.left, bbox.top - src_area.top
        box = canvas.source_box(region, dx, dy, src.pixels)
        if box is None:
            return
        kernels.alpha_blend(
            surface.pixels, (box,), src.pixels, dx, dy, alpha, not has_alpha, dest_alpha
        )
        canvas._finish_box(surface, box)
        return
    got = canvas._image_values(src, src_area, bbox, region, 1)
    if got is None:
        return
    region, values = got
    if not has_alpha:
        values = values.copy()
        values[..., 3] = 0xFF
    if alpha != 0xFF:
        values = mul_un8(values, alpha).astype(np.uint8)
    dest = region.view(surface.pixels)
    if not dest_alpha:
        dest = dest.copy()
        dest[..., 3] = 0xFF
    region.write(surface.pixels, over(values, dest, dest_alpha))
    canvas._finish(surface, region)


# Porter-Duff factors (Fa, Fb) per pixman_op_t: 0 zero, 1 one, 2 da, 3 1-da,
# 4 sa, 5 1-sa.
_PD = {
    0: (0, 0),  # CLEAR
    1: (1, 0),  # SRC
    2: (0, 1),  # DST
    3: (1, 5),  # OVER
    4: (3, 1),  # OVER_REVERSE
    5: (2, 0),  # IN
    6: (0, 4),  # IN_REVERSE
    7: (3, 0),  # OUT
    8: (0, 5),  # OUT_REVERSE
    9: (2, 5),  # ATOP
    10: (3, 4),  # ATOP_REVERSE
    11: (3, 5),  # XOR
    12: (1, 1),  # ADD
}


def _factor(code: int, sa: Wide, da: Wide) -> Wide | int:
    if code == 0:
        return 0
    if code == 1:
        return 255
    if code == 2:
        return da
    if code == 3:
        return 255 - da
    return sa if code == 4 else 255 - sa


def _sample(
    pixels: Pixels,
    region: Region,
    origin: Point16,
    bbox: Rect,
    transform: Transform | None,
    repeat: int,
) -> Pixels:
    """Source pixels for each region pixel (nearest), with a repeat mode."""
    h, w = pixels.shape[:2]
    ys = np.arange(region.y0, region.y1) - bbox.top + origin.y
    xs = np.arange(region.x0, region.x1) - bbox.left + origin.x
    if transform is None or (
        transform.t00 == 1 << 16
        and transform.t11 == 1 << 16
        and transform.t01 == 0
        and transform.t10 == 0
    ):
        dx = 0 if transform is None else transform.t02 >> 16
        dy = 0 if transform is None else transform.t12 >> 16
        sy = np.broadcast_to((ys + dy)[:, None], (ys.size, xs.size))
        sx = np.broadcast_to((xs + dx)[None, :], (ys.size, xs.size))
    else:
        gx = ((xs[None, :] << 16) + 0x8000).astype(np.int64)
        gy = ((ys[:, None] << 16) + 0x8000).astype(np.int64)
        t = [
            np.int64(np.int32(np.uint32(v & 0xFFFFFFFF)))
            for v in (
                transform.t00,
                transform.t01,
                transform.t02,
                transform.t10,
                transform.t11,
                transform.t12,
            )
        ]
        fx = (t[0] * gx + t[1] * gy >> 16) + t[2]
        fy = (t[3] * gx + t[4] * gy >> 16) + t[5]
        sx, sy = (fx - 1) >> 16, (fy - 1) >> 16
    if repeat == 1:  # NORMAL
        sx, sy = sx % w, sy % h
    elif repeat == 2:  # PAD
        sx, sy = np.clip(sx, 0, w - 1), np.clip(sy, 0, h - 1)
    elif repeat == 3:  # REFLECT
        sx, sy = sx % (2 * w), sy % (2 * h)
        sx = np.where(sx >= w, 2 * w - 1 - sx, sx)
        sy = np.where(sy >= h, 2 * h - 1 - sy, sy)
    valid = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
    out = pixels[np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)]
    if not valid.all():
        out = out * valid[..., None].astype(np.uint8)
    return out


def composite(canvas: Canvas, msg: md.DrawComposite) -> None:
    """DRAW_COMPOSITE (the RENDER operation), see the module docstring."""
    d, base = msg.data, msg.base
    flags, bbox = d.flags, base.box
    op = flags & _OP_BITS
    if op not in _PD:
        raise CanvasError(f"composite operator {op} is not supported")
    surface = canvas.surface(base.surface_id)
    region = make_region(surface.width, surface.height, bbox, base.clip)
    src = canvas.source(d.src_bitmap, surface)
    has_mask = d.mask_bitmap is not None
    mask = canvas.source(d.mask_bitmap, surface) if has_mask else None
    if region is None:
        return
    s = _sample(
        src.pixels,
        region,
        d.src_origin,
        bbox,
        d.src_transform,
        flags >> _SRC_REPEAT_SHIFT & 3,
    )
    sw: Wide = s.astype(np.int32)
    if not src.has_alpha or flags & CompositeFlags.SOURCE_OPAQUE:
        sw[..., 3] = 255
    if mask is not None and flags & CompositeFlags.HAS_MASK:
        m = _sample(
            mask.pixels,
            region,
            d.mask_origin,
            bbox,
            d.mask_transform,
            flags >> _MASK_REPEAT_SHIFT & 3,
        )
        opaque_mask = flags & CompositeFlags.MASK_OPAQUE or not mask.has_alpha
        ma = 255 if opaque_mask else m[..., 3:4]
        sw = mul_un8(sw, ma)
    dest: Wide = region.view(surface.pixels).astype(np.int32)
    dest_alpha = surface.has_alpha and not flags & CompositeFlags.DEST_OPAQUE
    if not dest_alpha:
        dest[..., 3] = 255
    fa, fb = _PD[op]
    sa, da = sw[..., 3:4], dest[..., 3:4]
    out = mul_un8(sw, _factor(fa, sa, da)) + mul_un8(dest, _factor(fb, sa, da))
    result = np.minimum(out, 255).astype(np.uint8)
    if not surface.has_alpha:
        result[..., 3] = region.view(surface.pixels)[..., 3]
    region.write(surface.pixels, result)
    canvas._finish(surface, region)
