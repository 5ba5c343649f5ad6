"""ZLIB_GLZ_RGB: a GLZ stream wrapped in zlib (server ``zlib-encoder.c``).

The image data carries ``glz_size`` (the inflated size) and a complete zlib
stream (header, deflate data, Adler-32) that inflates to exactly that many bytes
of GLZ stream (spice-gtk ``decode-zlib.c`` inflates with Z_FINISH into a buffer
of ``glz_size`` bytes and wants Z_STREAM_END). The server uses level 3 and only
wraps GLZ output of 100 bytes or more, when zlib makes it smaller.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt
from spicepy.codecs import glz
from spicepy.codecs._common import MAX_IMAGE_PIXELS, CodecError

__all__ = ["decode", "encode", "inflate", "DEFAULT_LEVEL"]

DEFAULT_LEVEL = 3  # server/image-encoders.cpp ZLIB_DEFAULT_COMPRESSION_LEVEL


def _max_glz_size(max_pixels: int) -> int:
    # A GLZ stream never needs more than 4 bytes per pixel plus literal counts
    # (the server sends raw bitmaps when GLZ would be larger).
    return glz.HEADER_SIZE + max_pixels * 5 + 1024


def inflate(
    data: bytes | bytearray | memoryview, glz_size: int, max_size: int
) -> bytes:
    """Inflate a zlib stream that must yield exactly ``glz_size`` bytes.

    Raises:
        CodecError: corrupt, short, over-long (a bomb) or unterminated stream,
            or ``glz_size`` outside ``HEADER_SIZE..max_size``.
    """
    if not glz.HEADER_SIZE <= glz_size <= max_size:
        raise CodecError(f"ZLIB_GLZ size {glz_size} out of range")
    z = zlib.decompressobj()
    try:
        raw = z.decompress(bytes(data), glz_size)
        if len(raw) < glz_size:
            raise CodecError("ZLIB_GLZ stream inflates to fewer bytes than glz_size")
        # Nothing may follow: one more byte of output means a lying size field.
        if z.decompress(z.unconsumed_tail, 1):
            raise CodecError("ZLIB_GLZ stream inflates to more bytes than glz_size")
    except zlib.error as exc:
        raise CodecError(f"ZLIB_GLZ inflate failed: {exc}") from exc
    if not z.eof:
        raise CodecError("ZLIB_GLZ stream is not terminated")
    return raw


def decode(
    data: bytes | bytearray | memoryview,
    /,
    *,
    glz_size: int,
    dictionary: glz.Dictionary,
    palette: npt.ArrayLike | None = None,
    out: npt.NDArray[np.uint8] | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    wait: float = 0.0,
) -> npt.NDArray[np.uint8]:
    """Inflate and decode ZLIB_GLZ_RGB image data (see :func:`glz.decode`).

    Args:
        data: the zlib stream (the image's ``data`` field).
        glz_size: the image's ``glz_data_size`` field.
        dictionary, palette, out, max_pixels, wait: as for :func:`glz.decode`.

    Returns:
        uint8 (height, width, 4), B, G, R, X/A, top-down.

    Raises:
        CodecError: bad zlib or GLZ data (GlzMissingImage for a missing reference).
    """
    raw = inflate(data, glz_size, _max_glz_size(max_pixels))
    return glz.decode(
        raw,
        dictionary=dictionary,
        palette=palette,
        out=out,
        max_pixels=max_pixels,
        wait=wait,
    )


def encode(
    image: npt.NDArray[np.generic],
    /,
    *,
    encoder: glz.Encoder,
    level: int = DEFAULT_LEVEL,
    image_type: str = "RGB32",
    top_down: bool = True,
) -> tuple[bytes, int]:
    """GLZ-encode ``image`` with ``encoder`` and deflate the stream.

    Returns:
        (zlib stream, glz_size): the two fields of ZLIB_GLZ_RGB image data.
    """
    stream = encoder.encode(image, image_type, top_down)
    return zlib.compress(stream, level), len(stream)
