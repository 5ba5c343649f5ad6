"""Uncompressed BITMAP images to BGRX/BGRA pixels (vectorised).

Follows spice-common common/pixman_utils.c ``spice_bitmap_to_pixman``: rows are
``stride`` bytes apart and bottom-up unless the TOP_DOWN flag is set; palette
formats look their indices up in xRGB entries (missing entries read as 0); 1-bit
BE has the leftmost pixel in the high bit, LE in the low bit (likewise nibbles
for 4-bit); 16BIT is x555 little-endian; 24BIT is B, G, R; 8BIT_A is an alpha
plane.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from spicepy.canvas.surface import MAX_SURFACE_DIMENSION, MAX_SURFACE_PIXELS
from spicepy.errors import CanvasError
from spicepy.wire.enums import BitmapFlags, BitmapFmt
from spicepy.wire.types import BitmapData as Bitmap
from spicepy.wire.types import Palette

__all__ = ["bitmap_bits", "bitmap_to_pixels", "palette_lut", "expand_555"]

Pixels = npt.NDArray[np.uint8]

_BITS = {
    BitmapFmt.FMT_1BIT_LE: 1,
    BitmapFmt.FMT_1BIT_BE: 1,
    BitmapFmt.FMT_4BIT_LE: 4,
    BitmapFmt.FMT_4BIT_BE: 4,
    BitmapFmt.FMT_8BIT: 8,
    BitmapFmt.FMT_16BIT: 16,
    BitmapFmt.FMT_24BIT: 24,
    BitmapFmt.FMT_32BIT: 32,
    BitmapFmt.FMT_RGBA: 32,
    BitmapFmt.FMT_8BIT_A: 8,
}


#: wire format number -> BitmapFmt (a dict: calling the enum costs more)
_FORMATS = {int(fmt): fmt for fmt in _BITS}
_TOP_DOWN = int(BitmapFlags.TOP_DOWN)


def palette_lut(palette: Palette | None, size: int) -> Pixels:
    """A (size, 4) BGRX lookup table from palette entries (absent ones are 0)."""
    lut = np.zeros((size, 4), np.uint8)
    if palette is not None and palette.ents:
        ents = np.asarray(palette.ents[:size], dtype="<u4")
        lut[: len(ents)] = ents.view(np.uint8).reshape(-1, 4)
    return lut


def expand_555(words: npt.NDArray[np.uint16]) -> Pixels:
    """x555 words to BGRX with bit replication (canvas_16bpp_to_32bpp)."""
    out = np.empty(words.shape + (4,), np.uint8)
    w = words.astype(np.uint32)
    for index, shift in ((0, 0), (1, 5), (2, 10)):
        five = (w >> shift) & 0x1F
        out[..., index] = ((five << 3) | (five >> 2)).astype(np.uint8)
    out[..., 3] = 0
    return out


def bitmap_to_pixels(
    bitmap: Bitmap, palette: Palette | None, *, copy: bool = True
) -> tuple[Pixels, bool]:
    """Decode a BITMAP body into top-down (h, w, 4) pixels.

    Args:
        bitmap: the bitmap body.
        palette: the palette to use (already resolved from the palette cache).
        copy: False: 32-bit formats come back as a read-only view of
            ``bitmap.data`` (rows ``stride`` apart, upside down for bottom-up
            bitmaps) instead of a copy: a draw that only reads the image once
            (not cached) saves a copy of it, a full screen's megabytes.

    Returns:
        (pixels, has_alpha).

    Raises:
        CanvasError: bad format, size, stride or truncated data.
    """
    fmt = _FORMATS.get(bitmap.format)
    if fmt is None:
        if bitmap.format == BitmapFmt.INVALID:
            raise CanvasError("invalid bitmap format")
        raise CanvasError(f"unknown bitmap format {bitmap.format}")
    width, height, stride = bitmap.x, bitmap.y, bitmap.stride
    if not (0 < width <= MAX_SURFACE_DIMENSION and 0 < height <= MAX_SURFACE_DIMENSION):
        raise CanvasError(f"bad bitmap size {width}x{height}")
    if width * height > MAX_SURFACE_PIXELS:
        raise CanvasError(f"bitmap {width}x{height} is too large")
    row_bytes = (width * _BITS[fmt] + 7) // 8
    if stride < row_bytes:
        raise CanvasError(f"bitmap stride {stride} < row size {row_bytes}")
    need = stride * (height - 1) + row_bytes
    if len(bitmap.data) < need:
        raise CanvasError(f"bitmap data truncated: {len(bitmap.data)} < {need}")
    # rows as a read-only strided view of the data, each row_bytes long (one
    # ndarray call: as_strided costs a Python function's worth per bitmap)
    rows = np.ndarray(
        (height, row_bytes), np.uint8, buffer=bitmap.data, strides=(stride, 1)
    )
    rows.flags.writeable = False
    if not bitmap.flags & _TOP_DOWN:
        rows = rows[::-1]
    has_alpha = False
    if fmt in (BitmapFmt.FMT_32BIT, BitmapFmt.FMT_RGBA):
        has_alpha = fmt == BitmapFmt.FMT_RGBA
        # each row's bytes are contiguous: splitting them into pixels is a view
        out = rows.reshape(height, width, 4)
        if not copy:
            return out, has_alpha
        out = out.copy()
    elif fmt == BitmapFmt.FMT_24BIT:
        out = np.zeros((height, width, 4), np.uint8)
        out[..., :3] = rows.reshape(height, width, 3)
    elif fmt == BitmapFmt.FMT_16BIT:
        words = np.ascontiguousarray(rows).view("<u2").reshape(height, width)
        out = expand_555(words)
    elif fmt == BitmapFmt.FMT_8BIT_A:
        out = np.zeros((height, width, 4), np.uint8)
        out[..., 3] = rows
        has_alpha = True
    elif fmt == BitmapFmt.FMT_8BIT:
        out = palette_lut(palette, 256)[rows]
    elif fmt in (BitmapFmt.FMT_4BIT_LE, BitmapFmt.FMT_4BIT_BE):
        high, low = rows >> 4, rows & 0x0F
        first, second = (high, low) if fmt == BitmapFmt.FMT_4BIT_BE else (low, high)
        idx = np.stack([first, second], axis=2).reshape(height, row_bytes * 2)[
            :, :width
        ]
        out = palette_lut(palette, 16)[idx]
    else:  # 1 bit
        order = "big" if fmt == BitmapFmt.FMT_1BIT_BE else "little"
        idx = np.unpackbits(rows, axis=1, bitorder=order)[:, :width]  # type: ignore[call-overload]
        out = palette_lut(palette, 2)[idx]
    return np.ascontiguousarray(out), has_alpha


def bitmap_bits(bitmap: Bitmap) -> npt.NDArray[np.bool_]:
    """A 1 bpp bitmap (mask) as a top-down (h, w) bool array, palette ignored.

    Raises:
        CanvasError: not a 1-bit format, bad size or truncated data.
    """
    if bitmap.format not in (BitmapFmt.FMT_1BIT_LE, BitmapFmt.FMT_1BIT_BE):
        raise CanvasError(f"mask bitmap format {bitmap.format} is not 1 bpp")
    width, height, stride = bitmap.x, bitmap.y, bitmap.stride
    if not (0 < width <= MAX_SURFACE_DIMENSION and 0 < height <= MAX_SURFACE_DIMENSION):
        raise CanvasError(f"bad mask size {width}x{height}")
    row_bytes = (width + 7) // 8
    if stride < row_bytes:
        raise CanvasError(f"mask stride {stride} < row size {row_bytes}")
    need = stride * (height - 1) + row_bytes
    if len(bitmap.data) < need:
        raise CanvasError("mask data truncated")
    raw = np.frombuffer(bitmap.data, np.uint8, count=need)
    rows = np.lib.stride_tricks.as_strided(
        raw, shape=(height, row_bytes), strides=(stride, 1), writeable=False
    )
    if not bitmap.flags & BitmapFlags.TOP_DOWN:
        rows = rows[::-1]
    order = "big" if bitmap.format == BitmapFmt.FMT_1BIT_BE else "little"
    bits = np.unpackbits(rows, axis=1, bitorder=order)  # type: ignore[call-overload]
    out: npt.NDArray[np.bool_] = bits[:, :width].astype(np.bool_)
    return out
