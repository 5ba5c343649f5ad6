"""GLZ reference twin: readable pure Python + numpy.

GLZ is SPICE's "global" LZ: an LZ77 variant (FastLZ family) whose matches may
point into earlier images kept in a window shared by client and server.
Facts come from spice-gtk ``src/decode-glz-tmpl.c`` (client decoder) and
spice server ``server/glz-encode.tmpl.c``, ``glz-encode-match.tmpl.c`` and
``glz-encoder-dict.c`` (server encoder). This module holds the stream decode
(``decode``: header, checks, both passes) and the two per-pass loops;
``glz.py`` keeps the dictionaries, and the Cython twin ``_glz.pyx`` implements
exactly the same three functions.

Header (33 bytes, big-endian): magic ``"  ZL"``, version 0x00010001, one byte
``type | top_down << 4``, width, height, stride, image id (u64), win_head_dist.

Stream body (after the 33-byte header), one op per control byte ``c``:

* ``c < 32``: ``c + 1`` literal pixels follow (3 bytes B,G,R for RGB24/32,
  2 bytes big-endian x555 for RGB16, 1 byte for alpha and palette types).
* ``c >= 32``: a match. ``len = c >> 5`` (7 means "add following bytes while
  they are 255"); pixel offset bits 0..3 from ``c``, bit 4 of ``c`` marks a long
  offset; next byte = offset bits 4..11; next byte: top 2 bits = number of
  image-distance bytes that follow. Short offsets: low 6 bits = distance bits
  0..5, extra bytes add bits 6, 14, 22. Long offsets: bit 5 = very long, low 5
  bits = offset bits 12..16, extra bytes are distance bits 0, 8, 16, then (very
  long) one byte of offset bits 17..24. ``len`` is biased by 0 (RGB24/32), 1
  (RGB16) or 2 (alpha, palette). Distance 0: copy from ``offset + 1`` pixels
  back in this image (overlap = run). Otherwise copy from absolute pixel
  ``offset`` of image ``id - distance``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from spicepy.codecs._common import CodecError, check_dimensions
from spicepy.codecs._lz_ref import TYPE_PIXELS_PER_BYTE, ImageType

__all__ = [
    "GlzMissingImage",
    "MODE_RGB32",
    "MODE_RGB16",
    "MODE_ALPHA",
    "MODE_PLT8",
    "MODE_PLT4_LE",
    "MODE_PLT4_BE",
    "MODE_PLT1_LE",
    "MODE_PLT1_BE",
    "HASH_SIZE",
    "SegTable",
    "decode",
    "decode_pass",
    "header_fields",
    "image_palette",
    "stream_header",
    "compress",
]

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]


class GlzMissingImage(CodecError):
    """A GLZ stream refers to an image that is not in the dictionary.

    ``image_id`` is the missing image. ``expired`` is True when that image was
    already released from the window (waiting for it is pointless); False when
    it may still arrive (another display channel has not delivered it yet).
    """

    def __init__(self, image_id: int, expired: bool = False) -> None:
        state = "was released from" if expired else "is not (yet) in"
        super().__init__(f"GLZ image {image_id} {state} the dictionary")
        self.image_id = image_id
        self.expired = expired


# Pass modes: how literals are coded and how lengths/offsets are biased.
MODE_RGB32 = 0  # RGB24, RGB32 and the colour pass of RGBA: 3 literal bytes B,G,R
MODE_RGB16 = 1  # 2 literal bytes, big-endian x555
MODE_ALPHA = 2  # second pass of RGBA: 1 byte, into the X/A byte of each pixel
MODE_PLT8 = 3
MODE_PLT4_LE = 4
MODE_PLT4_BE = 5
MODE_PLT1_LE = 6
MODE_PLT1_BE = 7

# Pixels that one coded unit (literal byte / length / offset) stands for.
_PIXELS_PER_UNIT = {MODE_PLT4_LE: 2, MODE_PLT4_BE: 2, MODE_PLT1_LE: 8, MODE_PLT1_BE: 8}
# Match length bias (decode-glz-tmpl.c "fixing bias").
_LEN_BIAS = {MODE_RGB32: 0, MODE_RGB16: 1}  # every other mode: 2

MAX_COPY = 32
HASH_SIZE_LOG = 20  # glz-encoder-priv.h, non-chained hash
HASH_SIZE = 1 << HASH_SIZE_LOG
HASH_MASK = HASH_SIZE - 1
MAX_PIXEL_SHORT_DISTANCE = 1 << 12
MAX_PIXEL_MEDIUM_DISTANCE = 1 << 17
MAX_PIXEL_LONG_DISTANCE = 1 << 25
MAX_IMAGE_DIST = (1 << 24) - 1


# --------------------------------------------------------------------------- stream

MAGIC = 0x20205A4C  # "  ZL"
VERSION = 0x00010001
HEADER_SIZE = 33
HEADER = struct.Struct(">IIBIIIQI")
#: Most units (pixels, or bytes of palette rows) one byte of GLZ codes: as LZ, a
#: match codes 7 + 255n + 2 (bias) units in at least 3 + n bytes, a literal one
#: unit a byte; so a stream shorter than units / MAX_RATIO cannot be an image.
MAX_RATIO = 255
#: Decode mode of the first (or only) pass by LzImageType code, as
#: DECODE_TO_RGB32 in decode-glz.c; RGBA adds a MODE_ALPHA pass.
TYPE_MODE: dict[int, int] = {
    ImageType.PLT1_LE: MODE_PLT1_LE,
    ImageType.PLT1_BE: MODE_PLT1_BE,
    ImageType.PLT4_LE: MODE_PLT4_LE,
    ImageType.PLT4_BE: MODE_PLT4_BE,
    ImageType.PLT8: MODE_PLT8,
    ImageType.RGB16: MODE_RGB16,
    ImageType.RGB24: MODE_RGB32,
    ImageType.RGB32: MODE_RGB32,
    ImageType.RGBA: MODE_RGB32,
}
#: most palette entries ``image_palette`` takes
MAX_PALETTE = 1 << 16


def header_fields(
    data: bytes | bytearray | memoryview,
) -> tuple[int, int, int, int, int, int, int]:
    """(type code, top_down bit, width, height, stride, image id, win_head_dist),
    checked; plain ints.

    Raises:
        CodecError: short data, bad magic/version or an undecodable image type.
    """
    if len(data) < HEADER_SIZE:
        raise CodecError("GLZ stream shorter than its header")
    magic, version, tbyte, width, height, stride, image_id, whd = HEADER.unpack_from(
        data, 0
    )
    if magic != MAGIC:
        raise CodecError(f"bad GLZ magic 0x{magic:08x}")
    if version != VERSION:
        raise CodecError(f"unsupported GLZ version 0x{version:08x}")
    code = tbyte & 0x0F
    if code not in TYPE_MODE:
        raise CodecError(f"GLZ image type {code} is not decodable")
    return code, tbyte >> 4, width, height, stride, image_id, whd


def image_palette(palette: npt.ArrayLike | None) -> U32:
    """A palette image's entries as a C-contiguous uint32 array.

    Raises:
        CodecError: no palette.
        ValueError: more than ``MAX_PALETTE`` entries (a caller's error).
    """
    if palette is None:
        raise CodecError("GLZ palette image without a palette")
    pal = np.ascontiguousarray(np.asarray(palette, dtype=np.uint32).ravel())
    if pal.size > MAX_PALETTE:
        raise ValueError("palette too long")
    return pal


def stream_header(
    data: bytes | bytearray | memoryview, max_pixels: int
) -> tuple[int, int, int, int, int, int, int]:
    """``header_fields`` checked against the limit and the stream's length:
    (type code, top_down bit, width, height, row_pixels, image id,
    win_head_dist), ``row_pixels`` the pixels coded per row (palette rows
    are coded to their full stride).

    Raises:
        CodecError: as ``header_fields``, a bad size (beyond ``max_pixels``,
            a palette stride short of the width) or a stream too short to code
            the image.
    """
    code, top_down, width, height, stride, image_id, whd = header_fields(data)
    check_dimensions(width, height, max_pixels)
    ppb = TYPE_PIXELS_PER_BYTE[code]
    row_pixels = stride * ppb if ppb else width
    if row_pixels < width:
        raise CodecError("GLZ palette stride shorter than the width")
    if row_pixels * height > max_pixels:
        raise CodecError("GLZ image stride exceeds the pixel limit")
    # before allocating: the stream must be long enough to code the image
    units = (stride if ppb else width) * height
    units *= 2 if code == ImageType.RGBA else 1  # colour + alpha passes
    if units > MAX_RATIO * (len(data) - HEADER_SIZE):
        raise CodecError(
            f"{len(data)} bytes of GLZ data cannot code a {width}x{height} image"
        )
    return code, top_down, width, height, row_pixels, image_id, whd


def decode(
    data: bytes | bytearray | memoryview,
    lookup: Callable[[int], U8 | None],
    palette: npt.ArrayLike | None,
    max_pixels: int,
) -> tuple[U8, int, int, int, int, int, int, int]:
    """Decode a whole stream: header, its checks and the passes, in one call
    (most GLZ images are small: the per-image cost counts).

    Args:
        data: the stream (bytes, bytearray or a 1-byte memoryview).
        lookup: as ``decode_pass``'s.
        palette: 0x00RRGGBB entries, for the palette types.
        max_pixels: refuse larger images (and larger palette row strides).

    Returns:
        (pixels, type code, top_down bit, width, height, row_pixels, image id,
        win_head_dist): ``pixels`` a fresh flat uint8 array of
        ``height * row_pixels`` 32-bit pixels, rows in stream order (bottom-up
        where top_down is 0), palette rows coded to their full stride
        (``row_pixels`` >= ``width``).

    Raises:
        CodecError: as ``stream_header``, no palette for a palette type, a
            corrupt body.
        GlzMissingImage: a referenced image ``lookup`` does not have.
        ValueError: as ``image_palette``.
    """
    code, top_down, width, height, row_pixels, image_id, whd = stream_header(
        data, max_pixels
    )
    gross = row_pixels * height
    pal = image_palette(palette) if TYPE_PIXELS_PER_BYTE[code] else None
    buf = np.empty(gross * 4, np.uint8)
    pos = decode_pass(
        data, HEADER_SIZE, buf, gross, TYPE_MODE[code], image_id, whd, lookup, pal
    )
    if code == ImageType.RGBA:
        decode_pass(data, pos, buf, gross, MODE_ALPHA, image_id, whd, lookup, pal)
    return buf, code, top_down, width, height, row_pixels, image_id, whd


# --------------------------------------------------------------------------- decoder


def _read(data: bytes | memoryview, pos: int) -> int:
    if pos >= len(data):
        raise CodecError("GLZ stream truncated")
    return data[pos]


def _expand_rgb16(b: U8) -> U32:
    """x555 big-endian pairs -> 0x00RRGGBB, replicating the top bits as spice-gtk."""
    hi = b[0::2].astype(np.uint32)
    lo = b[1::2].astype(np.uint32)
    r = (((hi << 1) & 0xF8) | ((hi >> 4) & 7)) & 0xFF
    g = ((hi << 6) | (lo >> 2)) & 0xF8
    g |= g >> 5
    bl = ((lo << 3) | ((lo >> 2) & 7)) & 0xFF
    return np.asarray(bl | (g << 8) | (r << 16), dtype=np.uint32)


def _literals(mode: int, raw: U8, palette: U32 | None) -> U32 | U8:
    """Decode the literal bytes of one copy op into output pixels (or alpha bytes)."""
    if mode == MODE_RGB32:
        t = raw.reshape(-1, 3).astype(np.uint32)
        return np.asarray(t[:, 0] | (t[:, 1] << 8) | (t[:, 2] << 16), dtype=np.uint32)
    if mode == MODE_RGB16:
        return _expand_rgb16(raw)
    if mode == MODE_ALPHA:
        return raw
    if palette is None:
        raise CodecError("GLZ palette image without a palette")
    n = len(palette)
    ents = palette & 0x00FFFFFF  # COPY_PLT_ENTRY keeps B, G, R and writes pad 0
    if mode == MODE_PLT8:
        if raw.size and int(raw.max()) >= n:
            raise CodecError("GLZ palette index beyond the palette")
        return np.asarray(ents[raw], dtype=np.uint32)
    if mode in (MODE_PLT4_LE, MODE_PLT4_BE):
        if n == 0:
            raise CodecError("GLZ palette image with an empty palette")
        lo, hi = raw & 15, raw >> 4
        first, second = (lo, hi) if mode == MODE_PLT4_LE else (hi, lo)
        # upstream takes the index modulo num_ents
        idx = np.stack([first, second], axis=1).reshape(-1).astype(np.intp) % n
        return np.asarray(ents[idx], dtype=np.uint32)
    if n < 2:
        raise CodecError("GLZ 1-bit image needs a palette of 2 entries")
    if mode == MODE_PLT1_LE:
        bits = np.unpackbits(raw, bitorder="little")
    else:
        bits = np.unpackbits(raw, bitorder="big")
    return np.asarray(np.where(bits == 1, ents[1], ents[0]), dtype=np.uint32)


def _plane(buf: U8, mode: int) -> U32 | U8:
    """The view a pass writes: whole 32-bit pixels, or only their 4th byte."""
    if mode == MODE_ALPHA:
        return buf[3::4]
    return buf.view(np.uint32)


def decode_pass(
    data: bytes | bytearray | memoryview,
    pos: int,
    out: U8,
    gross: int,
    mode: int,
    image_id: int,
    win_head_dist: int,
    lookup: Callable[[int], U8 | None],
    palette: U32 | None = None,
) -> int:
    """Decode one GLZ pass of ``gross`` pixels into ``out``; return the new position.

    Args:
        data: the whole stream; ``pos`` is where this pass starts.
        out: C-contiguous uint8 buffer of ``gross * 4`` bytes (32-bit pixels).
        mode: one of the ``MODE_*`` constants.
        image_id, win_head_dist: from the header; references reach back at most
            ``win_head_dist`` images.
        lookup: gives an earlier image by id (a flat uint8 buffer of 32-bit
            pixels), or None if it is not available.
        palette: uint32 0x00RRGGBB entries for the palette modes.

    Raises:
        CodecError: corrupt stream (truncated, offsets out of range, ...).
        GlzMissingImage: a reference to an image ``lookup`` does not have.
    """
    if out.size < gross * 4:
        raise ValueError("output buffer too small")
    dst = _plane(out, mode)
    unit = _PIXELS_PER_UNIT.get(mode, 1)
    bias = _LEN_BIAS.get(mode, 2)
    lit_bytes = {MODE_RGB32: 3, MODE_RGB16: 2}.get(mode, 1)
    refs: dict[int, U8 | None] = {}
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    op = 0
    ctrl = _read(view, pos)
    pos += 1
    while True:
        if ctrl >= MAX_COPY:
            length = ctrl >> 5
            long_ofs = (ctrl >> 4) & 1
            ofs = ctrl & 0x0F
            if length == 7:  # extended length: add bytes while they are 255
                while True:
                    code = _read(view, pos)
                    pos += 1
                    length += code
                    if code != 255:
                        break
            ofs += _read(view, pos) << 4
            code = _read(view, pos + 1)
            pos += 2
            n_dist = code >> 6
            if not long_ofs:
                dist = code & 0x3F
                for i in range(n_dist):
                    dist += _read(view, pos) << (6 + 8 * i)
                    pos += 1
            else:
                very_long = (code >> 5) & 1
                ofs += (code & 0x1F) << 12
                dist = 0
                for i in range(n_dist):
                    dist += _read(view, pos) << (8 * i)
                    pos += 1
                if very_long:
                    ofs += _read(view, pos) << 17
                    pos += 1
            length += bias
            if dist == 0:
                ofs += 1
            ofs *= unit
            length *= unit
            if op + length > gross:
                raise CodecError("GLZ match runs past the end of the image")
            if dist == 0:
                if ofs > op:
                    raise CodecError("GLZ match before the start of the image")
                ref = op - ofs
                if ofs >= length:
                    dst[op : op + length] = dst[ref : ref + length]
                else:  # overlapping copy repeats the last ``ofs`` pixels
                    reps = -(-length // ofs)
                    dst[op : op + length] = np.tile(dst[ref:op], reps)[:length]
            else:
                if dist > win_head_dist or dist > image_id:
                    raise CodecError("GLZ reference outside the image window")
                target = image_id - dist
                if target not in refs:
                    refs[target] = lookup(target)
                other = refs[target]
                if other is None:
                    raise GlzMissingImage(target)
                src = _plane(other, mode)
                if ofs + length > len(src):
                    raise CodecError("GLZ reference beyond the referenced image")
                dst[op : op + length] = src[ofs : ofs + length]
            op += length
        else:
            count = ctrl + 1
            if op + count * unit > gross:
                raise CodecError("GLZ literals run past the end of the image")
            nbytes = count * lit_bytes
            if pos + nbytes > len(view):
                raise CodecError("GLZ stream truncated")
            raw = np.frombuffer(view, np.uint8, nbytes, pos)
            pos += nbytes
            dst[op : op + count * unit] = _literals(mode, raw, palette)
            op += count * unit
        if op >= gross:
            return pos
        ctrl = _read(view, pos)
        pos += 1


# --------------------------------------------------------------------------- encoder
# A line-by-line port of the server's algorithm (single-entry hash of 2^20
# (segment, pixel) pairs shared by every image in the window, run detection,
# greedy matching), so the output matches the server's byte for byte. Each
# image is one segment; segment indices are handed out by glz.Encoder.
# ``keys`` are the pixels with the bits the pass ignores masked off.


def _hash(mode: int, k: U32, i: int) -> int:
    h = 5381
    if mode == MODE_RGB32:
        for j in range(3):
            v = int(k[i + j])
            for c in ((v >> 16) & 255, (v >> 8) & 255, v & 255):  # r, g, b
                h = (((h << 5) + h) ^ c) & 0xFFFFFFFF
    elif mode == MODE_RGB16:
        for j in range(3):
            v = int(k[i + j])
            for c in (v & 255, (v >> 8) & 0x7F):
                h = (((h << 5) + h) ^ c) & 0xFFFFFFFF
    else:
        for j in range(3):
            h = (((h << 5) + h) ^ int(k[i + j])) & 0xFFFFFFFF
    return h & HASH_MASK


def _ref_size(image_dist: int, pix_dist: int) -> int:
    """get_encode_ref_size: bytes a match costs apart from its length."""
    if pix_dist < MAX_PIXEL_SHORT_DISTANCE:
        if image_dist < 1 << 6:
            return 3
        if image_dist < 1 << 14:
            return 4
        return 5 if image_dist < 1 << 22 else 6
    if image_dist == 0:
        size = 3
    elif image_dist < 1 << 8:
        size = 4
    elif image_dist < 1 << 16:
        size = 5
    else:
        size = 6
    return size + (pix_dist >= MAX_PIXEL_MEDIUM_DISTANCE)


def _encode_match(out: bytearray, image_dist: int, pix_dist: int, length: int) -> None:
    long_bit = 16 if pix_dist >= MAX_PIXEL_SHORT_DISTANCE else 0
    if length < 7:
        out.append((length << 5) + long_bit + (pix_dist & 0x0F))
    else:
        out.append((7 << 5) + long_bit + (pix_dist & 0x0F))
        length -= 7
        while length >= 255:
            out.append(255)
            length -= 255
        out.append(length)
    out.append((pix_dist >> 4) & 255)
    d = image_dist
    if pix_dist < MAX_PIXEL_SHORT_DISTANCE:
        if d < 1 << 6:
            out.append(d & 0x3F)
        elif d < 1 << 14:
            out += bytes((0x40 + (d & 0x3F), (d >> 6) & 255))
        elif d < 1 << 22:
            out += bytes((0x80 + (d & 0x3F), (d >> 6) & 255, (d >> 14) & 255))
        else:
            out += bytes(
                (0xC0 + (d & 0x3F), (d >> 6) & 255, (d >> 14) & 255, (d >> 22) & 255)
            )
        return
    very_long = 32 if pix_dist >= MAX_PIXEL_MEDIUM_DISTANCE else 0
    top = very_long + ((pix_dist >> 12) & 31)
    if d == 0:
        out.append(top)
    elif d < 1 << 8:
        out += bytes((top + 0x40, d & 255))
    elif d < 1 << 16:
        out += bytes((top + 0x80, d & 255, (d >> 8) & 255))
    else:
        out += bytes((top + 0xC0, d & 255, (d >> 8) & 255, (d >> 16) & 255))
    if very_long:
        out.append((pix_dist >> 17) & 255)


def _emit_literal(out: bytearray, mode: int, lits: U32, i: int) -> None:
    v = int(lits[i])
    if mode == MODE_RGB32:
        out += bytes((v & 255, (v >> 8) & 255, (v >> 16) & 255))
    elif mode == MODE_RGB16:
        out += bytes(((v >> 8) & 255, v & 255))
    else:
        out.append(v & 255)


class SegTable:
    """What a pass may refer to, by segment index (glz.Encoder keeps one per
    image type and pass, updated as images enter and leave its window).

    ``keys[seg]`` is the keys array of the image in segment ``seg`` when
    references into it are allowed (alive, in the window, same type), else
    None; ``ids[seg]`` is that image's id. ``ptrs``/``lens`` mirror ``keys``
    as raw addresses and lengths for the Cython twin (the arrays stay alive
    in ``keys``).
    """

    def __init__(self, quota: int) -> None:
        self.keys: list[U32 | None] = [None] * quota
        self.ptrs = np.zeros(quota, np.uint64)
        self.lens = np.zeros(quota, np.int64)
        self.ids = np.zeros(quota, np.uint64)

    def grow(self, quota: int) -> None:
        """Extend to ``quota`` segments (new ones empty)."""
        extra = quota - len(self.keys)
        self.keys += [None] * extra
        self.ptrs = np.concatenate([self.ptrs, np.zeros(extra, np.uint64)])
        self.lens = np.concatenate([self.lens, np.zeros(extra, np.int64)])
        self.ids = np.concatenate([self.ids, np.zeros(extra, np.uint64)])

    def set(self, seg: int, keys: U32, image_id: int) -> None:
        """Allow references into ``keys`` (C-contiguous uint32) as segment ``seg``."""
        self.keys[seg] = keys
        self.ptrs[seg] = keys.ctypes.data if len(keys) else 0
        self.lens[seg] = len(keys)
        self.ids[seg] = image_id

    def clear(self, seg: int) -> None:
        """Forbid references into segment ``seg``."""
        self.keys[seg] = None
        self.ptrs[seg] = 0
        self.lens[seg] = 0


def compress(
    keys: U32,
    lits: U32,
    mode: int,
    htab: U32,
    cur_seg: int,
    cur_id: int,
    table: SegTable,
) -> bytes:
    """Code one pass of an image (everything after the header) like the server.

    Args:
        keys: the image's pixels as uint32 with ignored bits masked off (flat).
        lits: the values literals are written from (the raw pixels for RGB16,
            otherwise ``keys``).
        mode: MODE_RGB32 (also RGB24), MODE_RGB16, MODE_ALPHA or MODE_PLT8.
        htab: the dictionary's hash table, uint32 pairs (segment, pixel) of
            ``2 * HASH_SIZE`` entries; updated in place.
        cur_seg, cur_id: this image's segment index and image id.
        table: the segments references may go to; ``table.keys[cur_seg]``
            is ``keys``.
    """
    out = bytearray()
    n = len(keys)
    if n < 4:  # tiny images are one literal run
        if n:
            out.append(n - 1)
            for i in range(n):
                _emit_literal(out, mode, lits, i)
        return bytes(out)
    is_rgb = mode in (MODE_RGB32, MODE_RGB16)
    min_match = 2 if is_rgb else 4
    max_ref_encode = {MODE_RGB32: 2, MODE_RGB16: 3}.get(mode, 7)
    size_div = {MODE_RGB32: 3, MODE_RGB16: 2}.get(mode, 1)
    bias = {MODE_RGB32: 0, MODE_RGB16: 1}.get(mode, 2)

    def update_hash(i: int) -> None:
        h = _hash(mode, keys, i)
        htab[2 * h] = cur_seg
        htab[2 * h + 1] = i

    def do_match(
        seg: int, ref_keys: U32, ref: int, ip: int, ip_limit: int
    ) -> tuple[int, int, int]:
        ref_limit = len(ref_keys)
        if ref > ref_limit - min_match:
            return 0, 0, 0
        for j in range(min_match):
            if ref_keys[ref + j] != keys[ip + j]:
                return 0, 0, 0
        image_dist = cur_id - int(table.ids[seg])
        pix_dist = ip - ref if image_dist == 0 else ref
        if (
            pix_dist <= 0
            or pix_dist >= MAX_PIXEL_LONG_DISTANCE
            or image_dist > MAX_IMAGE_DIST
        ):
            return 0, 0, 0
        t_ip, t_ref = ip + min_match, ref + min_match
        while t_ip < ip_limit and t_ref < ref_limit and ref_keys[t_ref] == keys[t_ip]:
            t_ip += 1
            t_ref += 1
        length = t_ip - ip
        if length > max_ref_encode:
            return length, image_dist, pix_dist
        if length < _ref_size(image_dist, pix_dist) // size_div + 1:
            return 0, 0, 0
        return length, image_dist, pix_dist

    out.append(MAX_COPY - 1)  # literal count placeholder, patched at last_copy
    last_copy = 0
    update_hash(0)
    _emit_literal(out, mode, lits, 0)
    _emit_literal(out, mode, lits, 1)
    copy = 2
    ip = 2
    ip_bound = n - 2
    ip_limit = n - 6
    while ip < ip_limit:
        anchor = ip
        length = 0
        if keys[ip - 1] == keys[ip] == keys[ip + 1] == keys[ip + 2]:
            x = keys[ip + 2]  # a run: match at distance 1
            pix_dist, image_dist = 1, 0
            ip += 3
            length = 3
            while ip < ip_bound:
                ip += 1
                if keys[ip - 1] != x:
                    break
                length += 1
        else:
            h = _hash(mode, keys, ip)
            seg = int(htab[2 * h])
            ref_keys = table.keys[seg] if seg < len(table.keys) else None
            if ref_keys is not None:
                length, image_dist, pix_dist = do_match(
                    seg, ref_keys, int(htab[2 * h + 1]), ip, ip_bound
                )
            htab[2 * h] = cur_seg
            htab[2 * h + 1] = anchor
            if not length:  # literal
                _emit_literal(out, mode, lits, anchor)
                ip = anchor + 1
                copy += 1
                if copy == MAX_COPY:
                    copy = 0
                    out.append(MAX_COPY - 1)
                    last_copy = len(out) - 1
                continue
        if image_dist == 0:
            pix_dist -= 1  # distance is biased by one
        if copy:
            out[last_copy] = copy - 1
        else:
            del out[-1]  # drop the unused placeholder
        copy = 0
        ip = anchor + length - 2
        _encode_match(out, image_dist, pix_dist, length - bias)
        if ip > anchor:  # re-hash the last two pixels of the match
            update_hash(ip)
        ip += 1
        if ip > anchor:
            update_hash(ip)
        ip += 1
        out.append(MAX_COPY - 1)
        last_copy = len(out) - 1
    while ip <= ip_bound + 1:  # the tail is always literal
        _emit_literal(out, mode, lits, ip)
        ip += 1
        copy += 1
        if copy == MAX_COPY:
            copy = 0
            out.append(MAX_COPY - 1)
            last_copy = len(out) - 1
    if copy:
        out[last_copy] = copy - 1
    else:
        del out[-1]
    return bytes(out)
