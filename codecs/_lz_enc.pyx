# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""LZ encoder fast path: ``_lz_ref.compress`` in C (the decoder's twin is
``_lz.pyx``).

spice-common's match finder (lz_compress_tmpl.c) with the hash computed from
per-unit keys, specialised at compile time on the unit layout (a fused type),
so the inner loops compare plain integers.  The output is bounded before the
loop (every unit its bytes plus a control byte); going past it is a bug, not
an input error.
"""

from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcpy

import numpy as np

from spicepy.codecs import _lz_ref

# Modes and format constants, as in _lz_ref.py (checked below).
cdef enum:
    MODE_RGB32 = 0
    MODE_RGB16 = 1
    MODE_ALPHA = 2

cdef enum:
    MAX_COPY = 32
    MAX_DISTANCE = 8191
    MAX_FARDISTANCE = 65535 + 8191 - 1
    HASH_SIZE = 8192
    HASH_MASK = 8191
    DJB2_START = 5381

assert (_lz_ref.MODE_RGB32, _lz_ref.MODE_RGB16, _lz_ref.MODE_ALPHA) == (
    MODE_RGB32, MODE_RGB16, MODE_ALPHA)
assert (_lz_ref.MAX_COPY, _lz_ref.MAX_DISTANCE, _lz_ref.MAX_FARDISTANCE) == (
    MAX_COPY, MAX_DISTANCE, MAX_FARDISTANCE)
assert (_lz_ref.HASH_MASK + 1, _lz_ref.HASH_MASK, _lz_ref.DJB2_START) == (
    HASH_SIZE, HASH_MASK, DJB2_START)


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
