"""``decode_image``: one entry point for every compressed SPICE image type.

The display channel hands over an image descriptor's type, width and height
and the codec payload (what follows the per-type fields such as ``size u32``,
PROTOCOL.md section 6). This module picks the codec, passes the side data it
needs (palette, GLZ dictionary, jpeg_size, glz_size, TOP_DOWN flag) and checks
that the result has the descriptor's size. BITMAP, FROM_CACHE,
FROM_CACHE_LOSSLESS and SURFACE images are not codec streams: the canvas
resolves them, and they raise CodecError here.

Most images of a session are small GLZ images, so that path costs little
beside the decode itself: one header parse, no copy of the payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from spicepy.codecs import glz, jpeg, jpeg_alpha, lz, lz4, quic, zlib_glz
from spicepy.codecs._common import (
    MAX_IMAGE_PIXELS,
    CodecError,
    byte_view,
    check_dimensions,
    output_array,
)

from spicepy.wire.enums import ImageType as SpiceImageType  # the one table

__all__ = ["DecodedImage", "SpiceImageType", "decode_image", "decode_pixels"]

U8 = npt.NDArray[np.uint8]


#: SpiceImageType by number (RESERVED is no image: unknown here), and enum
#: names (dict lookups cost less per image than calling the enum or reading
#: ``.name``).
_KINDS = {t.value: t for t in SpiceImageType if t is not SpiceImageType.RESERVED}
_KIND_NAMES = {t: t.name for t in SpiceImageType}
_GLZ_NAMES = {t: t.name for t in glz.ImageType}
_NOT_A_CODEC = {
    SpiceImageType.BITMAP,
    SpiceImageType.FROM_CACHE,
    SpiceImageType.SURFACE,
    SpiceImageType.FROM_CACHE_LOSSLESS,
}
_GLZ_RGB = SpiceImageType.GLZ_RGB  # module constants: an enum attribute costs a
_ZLIB_GLZ_RGB = SpiceImageType.ZLIB_GLZ_RGB  # class lookup per image
_JPEG_ALPHA = SpiceImageType.JPEG_ALPHA
_QUIC = SpiceImageType.QUIC
_JPEG = SpiceImageType.JPEG
_LZ = frozenset({SpiceImageType.LZ_RGB, SpiceImageType.LZ_PLT})
# codec image_type names whose fourth byte is alpha
_ALPHA_FORMATS = {"RGBA", "XXXA", "A8"}
_LZ4_FORMATS = {6: "16BIT", 7: "24BIT", 8: "32BIT", 9: "RGBA"}


class DecodedImage(NamedTuple):
    """A decoded image (immutable; a named tuple, not a frozen dataclass: one
    is made per image, and a frozen dataclass's ``__init__`` costs ~1 us, a
    third of this module's cost around a small image's decode).

    Attributes:
        pixels: uint8 (height, width, 4), top-down, B,G,R,X (X = 0) or B,G,R,A.
        source_format: "<SPICE image type>:<codec pixel format>", e.g.
            "LZ_RGB:RGB32", "QUIC:RGBA", "LZ4:24BIT", "JPEG:YCbCr".
        has_alpha: byte 3 of ``pixels`` is alpha (else it is padding, 0).
        lossy: the codec is lossy (JPEG, JPEG_ALPHA colour).
    """

    pixels: U8
    source_format: str
    has_alpha: bool
    lossy: bool


def decode_image(
    image_type: int,
    payload: bytes | bytearray | memoryview,
    *,
    width: int,
    height: int,
    palette: Sequence[int] | npt.NDArray[np.integer] | None = None,
    dictionary: glz.Dictionary | None = None,
    jpeg_size: int | None = None,
    glz_size: int | None = None,
    top_down: bool = True,
    max_pixels: int = MAX_IMAGE_PIXELS,
    wait: float = 0.0,
    out: U8 | None = None,
) -> DecodedImage:
    """Decode a compressed SPICE image.

    Args:
        image_type: the descriptor's type (1 QUIC, 100 LZ_PLT, 101 LZ_RGB,
            102 GLZ_RGB, 105 JPEG, 107 ZLIB_GLZ_RGB, 108 JPEG_ALPHA, 109 LZ4).
        payload: the codec stream (after the type's size fields).
        width, height: the descriptor's size; the result must match it.
        palette: 0x00RRGGBB entries for LZ_PLT (and palette GLZ images).
        dictionary: the session's GLZ window, for GLZ_RGB and ZLIB_GLZ_RGB.
        jpeg_size: JPEG_ALPHA's jpeg_size field.
        glz_size: ZLIB_GLZ_RGB's glz_size field.
        top_down: JPEG_ALPHA's TOP_DOWN flag.
        max_pixels: refuse larger images.
        wait: seconds a GLZ decode may wait for a referenced image that another
            display channel has not delivered yet.
        out: a writable C-contiguous uint8 (height, width, 4) array to decode
            into (QUIC, LZ, LZ4, JPEG, JPEG_ALPHA): e.g. a surface's rows, so a
            full-screen image needs no array (no fresh pages) of its own.  A
            stream that fails part-way leaves what it wrote there.  GLZ types
            refuse it: the dictionary keeps the array they decode to.

    Returns:
        The pixels and what they came from.

    Raises:
        CodecError: corrupt data, a size that differs from the descriptor, an
            unknown type, or a type that is not a codec stream (BITMAP,
            FROM_CACHE, FROM_CACHE_LOSSLESS, SURFACE: the canvas's job).
        ValueError: a required argument (dictionary, jpeg_size, glz_size) is
            missing, or ``out`` is given for a GLZ type or is not such an array.
    """
    pixels, fmt, has_alpha, lossy = decode_pixels(
        image_type,
        payload,
        width=width,
        height=height,
        palette=palette,
        dictionary=dictionary,
        jpeg_size=jpeg_size,
        glz_size=glz_size,
        top_down=top_down,
        max_pixels=max_pixels,
        wait=wait,
        out=out,
    )
    name = _KIND_NAMES[_KINDS[image_type]]  # (decode_pixels knew the type)
    return DecodedImage(pixels, f"{name}:{fmt}", has_alpha, lossy)


def decode_pixels(
    image_type: int,
    payload: bytes | bytearray | memoryview,
    *,
    width: int,
    height: int,
    palette: Sequence[int] | npt.NDArray[np.integer] | None = None,
    dictionary: glz.Dictionary | None = None,
    jpeg_size: int | None = None,
    glz_size: int | None = None,
    top_down: bool = True,
    max_pixels: int = MAX_IMAGE_PIXELS,
    wait: float = 0.0,
    out: U8 | None = None,
) -> tuple[U8, str, bool, bool]:
    """``decode_image`` without the named tuple and its ``source_format``
    string (the canvas decodes an image per draw: ~3k instructions less).

    Returns:
        (pixels, the codec's pixel format name, has_alpha, lossy), as the
        fields of ``decode_image``'s result.

    Raises:
        CodecError, ValueError: as ``decode_image``.
    """
    try:
        kind = _KINDS.get(image_type)
    except TypeError:  # unhashable
        kind = None
    if kind is None:
        raise CodecError(f"unknown SPICE image type {image_type}")
    if kind in _NOT_A_CODEC:
        raise CodecError(f"{kind.name} images are resolved by the canvas, not a codec")
    check_dimensions(width, height, max_pixels)
    if out is not None and (kind is _GLZ_RGB or kind is _ZLIB_GLZ_RGB):
        raise ValueError(f"{kind.name} images decode into the GLZ dictionary, not out")
    lossy = False
    if kind is _GLZ_RGB:
        # the common small image: one header parse, no copy of the payload
        if dictionary is None:
            raise ValueError("GLZ_RGB images need the session's glz.Dictionary")
        pixels, glz_type = glz.decode_with_type(
            payload,
            dictionary=dictionary,
            palette=palette,
            max_pixels=max_pixels,
            wait=wait,
        )
        fmt = _GLZ_NAMES[glz_type]
    elif kind is _ZLIB_GLZ_RGB:
        # one inflate, straight into the GLZ decode (header parsed there)
        if dictionary is None or glz_size is None:
            raise ValueError("ZLIB_GLZ_RGB images need dictionary= and glz_size=")
        pixels, glz_type = zlib_glz.decode_with_type(
            payload,
            glz_size=glz_size,
            dictionary=dictionary,
            palette=palette,
            max_pixels=max_pixels,
            wait=wait,
        )
        fmt = _GLZ_NAMES[glz_type]
    else:
        if kind is _JPEG_ALPHA and jpeg_size is None:
            raise ValueError("JPEG_ALPHA images need jpeg_size=")
        if out is not None:
            output_array(out, width, height)  # the caller's array, checked first
        try:
            if kind in _LZ:  # (lz takes its own byte_view: the common case first)
                pixels, fmt = lz.decode_with_type(
                    payload, palette=palette, max_pixels=max_pixels, out=out
                )
            else:
                # read in place (QUIC, LZ4); a codec needing bytes copies it
                data = byte_view(payload)
                if kind is _QUIC:
                    pixels, fmt = quic.decode_with_type(
                        data, max_pixels=max_pixels, out=out
                    )
                elif kind is _JPEG:
                    data = bytes(data)  # libjpeg-turbo reads bytes: one copy for both
                    fmt = jpeg.info(data).image_type
                    pixels = jpeg.decode(data, max_pixels=max_pixels, out=out)
                    lossy = True
                elif kind is _JPEG_ALPHA:
                    assert jpeg_size is not None  # refused above
                    fmt = "XXXA"
                    pixels = jpeg_alpha.decode(
                        data,
                        jpeg_size=jpeg_size,
                        top_down=top_down,
                        max_pixels=max_pixels,
                        out=out,
                    )
                    lossy = True
                else:  # LZ4
                    fmt = _LZ4_FORMATS.get(data[1], "?") if len(data) >= 2 else "?"
                    pixels = lz4.decode(
                        data, width=width, height=height, max_pixels=max_pixels, out=out
                    )
        except ValueError as exc:
            if out is None:
                raise
            # the codecs' only ValueError here: out (checked above) is not the
            # size the stream's header declares
            raise CodecError(
                f"{kind.name} image does not decode to the descriptor's "
                f"{width}x{height}: {exc}"
            ) from exc
    shape = pixels.shape
    if shape != (height, width, 4):
        raise CodecError(
            f"{kind.name} image decodes to {shape[1]}x{shape[0]}, "
            f"the descriptor says {width}x{height}"
        )
    return pixels, fmt, kind is _JPEG_ALPHA or fmt in _ALPHA_FORMATS, lossy
