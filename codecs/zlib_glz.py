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
from spicepy.codecs._common import MAX_IMAGE_PIXELS, CodecError, check_dimensions
from spicepy.codecs.lz import PIXELS_PER_BYTE, ImageType

__all__ = ["decode", "encode", "inflate", "DEFAULT_LEVEL"]

DEFAULT_LEVEL = 3  # server/image-encoders.cpp ZLIB_DEFAULT_COMPRESSION_LEVEL


#: Deflate's largest expansion (RFC 1951): the longest match, 258 bytes, costs
#: at least a 1-bit length code and a 1-bit distance code, so one input byte
#: yields at most 4 * 258 = 1032 output bytes (plus the 6-byte zlib wrapper).
DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 16  # output bytes per step of the checking pass


#: GLZ's costliest op per unit: a match of one unit with a long offset, three
#: image-distance bytes and the very-long offset byte takes 7 bytes
#: (``_glz_ref.decode_pass``); a literal unit takes at most 3 + 1/32 bytes.
GLZ_MAX_BYTES_PER_UNIT = 7
#: GLZ's most units per byte (``glz.MAX_RATIO``).
GLZ_MAX_RATIO = glz.MAX_RATIO


def _glz_size_range(hdr: glz.GlzHeader) -> tuple[int, int]:
    """The smallest and largest GLZ stream that can code the image ``hdr`` declares."""
    units = hdr.height * (
        hdr.stride if hdr.image_type in PIXELS_PER_BYTE else hdr.width
    )
    units *= 2 if hdr.image_type == ImageType.RGBA else 1  # colour + alpha passes
    return (
        glz.HEADER_SIZE + -(-units // GLZ_MAX_RATIO),
        glz.HEADER_SIZE + units * GLZ_MAX_BYTES_PER_UNIT,
    )


def inflate(
    data: bytes | bytearray | memoryview, glz_size: int, max_size: int
) -> bytes:
    """Inflate a zlib stream that must yield exactly ``glz_size`` bytes.

    A first pass inflates in small steps, keeping nothing, and stops at the
    first byte beyond ``glz_size``; only then is the output inflated for real,
    into one buffer of exactly ``glz_size`` bytes (zlib's growing buffers would
    briefly hold it twice). Memory is ``glz_size`` plus a step, time linear in
    ``glz_size``, and ``glz_size`` is at most DEFLATE_MAX_RATIO times the input.

    Raises:
        CodecError: corrupt, short, over-long (a bomb) or unterminated stream,
            or ``glz_size`` outside ``HEADER_SIZE..max_size`` or beyond what
            the input can inflate to.
    """
    data = bytes(data)
    if not glz.HEADER_SIZE <= glz_size <= max_size:
        raise CodecError(f"ZLIB_GLZ size {glz_size} out of range")
    if glz_size > DEFLATE_MAX_RATIO * len(data):
        raise CodecError(f"{len(data)} zlib bytes cannot inflate to {glz_size}")
    z = zlib.decompressobj()
    produced = 0
    try:
        tail = data
        while not z.eof:
            step = z.decompress(tail, _CHUNK)
            tail = z.unconsumed_tail
            produced += len(step)
            if produced > glz_size:
                raise CodecError("ZLIB_GLZ stream inflates to more bytes than glz_size")
            if not step and not tail:
                break  # input used up before the end of the stream
        if not z.eof:
            raise CodecError("ZLIB_GLZ stream is not terminated")
        if produced < glz_size:
            raise CodecError("ZLIB_GLZ stream inflates to fewer bytes than glz_size")
        raw = zlib.decompress(data, bufsize=glz_size)
    except zlib.error as exc:
        raise CodecError(f"ZLIB_GLZ inflate failed: {exc}") from exc
    if len(raw) != glz_size:  # the same stream inflated twice
        raise CodecError("ZLIB_GLZ stream inflates inconsistently")
    return raw


def _header(data: bytes, glz_size: int, max_pixels: int) -> glz.GlzHeader:
    """The GLZ header from the first inflated bytes, checked before the rest."""
    try:
        head = zlib.decompressobj().decompress(data, glz.HEADER_SIZE)
    except zlib.error as exc:
        raise CodecError(f"ZLIB_GLZ inflate failed: {exc}") from exc
    hdr = glz.read_header(head)
    check_dimensions(hdr.width, hdr.height, max_pixels)
    low, high = _glz_size_range(hdr)
    if not low <= glz_size <= high:
        raise CodecError(
            f"ZLIB_GLZ size {glz_size} cannot code a {hdr.width}x{hdr.height} "
            f"{hdr.image_type.name} image ({low}..{high} bytes)"
        )
    return hdr


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
    data = bytes(data)
    hdr = _header(data, glz_size, max_pixels)
    raw = inflate(data, glz_size, _glz_size_range(hdr)[1])
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
