"""SPICE JPEG images (image type 105): plain JFIF, decoded with libjpeg-turbo.

The server codes 24-bit colour at quality 85 by default (``server/jpeg-encoder.c``);
spice-gtk decodes to 32-bit xRGB with X = 0 (``src/decode-jpeg.c``), top-down.
The header is read first so the size is checked before any pixel is allocated,
against both ``max_pixels`` and what the data can code (see ``max_pixels_for``).
Recoverable libjpeg warnings (a truncated scan, for instance) are errors here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import simplejpeg
from spicepy.codecs._common import (
    MAX_IMAGE_PIXELS,
    CodecError,
    ImageInfo,
    check_dimensions,
    output_array,
)

__all__ = ["decode", "encode", "info", "max_pixels_for"]

U8 = npt.NDArray[np.uint8]

# Frame markers (ITU T.81 table B.1) by how little one 8x8 block can cost.
# Sequential Huffman: every block of a scanned component codes a DC symbol and
# then an EOB (or 63 AC coefficients), each a Huffman code of at least 1 bit.
_SEQUENTIAL = (0xC0, 0xC1)
# Progressive Huffman: AC scans may skip blocks with EOB runs, but a DC first
# scan must come before them and codes a symbol (>= 1 bit) for every block.
_PROGRESSIVE = (0xC2,)
_BLOCKS_PER_BYTE = {m: 4 for m in _SEQUENTIAL} | {m: 8 for m in _PROGRESSIVE}
# The other frame types: lossless (C3), hierarchical (C5-C7) and arithmetic
# coding (C9-CB, CD-CF), whose all-zero blocks cost next to nothing, so no
# input size bounds their output. The SPICE server only sends baseline (C0).
_UNBOUNDED = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_NO_LENGTH = frozenset((0x01, *range(0xD0, 0xD8)))  # TEM, RSTn: no segment
_FRAME_MARKERS = frozenset((*_BLOCKS_PER_BYTE, *_UNBOUNDED))


def _frame(data: bytes) -> tuple[int, int]:
    """(frame marker, blocks ratio) from the first SOFn segment.

    The ratio is Hmax * Vmax over the smallest component's Hi * Vi: the image
    holds that many pixels per pixel of the least sampled component, the only
    one a scan might have coded.

    Raises:
        CodecError: no SOI, a malformed segment, or no frame header before SOS/EOI.
    """
    if data[:2] != b"\xff\xd8":
        raise CodecError("bad JPEG header: no SOI marker")
    pos, end = 2, len(data)
    while True:
        if pos + 2 > end or data[pos] != 0xFF:
            raise CodecError("bad JPEG header: malformed marker segment")
        while pos + 1 < end and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        if pos + 2 > end:
            raise CodecError("bad JPEG header: truncated")
        marker = data[pos + 1]
        pos += 2
        if marker in _NO_LENGTH:
            continue
        if marker in (0xD9, 0xDA):
            raise CodecError("bad JPEG header: no frame header before the scan")
        if pos + 2 > end:
            raise CodecError("bad JPEG header: truncated segment length")
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2 or pos + length > end:
            raise CodecError("bad JPEG header: segment length out of range")
        if marker in _FRAME_MARKERS:
            n = data[pos + 7] if length >= 8 else 0
            if n == 0 or length < 8 + 3 * n:
                raise CodecError("bad JPEG header: malformed frame header")
            # one pass over the components' sampling bytes (H << 4 | V): this
            # runs for every JPEG image, most of them small
            hmax = vmax = 0
            least = 256
            for i in range(pos + 9, pos + 9 + 3 * n, 3):
                h, v = data[i] >> 4, data[i] & 15
                hmax = h if h > hmax else hmax
                vmax = v if v > vmax else vmax
                least = h * v if h * v < least else least
            if least == 0:
                raise CodecError("bad JPEG header: zero sampling factor")
            return marker, -(-hmax * vmax // least)
        pos += length


def max_pixels_for(data: bytes | bytearray | memoryview, /) -> int:
    """The most pixels ``data`` can decode to without libjpeg warnings.

    Each 8x8 block of the least sampled component costs at least 2 bits
    (sequential) or 1 bit (progressive), and covers 64 * ratio image pixels.

    Raises:
        CodecError: a malformed header, or a frame type with no such bound
            (arithmetic coding, lossless, hierarchical).
    """
    marker, ratio = _frame(bytes(data))
    if marker in _UNBOUNDED:
        raise CodecError(f"unsupported JPEG frame type SOF{marker - 0xC0}")
    return _BLOCKS_PER_BYTE[marker] * len(data) * 64 * ratio


def info(data: bytes | bytearray | memoryview, /) -> ImageInfo:
    """The JPEG's dimensions (codec "jpeg", image_type = its colour space).

    Raises:
        CodecError: not a decodable JPEG header.
    """
    try:
        height, width, colorspace, _sub = simplejpeg.decode_jpeg_header(bytes(data))
    except (ValueError, RuntimeError) as exc:
        raise CodecError(f"bad JPEG header: {exc}") from exc
    return ImageInfo("jpeg", str(colorspace), int(width), int(height), True)


def decode(
    data: bytes | bytearray | memoryview,
    /,
    *,
    out: U8 | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    keep_x: bool = False,
) -> U8:
    """Decode a JPEG to uint8 (height, width, 4) B,G,R,X with X = 0, top-down.

    Args:
        data: the JFIF bytes.
        out: optional preallocated C-contiguous uint8 (height, width, 4) array.
        max_pixels: refuse larger images (checked from the header).
        keep_x: leave byte 3 as libjpeg-turbo writes it (0xFF), for a caller
            that overwrites it (JPEG_ALPHA's alpha plane).

    Raises:
        CodecError: corrupt or truncated JPEG, or too large.
    """
    data = bytes(data)
    hdr = info(data)
    check_dimensions(hdr.width, hdr.height, max_pixels)
    if hdr.width * hdr.height > max_pixels_for(data):
        raise CodecError(
            f"{len(data)} bytes of JPEG cannot code {hdr.width}x{hdr.height} pixels"
        )
    out = output_array(out, hdr.width, hdr.height)
    try:
        simplejpeg.decode_jpeg(data, colorspace="BGRX", buffer=out, strict=True)
    except (ValueError, RuntimeError) as exc:
        raise CodecError(f"bad JPEG data: {exc}") from exc
    if not keep_x:
        out[:, :, 3] = 0
    return out


def encode(image: U8, /, *, quality: int = 85, subsampling: str = "420") -> bytes:
    """Encode uint8 (h, w, 4) B,G,R,X (or (h, w, 3) B,G,R) as a JPEG, for tests.

    Args:
        image: the pixels; byte 3 is ignored.
        quality: 1..100 (the server's default is 85).
        subsampling: chroma subsampling, "444", "422" or "420" (libjpeg's default).
    """
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError("JPEG needs a uint8 (h, w, 3|4) B,G,R[,X] array")
    space = "BGR" if img.shape[2] == 3 else "BGRX"
    return bytes(
        simplejpeg.encode_jpeg(
            img, quality=quality, colorspace=space, colorsubsampling=subsampling
        )
    )
