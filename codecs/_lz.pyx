# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""LZ fast path: the same two functions as ``_lz_ref.py``, in C.

``decode_pass`` writes 32-bit pixels straight from the stream (palette lookup
and x555 expansion fused into the literal copy, matches copied as whole
pixels). ``compress`` is spice-common's match finder (lz_compress_tmpl.c) with
the hash computed from per-unit keys. Every read of the stream is checked
against its end and every match against the pixels written so far; errors are
returned as codes and raised as CodecError outside the nogil section.
"""

from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcpy

import numpy as np

from spicepy.codecs._common import CodecError

include "_buffers.pxi"

# Modes, as in _lz_ref.py.
cdef enum:
    MODE_RGB32 = 0
    MODE_RGB16 = 1
    MODE_ALPHA = 2
    MODE_PLT8 = 3
    MODE_PLT4_LE = 4
    MODE_PLT4_BE = 5
    MODE_PLT1_LE = 6
    MODE_PLT1_BE = 7

cdef enum:
    MAX_COPY = 32
    MAX_DISTANCE = 8191
    MAX_FARDISTANCE = 65535 + 8191 - 1
    HASH_SIZE = 8192
    HASH_MASK = 8191
    DJB2_START = 5381

cdef enum:
    ERR_TRUNCATED = 1
    ERR_MATCH_END = 2
    ERR_MATCH_START = 3
    ERR_LITERAL_END = 4

cdef uint32_t COLOUR_MASK = 0x00FFFFFF
cdef uint32_t ALPHA_MASK = 0xFF000000

_MESSAGES = {
    ERR_TRUNCATED: "LZ stream truncated",
    ERR_MATCH_END: "LZ match runs past the end of the image",
    ERR_MATCH_START: "LZ match refers before the start of the image",
    ERR_LITERAL_END: "LZ literals run past the end of the image",
}

cdef int[8] PIXELS_PER_UNIT = [1, 1, 1, 1, 2, 2, 8, 8]
cdef int[8] LEN_BIAS = [1, 2, 3, 3, 3, 3, 3, 3]
cdef int[8] UNIT_BYTES = [3, 2, 1, 1, 1, 1, 1, 1]


cdef inline uint32_t _rgb16(uint32_t hi, uint32_t lo) noexcept nogil:
    # x555 to 0x00RRGGBB exactly as lz_rgb16_to_rgb32 (uint8 truncation included)
    cdef uint32_t g = ((hi << 6) | (lo >> 2)) & 0xF8
    g |= g >> 5
    cdef uint32_t r = ((hi << 1) & 0xF8) | ((hi >> 4) & 7)
    cdef uint32_t b = ((lo << 3) & 0xF8) | ((lo >> 2) & 7)
    return b | (g << 8) | (r << 16)


cdef int _decode(const uint8_t* src, Py_ssize_t pos, Py_ssize_t end, int mode,
                 uint32_t* out, Py_ssize_t n_px, const uint32_t* lut,
                 Py_ssize_t* pos_out) noexcept nogil:
    cdef Py_ssize_t op = 0, ref, i, length, ofs, count
    cdef int ppu = PIXELS_PER_UNIT[mode]
    cdef int bias = LEN_BIAS[mode]
    cdef uint32_t ctrl, code, v
    cdef const uint8_t* p
    cdef uint32_t* d
    while True:
        if pos >= end:
            return ERR_TRUNCATED
        ctrl = src[pos]
        pos += 1
        if ctrl >= MAX_COPY:
            length = <Py_ssize_t>(ctrl >> 5) - 1
            ofs = <Py_ssize_t>(ctrl & 31) << 8
            if length == 6:
                while True:
                    if pos >= end:
                        return ERR_TRUNCATED
                    code = src[pos]
                    pos += 1
                    length += code
                    if code != 255:
                        break
            if pos >= end:
                return ERR_TRUNCATED
            code = src[pos]
            pos += 1
            ofs += code
            if code == 255 and ofs == (31 << 8) + 255:
                if end - pos < 2:
                    return ERR_TRUNCATED
                ofs = ((<Py_ssize_t>src[pos] << 8) | src[pos + 1]) + MAX_DISTANCE
                pos += 2
            length = (length + bias) * ppu
            ofs = (ofs + 1) * ppu
            if length > n_px - op:
                return ERR_MATCH_END
            if ofs > op:
                return ERR_MATCH_START
            ref = op - ofs
            d = out + op
            if mode == MODE_ALPHA:
                for i in range(length):
                    d[i] = (d[i] & COLOUR_MASK) | (out[ref + i] & ALPHA_MASK)
            elif ofs == 1:
                v = out[ref]
                for i in range(length):
                    d[i] = v
            elif ofs >= length and length > 8:
                memcpy(d, out + ref, <size_t>length * 4)
            else:  # short or overlapping: forward copy repeats the pattern
                for i in range(length):
                    d[i] = out[ref + i]
            op += length
        else:
            count = ctrl + 1
            if count * ppu > n_px - op:
                return ERR_LITERAL_END
            if count * UNIT_BYTES[mode] > end - pos:
                return ERR_TRUNCATED
            p = src + pos
            d = out + op
            if mode == MODE_RGB32:
                # 4-byte loads for all but the last pixel stay inside the literals
                for i in range(count - 1):
                    memcpy(&v, p, 4)
                    d[i] = v & COLOUR_MASK
                    p += 3
                d[count - 1] = p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
            elif mode == MODE_PLT8:
                for i in range(count):
                    d[i] = lut[p[i]]
            elif mode == MODE_ALPHA:
                for i in range(count):
                    d[i] = (d[i] & COLOUR_MASK) | (<uint32_t>p[i] << 24)
            elif mode == MODE_RGB16:
                for i in range(count):
                    d[i] = _rgb16(p[2 * i], p[2 * i + 1])
            elif mode == MODE_PLT4_LE:
                for i in range(count):
                    d[2 * i] = lut[p[i] & 15]
                    d[2 * i + 1] = lut[p[i] >> 4]
            elif mode == MODE_PLT4_BE:
                for i in range(count):
                    d[2 * i] = lut[p[i] >> 4]
                    d[2 * i + 1] = lut[p[i] & 15]
            elif mode == MODE_PLT1_LE:
                for i in range(count * 8):
                    d[i] = lut[(p[i >> 3] >> (i & 7)) & 1]
            else:
                for i in range(count * 8):
                    d[i] = lut[(p[i >> 3] >> (7 - (i & 7))) & 1]
            pos += count * UNIT_BYTES[mode]
            op += count * ppu
        if op >= n_px:
            pos_out[0] = pos
            return 0


def decode_pass(data, Py_ssize_t pos, int mode, out, lut):
    """Decode one LZ pass into ``out``; see ``_lz_ref.decode_pass``. The stream
    and the pixels are read through the buffer protocol (``_buffers.pxi``)."""
    if mode < 0 or mode > MODE_PLT1_BE:
        raise ValueError(f"bad LZ mode {mode}")
    cdef const uint32_t[::1] lut_view
    cdef const uint32_t* lut_ptr = NULL
    cdef uint32_t dummy = 0
    if mode >= MODE_PLT8:
        lut_view = lut
        need = 256 if mode == MODE_PLT8 else (16 if mode <= MODE_PLT4_BE else 2)
        if lut_view.shape[0] < need:
            raise ValueError("palette table too short")
        lut_ptr = &lut_view[0]
    cdef Py_buffer src, dst
    cdef Py_ssize_t n_px, pos_out = 0
    cdef uint32_t* px
    cdef int err
    _byte_buffer(data, &src, PyBUF_SIMPLE)
    try:
        _byte_buffer(out, &dst, PyBUF_WRITABLE)
        try:
            if dst.ndim != 3 or dst.shape[2] != 4:
                raise ValueError(
                    "decode_pass needs a C-contiguous (rows, columns, 4) array"
                )
            n_px = dst.len // 4
            if n_px == 0 or n_px % PIXELS_PER_UNIT[mode] or pos < 0:
                raise ValueError("bad LZ output size")
            # the pixels are written as uint32 (B,G,R,X/A little-endian)
            px = <uint32_t*>dst.buf
            if <size_t>px % sizeof(uint32_t):
                raise ValueError("decode_pass needs a 4-byte aligned array")
            with nogil:
                err = _decode(
                    <const uint8_t*>src.buf if src.len else <const uint8_t*>&dummy,
                    pos, src.len, mode, px, n_px, lut_ptr, &pos_out,
                )
        finally:
            PyBuffer_Release(&dst)
    finally:
        PyBuffer_Release(&src)
    if err:
        raise CodecError(_MESSAGES[err])
    return pos_out


# ------------------------------------------------------------------ encoder
#
# The encoder is specialised at compile time on the unit layout (a fused
# type), so the inner loops compare plain integers.

cdef struct Px4:  # B,G,R,X pixel coded as RGB (byte 3 ignored)
    uint8_t b[4]

cdef struct Px3:  # B,G,R pixel
    uint8_t b[3]

cdef struct Px2:  # big-endian x555
    uint8_t b[2]

cdef struct Byte1:  # palette byte or A8 alpha
    uint8_t b[1]

cdef struct Alpha4:  # B,G,R,A pixel coded as its alpha byte
    uint8_t b[4]

ctypedef fused Unit:
    Px4
    Px3
    Px2
    Byte1
    Alpha4


cdef inline uint32_t _key(const Unit* u) noexcept nogil:
    # what SAME_PIXEL compares
    cdef uint32_t v
    if Unit is Px4:
        memcpy(&v, u, 4)  # one unaligned load
        return v & 0x00FFFFFF
    elif Unit is Px3:
        return u.b[0] | (<uint32_t>u.b[1] << 8) | (<uint32_t>u.b[2] << 16)
    elif Unit is Px2:
        return ((<uint32_t>u.b[0] & 0x7F) << 8) | u.b[1]
    elif Unit is Byte1:
        return u.b[0]
    else:
        return u.b[3]


cdef inline uint32_t _hash(const Unit* u) noexcept nogil:
    # HASH_FUNC over 3 units, from their keys; only the low 13 bits matter,
    # so uint32 wrap-around gives the C int result
    cdef uint32_t h = DJB2_START, v
    cdef int j
    for j in range(3):
        v = _key(u + j)
        if Unit is Px4 or Unit is Px3:  # R, G, B
            h = ((h << 5) + h) ^ (v >> 16)
            h = ((h << 5) + h) ^ ((v >> 8) & 255)
            h = ((h << 5) + h) ^ (v & 255)
        elif Unit is Px2:  # low byte, then high byte & 0x7f
            h = ((h << 5) + h) ^ (v & 255)
            h = ((h << 5) + h) ^ (v >> 8)
        else:
            h = ((h << 5) + h) ^ v
    return h & HASH_MASK


cdef inline uint8_t* _emit(uint8_t* o, const Unit* u) noexcept nogil:
    # ENCODE_PIXEL
    if Unit is Px4 or Unit is Px3:
        o[0] = u.b[0]
        o[1] = u.b[1]
        o[2] = u.b[2]
        return o + 3
    elif Unit is Px2:
        o[0] = u.b[0]
        o[1] = u.b[1]
        return o + 2
    elif Unit is Byte1:
        o[0] = u.b[0]
        return o + 1
    else:
        o[0] = u.b[3]
        return o + 1


cdef inline uint8_t* _emit_match(uint8_t* o, Py_ssize_t length,
                                 Py_ssize_t distance) noexcept nogil:
    # distance is already biased (-1); fastlz level-2 style match code
    if distance < MAX_DISTANCE:
        if length < 7:
            o[0] = <uint8_t>((length << 5) + (distance >> 8))
            o += 1
        else:
            o[0] = <uint8_t>((7 << 5) + (distance >> 8))
            o += 1
            length -= 7
            while length >= 255:
                o[0] = 255
                o += 1
                length -= 255
            o[0] = <uint8_t>length
            o += 1
        o[0] = <uint8_t>(distance & 255)
        return o + 1
    distance -= MAX_DISTANCE
    if length < 7:
        o[0] = <uint8_t>((length << 5) + 31)
        o += 1
    else:
        o[0] = (7 << 5) + 31
        o += 1
        length -= 7
        while length >= 255:
            o[0] = 255
            o += 1
            length -= 255
        o[0] = <uint8_t>length
        o += 1
    o[0] = 255
    o[1] = <uint8_t>(distance >> 8)
    o[2] = <uint8_t>(distance & 255)
    return o + 3


cdef Py_ssize_t _compress(const Unit* base, Py_ssize_t n, uint8_t* out,
                          Py_ssize_t cap, Py_ssize_t* htab) noexcept nogil:
    # Mirrors FNAME(compress) + FNAME(compress_seg) for a single segment.
    # ``cap`` bytes at ``out``; one iteration writes at most 8 + n / 255 bytes.
    cdef uint8_t* o = out
    cdef uint8_t* o_safe = out + cap - 16 - n // 255
    cdef uint8_t* last_copy
    cdef Py_ssize_t ip, anchor, ref, distance, i, copy
    cdef Py_ssize_t ip_bound = n - 2, ip_limit = n - 6
    cdef int min_match, far_extra, len_adjust, j, is_match
    cdef uint32_t x, hval
    if Unit is Px4 or Unit is Px3:
        min_match = 1
    elif Unit is Px2:
        min_match = 2
    else:
        min_match = 3
    far_extra = 2 if min_match == 3 else 1  # far matches must be longer
    # encoded length = ip - anchor + (2, 1, 0) for a minimum match of 1, 2, 3
    len_adjust = 3 - min_match
    if n < 4:
        o[0] = <uint8_t>(n - 1)
        o += 1
        for i in range(n):
            o = _emit(o, base + i)
        return o - out
    for i in range(HASH_SIZE):
        htab[i] = 0
    last_copy = o
    o[0] = MAX_COPY - 1
    o += 1
    o = _emit(o, base)
    o = _emit(o, base + 1)
    ip = 2
    copy = 2
    while ip < ip_limit:
        if o > o_safe:  # cannot happen (each unit costs <= its bytes + 1)
            return -1
        anchor = ip
        x = _key(base + ip)
        if (_key(base + ip - 1) == x and _key(base + ip + 1) == x
                and _key(base + ip + 2) == x):
            # a run: a match at distance 1
            distance = 1
            ip += 3
            ref = anchor + 2
            is_match = 1
        else:
            hval = _hash(base + ip)
            ref = htab[hval]
            distance = anchor - ref
            htab[hval] = anchor
            is_match = 0
            if 0 < distance < MAX_FARDISTANCE:
                is_match = 1
                for j in range(min_match):
                    if _key(base + ref) != _key(base + ip):
                        is_match = 0
                        break
                    ref += 1
                    ip += 1
                if is_match and distance >= MAX_DISTANCE:
                    for j in range(far_extra):
                        if _key(base + ref) != _key(base + ip):
                            is_match = 0
                            break
                        ref += 1
                        ip += 1
        if not is_match:
            o = _emit(o, base + anchor)
            ip = anchor + 1
            copy += 1
            if copy == MAX_COPY:
                copy = 0
                last_copy = o
                o[0] = MAX_COPY - 1
                o += 1
            continue

        distance -= 1
        if distance == 0:
            x = _key(base + ref)
            while ip < ip_bound:  # ref < ip, so ref < n holds
                if _key(base + ref) != x:
                    ref += 1
                    break
                ref += 1
                ip += 1
        else:
            while ip < ip_bound:
                if _key(base + ref) != _key(base + ip):
                    ref += 1
                    ip += 1
                    break
                ref += 1
                ip += 1

        if copy:
            last_copy[0] = <uint8_t>(copy - 1)
        else:
            o -= 1  # drop the unused count placeholder
        copy = 0

        ip -= 3
        o = _emit_match(o, ip - anchor + len_adjust, distance)

        # update the hash table at the match boundary
        if min_match == 3 or ip > anchor:
            htab[_hash(base + ip)] = ip
        ip += 1
        if min_match != 1 or ip > anchor:
            htab[_hash(base + ip)] = ip
        ip += 1
        last_copy = o
        o[0] = MAX_COPY - 1
        o += 1

    while ip < n:
        o = _emit(o, base + ip)
        ip += 1
        copy += 1
        if copy == MAX_COPY:
            copy = 0
            last_copy = o
            o[0] = MAX_COPY - 1
            o += 1
    if copy:
        last_copy[0] = <uint8_t>(copy - 1)
    else:
        o -= 1
    return o - out


def compress(int mode, const uint8_t[:, ::1] units):
    """Encode one pass; see ``_lz_ref.compress`` (the units' layout rules too)."""
    cdef Py_ssize_t n = units.shape[0], k = units.shape[1]
    if n == 0:
        raise ValueError("nothing to encode")
    if mode == MODE_RGB32:
        if k != 3 and k != 4:
            raise ValueError("RGB32 units are 3 or 4 bytes")
        kk = 3
    elif mode == MODE_RGB16:
        if k != 2:
            raise ValueError("RGB16 units are 2 bytes")
        kk = 2
    elif mode == MODE_ALPHA:
        if k != 1 and k != 4:
            raise ValueError("byte units are 1 byte or the last of 4")
        kk = 1
    else:
        raise ValueError(f"bad LZ encoder mode {mode}")
    # worst case: every unit costs its bytes plus one control byte
    cdef Py_ssize_t cap = n * (kk + 1) + 256 + n // 255
    buf = np.empty(cap, dtype=np.uint8)
    htab = np.empty(HASH_SIZE, dtype=np.intp)
    cdef uint8_t[::1] out = buf
    cdef Py_ssize_t[::1] ht = htab
    cdef Py_ssize_t size = 0
    cdef const uint8_t* src = &units[0, 0]
    with nogil:
        if mode == MODE_RGB32 and k == 4:
            size = _compress(<const Px4*>src, n, &out[0], cap, &ht[0])
        elif mode == MODE_RGB32:
            size = _compress(<const Px3*>src, n, &out[0], cap, &ht[0])
        elif mode == MODE_RGB16:
            size = _compress(<const Px2*>src, n, &out[0], cap, &ht[0])
        elif k == 1:
            size = _compress(<const Byte1*>src, n, &out[0], cap, &ht[0])
        else:
            size = _compress(<const Alpha4*>src, n, &out[0], cap, &ht[0])
    if size < 0:
        raise RuntimeError("LZ encoder output bound exceeded (a bug)")
    return bytes(buf[:size])
