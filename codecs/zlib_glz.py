"""ZLIB_GLZ_RGB: a GLZ stream wrapped in zlib (server ``zlib-encoder.c``).

The image data carries ``glz_size`` (the inflated size) and a complete zlib
stream (header, deflate data, Adler-32) that inflates to exactly that many bytes
of GLZ stream (spice-gtk ``decode-zlib.c`` inflates with Z_FINISH into a buffer
of ``glz_size`` bytes and wants Z_STREAM_END). The server uses level 3 and only
wraps GLZ output of 100 bytes or more, when zlib makes it smaller.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import numpy.typing as npt
from spicepy.codecs import glz
from spicepy.codecs._common import MAX_IMAGE_PIXELS, CodecError, check_dimensions
from spicepy.codecs.lz import PIXELS_PER_BYTE, ImageType

__all__ = ["decode", "decode_with_type", "encode", "inflate", "DEFAULT_LEVEL"]

DEFAULT_LEVEL = 3  # server/image-encoders.cpp ZLIB_DEFAULT_COMPRESSION_LEVEL


#: Deflate's largest expansion (RFC 1951): the longest match, 258 bytes, costs
#: at least a 1-bit length code and a 1-bit distance code, so one input byte
#: yields at most 4 * 258 = 1032 output bytes (plus the 6-byte zlib wrapper).
DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 16  # output bytes per inflate step: what is held beyond the result


#: GLZ's costliest op per unit: a match of one unit with a long offset, three
#: image-distance bytes and the very-long offset byte takes 7 bytes
#: (``_glz_ref.decode_pass``); a literal unit takes at most 3 + 1/32 bytes.
GLZ_MAX_BYTES_PER_UNIT = 7
#: GLZ's most units per byte (``glz.MAX_RATIO``).
GLZ_MAX_RATIO = glz.MAX_RATIO

Buffer = bytes | bytearray | memoryview
#: palette types code rows by the byte (the stride), the others by the pixel
_PALETTE_CODES = frozenset(int(t) for t in PIXELS_PER_BYTE)


def _glz_size_range(code: int, width: int, height: int, stride: int) -> tuple[int, int]:
    """The smallest and largest GLZ stream that can code the image a header
    declares (type number, width, height, stride)."""
    units = height * (stride if code in _PALETTE_CODES else width)
    units *= 2 if code == ImageType.RGBA else 1  # colour + alpha passes
    return (
        glz.HEADER_SIZE + -(-units // GLZ_MAX_RATIO),
        glz.HEADER_SIZE + units * GLZ_MAX_BYTES_PER_UNIT,
    )


def _check_size(data: Buffer, glz_size: int, max_size: int) -> None:
    if not glz.HEADER_SIZE <= glz_size <= max_size:
        raise CodecError(f"ZLIB_GLZ size {glz_size} out of range")
    if glz_size > DEFLATE_MAX_RATIO * len(data):
        raise CodecError(f"{len(data)} zlib bytes cannot inflate to {glz_size}")


def _inflate_rest(z: Any, tail: Buffer, head: bytes, glz_size: int) -> bytearray:
    """``head`` (what ``z`` produced so far) and the rest of ``z``'s stream from
    the input ``tail``: exactly ``glz_size`` bytes in all, in one pass.

    Each step may yield at most one byte beyond ``glz_size`` in all (a bomb is
    stopped there) and at most ``_CHUNK`` bytes, copied into the one result
    buffer: memory is ``glz_size`` plus a step, time linear in ``glz_size``.
    """
    out = bytearray(glz_size)
    out[: len(head)] = head
    view = memoryview(out)
    pos = len(head)
    try:
        while not z.eof:
            step = z.decompress(tail, min(_CHUNK, glz_size + 1 - pos))
            tail = z.unconsumed_tail
            end = pos + len(step)
            if end > glz_size:
                raise CodecError("ZLIB_GLZ stream inflates to more bytes than glz_size")
            view[pos:end] = step
            pos = end
            if not step and not tail:
                break  # input used up before the end of the stream
    except zlib.error as exc:
        raise CodecError(f"ZLIB_GLZ inflate failed: {exc}") from exc
    finally:
        view.release()
    if not z.eof:
        raise CodecError("ZLIB_GLZ stream is not terminated")
    if pos < glz_size:
        raise CodecError("ZLIB_GLZ stream inflates to fewer bytes than glz_size")
    return out


def inflate(data: Buffer, glz_size: int, max_size: int) -> bytearray:
    """Inflate a zlib stream that must yield exactly ``glz_size`` bytes.

    One pass into one buffer of exactly ``glz_size`` bytes; it stops at the
    first byte beyond ``glz_size`` (``glz_size`` is at most DEFLATE_MAX_RATIO
    times the input, so a short input cannot claim a huge buffer).

    Raises:
        CodecError: corrupt, short, over-long (a bomb) or unterminated stream,
            or ``glz_size`` outside ``HEADER_SIZE..max_size`` or beyond what
            the input can inflate to.
    """
    _check_size(data, glz_size, max_size)
    return _inflate_rest(zlib.decompressobj(), data, b"", glz_size)


def _inflate_image(data: Buffer, glz_size: int, max_pixels: int) -> bytearray:
    """The GLZ stream: its header is inflated and checked first (the image it
    declares bounds ``glz_size``), then the rest by the same inflater."""
    _check_size(data, glz_size, DEFLATE_MAX_RATIO * len(data))
    z = zlib.decompressobj()
    try:
        head = z.decompress(data, glz.HEADER_SIZE)
    except zlib.error as exc:
        raise CodecError(f"ZLIB_GLZ inflate failed: {exc}") from exc
    code, _, width, height, stride, _, _ = glz.header_fields(head)
    check_dimensions(width, height, max_pixels)
    low, high = _glz_size_range(code, width, height, stride)
    if not low <= glz_size <= high:
        raise CodecError(
            f"ZLIB_GLZ size {glz_size} cannot code a {width}x{height} "
            f"{ImageType(code).name} image ({low}..{high} bytes)"
        )
    return _inflate_rest(z, z.unconsumed_tail, head, glz_size)


def decode(
    data: Buffer,
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
    return glz.decode(
        _inflate_image(data, glz_size, max_pixels),
        dictionary=dictionary,
        palette=palette,
        out=out,
        max_pixels=max_pixels,
        wait=wait,
    )


def decode_with_type(
    data: Buffer,
    /,
    *,
    glz_size: int,
    dictionary: glz.Dictionary,
    palette: npt.ArrayLike | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    wait: float = 0.0,
) -> tuple[npt.NDArray[np.uint8], ImageType]:
    """:func:`decode`, also returning the GLZ header's image type (one inflate,
    one header parse for callers that report the format, as ``decode_image``)."""
    return glz.decode_with_type(
        _inflate_image(data, glz_size, max_pixels),
        dictionary=dictionary,
        palette=palette,
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
