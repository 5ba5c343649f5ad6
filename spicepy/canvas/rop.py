"""Raster operations: ROP descriptors, the 16 binary ROPs and the 256 ternary ROPs.

A ROP descriptor (draw messages' ``rop_descriptor``) is reduced to one of the 16
X11-style binary operations by ``ropd_to_rop`` as spice-common's
``ropd_descriptor_to_rop`` (common/canvas_base.c) does. ROPs work bitwise on the
32-bit pixel, which on BGRX bytes is the same as working on each byte.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from spicepy.wire.enums import RopDescriptor as RopD

__all__ = ["Rop", "apply_rop", "rop3", "ropd_to_rop"]

Pixels = npt.NDArray[np.uint8]


class Rop(IntEnum):
    """SpiceROP (common/canvas_base.h), the X11 GX function order."""

    CLEAR = 0
    AND = 1
    AND_REVERSE = 2
    COPY = 3
    AND_INVERTED = 4
    NOOP = 5
    XOR = 6
    OR = 7
    NOR = 8
    EQUIV = 9
    INVERT = 10
    OR_REVERSE = 11
    COPY_INVERTED = 12
    OR_INVERTED = 13
    NAND = 14
    SET = 15


# src-input selects which descriptor bit inverts the source: INVERS_SRC for
# images, INVERS_BRUSH for brushes (canvas_base.c ROPInput).
SRC_IS_IMAGE = 0
SRC_IS_BRUSH = 1


@functools.cache  # a handful of descriptors in use; IntFlag arithmetic is slow
def ropd_to_rop(
    desc: int, src_input: int = SRC_IS_IMAGE, dest_is_image: bool = False
) -> Rop:
    """Reduce a ROP descriptor to a binary ROP.

    Args:
        desc: the descriptor bits (``RopD``).
        src_input: ``SRC_IS_IMAGE`` or ``SRC_IS_BRUSH``.
        dest_is_image: the "destination" operand is the source image just
            drawn (DRAW_OPAQUE), so INVERS_SRC inverts it instead of INVERS_DEST.
    """
    src_bit = RopD.INVERS_SRC if src_input == SRC_IS_IMAGE else RopD.INVERS_BRUSH
    dest_bit = RopD.INVERS_SRC if dest_is_image else RopD.INVERS_DEST
    inv_s = bool(desc & src_bit)
    inv_d = bool(desc & dest_bit)
    inv_r = bool(desc & RopD.INVERS_RES)
    if desc & RopD.OP_PUT:
        return Rop.COPY if inv_s == inv_r else Rop.COPY_INVERTED
    if desc & (RopD.OP_OR | RopD.OP_AND):
        # De Morgan: an inverted AND is an OR of the inverted inputs.
        is_or = bool(desc & RopD.OP_OR)
        if inv_r:
            is_or, inv_s, inv_d = not is_or, not inv_s, not inv_d
        table_or = {
            (False, False): Rop.OR,
            (False, True): Rop.OR_REVERSE,
            (True, False): Rop.OR_INVERTED,
            (True, True): Rop.NAND,
        }
        table_and = {
            (False, False): Rop.AND,
            (False, True): Rop.AND_REVERSE,
            (True, False): Rop.AND_INVERTED,
            (True, True): Rop.NOR,
        }
        return (table_or if is_or else table_and)[(inv_s, inv_d)]
    if desc & RopD.OP_XOR:
        return Rop.XOR if (inv_s ^ inv_d ^ inv_r) is False else Rop.EQUIV
    if desc & RopD.OP_BLACKNESS:
        return Rop.CLEAR
    if desc & RopD.OP_WHITENESS:
        return Rop.SET
    if desc & RopD.OP_INVERS:
        return Rop.INVERT
    return Rop.COPY


_OPS: dict[Rop, Callable[[Pixels, Pixels], Pixels]] = {
    Rop.CLEAR: lambda s, d: np.zeros_like(d),
    Rop.AND: lambda s, d: s & d,
    Rop.AND_REVERSE: lambda s, d: s & ~d,
    Rop.COPY: lambda s, d: np.broadcast_to(s, d.shape).copy(),
    Rop.AND_INVERTED: lambda s, d: ~s & d,
    Rop.NOOP: lambda s, d: d.copy(),
    Rop.XOR: lambda s, d: s ^ d,
    Rop.OR: lambda s, d: s | d,
    Rop.NOR: lambda s, d: ~(s | d),
    Rop.EQUIV: lambda s, d: ~(s ^ d),
    Rop.INVERT: lambda s, d: ~d,
    Rop.OR_REVERSE: lambda s, d: s | ~d,
    Rop.COPY_INVERTED: lambda s, d: np.broadcast_to(~s, d.shape).copy(),
    Rop.OR_INVERTED: lambda s, d: ~s | d,
    Rop.NAND: lambda s, d: ~(s & d),
    Rop.SET: lambda s, d: np.full_like(d, 0xFF),
}


def apply_rop(rop: Rop, src: Pixels, dest: Pixels) -> Pixels:
    """``rop(src, dest)`` as a new array shaped like ``dest`` (src broadcasts)."""
    result = _OPS[rop](src, dest)
    return np.asarray(result, dtype=np.uint8)


def rop3(code: int, pat: Pixels, src: Pixels, dest: Pixels) -> Pixels:
    """Ternary raster operation ``code`` (0..255) on pattern, source and dest.

    Result bit = bit ``(p << 2) | (s << 1) | d`` of ``code`` (the Windows
    convention: P = 0xF0, S = 0xCC, D = 0xAA; rop3.c checks its formulas the same
    way). Computed as the OR of the minterms whose bit is set: at most 8 whole-array
    terms, no per-pixel loop.
    """
    code &= 0xFF
    shape = dest.shape
    p = np.broadcast_to(pat, shape)
    s = np.broadcast_to(src, shape)
    if code == 0:
        return np.zeros(shape, np.uint8)
    if code == 0xFF:
        return np.full(shape, 0xFF, np.uint8)
    out = np.zeros(shape, np.uint8)
    np_, ns, nd = ~p, ~s, ~dest
    for bit in range(8):
        if not code >> bit & 1:
            continue
        term = (p if bit & 4 else np_) & (s if bit & 2 else ns)
        term &= dest if bit & 1 else nd
        out |= term
    return out
