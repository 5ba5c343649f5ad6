"""SPICE QUIC codec (SPICE's lossless image codec, not IETF QUIC): decoder and encoder.

A stream is 32-bit little-endian words: magic ``"QUIC"`` (0x43495551), version 0,
image type (``ImageType``), width, height, then the coded rows (spice-common
``common/quic.c``; PROTOCOL.md section 10). The row coder lives in the twins
``_quic_ref.py`` (pure Python, readable) and ``_quic.pyx`` (Cython), which give
identical bytes and pixels; ``FAST`` says which one is in use.

Decoding gives ``uint8`` ``(height, width, 4)``, top-down, byte order B, G, R, X
(X = 0) for GRAY (B = G = R = gray), RGB16 (5-bit samples widened to
``(v << 3) | (v >> 2)`` as spice-common's canvas does), RGB24 and RGB32, and
B, G, R, A for RGBA.
"""

from __future__ import annotations

import struct
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from spicepy.codecs import _quic_ref
from spicepy.codecs._common import (
    MAX_IMAGE_PIXELS,
    CodecError,
    ImageInfo,
    byte_view,
    check_dimensions,
    output_array,
    pick_twin,
)

_impl, FAST = pick_twin("spicepy.codecs._quic", _quic_ref)

__all__ = [
    "FAST",
    "HEADER_SIZE",
    "ImageType",
    "MAGIC",
    "VERSION",
    "decode",
    "decode_with_type",
    "encode",
    "info",
    "min_stream_bits",
]

MAGIC = 0x43495551
VERSION = 0
HEADER_SIZE = 20
_HEADER = struct.Struct("<5I")

U8 = npt.NDArray[np.uint8]


class ImageType(IntEnum):
    """QuicImageType (spice-common ``common/quic.h``)."""

    GRAY = 1
    RGB16 = 2
    RGB24 = 3
    RGB32 = 4
    RGBA = 5


#: by type code: the type, and its channels for ``min_stream_bits`` (a tuple
#: index costs less per image than calling the enum or building a dict)
_TYPES = (None, *ImageType)
_CHANNELS = {ImageType.GRAY: 1, ImageType.RGBA: 4}


def min_stream_bits(image_type: ImageType, width: int, height: int) -> int:
    """A lower bound on the coded bits of any valid stream of this size.

    Every coded sample takes at least one bit and every run at least one.
    The first row codes all ``width`` pixels; later rows code at least
    columns 0..2 (run mode starts at column 3), and one run or sample covers
    the rest. RGBA rows have a colour part and an alpha part, each with its own runs.
    """
    channels = _CHANNELS.get(image_type, 3)
    parts = 2 if image_type == ImageType.RGBA else 1
    later_row = channels * min(width, 3) + (parts if width > 3 else 0)
    return channels * width + (height - 1) * later_row


def _read_header(
    data: bytes | bytearray | memoryview, max_pixels: int = MAX_IMAGE_PIXELS
) -> tuple[ImageType, int, int]:
    if len(data) < HEADER_SIZE:
        raise CodecError("QUIC stream shorter than its header")
    magic, version, code, width, height = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise CodecError(f"bad QUIC magic 0x{magic:08x}")
    if version != VERSION:
        raise CodecError(f"unsupported QUIC version 0x{version:08x}")
    if not 1 <= code <= 5:
        raise CodecError(f"invalid QUIC image type {code}")
    itype = _TYPES[code]
    check_dimensions(width, height, max_pixels)
    # trailing bytes beyond whole words are ignored, as spice-common's canvas does
    payload_bits = 32 * (len(data) // 4) - 8 * HEADER_SIZE
    if min_stream_bits(itype, width, height) > payload_bits:
        raise CodecError(
            f"QUIC stream of {len(data)} bytes is too short for {width}x{height}"
        )
    return itype, width, height


def info(data: bytes | bytearray | memoryview, /) -> ImageInfo:
    """What the header declares (codec "quic"), without decoding.

    Raises:
        CodecError: the header is invalid or the payload is too short for it.
    """
    itype, width, height = _read_header(byte_view(data))
    return ImageInfo("quic", itype.name, width, height, True)


def decode(
    data: bytes | bytearray | memoryview,
    /,
    *,
    out: U8 | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> U8:
    """Decode a QUIC stream (header included) to 32-bit pixels.

    Args:
        data: the stream, as carried in SpiceQUICData.
        out: optional preallocated writable C-contiguous uint8 (height, width, 4).
        max_pixels: refuse larger images.

    Returns:
        uint8 (height, width, 4), top-down: B,G,R,X (X = 0), or B,G,R,A for RGBA.

    Raises:
        CodecError: bad header, oversized image, a stream that ends early or a
            run past the end of its row.
        ValueError: ``out`` has the wrong shape, dtype or layout.
    """
    return decode_with_type(data, out=out, max_pixels=max_pixels)[0]


def decode_with_type(
    data: bytes | bytearray | memoryview,
    /,
    *,
    out: U8 | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> tuple[U8, str]:
    """``decode``, and the stream's type name (``info(data).image_type``):
    one header parse for both.

    Raises:
        CodecError, ValueError: as ``decode``.
    """
    data = byte_view(data)
    itype, width, height = _read_header(data, max_pixels)
    out = output_array(out, width, height)
    _impl.decode_body(data, HEADER_SIZE // 4, int(itype), out)
    return out, itype.name


def encode(image: U8, /, *, image_type: str | int = "RGB32") -> bytes:
    """Encode an image as a QUIC stream (header included), like ``quic_encode``.

    Args:
        image: uint8 (h, w, 4) in the layout ``decode`` returns (B, G, R, X/A).
            GRAY codes byte 0; RGB16 codes the top 5 bits of B, G and R; RGB24
            and RGB32 code B, G, R (the streams differ only in the type word);
            RGBA also codes byte 3.
        image_type: an ``ImageType`` or its name.

    Returns:
        The stream, byte for byte what spice-common's encoder writes.

    Raises:
        ValueError: an unknown type or an image of the wrong shape or dtype.
    """
    try:
        itype = (
            ImageType[image_type]
            if isinstance(image_type, str)
            else ImageType(image_type)
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown QUIC image type {image_type!r}") from exc
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 4:
        raise ValueError("image must be a uint8 (h, w, 4) array")
    height, width = img.shape[:2]
    if width == 0 or height == 0:
        raise ValueError("image must be at least 1x1")
    try:
        check_dimensions(width, height)
    except CodecError as exc:
        raise ValueError(str(exc)) from exc
    header = _HEADER.pack(MAGIC, VERSION, int(itype), width, height)
    body: bytes = _impl.encode_body(int(itype), np.ascontiguousarray(img))
    return header + body
