"""SPICE JPEG_ALPHA images (image type 108): JPEG colour + LZ alpha plane.

The payload is ``jpeg_size`` bytes of JPEG (the colour, always top-down) then
an LZ stream of type XXXA carrying the alpha bytes (spice-common
``canvas_get_jpeg_alpha``). The LZ header must match the JPEG's size, and its
``top_down`` must equal the image's JPEG_ALPHA TOP_DOWN flag; when that is
clear the alpha rows are stored bottom row first, so they are flipped while
the JPEG rows are not.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from spicepy.codecs import jpeg, lz
from spicepy.codecs._common import MAX_IMAGE_PIXELS, CodecError

__all__ = ["decode", "encode", "FLAG_TOP_DOWN"]

U8 = npt.NDArray[np.uint8]

#: SPICE_JPEG_ALPHA_FLAGS_TOP_DOWN, the bit of the image's flags byte.
FLAG_TOP_DOWN = 1


def decode(
    data: bytes | bytearray | memoryview,
    /,
    *,
    jpeg_size: int,
    top_down: bool = True,
    out: U8 | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> U8:
    """Decode a JPEG_ALPHA payload to uint8 (height, width, 4) B,G,R,A, top-down.

    Args:
        data: the payload (JPEG bytes then the LZ alpha stream).
        jpeg_size: length of the JPEG part (from the image's fields).
        top_down: the image's TOP_DOWN flag.
        out: optional preallocated C-contiguous uint8 (height, width, 4) array.
        max_pixels: refuse larger images.

    Raises:
        CodecError: bad JPEG or LZ data, a jpeg_size outside the payload, or an
            alpha stream that is not XXXA of the same size and direction.
    """
    data = bytes(data)
    if not 0 < jpeg_size < len(data):
        raise CodecError(f"jpeg_size {jpeg_size} outside the {len(data)}-byte payload")
    alpha_stream = data[jpeg_size:]
    hdr = lz.read_header(alpha_stream, max_pixels=max_pixels)
    lz.check_body_size(hdr, len(alpha_stream) - lz.HEADER_SIZE)
    if hdr.image_type != lz.ImageType.XXXA:
        raise CodecError(f"JPEG_ALPHA alpha stream is {hdr.image_type.name}, not XXXA")
    if hdr.top_down != bool(top_down):
        raise CodecError("JPEG_ALPHA alpha direction does not match the TOP_DOWN flag")
    pixels = jpeg.decode(data[:jpeg_size], out=out, max_pixels=max_pixels, keep_x=True)
    if pixels.shape[:2] != (hdr.height, hdr.width):
        raise CodecError(
            f"JPEG is {pixels.shape[1]}x{pixels.shape[0]}, "
            f"alpha is {hdr.width}x{hdr.height}"
        )
    lz.decode_alpha(alpha_stream, hdr, into=pixels)  # flipped if bottom-up
    return pixels


def encode(
    image: U8, /, *, quality: int = 85, top_down: bool = True
) -> tuple[bytes, int]:
    """Encode uint8 (h, w, 4) B,G,R,A as a JPEG_ALPHA payload, for tests.

    Returns:
        (payload, jpeg_size).
    """
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 4:
        raise ValueError("JPEG_ALPHA needs a uint8 (h, w, 4) B,G,R,A array")
    colour = jpeg.encode(img, quality=quality)
    alpha = lz.encode(img, image_type="XXXA", top_down=top_down)
    return colour + alpha, len(colour)
