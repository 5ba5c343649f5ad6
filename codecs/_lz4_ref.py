"""LZ4 reference twin: liblz4 (the ``lz4`` package) does the block work.

``decode_into`` is what ``_lz4.pyx`` does in C, built on the library spice-gtk
uses: each block is decoded with ``lz4.block.decompress`` and the last 64 KiB
of the output as its dictionary, then the rows are repacked with numpy. It is
the oracle the fast twin is tested against.

liblz4 checks every offset against dictionary + output (an empty dictionary
for the first block: nothing before the image's first byte is readable) and,
since 1.9.2, clears an invalid offset-0 match with zeros as spice-gtk's copy of
it does; older versions left the uninitialised output there, hence the floor
the tests check (``lz4.library_version_number()``).
"""

from __future__ import annotations

import struct

import lz4.block
import numpy as np
import numpy.typing as npt
from spicepy.codecs._common import CodecError

__all__ = ["decode_into", "expand_x555", "MAX_RATIO", "WINDOW"]

U8 = npt.NDArray[np.uint8]

#: LZ4's maximum match distance: the dictionary a block can see.
WINDOW = 64 * 1024
#: LZ4's largest expansion: a block of n bytes decodes to at most 255 * n bytes.
#: Every output byte comes from a literal (one input byte each) or a match whose
#: length is coded in the token nibble plus extension bytes adding at most 255
#: each; a token, its 2-byte offset and the nibble give at most 19 bytes for 3.
MAX_RATIO = 255
_BLOCK_LEN = struct.Struct(">I")
_BYTES_PER_PIXEL = {6: 2, 7: 3, 8: 4, 9: 4}


def expand_x555(pixels: npt.NDArray[np.uint16]) -> U8:
    """x1r5g5b5 values to (..., 4) B,G,R,0 bytes, replicating the top bits."""
    v = pixels.astype(np.uint16)
    out = np.zeros(v.shape + (4,), dtype=np.uint8)
    for i, shift in enumerate((0, 5, 10)):  # B, G, R
        c = (v >> shift) & 31
        out[..., i] = (c << 3) | (c >> 2)
    return out


def _inflate(data: bytes, pos: int, total: int) -> bytearray:
    """Decode the block sequence from ``data[pos:]`` into exactly ``total`` bytes.

    Linear in the input and output: the output is one preallocated buffer and
    each block's dictionary is a view of the last WINDOW bytes of it (nothing is
    re-joined), and each block's scratch buffer is bounded by MAX_RATIO times
    the block's own size rather than by what is left of the image.
    """
    end = len(data)
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


def decode_into(data: bytes, pos: int, fmt: int, top_down: bool, out: U8) -> None:
    """Decode the blocks of ``data[pos:]`` (bitmap format ``fmt``) into ``out``,
    a C-contiguous (height, width, 4) array.

    Raises:
        CodecError: corrupt, truncated or wrongly sized data.
    """
    bpp = _BYTES_PER_PIXEL.get(fmt)
    if bpp is None:
        raise CodecError(f"unsupported bitmap format {fmt} with LZ4")
    height, width = out.shape[0], out.shape[1]
    raw = _inflate(bytes(data), pos, width * height * bpp)
    if fmt == 6:
        px = expand_x555(np.frombuffer(raw, dtype="<u2").reshape(height, width))
    elif fmt == 7:
        px = np.zeros((height, width, 4), dtype=np.uint8)
        px[:, :, :3] = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
    else:
        px = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 4)
    out[:] = px if top_down else px[::-1]
    if fmt == 8:
        out[:, :, 3] = 0  # the X byte is padding
