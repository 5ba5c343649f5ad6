"""SPICE LZ4 images (image type 109): the server's block framing around LZ4.

Layout (spice server ``server/lz4-encoder.c``, client ``canvas_get_lz4`` in
spice-common ``common/canvas_base.c``): byte ``top_down``, byte bitmap format
(SpiceBitmapFmt 6 = 16BIT x555, 7 = 24BIT B,G,R, 8 = 32BIT B,G,R,X, 9 = RGBA),
then one or more blocks ``[u32 big-endian length][LZ4 block]``. The blocks come
from one LZ4 stream: a block may refer back into the output of earlier ones
(up to LZ4's 64 KiB window), so each block is decoded with the previous
output as its dictionary. Rows are packed at ``width * bytes per pixel``; the
stream carries no dimensions, they come from the image descriptor.

The ``lz4`` package does the LZ4 work; every size is bounded by the image size.
"""

from __future__ import annotations

import struct
from enum import IntEnum

import lz4.block
import numpy as np
import numpy.typing as npt
from spicepy.codecs._common import (
    MAX_IMAGE_PIXELS,
    CodecError,
    check_dimensions,
    output_array,
)

__all__ = ["BitmapFormat", "decode", "encode", "WINDOW"]

U8 = npt.NDArray[np.uint8]

#: LZ4's maximum match distance: the dictionary a block can see.
WINDOW = 64 * 1024
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


def expand_x555(pixels: npt.NDArray[np.uint16]) -> U8:
    """x1r5g5b5 values to (..., 4) B,G,R,0 bytes, replicating the top bits."""
    v = pixels.astype(np.uint16)
    out = np.zeros(v.shape + (4,), dtype=np.uint8)
    for i, shift in enumerate((0, 5, 10)):  # B, G, R
        c = (v >> shift) & 31
        out[..., i] = (c << 3) | (c >> 2)
    return out


#: LZ4's largest expansion: a block of n bytes decodes to at most 255 * n bytes.
#: Every output byte comes from a literal (one input byte each) or a match whose
#: length is coded in the token nibble plus extension bytes adding at most 255
#: each; a token, its 2-byte offset and the nibble give at most 19 bytes for 3.
MAX_RATIO = 255


def _inflate(data: bytes, pos: int, total: int) -> bytearray:
    """Decode the block sequence from ``data[pos:]`` into exactly ``total`` bytes.

    Linear in the input and output: the output is one preallocated buffer and
    each block's dictionary is a view of the last WINDOW bytes of it (nothing is
    re-joined), and each block's scratch buffer is bounded by MAX_RATIO times
    the block's own size rather than by what is left of the image.
    """
    end = len(data)
    if total > MAX_RATIO * (end - pos):
        raise CodecError(
            f"{end - pos} bytes of LZ4 data cannot hold a {total}-byte image"
        )
    out = bytearray(total)
    view = memoryview(out)
    src = memoryview(data)
    filled = 0
    while True:  # at least one block, as upstream's do/while
        if end - pos < 4:
            raise CodecError("LZ4 block length truncated")
        (size,) = _BLOCK_LEN.unpack_from(data, pos)
        pos += 4
        if size > end - pos:
            raise CodecError("LZ4 block runs past the end of the data")
        available = total - filled
        if available <= 0 or size == 0:
            raise CodecError("LZ4 data continues past the end of the image")
        try:
            chunk = lz4.block.decompress(
                src[pos : pos + size],
                uncompressed_size=min(available, MAX_RATIO * size),
                dict=view[max(0, filled - WINDOW) : filled],
            )
        except lz4.block.LZ4BlockError as exc:
            raise CodecError(f"bad LZ4 block: {exc}") from exc
        if not chunk:
            raise CodecError("empty LZ4 block")
        view[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
        pos += size
        if pos >= end:
            break
    view.release()
    if filled != total:
        raise CodecError(f"LZ4 data decodes to {filled} bytes, expected {total}")
    return out


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
    data = bytes(data)
    if len(data) < 2:
        raise CodecError("LZ4 image header truncated")
    top_down = data[0] != 0
    try:
        fmt = BitmapFormat(data[1])
    except ValueError as exc:
        raise CodecError(f"unsupported bitmap format {data[1]} with LZ4") from exc
    bpp = _BYTES_PER_PIXEL[fmt]
    raw = _inflate(data, 2, width * height * bpp)
    if fmt == BitmapFormat.BIT16:
        px = expand_x555(np.frombuffer(raw, dtype="<u2").reshape(height, width))
    elif fmt == BitmapFormat.BIT24:
        px = np.zeros((height, width, 4), dtype=np.uint8)
        px[:, :, :3] = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
    else:
        px = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 4)
    out = output_array(out, width, height)
    out[:] = px if top_down else px[::-1]
    if fmt == BitmapFormat.BIT32:
        out[:, :, 3] = 0  # the X byte is padding
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
