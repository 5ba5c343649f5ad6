"""SPICE LZ codec (image types LZ_RGB and LZ_PLT): decoder and encoder.

A stream is a 28-byte big-endian header (magic ``"  ZL"`` 0x20205A4C, version
0x00010001, type, width, height, stride, top_down) followed by one LZ pass, or
two for RGBA (colour, then alpha). See spice-common ``common/lz.c`` and
PROTOCOL.md section 10; the loops live in the twins ``_lz_ref.py`` (pure
Python) and ``_lz.pyx`` (Cython), which give identical results.

Decoding always gives 32-bit pixels, as spice-common's canvas does
(``canvas_get_lz``): ``uint8`` array ``(height, width, 4)`` in byte order
B, G, R, X (X = 0) for RGB and palette types, B, G, R, A for RGBA, and
0, 0, 0, A for XXXA and A8. Rows are returned top-down whatever the stream's
``top_down`` says.

Palette indices that exceed the palette wrap modulo its length (spice-common
does this for 4-bit palettes; for 8-bit ones it would read past the table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from spicepy.codecs import _lz_ref
from spicepy.codecs._common import (
    MAX_IMAGE_PIXELS,
    ImageInfo,
    byte_view,
    check_dimensions,
    output_array,
    pick_twin,
)
from spicepy.codecs._lz_ref import (
    HEADER_SIZE,
    MAGIC,
    MAX_RATIO,
    VERSION,
    ImageType,
    palette_lut,
)

#: the twins doing the work: ``_lz`` (C) or ``_lz_ref`` (pure Python) decodes,
#: ``_lz_enc`` (C) or ``_lz_ref`` encodes
_impl, FAST = pick_twin("spicepy.codecs._lz", _lz_ref)
_enc, _ = pick_twin("spicepy.codecs._lz_enc", _lz_ref)

__all__ = [
    "FAST",
    "HEADER_SIZE",
    "ImageType",
    "LzHeader",
    "MAGIC",
    "MAX_RATIO",
    "VERSION",
    "decode",
    "decode_with_type",
    "encode",
    "info",
    "check_body_size",
    "palette_lut",
    "read_header",
]

_HEADER = _lz_ref._HEADER

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]

#: palette pixels per stream byte, for the palette types
PIXELS_PER_BYTE = {
    t: ppb for t in ImageType if (ppb := _lz_ref.TYPE_PIXELS_PER_BYTE[t])
}
#: bytes per pixel of a row, for the other types
BYTES_PER_PIXEL = {
    t: bpp for t in ImageType if (bpp := _lz_ref.TYPE_BYTES_PER_PIXEL[t])
}
#: ``ImageType.name`` by code, without the enum's per-call name property
_NAMES = ("", *(t.name for t in ImageType))


@dataclass(frozen=True, slots=True)
class LzHeader:
    """The 28-byte header of an LZ stream."""

    image_type: ImageType
    width: int
    height: int
    stride: int
    top_down: bool

    @property
    def row_pixels(self) -> int:
        """Pixels coded per row: palette rows are coded to the full stride."""
        ppb = PIXELS_PER_BYTE.get(self.image_type)
        return self.width if ppb is None else self.stride * ppb

    @property
    def is_palette(self) -> bool:
        """True for the PLT types, which need a palette to decode."""
        return self.image_type in PIXELS_PER_BYTE


def read_header(
    data: bytes | bytearray | memoryview, /, *, max_pixels: int = MAX_IMAGE_PIXELS
) -> LzHeader:
    """Parse and check an LZ header (lz_decode_begin + lz_set_sizes).

    Raises:
        CodecError: short data, bad magic/version/type, a stride that does not
            fit the width, or a size beyond ``max_pixels``.
    """
    image_type, width, height, stride, top_down = _lz_ref.parse_header(
        byte_view(data), max_pixels
    )
    return LzHeader(image_type, width, height, stride, bool(top_down))


def check_body_size(hdr: LzHeader, body_size: int) -> None:
    """Refuse a header whose image ``body_size`` bytes of passes cannot code.

    Called before any pixel is allocated, so a short stream declaring a large
    image costs nothing.

    Raises:
        CodecError: fewer than units / MAX_RATIO bytes per pass.
    """
    _lz_ref.check_body_size(
        hdr.image_type, hdr.width, hdr.height, hdr.stride, body_size
    )


def info(data: bytes | bytearray | memoryview, /) -> ImageInfo:
    """What the header declares (codec "lz"), without decoding.

    Raises:
        CodecError: the header is invalid.
    """
    image_type, width, height, _, top_down = _lz_ref.parse_header(
        byte_view(data), MAX_IMAGE_PIXELS
    )
    return ImageInfo("lz", _NAMES[image_type], width, height, bool(top_down))


def decode(
    data: bytes | bytearray | memoryview,
    /,
    *,
    palette: Sequence[int] | npt.NDArray[np.integer] | None = None,
    out: U8 | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> U8:
    """Decode an LZ stream (header included) to 32-bit pixels; ``decode_with_type``
    without the type."""
    return decode_with_type(data, palette=palette, out=out, max_pixels=max_pixels)[0]


def decode_with_type(
    data: bytes | bytearray | memoryview,
    /,
    *,
    palette: Sequence[int] | npt.NDArray[np.integer] | None = None,
    out: U8 | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> tuple[U8, str]:
    """Decode an LZ stream (header included) to 32-bit pixels, and name its
    type (``ImageType`` name, as ``info``): one header parse for both.

    Args:
        data: the stream, as carried in LZ_RGB / LZ_PLT image data.
        palette: 0x00RRGGBB entries, required for the PLT types.
        out: optional preallocated C-contiguous uint8 (height, width, 4) array.
        max_pixels: refuse larger images.

    Returns:
        uint8 (height, width, 4), top-down: B,G,R,X (X = 0), B,G,R,A for RGBA,
        0,0,0,A for XXXA and A8; and the type's name.

    Raises:
        CodecError: corrupt, truncated or oversized stream, trailing bytes, or
            a PLT stream without a palette.
    """
    pixels, code = _impl.decode(data, palette, out, max_pixels)
    return pixels, _NAMES[code]


def decode_alpha(
    data: bytes | bytearray | memoryview, /, header: LzHeader, *, into: U8
) -> None:
    """Decode an XXXA or A8 stream (``header`` = its checked ``read_header``)
    into byte 3 of ``into``, keeping bytes 0-2: JPEG_ALPHA's alpha plane goes
    straight onto the JPEG's pixels, with no second image.

    Args:
        data: the stream, header included.
        header: ``read_header(data)``, checked by the caller (type, size).
        into: C-contiguous uint8 (height, width, 4) of the header's size.

    Raises:
        CodecError: corrupt, truncated or trailing data.
        ValueError: not an alpha-only stream, or ``into`` of the wrong shape.
    """
    if _lz_ref.TYPE_MODE[header.image_type] != _lz_ref.MODE_ALPHA:
        raise ValueError(f"{header.image_type.name} is not an alpha-only LZ stream")
    into = output_array(into, header.width, header.height)
    if header.top_down:
        target = into  # alpha rows: width pixels each, no padding
    else:
        target = np.zeros((header.height, header.width, 4), dtype=np.uint8)
    pos = _impl.decode_pass(data, HEADER_SIZE, _lz_ref.MODE_ALPHA, target, None)
    _lz_ref.check_end(pos, len(data))
    if not header.top_down:
        into[:, :, 3] = target[::-1, :, 3]


# --------------------------------------------------------------------------- encoder


def _pack_indices(indices: U8, image_type: ImageType) -> U8:
    """(h, w) palette indices to (h, stride) bytes, in upstream's bit order."""
    ppb = PIXELS_PER_BYTE[image_type]
    if ppb == 1:
        return indices
    h, w = indices.shape
    bits = 8 // ppb
    if int(indices.max(initial=0)) >= 1 << bits:
        raise ValueError(f"{image_type.name} indices must be < {1 << bits}")
    stride = -(-w // ppb)
    padded = np.zeros((h, stride * ppb), dtype=np.uint8)
    padded[:, :w] = indices
    if ppb == 8:
        if image_type == ImageType.PLT1_LE:
            return np.packbits(padded, axis=1, bitorder="little")
        return np.packbits(padded, axis=1, bitorder="big")
    pairs = padded.reshape(h, stride, 2)
    first, second = (0, 1) if image_type == ImageType.PLT4_LE else (1, 0)
    packed: U8 = (pairs[:, :, first] | (pairs[:, :, second] << 4)).astype(np.uint8)
    return packed


def _units(img: npt.NDArray[np.uint8]) -> U8:
    """(h, w, c) pixels as a C-contiguous (h * w, c) array of coding units."""
    return np.ascontiguousarray(img).reshape(img.shape[0] * img.shape[1], -1)


def encode(
    image: npt.NDArray[np.uint8] | npt.NDArray[np.uint16],
    /,
    *,
    image_type: str | int = "RGB32",
    top_down: bool = True,
) -> bytes:
    """Encode an image as an LZ stream (header included), like ``lz_encode``.

    Args:
        image: by type: RGB32/RGBA/XXXA uint8 (h, w, 4) B,G,R,X/A; RGB24 uint8
            (h, w, 3) or (h, w, 4) B,G,R; RGB16 uint16 (h, w) x555; A8 uint8
            (h, w) or (h, w, 4) (byte 3 used); PLT types uint8 (h, w) palette
            indices (the palette travels outside the stream).
        image_type: an ``ImageType`` or its name.
        top_down: stored in the header. With False the rows of ``image`` are
            coded bottom row first, so decoding gives ``image`` back.

    Returns:
        The stream. For RGB32/RGB24/PLT8 (and the other types) the bytes equal
        spice-common's ``lz_encode`` output for the same lines.

    Raises:
        ValueError: an unknown type or an image of the wrong shape/dtype.
    """
    try:
        itype = (
            ImageType[image_type]
            if isinstance(image_type, str)
            else ImageType(image_type)
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown LZ image type {image_type!r}") from exc
    img: U8 = np.asarray(image)  # uint16 for RGB16, checked below
    if img.ndim < 2 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError("image must be at least (1, 1)")
    height, width = img.shape[:2]
    check_dimensions(width, height)
    if not top_down:
        img = img[::-1]
    body: list[bytes] = []
    if itype in PIXELS_PER_BYTE:
        if img.ndim != 2 or img.dtype != np.uint8:
            raise ValueError(f"{itype.name} needs a (h, w) uint8 array of indices")
        packed = np.ascontiguousarray(_pack_indices(img, itype))
        stride = packed.shape[1]
        body.append(_enc.compress(_lz_ref.MODE_BYTES, packed.reshape(-1, 1)))
    elif itype == ImageType.RGB16:
        if img.ndim != 2 or img.dtype != np.uint16:
            raise ValueError("RGB16 needs a (h, w) uint16 array of x555 pixels")
        be = np.ascontiguousarray(img.astype(">u2")).view(np.uint8).reshape(-1, 2)
        stride = width * 2
        body.append(_enc.compress(_lz_ref.MODE_RGB16, be))
    elif itype == ImageType.A8:
        if img.dtype != np.uint8 or img.ndim not in (2, 3):
            raise ValueError("A8 needs a uint8 (h, w) or (h, w, 4) array")
        alpha = img.reshape(height, width, -1)
        stride = width
        body.append(_enc.compress(_lz_ref.MODE_BYTES, _units(alpha)))
    else:
        channels = 3 if itype == ImageType.RGB24 else 4
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (channels, 4):
            raise ValueError(f"{itype.name} needs a uint8 (h, w, {channels}) array")
        stride = width * BYTES_PER_PIXEL[itype]
        if itype != ImageType.XXXA:  # the colour pass codes bytes 0..2 of each row
            body.append(_enc.compress(_lz_ref.MODE_RGB32, _units(img)))
        if itype in (ImageType.RGBA, ImageType.XXXA):  # the alpha pass, the last byte
            body.append(_enc.compress(_lz_ref.MODE_BYTES, _units(img)))
    header = _HEADER.pack(
        MAGIC, VERSION, int(itype), width, height, stride, int(top_down)
    )
    return header + b"".join(body)
