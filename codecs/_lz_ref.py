"""LZ reference twin: readable pure Python + numpy.

SPICE LZ is FastLZ level 2 adapted to pixels (spice-common ``common/lz.c``,
``lz_compress_tmpl.c``, ``lz_decompress_tmpl.c``). This module holds the
stream decoder (``decode``: header, passes, layout) and the two per-pass loops;
``lz.py`` is the public face. The Cython twin ``_lz.pyx`` implements the same
``decode``, ``decode_pass`` and ``compress`` with the same results
(byte-identical streams, identical pixels, CodecError on the same inputs); it
calls ``parse_header``, ``check_body_size``, ``palette_table`` and
``check_end`` here to word its refusals, so each message is written once.

Header (28 bytes, big-endian u32s, ``lz_decode_begin``): magic ``"  ZL"``
0x20205A4C, version 0x00010001, type, width, height, stride, top_down.

Stream body, one op per control byte ``c`` (PROTOCOL.md section 10):

* ``c < 32``: ``c + 1`` literal units follow (3 bytes B,G,R for RGB24/32, 2
  bytes big-endian x555 for RGB16, 1 byte for alpha, A8 and palette types,
  where one byte packs 8, 2 or 1 palette indices).
* ``c >= 32``: a match. ``len = (c >> 5) - 1``; 6 means "add the following
  bytes while they are 255". ``offset = ((c & 31) << 8) + next byte``; when
  that is 31/255, a big-endian u16 + 8191 follows instead. Then ``len`` gets a
  bias (+1 RGB24/32, +2 RGB16, +3 byte types) and ``offset`` +1, and the match
  copies ``len`` units from ``offset`` units back, forwards (overlap = run).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from spicepy.codecs._common import (
    CodecError,
    byte_view,
    check_dimensions,
    output_array,
)

__all__ = [
    "HEADER_SIZE",
    "ImageType",
    "MAGIC",
    "MAX_RATIO",
    "TYPE_BYTES_PER_PIXEL",
    "TYPE_MODE",
    "TYPE_PIXELS_PER_BYTE",
    "VERSION",
    "check_body_size",
    "check_end",
    "decode",
    "palette_lut",
    "palette_table",
    "parse_header",
    "MODE_RGB32",
    "MODE_RGB16",
    "MODE_ALPHA",
    "MODE_PLT8",
    "MODE_PLT4_LE",
    "MODE_PLT4_BE",
    "MODE_PLT1_LE",
    "MODE_PLT1_BE",
    "MODE_BYTES",
    "HASH_LOG",
    "decode_pass",
    "compress",
]

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]

MAGIC = 0x20205A4C
VERSION = 0x00010001
HEADER_SIZE = 28
#: Most units one body byte can code. A literal op codes one unit per byte at
#: best; a match op is a control byte, extension bytes adding at most 255 each
#: (the last one less), an offset byte: 6 + 255n + 3 (bias) units for n + 2
#: bytes, and at most 5 + 3 units for 2 bytes without extension.
MAX_RATIO = 255
_HEADER = struct.Struct(">7I")


class ImageType(IntEnum):
    """LzImageType (spice-common ``common/lz_common.h``); GLZ uses the same numbers."""

    PLT1_LE = 1
    PLT1_BE = 2
    PLT4_LE = 3
    PLT4_BE = 4
    PLT8 = 5
    RGB16 = 6
    RGB24 = 7
    RGB32 = 8
    RGBA = 9
    XXXA = 10
    A8 = 11


#: ImageType by its code (1..11), without EnumType.__call__ per image
_TYPE_BY_CODE: tuple[ImageType, ...] = (ImageType.PLT1_LE, *ImageType)

# Pass modes. The decoder's modes say how a unit becomes 32-bit pixels; the
# encoder only distinguishes RGB32 (3-byte units), RGB16 (2) and byte units.
MODE_RGB32 = 0  # RGB24, RGB32 and the colour pass of RGBA
MODE_RGB16 = 1
MODE_ALPHA = 2  # alpha pass of RGBA, XXXA and A8: the byte goes to pixel byte 3
MODE_PLT8 = 3
MODE_PLT4_LE = 4
MODE_PLT4_BE = 5
MODE_PLT1_LE = 6
MODE_PLT1_BE = 7
MODE_BYTES = MODE_ALPHA  # encoder: any one-byte unit (palette bytes, alpha, A8)

#: Bytes per coded unit, per mode.
UNIT_BYTES = (3, 2, 1, 1, 1, 1, 1, 1)
#: Palette indices (output pixels) per coded unit, per mode.
PIXELS_PER_UNIT = (1, 1, 1, 1, 2, 2, 8, 8)
#: Match length bias: the minimum match is 1 pixel (RGB), 2 (RGB16), 3 bytes.
LEN_BIAS = (1, 2, 3, 3, 3, 3, 3, 3)

# Per ImageType code (index 0 unused), as lz.c's tables: the first pass's mode
# (RGBA adds a MODE_ALPHA pass), palette pixels per stream byte (0: not a
# palette type) and bytes per pixel of an RGB row (0: palette type).
TYPE_MODE = (
    -1,
    MODE_PLT1_LE,
    MODE_PLT1_BE,
    MODE_PLT4_LE,
    MODE_PLT4_BE,
    MODE_PLT8,
    MODE_RGB16,
    MODE_RGB32,  # RGB24
    MODE_RGB32,
    MODE_RGB32,  # RGBA
    MODE_ALPHA,  # XXXA
    MODE_ALPHA,  # A8
)
TYPE_PIXELS_PER_BYTE = (0, 8, 8, 2, 2, 1, 0, 0, 0, 0, 0, 0)
TYPE_BYTES_PER_PIXEL = (0, 0, 0, 0, 0, 0, 2, 3, 4, 4, 4, 1)

MAX_COPY = 32  # literal run limit (control byte 0..31)
MAX_DISTANCE = 8191  # 2^13 - 1: offsets below this fit the 13-bit form
MAX_FARDISTANCE = 65535 + MAX_DISTANCE - 1
HASH_LOG = 13
HASH_MASK = (1 << HASH_LOG) - 1
DJB2_START = 5381


# --------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------


def _inflate(
    data: bytes | memoryview, pos: int, n_units: int, k: int, bias: int
) -> tuple[bytearray, int]:
    """Decode ``n_units`` units of ``k`` bytes from ``data[pos:]``.

    Returns the units and the position after the last op. Mirrors
    ``FNAME(decompress)`` in lz_decompress_tmpl.c, with its asserts as errors.
    """
    out = bytearray(n_units * k)
    end = len(data)
    op = 0
    while True:
        if pos >= end:
            raise CodecError("LZ stream truncated")
        ctrl = data[pos]
        pos += 1
        if ctrl >= MAX_COPY:
            length = (ctrl >> 5) - 1
            ofs = (ctrl & 31) << 8
            if length == 6:
                while True:
                    if pos >= end:
                        raise CodecError("LZ stream truncated in a match length")
                    code = data[pos]
                    pos += 1
                    length += code
                    if code != 255:
                        break
            if pos >= end:
                raise CodecError("LZ stream truncated in a match offset")
            code = data[pos]
            pos += 1
            ofs += code
            if code == 255 and ofs - code == 31 << 8:
                if pos + 2 > end:
                    raise CodecError("LZ stream truncated in a far offset")
                ofs = (data[pos] << 8 | data[pos + 1]) + MAX_DISTANCE
                pos += 2
            length += bias
            ofs += 1
            if op + length > n_units:
                raise CodecError("LZ match runs past the end of the image")
            if ofs > op:
                raise CodecError("LZ match refers before the start of the image")
            ref = op - ofs
            if ofs >= length:
                out[op * k : (op + length) * k] = out[ref * k : (ref + length) * k]
            else:  # overlapping copy: the last ``ofs`` units repeat
                period = bytes(out[ref * k : op * k])
                reps = -(-length // ofs)
                out[op * k : (op + length) * k] = (period * reps)[: length * k]
            op += length
        else:
            count = ctrl + 1
            if op + count > n_units:
                raise CodecError("LZ literals run past the end of the image")
            nbytes = count * k
            if pos + nbytes > end:
                raise CodecError("LZ stream truncated in literals")
            out[op * k : op * k + nbytes] = data[pos : pos + nbytes]
            pos += nbytes
            op += count
        if op >= n_units:
            return out, pos


def _expand_rgb16(hi: U8, lo: U8) -> U32:
    """x555 (hi = 0RRRRRGG, lo = GGGBBBBB) to 0x00RRGGBB, as lz_rgb16_to_rgb32."""
    h = hi.astype(np.uint32)
    lo32 = lo.astype(np.uint32)
    g = ((h << 6) | (lo32 >> 2)) & 0xF8
    g |= g >> 5
    r = ((h << 1) & 0xF8) | ((h >> 4) & 7)
    b = ((lo32 << 3) & 0xF8) | ((lo32 >> 2) & 7)
    return (b | (g << 8) | (r << 16)).astype(np.uint32)


def decode_pass(
    data: bytes | memoryview, pos: int, mode: int, out: U8, lut: U32 | None
) -> int:
    """Decode one LZ pass from ``data[pos:]`` into the pixel array ``out``.

    Args:
        data: the whole stream.
        pos: where this pass starts (after the header, or after the colour pass).
        mode: one of the ``MODE_*`` constants.
        out: C-contiguous uint8 (rows, columns, 4) B,G,R,X/A pixels, their
            number a multiple of the pixels per unit. ``MODE_ALPHA`` changes only
            byte 3.
        lut: palette (0x00RRGGBB, uint32) for the ``MODE_PLT*`` modes, with 256,
            16 or 2 entries so that every index has an entry.

    Returns:
        The stream position after the pass.

    Raises:
        CodecError: truncated stream, or a match outside the image.
    """
    if out.ndim != 3 or out.shape[2] != 4 or not out.flags.c_contiguous:
        raise ValueError("decode_pass needs a C-contiguous (rows, columns, 4) array")
    out = out.reshape(-1).view(np.uint32)  # B,G,R,X bytes = LE uint32 pixels
    ppu = PIXELS_PER_UNIT[mode]
    k = UNIT_BYTES[mode]
    n_units = out.shape[0] // ppu
    units, pos = _inflate(data, pos, n_units, k, LEN_BIAS[mode])
    raw = np.frombuffer(bytes(units), dtype=np.uint8)
    if mode == MODE_RGB32:
        px = raw.reshape(-1, 3).astype(np.uint32)
        out[:] = px[:, 0] | (px[:, 1] << 8) | (px[:, 2] << 16)
    elif mode == MODE_RGB16:
        pairs = raw.reshape(-1, 2)
        out[:] = _expand_rgb16(pairs[:, 0], pairs[:, 1])
    elif mode == MODE_ALPHA:
        out[:] = (out & np.uint32(0x00FFFFFF)) | (raw.astype(np.uint32) << 24)
    else:
        assert lut is not None
        if mode == MODE_PLT8:
            idx = raw
        elif mode == MODE_PLT4_LE:  # first pixel in the low nibble
            idx = np.stack([raw & 15, raw >> 4], axis=1).reshape(-1)
        elif mode == MODE_PLT4_BE:
            idx = np.stack([raw >> 4, raw & 15], axis=1).reshape(-1)
        elif mode == MODE_PLT1_LE:  # first pixel in bit 0
            idx = np.unpackbits(raw, bitorder="little")
        else:
            idx = np.unpackbits(raw, bitorder="big")
        out[:] = lut[idx]
    return pos


# --------------------------------------------------------------------------
# Stream: header, passes, layout
# --------------------------------------------------------------------------


def parse_header(
    data: bytes | memoryview, max_pixels: int
) -> tuple[ImageType, int, int, int, int]:
    """The checked header fields: type, width, height, stride, top_down.

    Raises:
        CodecError: short data, bad magic/version/type, a size beyond
            ``max_pixels``, or a stride that does not fit the width.
    """
    if len(data) < HEADER_SIZE:
        raise CodecError("LZ stream shorter than its header")
    magic, version, code, width, height, stride, top_down = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise CodecError(f"bad LZ magic 0x{magic:08x}")
    if version != VERSION:
        raise CodecError(f"unsupported LZ version 0x{version:08x}")
    if not 1 <= code <= 11:
        raise CodecError(f"invalid LZ image type {code}")
    image_type = _TYPE_BY_CODE[code]
    check_dimensions(width, height, max_pixels)
    ppb = TYPE_PIXELS_PER_BYTE[code]
    if not ppb:
        if stride != width * TYPE_BYTES_PER_PIXEL[code]:
            raise CodecError(f"LZ stride {stride} != width {width} x bytes per pixel")
    elif stride != -(-width // ppb):
        # upstream tolerates one padding byte only when the width needs it; a
        # shorter stride would leave pixels undefined, so both are exact here
        raise CodecError(f"LZ palette stride {stride} does not fit width {width}")
    return image_type, width, height, stride, top_down


def check_body_size(
    image_type: ImageType, width: int, height: int, stride: int, body_size: int
) -> None:
    """Refuse a header whose image ``body_size`` bytes of passes cannot code
    (before any pixel is allocated).

    Raises:
        CodecError: fewer than units / MAX_RATIO bytes per pass.
    """
    units = stride * height if TYPE_PIXELS_PER_BYTE[image_type] else width * height
    passes = 2 if image_type == ImageType.RGBA else 1
    if passes * units > MAX_RATIO * body_size:
        raise CodecError(
            f"{body_size} bytes of LZ data cannot code a "
            f"{width}x{height} {image_type.name} image"
        )


def palette_lut(palette: Sequence[int] | npt.NDArray[np.integer], entries: int) -> U32:
    """A ``entries``-long uint32 table of 0x00RRGGBB, wrapping the palette.

    Raises:
        CodecError: the palette is empty.
    """
    pal = np.asarray(palette, dtype=np.int64).reshape(-1)
    if pal.size == 0:
        raise CodecError("LZ palette is empty")
    idx = np.arange(entries) % pal.size
    return np.ascontiguousarray((pal[idx] & 0x00FFFFFF).astype(np.uint32))


def palette_table(
    image_type: ImageType, palette: Sequence[int] | npt.NDArray[np.integer] | None
) -> U32:
    """The lookup table a palette type's pass reads: an entry per index.

    Raises:
        CodecError: no palette, or an empty one.
    """
    if palette is None:
        raise CodecError(f"LZ {image_type.name} stream needs a palette")
    return palette_lut(palette, 1 << (8 // TYPE_PIXELS_PER_BYTE[image_type]))


def check_end(pos: int, size: int) -> None:
    """Refuse bytes after the last pass.

    Raises:
        CodecError: ``pos`` is not ``size``.
    """
    if pos != size:
        raise CodecError(f"{size - pos} bytes of trailing data after the LZ stream")


def decode(
    data: bytes | bytearray | memoryview,
    palette: Sequence[int] | npt.NDArray[np.integer] | None,
    out: U8 | None,
    max_pixels: int,
) -> tuple[U8, ImageType]:
    """Decode a whole stream (``lz.decode_with_type`` without the type's name).

    Args:
        data: the stream, header included (any buffer: read in place).
        palette: 0x00RRGGBB entries, required for the palette types.
        out: None, or the array to decode into (``output_array``'s rules).
        max_pixels: refuse larger images.

    Returns:
        The top-down uint8 (height, width, 4) pixels (``out`` when given) and
        the stream's type.

    Raises:
        CodecError: as ``parse_header``, ``check_body_size``, ``palette_table``,
            ``decode_pass`` and ``check_end``.
        ValueError: ``out`` is not a (height, width, 4) uint8 array.
    """
    data = byte_view(data)
    image_type, width, height, stride, top_down = parse_header(data, max_pixels)
    check_body_size(image_type, width, height, stride, len(data) - HEADER_SIZE)
    mode = TYPE_MODE[image_type]
    lut: U32 | None = None
    ppb = TYPE_PIXELS_PER_BYTE[image_type]
    row_px = width
    if ppb:  # palette rows are coded to the full stride
        lut = palette_table(image_type, palette)
        row_px = stride * ppb
    result = output_array(out, width, height)
    direct = row_px == width and top_down
    target = result if direct else np.empty((height, row_px, 4), dtype=np.uint8)
    if mode == MODE_ALPHA:
        target.fill(0)
    pos = decode_pass(data, HEADER_SIZE, mode, target, lut)
    if image_type == ImageType.RGBA:
        pos = decode_pass(data, pos, MODE_ALPHA, target, None)
    check_end(pos, len(data))
    if not direct:
        src = target[:, :width]
        result[:] = src if top_down else src[::-1]
    return result, image_type


# --------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------


def _hashes(units: U8, mode: int) -> list[int]:
    """DJB2 hash of the 3 units starting at every position (HASH_FUNC).

    The bytes hashed per unit: R, G, B (RGB32); low byte then high byte & 0x7f
    (RGB16); the byte (one-byte units). Only the low 13 bits are kept, and they
    depend only on the low 13 bits of the intermediate values, so uint32
    wrap-around gives the same result as the C int arithmetic.
    """
    n = units.shape[0]
    if n < 3:
        return []
    u = units.astype(np.uint32)
    if mode == MODE_RGB32:
        cols = [u[:, 2], u[:, 1], u[:, 0]]
    elif mode == MODE_RGB16:
        cols = [u[:, 1], u[:, 0] & np.uint32(0x7F)]
    else:
        cols = [u[:, 0]]
    h = np.full(n - 2, DJB2_START, dtype=np.uint32)
    for j in range(3):
        for col in cols:
            h = ((h << np.uint32(5)) + h) ^ col[j : n - 2 + j]
    return (h & np.uint32(HASH_MASK)).tolist()  # type: ignore[no-any-return]


def _keys(units: U8, mode: int) -> list[int]:
    """What SAME_PIXEL compares: B,G,R (RGB32), the 15 colour bits (RGB16), the byte."""
    u = units.astype(np.uint32)
    if mode == MODE_RGB32:
        keys: U32 = u[:, 0] | (u[:, 1] << np.uint32(8)) | (u[:, 2] << np.uint32(16))
    elif mode == MODE_RGB16:
        keys = ((u[:, 0] & np.uint32(0x7F)) << np.uint32(8)) | u[:, 1]
    else:
        keys = u[:, 0]
    return keys.tolist()  # type: ignore[no-any-return]


def compress(mode: int, units: U8) -> bytes:
    """Encode one pass the way spice-common's ``FNAME(compress)`` does.

    Args:
        mode: ``MODE_RGB32``, ``MODE_RGB16`` or ``MODE_BYTES``.
        units: C-contiguous uint8 array of shape (n, k), n >= 1, one row per
            unit. ``MODE_RGB32`` codes bytes 0..2 of each row (B,G,R; k is 3
            or 4), ``MODE_RGB16`` both bytes (big-endian x555, k = 2) and
            ``MODE_BYTES`` the last byte (k = 1, or 4 for the alpha of B,G,R,A).

    Returns:
        The pass body (no header). The whole image is one segment, as when
        ``lz_encode`` is given every line at once.
    """
    if mode == MODE_RGB32:
        units = units[:, :3]
    elif mode == MODE_BYTES:
        units = units[:, -1:]
    n = units.shape[0]
    k = units.shape[1]
    lit = units.tobytes()
    out = bytearray()
    if n < 4:  # too small for the match finder: one literal run
        out.append(n - 1)
        out += lit
        return bytes(out)
    keys = _keys(units, mode)
    hashes = _hashes(units, mode)
    min_match = LEN_BIAS[mode]  # 1 (RGB32), 2 (RGB16) or 3 (byte units)
    far_extra = 2 if min_match == 3 else 1
    # encoded length = matched units - min_match ... expressed from ip - anchor
    len_adjust = {1: 2, 2: 1, 3: 0}[min_match]
    htab = [0] * (1 << HASH_LOG)  # every slot starts at the first unit
    last_copy = len(out)
    out.append(MAX_COPY - 1)  # literal count placeholder, patched later
    out += lit[: 2 * k]
    ip = 2
    copy = 2
    ip_bound = n - 2
    ip_limit = n - 6
    while ip < ip_limit:
        anchor = ip
        ref = 0
        is_match = False
        if keys[ip - 1] == keys[ip] == keys[ip + 1] == keys[ip + 2]:
            # a run: code it as a match at distance 1
            distance = 1
            ip += 3
            ref = anchor + 2
            is_match = True
        else:
            hval = hashes[ip]
            ref = htab[hval]
            distance = anchor - ref
            htab[hval] = anchor
            if 0 < distance < MAX_FARDISTANCE:
                is_match = True
                for _ in range(min_match):
                    if keys[ref] != keys[ip]:
                        is_match = False
                        break
                    ref += 1
                    ip += 1
                if is_match and distance >= MAX_DISTANCE:
                    # far matches need more matching units to pay off
                    for _ in range(far_extra):
                        if keys[ref] != keys[ip]:
                            is_match = False
                            break
                        ref += 1
                        ip += 1
        if not is_match:
            out += lit[anchor * k : (anchor + 1) * k]
            ip = anchor + 1
            copy += 1
            if copy == MAX_COPY:
                copy = 0
                last_copy = len(out)
                out.append(MAX_COPY - 1)
            continue

        distance -= 1
        if distance == 0:
            x = keys[ref]
            while ip < ip_bound and ref < n:
                if keys[ref] != x:
                    ref += 1
                    break
                ref += 1
                ip += 1
        else:
            while ip < ip_bound and ref < n:
                if keys[ref] != keys[ip]:
                    ref += 1
                    ip += 1
                    break
                ref += 1
                ip += 1

        if copy:
            out[last_copy] = copy - 1
        else:
            del out[-1]  # drop the unused count placeholder
        copy = 0

        ip -= 3
        length = ip - anchor + len_adjust
        if distance < MAX_DISTANCE:
            if length < 7:
                out.append((length << 5) + (distance >> 8))
            else:
                out.append((7 << 5) + (distance >> 8))
                length -= 7
                while length >= 255:
                    out.append(255)
                    length -= 255
                out.append(length)
            out.append(distance & 255)
        else:
            distance -= MAX_DISTANCE
            if length < 7:
                out.append((length << 5) + 31)
            else:
                out.append((7 << 5) + 31)
                length -= 7
                while length >= 255:
                    out.append(255)
                    length -= 255
                out.append(length)
            out.append(255)
            out.append(distance >> 8)
            out.append(distance & 255)

        # update the hash table at the match boundary
        if min_match == 3 or ip > anchor:
            htab[hashes[ip]] = ip
        ip += 1
        if min_match != 1 or ip > anchor:
            htab[hashes[ip]] = ip
        ip += 1
        last_copy = len(out)
        out.append(MAX_COPY - 1)

    # left-over units as literals
    while ip < n:
        out += lit[ip * k : (ip + 1) * k]
        ip += 1
        copy += 1
        if copy == MAX_COPY:
            copy = 0
            last_copy = len(out)
            out.append(MAX_COPY - 1)
    if copy:
        out[last_copy] = copy - 1
    else:
        del out[-1]
    return bytes(out)
