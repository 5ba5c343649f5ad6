"""SPICE cursor shapes to pixels, and compositing a pointer onto a screenshot.

Shape layouts (spice-server ``docs/spice_protocol.txt``, "cursor shape data"; all
masks and planes have rows of ALIGN(width, 8) / 8 bytes, leftmost pixel in the
high bit):

- ALPHA: premultiplied ARGB8888 words (bytes B, G, R, A), ``width * 4`` a row.
- MONO: an AND plane, then an XOR plane.
- COLOR4: pixels of ALIGN(width, 2) / 2 bytes a row (high nibble first), 16
  xRGB palette words, then the AND mask.  COLOR8: ``width`` bytes a row, 256
  palette words, mask.  COLOR16: x555 words; COLOR24: B, G, R bytes; COLOR32:
  xRGB words; each followed by the AND mask.

Every type but ALPHA follows the AND/XOR rule of the spec's drawing section:
``screen = (screen AND mask) XOR colour``.  A clear mask bit puts the colour; a
set bit with black leaves the screen alone; a set bit with another colour
(white in practice) inverts those screen bits.  ``CursorImage`` keeps that exactly:
``rgba`` holds the opaque pixels (alpha 255) and transparent zeros, ``xor`` the
colour to XOR into the screen where the mask is set (None when nothing inverts).
spice-gtk approximates the inverting pixels with a grey checker instead.

``rgba`` is premultiplied RGBA, as SPICE and X (XFixesGetCursorImage) carry it;
``straight_rgba()`` divides the alpha out for image libraries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spicepy.canvas.bitmap import expand_555
from spicepy.errors import WireError
from spicepy.wire.enums import CursorType

__all__ = [
    "CursorImage",
    "MAX_CURSOR_SIDE",
    "cursor_data_size",
    "decode_cursor",
    "composite_cursor",
]

Pixels = npt.NDArray[np.uint8]

#: QXL and spice-server cursors are at most 256 pixels wide; keep slack but bound
#: the allocation a hostile header can ask for.
MAX_CURSOR_SIDE = 1024

_PALETTE = {CursorType.COLOR4: 16, CursorType.COLOR8: 256}
_BPP = {
    CursorType.COLOR4: 4,
    CursorType.COLOR8: 8,
    CursorType.COLOR16: 16,
    CursorType.COLOR24: 24,
    CursorType.COLOR32: 32,
}


@dataclass(frozen=True, slots=True, eq=False)
class CursorImage:
    """A decoded pointer: ``rgba`` (h, w, 4) premultiplied RGBA uint8, the hot
    spot (clamped to the image as spice-gtk does), and ``xor`` (h, w, 3) RGB to
    XOR into the screen (None if the shape inverts nothing)."""

    rgba: Pixels
    hot_x: int
    hot_y: int
    xor: Pixels | None = None

    @property
    def width(self) -> int:
        return int(self.rgba.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgba.shape[0])

    def straight_rgba(self) -> Pixels:
        """Non-premultiplied RGBA (what PIL's "RGBA" mode expects)."""
        out = self.rgba.copy()
        alpha = self.rgba[..., 3].astype(np.uint32)
        nz = alpha > 0
        for c in range(3):
            chan = self.rgba[..., c].astype(np.uint32)
            out[..., c][nz] = np.minimum(
                255, (chan[nz] * 255 + alpha[nz] // 2) // alpha[nz]
            ).astype(np.uint8)
        return out


def _row_bytes(width: int, bpp: int) -> int:
    return (width * bpp + 7) // 8


def cursor_data_size(cursor_type: int, width: int, height: int) -> int:
    """Bytes of shape data a cursor of this type and size needs."""
    mask = _row_bytes(width, 1) * height
    if cursor_type == CursorType.ALPHA:
        return width * height * 4
    if cursor_type == CursorType.MONO:
        return 2 * mask
    try:
        bpp = _BPP[CursorType(cursor_type)]
    except (ValueError, KeyError):
        raise WireError(f"unknown cursor type {cursor_type}") from None
    pixels = _row_bytes(width, bpp) * height
    return pixels + 4 * _PALETTE.get(CursorType(cursor_type), 0) + mask


def _bits(data: bytes | memoryview, offset: int, width: int, height: int) -> Pixels:
    """A 1-bit plane (MSB first, byte-aligned rows) as (h, w) 0/1 values."""
    row = _row_bytes(width, 1)
    plane = np.frombuffer(data, np.uint8, row * height, offset).reshape(height, row)
    return np.unpackbits(plane, axis=1)[:, :width]


def decode_cursor(
    cursor_type: int,
    width: int,
    height: int,
    hot_x: int,
    hot_y: int,
    data: bytes | memoryview,
) -> CursorImage:
    """Decode one cursor shape (a CursorHeader's fields and the shape bytes).

    Raises:
        WireError: unknown type, a side above ``MAX_CURSOR_SIDE``, or fewer bytes
            than the type and size need (extra bytes are ignored).
    """
    if width > MAX_CURSOR_SIDE or height > MAX_CURSOR_SIDE:
        raise WireError(f"cursor of {width}x{height} exceeds {MAX_CURSOR_SIDE}")
    need = cursor_data_size(cursor_type, width, height)
    if len(data) < need:
        raise WireError(
            f"cursor type {cursor_type} {width}x{height} needs {need} bytes, "
            f"got {len(data)}"
        )
    hot_x, hot_y = min(hot_x, width), min(hot_y, height)
    n = width * height
    if cursor_type == CursorType.ALPHA:
        bgra = np.frombuffer(data, np.uint8, n * 4).reshape(height, width, 4)
        return CursorImage(bgra[..., [2, 1, 0, 3]].copy(), hot_x, hot_y)
    if cursor_type == CursorType.MONO:
        and_mask = _bits(data, 0, width, height)
        xor_bits = _bits(data, _row_bytes(width, 1) * height, width, height)
        color = np.repeat((xor_bits * 255)[..., None], 3, axis=2).astype(np.uint8)
        return _and_xor(color, and_mask, hot_x, hot_y)
    ctype = CursorType(cursor_type)
    bpp = _BPP[ctype]
    row = _row_bytes(width, bpp)
    raw = np.frombuffer(data, np.uint8, row * height).reshape(height, row)
    offset = row * height
    if ctype in _PALETTE:
        entries = _PALETTE[ctype]
        lut = np.frombuffer(data, np.uint8, entries * 4, offset).reshape(entries, 4)
        offset += entries * 4
        if bpp == 4:
            index = np.empty((height, row * 2), np.uint8)
            index[:, 0::2], index[:, 1::2] = raw >> 4, raw & 0x0F
            index = index[:, :width]
        else:
            index = raw[:, :width]
        bgr = lut[index][..., :3]
    elif bpp == 16:
        words = raw[:, : width * 2].copy().view("<u2")
        bgr = expand_555(words)[..., :3]
    else:
        bgr = raw[:, : width * (bpp // 8)].reshape(height, width, bpp // 8)[..., :3]
    and_mask = _bits(data, offset, width, height)
    return _and_xor(bgr[..., ::-1].copy(), and_mask, hot_x, hot_y)


def _and_xor(rgb: Pixels, and_mask: Pixels, hot_x: int, hot_y: int) -> CursorImage:
    """screen = (screen AND mask) XOR colour, split into opaque pixels + an XOR."""
    height, width = and_mask.shape
    rgba = np.zeros((height, width, 4), np.uint8)
    opaque = and_mask == 0
    rgba[opaque, :3] = rgb[opaque]
    rgba[opaque, 3] = 255
    inverting = ~opaque & rgb.any(axis=2)
    xor = None
    if inverting.any():
        xor = np.zeros((height, width, 3), np.uint8)
        xor[inverting] = rgb[inverting]
    return CursorImage(rgba, hot_x, hot_y, xor)


def composite_cursor(screen: Pixels, cursor: CursorImage, x: int, y: int) -> None:
    """Draw ``cursor`` with its hot spot at (x, y) onto ``screen`` in place.

    ``screen`` is (h, w, 3) RGB uint8 (a screenshot); the part of the pointer
    outside it is clipped.  Premultiplied "over", then the XOR plane.
    """
    left, top = x - cursor.hot_x, y - cursor.hot_y
    sh, sw = screen.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + cursor.width, sw), min(top + cursor.height, sh)
    if x0 >= x1 or y0 >= y1:
        return
    src = cursor.rgba[y0 - top : y1 - top, x0 - left : x1 - left]
    dst = screen[y0:y1, x0:x1]
    inv = 255 - src[..., 3:4].astype(np.uint32)
    # premultiplied over: src + dst * (255 - a) / 255, rounded to nearest
    blended = src[..., :3] + (dst.astype(np.uint32) * inv + 127) // 255
    dst[...] = np.minimum(blended, 255).astype(np.uint8)
    if cursor.xor is not None:
        dst ^= cursor.xor[y0 - top : y1 - top, x0 - left : x1 - left]
