"""SPICE JPEG images (image type 105): plain JFIF, decoded with libjpeg-turbo.

The server codes 24-bit colour at quality 85 by default (``server/jpeg-encoder.c``);
spice-gtk decodes to 32-bit xRGB with X = 0 (``src/decode-jpeg.c``), top-down.
The header is read first so the size is checked before any pixel is allocated.
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

__all__ = ["decode", "encode", "info"]

U8 = npt.NDArray[np.uint8]


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
) -> U8:
    """Decode a JPEG to uint8 (height, width, 4) B,G,R,X with X = 0, top-down.

    Args:
        data: the JFIF bytes.
        out: optional preallocated C-contiguous uint8 (height, width, 4) array.
        max_pixels: refuse larger images (checked from the header).

    Raises:
        CodecError: corrupt or truncated JPEG, or too large.
    """
    data = bytes(data)
    hdr = info(data)
    check_dimensions(hdr.width, hdr.height, max_pixels)
    out = output_array(out, hdr.width, hdr.height)
    try:
        simplejpeg.decode_jpeg(data, colorspace="BGRX", buffer=out, strict=True)
    except (ValueError, RuntimeError) as exc:
        raise CodecError(f"bad JPEG data: {exc}") from exc
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
