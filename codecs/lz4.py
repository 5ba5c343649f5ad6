"""SPICE LZ4 images (image type 109): the server's block framing around LZ4.

Layout (spice server ``server/lz4-encoder.c``, client ``canvas_get_lz4`` in
spice-common ``common/canvas_base.c``): byte ``top_down``, byte bitmap format
(SpiceBitmapFmt 6 = 16BIT x555, 7 = 24BIT B,G,R, 8 = 32BIT B,G,R,X, 9 = RGBA),
then one or more blocks ``[u32 big-endian length][LZ4 block]``. The blocks come
from one LZ4 stream: a block may refer back into the output of earlier ones
(up to LZ4's 64 KiB window), so each block is decoded with the previous
output as its dictionary. Rows are packed at ``width * bytes per pixel``; the
stream carries no dimensions, they come from the image descriptor.

Two twins decode (``FAST`` tells which): ``_lz4.pyx`` writes the blocks
straight into the output array, ``_lz4_ref.py`` has liblz4 (the ``lz4``
package) do them. Every size is bounded by the image size.
"""

from __future__ import annotations

import struct
from enum import IntEnum

import lz4.block
import numpy as np
import numpy.typing as npt
from spicepy.codecs import _lz4_ref
from spicepy.codecs._common import (
    MAX_IMAGE_PIXELS,
    CodecError,
    check_dimensions,
    output_array,
    pick_twin,
)
from spicepy.codecs._lz4_ref import MAX_RATIO, WINDOW

__all__ = ["FAST", "BitmapFormat", "decode", "encode", "WINDOW"]

U8 = npt.NDArray[np.uint8]

_BLOCK_LEN = struct.Struct(">I")


class BitmapFormat(IntEnum):
    """The SpiceBitmapFmt values LZ4 images may carry (spice/enums.h)."""

    BIT16 = 6  # x1r5g5b5, little-endian u16
    BIT24 = 7  # B, G, R
    BIT32 = 8  # B, G, R, X
    RGBA = 9  # B, G, R, A


_BYTES_PER_PIXEL = {
    BitmapFormat.BIT16: 2,
    BitmapFormat.BIT24: 3,
    BitmapFormat.BIT32: 4,
    BitmapFormat.RGBA: 4,
}
_BPP_BY_CODE = {int(k): v for k, v in _BYTES_PER_PIXEL.items()}


#: the twin doing the work: ``_lz4`` (C, decodes in place) or ``_lz4_ref``
#: (liblz4 through the ``lz4`` package, numpy repacking)
_impl, FAST = pick_twin("spicepy.codecs._lz4", _lz4_ref)


def decode(
    data: bytes | bytearray | memoryview,
    /,
    *,
    width: int,
    height: int,
    out: U8 | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> U8:
    """Decode an LZ4 image payload.

    Args:
        data: the payload (top_down byte, format byte, blocks).
        width, height: from the image descriptor.
        out: optional preallocated C-contiguous uint8 (height, width, 4) array.
        max_pixels: refuse larger images.

    Returns:
        uint8 (height, width, 4) top-down: B,G,R,X (X = 0), or B,G,R,A for RGBA.

    Raises:
        CodecError: unknown format, corrupt/truncated blocks, or data that does
            not fill exactly ``width * height`` pixels.
    """
    check_dimensions(width, height, max_pixels)
    if len(data) < 2:
        raise CodecError("LZ4 image header truncated")
    top_down = data[0] != 0
    fmt = data[1]
    bpp = _BPP_BY_CODE.get(fmt)  # int keys: no EnumType.__call__ per image
    if bpp is None:
        raise CodecError(f"unsupported bitmap format {fmt} with LZ4")
    total = width * height * bpp
    if total > MAX_RATIO * (len(data) - 2):
        raise CodecError(
            f"{len(data) - 2} bytes of LZ4 data cannot hold a {total}-byte image"
        )
    out = output_array(out, width, height)
    _impl.decode_into(data, 2, fmt, top_down, out)
    return out


def encode(
    image: npt.NDArray[np.uint8] | npt.NDArray[np.uint16],
    /,
    *,
    bitmap_format: int = BitmapFormat.BIT32,
    top_down: bool = True,
    rows_per_block: int = 64,
) -> bytes:
    """Encode an image as the server does (one LZ4 stream, blocks of rows).

    Args:
        image: uint8 (h, w, 4) for 32BIT/RGBA, uint8 (h, w, 3) or (h, w, 4) for
            24BIT (B,G,R used), uint16 (h, w) x555 for 16BIT.
        bitmap_format: 6, 7, 8 or 9.
        top_down: False codes the rows bottom first (decoding still gives
            ``image`` back).
        rows_per_block: rows per LZ4 block; later blocks use the earlier
            output as dictionary, as the server's streaming encoder does.

    Returns:
        The payload.
    """
    fmt = BitmapFormat(bitmap_format)
    img = np.asarray(image)
    if fmt == BitmapFormat.BIT16:
        if img.ndim != 2 or img.dtype != np.uint16:
            raise ValueError("16BIT needs a (h, w) uint16 array")
        rows = img.astype("<u2")
    else:
        if img.ndim != 3 or img.dtype != np.uint8:
            raise ValueError("LZ4 needs a uint8 (h, w, c) array")
        rows = img[:, :, :3] if fmt == BitmapFormat.BIT24 else img
        if rows.shape[2] != _BYTES_PER_PIXEL[fmt]:
            raise ValueError(f"{fmt.name} needs {_BYTES_PER_PIXEL[fmt]} channels")
    if not top_down:
        rows = rows[::-1]
    raw = np.ascontiguousarray(rows).tobytes()
    row_bytes = len(raw) // max(1, img.shape[0])
    step = max(1, rows_per_block) * row_bytes
    parts = [bytes([1 if top_down else 0, int(fmt)])]
    for start in range(0, len(raw), step):
        block = lz4.block.compress(
            raw[start : start + step],
            store_size=False,
            dict=raw[max(0, start - WINDOW) : start],
        )
        parts.append(_BLOCK_LEN.pack(len(block)) + block)
    return b"".join(parts)
