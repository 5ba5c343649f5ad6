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
            elif ofs >= length:
                memcpy(d, out + ref, <size_t>length * 4)
            else:
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
                for i in range(count):
                    d[i] = p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
                    p += 3
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


def decode_pass(const uint8_t[::1] data, Py_ssize_t pos, int mode,
                uint32_t[::1] out, lut):
    """Decode one LZ pass into ``out``; see ``_lz_ref.decode_pass``."""
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
    cdef Py_ssize_t n_px = out.shape[0]
    if n_px == 0 or n_px % PIXELS_PER_UNIT[mode] or pos < 0:
        raise ValueError("bad LZ output size")
    cdef Py_ssize_t end = data.shape[0], pos_out = 0
    cdef const uint8_t* src = &data[0] if end > 0 else <const uint8_t*>&dummy
    cdef int err
    with nogil:
        err = _decode(src, pos, end, mode, &out[0], n_px, lut_ptr, &pos_out)
    if err:
        raise CodecError(_MESSAGES[err])
    return pos_out


# ------------------------------------------------------------------ encoder


cdef inline uint32_t _key(const uint8_t* u, int mode) noexcept nogil:
    # what SAME_PIXEL compares
    if mode == MODE_RGB32:
        return u[0] | (<uint32_t>u[1] << 8) | (<uint32_t>u[2] << 16)
    if mode == MODE_RGB16:
        return ((<uint32_t>u[0] & 0x7F) << 8) | u[1]
    return u[0]


cdef inline uint32_t _hash(const uint8_t* u, Py_ssize_t k, int mode) noexcept nogil:
    # HASH_FUNC over 3 units; only the low 13 bits matter, so uint32 wrap is fine
    cdef uint32_t h = DJB2_START
    cdef int j
    for j in range(3):
        if mode == MODE_RGB32:
            h = ((h << 5) + h) ^ u[2]
            h = ((h << 5) + h) ^ u[1]
            h = ((h << 5) + h) ^ u[0]
        elif mode == MODE_RGB16:
            h = ((h << 5) + h) ^ u[1]
            h = ((h << 5) + h) ^ (u[0] & 0x7F)
        else:
            h = ((h << 5) + h) ^ u[0]
        u += k
    return h & HASH_MASK


cdef inline uint8_t* _emit_unit(uint8_t* o, const uint8_t* u, int kk) noexcept nogil:
    o[0] = u[0]
    if kk > 1:
        o[1] = u[1]
        if kk > 2:
            o[2] = u[2]
    return o + kk


cdef Py_ssize_t _compress(int mode, const uint8_t* base, Py_ssize_t n, Py_ssize_t k,
                          int kk, uint8_t* out, Py_ssize_t* htab) noexcept nogil:
    # base: n units of k bytes, the coded bytes (kk of them) start at base.
    # Mirrors FNAME(compress) + FNAME(compress_seg) for a single segment.
    cdef uint8_t* o = out
    cdef uint8_t* last_copy
    cdef Py_ssize_t ip, anchor, ref, distance, length, i, copy
    cdef Py_ssize_t ip_bound = n - 2, ip_limit = n - 6
    cdef int min_match = LEN_BIAS[mode]
    cdef int far_extra = 2 if min_match == 3 else 1
    # encoded length = ip - anchor + (2, 1, 0) for a minimum match of 1, 2, 3
    cdef int len_adjust = 3 - min_match
    cdef int j, is_match
    cdef uint32_t x, hval
    if n < 4:
        o[0] = <uint8_t>(n - 1)
        o += 1
        for i in range(n):
            o = _emit_unit(o, base + i * k, kk)
        return o - out
    for i in range(HASH_SIZE):
        htab[i] = 0
    last_copy = o
    o[0] = MAX_COPY - 1
    o += 1
    o = _emit_unit(o, base, kk)
    o = _emit_unit(o, base + k, kk)
    ip = 2
    copy = 2
    while ip < ip_limit:
        anchor = ip
        x = _key(base + ip * k, mode)
        if (_key(base + (ip - 1) * k, mode) == x and _key(base + (ip + 1) * k, mode) == x
                and _key(base + (ip + 2) * k, mode) == x):
            distance = 1
            ip += 3
            ref = anchor + 2
            is_match = 1
        else:
            hval = _hash(base + ip * k, k, mode)
            ref = htab[hval]
            distance = anchor - ref
            htab[hval] = anchor
            is_match = 0
            if 0 < distance < MAX_FARDISTANCE:
                is_match = 1
                for j in range(min_match):
                    if _key(base + ref * k, mode) != _key(base + ip * k, mode):
                        is_match = 0
                        break
                    ref += 1
                    ip += 1
                if is_match and distance >= MAX_DISTANCE:
                    for j in range(far_extra):
                        if _key(base + ref * k, mode) != _key(base + ip * k, mode):
                            is_match = 0
                            break
                        ref += 1
                        ip += 1
        if not is_match:
            o = _emit_unit(o, base + anchor * k, kk)
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
            x = _key(base + ref * k, mode)
            while ip < ip_bound and ref < n:
                if _key(base + ref * k, mode) != x:
                    ref += 1
                    break
                ref += 1
                ip += 1
        else:
            while ip < ip_bound and ref < n:
                if _key(base + ref * k, mode) != _key(base + ip * k, mode):
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
        length = ip - anchor + len_adjust
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
            o += 1
        else:
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
            o += 3

        # update the hash table at the match boundary
        if min_match == 3 or ip > anchor:
            htab[_hash(base + ip * k, k, mode)] = ip
        ip += 1
        if min_match != 1 or ip > anchor:
            htab[_hash(base + ip * k, k, mode)] = ip
        ip += 1
        last_copy = o
        o[0] = MAX_COPY - 1
        o += 1

    while ip < n:
        o = _emit_unit(o, base + ip * k, kk)
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
    if mode != MODE_RGB32 and mode != MODE_RGB16 and mode != MODE_ALPHA:
        raise ValueError(f"bad LZ encoder mode {mode}")
    cdef Py_ssize_t n = units.shape[0], k = units.shape[1]
    cdef int kk = UNIT_BYTES[mode]
    if n == 0 or k < kk or (mode == MODE_RGB16 and k != 2):
        raise ValueError("bad unit array for this mode")
    # one-byte units are the last byte of each row (alpha of B,G,R,A pixels)
    cdef Py_ssize_t first = k - 1 if mode == MODE_ALPHA else 0
    # worst case: every unit costs its bytes plus one control byte
    buf = np.empty(n * (kk + 1) + 256, dtype=np.uint8)
    htab = np.empty(HASH_SIZE, dtype=np.intp)
    cdef uint8_t[::1] out = buf
    cdef Py_ssize_t[::1] ht = htab
    cdef Py_ssize_t size
    with nogil:
        size = _compress(mode, &units[0, 0] + first, n, k, kk, &out[0], &ht[0])
    return bytes(buf[:size])
