# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""GLZ fast path: ``_glz_ref``'s stream decode and its two loops (decode,
decode_pass, compress) in C.

Same arguments, results and exceptions as the reference twin; see that module
for the bitstream. Every input read is bounds-checked against the end of the
stream, every write against the end of the image, and every reference against
the image it points into. ``decode`` reads and checks the header in C and runs
both passes of an RGBA image in the same call, sharing the references looked
up (most GLZ images are a few hundred pixels: the per-call cost counts as much
as the loops); a header it refuses is worded by the reference twin's checks on
that cold path.
"""

import sys

import numpy as np

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy
from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS,
    PyBUF_SIMPLE,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)

from spicepy.codecs import _glz_ref
from spicepy.codecs._common import MAX_DIMENSION, CodecError
from spicepy.codecs._glz_ref import GlzMissingImage

# Pass modes (must equal _glz_ref.MODE_*).
cdef enum:
    M_RGB32 = 0
    M_RGB16 = 1
    M_ALPHA = 2
    M_PLT8 = 3
    M_PLT4_LE = 4
    M_PLT4_BE = 5
    M_PLT1_LE = 6
    M_PLT1_BE = 7

cdef enum:
    MAX_COPY = 32
    HASH_MASK = (1 << 20) - 1
    SHORT_DIST = 1 << 12
    MEDIUM_DIST = 1 << 17
    LONG_DIST = 1 << 25
    MAX_IMAGE_DIST = (1 << 24) - 1
    LOOKAHEAD = 12  # positions hashed ahead in literal stretches (< 16, the ring)

# Error codes of the nogil loops.
cdef enum:
    E_OK = 0
    E_TRUNC = 1
    E_PAST_END = 2
    E_BEFORE_START = 3
    E_WINDOW = 4
    E_BEYOND_REF = 5
    E_MISSING = 6
    E_PALETTE = 7
    E_OVERFLOW = 8

cdef bint LITTLE_ENDIAN = sys.byteorder == "little"

_MESSAGES = {
    E_TRUNC: "GLZ stream truncated",
    E_PAST_END: "GLZ match or literals run past the end of the image",
    E_BEFORE_START: "GLZ match before the start of the image",
    E_WINDOW: "GLZ reference outside the image window",
    E_BEYOND_REF: "GLZ reference beyond the referenced image",
    E_PALETTE: "GLZ palette index beyond the palette",
    E_OVERFLOW: "GLZ encoder output overflow",
}


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define glz_prefetch(p) __builtin_prefetch((const void *)(p))
    #else
    #define glz_prefetch(p) ((void)0)
    #endif
    """
    void glz_prefetch(const void* p) noexcept nogil


cdef struct Ref:
    uint64_t id
    const uint8_t* px
    int64_t npix


cdef struct Dec:
    const uint8_t* data
    int64_t size
    int64_t pos
    uint8_t* out
    int64_t gross
    int mode
    uint64_t image_id
    uint64_t whd
    Ref* refs  # images looked up so far (ascending ids)
    int nrefs
    int64_t op  # pixels already written (the decode resumes from pos/op)
    const uint32_t* pal
    int64_t npal
    uint64_t missing


cdef inline const Ref* _find(const Dec* s, uint64_t target) noexcept nogil:
    """Binary search of the (ascending) reference table."""
    cdef int lo = 0, hi = s.nrefs - 1, mid
    while lo <= hi:
        mid = (lo + hi) >> 1
        if s.refs[mid].id == target:
            return &s.refs[mid]
        if s.refs[mid].id < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return NULL


cdef inline uint32_t _plt(const Dec* s, uint32_t idx) noexcept nogil:
    return s.pal[idx] & 0x00FFFFFF


cdef int _decode(Dec* s) noexcept nogil:
    cdef const uint8_t* ip = s.data + s.pos
    cdef const uint8_t* iend = s.data + s.size
    cdef uint32_t* out = <uint32_t*>s.out
    cdef uint8_t* out8 = s.out
    cdef int64_t op = s.op
    cdef int64_t gross = s.gross
    cdef const uint8_t* op_ip
    cdef int mode = s.mode
    cdef int alpha = mode == M_ALPHA
    cdef int64_t unit = 1
    cdef int64_t bias = 2
    cdef int64_t lit_bytes = 1
    cdef int64_t length, ofs, count, nbytes, i, k
    cdef uint64_t dist
    cdef uint32_t ctrl, code, n, v, hi, lo, r, g, b
    cdef uint32_t* dst
    cdef const uint32_t* src
    cdef uint8_t* d8
    cdef const uint8_t* s8
    cdef const Ref* ref
    if mode == M_RGB32:
        bias = 0
        lit_bytes = 3
    elif mode == M_RGB16:
        bias = 1
        lit_bytes = 2
    elif mode == M_PLT4_LE or mode == M_PLT4_BE:
        unit = 2
    elif mode == M_PLT1_LE or mode == M_PLT1_BE:
        unit = 8
    while True:
        op_ip = ip  # where this op starts: a missing image resumes from here
        if ip >= iend:
            return E_TRUNC
        ctrl = ip[0]
        ip += 1
        if ctrl >= MAX_COPY:
            length = ctrl >> 5
            ofs = ctrl & 0x0F
            if length == 7:  # extended length
                while True:
                    if ip >= iend:
                        return E_TRUNC
                    code = ip[0]
                    ip += 1
                    length += code
                    if code != 255:
                        break
            if iend - ip >= 6 and ip[1] < 0x40:  # common: no distance bytes follow
                ofs += <int64_t>ip[0] << 4
                code = ip[1]
                ip += 2
                if not (ctrl & 0x10):
                    dist = code & 0x3F
                else:
                    dist = 0
                    ofs += <int64_t>(code & 0x1F) << 12
                    if code & 0x20:
                        ofs += <int64_t>ip[0] << 17
                        ip += 1
            elif iend - ip < 2:
                return E_TRUNC
            else:
                ofs += <int64_t>ip[0] << 4
                code = ip[1]
                ip += 2
                n = code >> 6
                if not (ctrl & 0x10):  # short offset: 6 distance bits here
                    if iend - ip < n:
                        return E_TRUNC
                    dist = code & 0x3F
                    for k in range(n):
                        dist += <uint64_t>ip[k] << (6 + 8 * k)
                    ip += n
                else:  # long offset: 5 more offset bits, maybe a very long byte
                    ofs += <int64_t>(code & 0x1F) << 12
                    if iend - ip < n + ((code >> 5) & 1):
                        return E_TRUNC
                    dist = 0
                    for k in range(n):
                        dist += <uint64_t>ip[k] << (8 * k)
                    ip += n
                    if code & 0x20:
                        ofs += <int64_t>ip[0] << 17
                        ip += 1
            length += bias
            if dist == 0:
                ofs += 1
            ofs *= unit
            length *= unit
            if length > gross - op:
                return E_PAST_END
            if dist == 0:
                if ofs > op:
                    return E_BEFORE_START
                if alpha:
                    d8 = out8 + 4 * op + 3
                    if ofs == 1:  # a run of one alpha value (the usual case)
                        # whole-pixel read-modify-write vectorises; byte stores do not
                        v = <uint32_t>out8[4 * op - 1] << 24
                        dst = out + op
                        for i in range(length):
                            dst[i] = (dst[i] & 0x00FFFFFF) | v
                    else:
                        s8 = d8 - 4 * ofs
                        for i in range(length):
                            d8[4 * i] = s8[4 * i]
                else:
                    dst = out + op
                    if ofs == 1:  # a run
                        v = out[op - 1]
                        for i in range(length):
                            dst[i] = v
                    elif ofs >= length and length > 16:
                        memcpy(dst, dst - ofs, <size_t>length * 4)
                    else:  # short or overlapping: forward copy, pixel by pixel
                        src = dst - ofs
                        for i in range(length):
                            dst[i] = src[i]
            else:
                if dist > s.whd or dist > s.image_id:
                    return E_WINDOW
                ref = _find(s, s.image_id - dist)
                if ref == NULL:  # the caller looks it up and resumes
                    s.missing = s.image_id - dist
                    s.pos = op_ip - s.data
                    s.op = op
                    return E_MISSING
                if ofs + length > ref.npix:
                    return E_BEYOND_REF
                if alpha:
                    d8 = out8 + 4 * op + 3
                    s8 = ref.px + 4 * ofs + 3
                    for i in range(length):
                        d8[4 * i] = s8[4 * i]
                elif length > 16:
                    memcpy(out + op, ref.px + 4 * ofs, <size_t>length * 4)
                else:
                    dst = out + op
                    src = <const uint32_t*>ref.px + ofs
                    for i in range(length):
                        dst[i] = src[i]
            op += length
        else:
            count = ctrl + 1
            if count * unit > gross - op:
                return E_PAST_END
            nbytes = count * lit_bytes
            if iend - ip < nbytes:
                return E_TRUNC
            dst = out + op
            if mode == M_RGB32:
                if LITTLE_ENDIAN and iend - ip > nbytes:  # one spare byte: 4-byte loads
                    for i in range(count):
                        memcpy(&v, ip + 3 * i, 4)
                        dst[i] = v & 0x00FFFFFF
                else:
                    for i in range(count):
                        dst[i] = ip[3 * i] | (<uint32_t>ip[3 * i + 1] << 8) | (
                            <uint32_t>ip[3 * i + 2] << 16)
            elif mode == M_ALPHA:
                d8 = out8 + 4 * op + 3
                for i in range(count):
                    d8[4 * i] = ip[i]
            elif mode == M_RGB16:  # x555 -> 888 replicating the top bits (spice-gtk)
                for i in range(count):
                    hi = ip[2 * i]
                    lo = ip[2 * i + 1]
                    r = (((hi << 1) & 0xF8) | ((hi >> 4) & 7)) & 0xFF
                    g = ((hi << 6) | (lo >> 2)) & 0xF8
                    g |= g >> 5
                    b = ((lo << 3) | ((lo >> 2) & 7)) & 0xFF
                    dst[i] = b | (g << 8) | (r << 16)
            elif mode == M_PLT8:
                for i in range(count):
                    if ip[i] >= s.npal:
                        return E_PALETTE
                    dst[i] = _plt(s, ip[i])
            elif mode == M_PLT4_LE:
                for i in range(count):
                    dst[2 * i] = _plt(s, (ip[i] & 15) % s.npal)
                    dst[2 * i + 1] = _plt(s, (ip[i] >> 4) % s.npal)
            elif mode == M_PLT4_BE:
                for i in range(count):
                    dst[2 * i] = _plt(s, (ip[i] >> 4) % s.npal)
                    dst[2 * i + 1] = _plt(s, (ip[i] & 15) % s.npal)
            else:
                for i in range(count):
                    for k in range(8):
                        if mode == M_PLT1_LE:
                            v = (ip[i] >> k) & 1
                        else:
                            v = (ip[i] >> (7 - k)) & 1
                        dst[8 * i + k] = _plt(s, v)
            ip += nbytes
            op += count * unit
        if op >= gross:
            break
    s.pos = ip - s.data
    return E_OK


cdef int _get_buffer(object obj, Py_buffer* view, int flags) except -1:
    """``obj``'s bytes as one C-contiguous run (a 1-D uint8 array, bytes...)."""
    PyObject_GetBuffer(obj, view, flags | PyBUF_C_CONTIGUOUS)
    if view.itemsize != 1:
        PyBuffer_Release(view)
        raise ValueError("GLZ buffers must be bytes (uint8)")
    return 0


cdef struct Held:
    # the referenced images' buffers (``Dec.refs`` points into them) and the
    # room of both arrays
    Py_buffer* bufs
    int n
    int cap


cdef int _start(Dec* s, Held* held) except -1:
    """Empty reference table and held buffers (freed by ``_finish``)."""
    s.nrefs = 0
    held.n = 0
    held.cap = 4
    s.refs = <Ref*>malloc(sizeof(Ref) * held.cap)
    held.bufs = <Py_buffer*>malloc(sizeof(Py_buffer) * held.cap)
    if s.refs == NULL or held.bufs == NULL:
        raise MemoryError()
    return 0


cdef void _finish(Dec* s, Held* held) noexcept:
    cdef int i
    for i in range(held.n):
        PyBuffer_Release(&held.bufs[i])
    free(held.bufs)
    free(s.refs)


cdef int _run(Dec* s, object lookup, Held* held) except -1:
    """Decode the pass set up in ``s`` to its end, looking up each image it
    refers to (kept in ``s.refs`` for the next pass too); returns E_OK or the
    corrupt-stream code, raises GlzMissingImage for an image ``lookup`` lacks."""
    cdef int err, i
    cdef Ref* grown
    cdef Py_buffer* more
    while True:
        with nogil:
            err = _decode(s)
        if err != E_MISSING:
            return err
        found = lookup(s.missing)
        if found is None:
            raise GlzMissingImage(s.missing)
        if held.n == held.cap:
            held.cap *= 2
            grown = <Ref*>realloc(s.refs, sizeof(Ref) * held.cap)
            if grown == NULL:
                raise MemoryError()
            s.refs = grown
            more = <Py_buffer*>realloc(held.bufs, sizeof(Py_buffer) * held.cap)
            if more == NULL:
                raise MemoryError()
            held.bufs = more
        # the reference table points into this buffer until it is released
        _get_buffer(found, &held.bufs[held.n], PyBUF_SIMPLE)
        held.n += 1
        i = s.nrefs  # insert keeping the ids ascending
        while i > 0 and s.refs[i - 1].id > s.missing:
            s.refs[i] = s.refs[i - 1]
            i -= 1
        s.refs[i].id = s.missing
        s.refs[i].px = <const uint8_t*>held.bufs[held.n - 1].buf
        s.refs[i].npix = held.bufs[held.n - 1].len // 4
        s.nrefs += 1


cdef int _use_palette(Dec* s, object palette, Py_buffer* pal) except -1:
    """Point ``s`` at ``palette``'s uint32 entries (held in ``pal``); 1 once
    held (the caller releases it)."""
    PyObject_GetBuffer(palette, pal, PyBUF_C_CONTIGUOUS)
    if pal.itemsize != 4:
        PyBuffer_Release(pal)
        raise ValueError("GLZ palettes must be uint32")
    s.npal = pal.len // 4
    if (s.npal == 0 and s.mode != M_PLT8) or (s.npal < 2 and s.mode >= M_PLT1_LE):
        PyBuffer_Release(pal)
        raise CodecError("GLZ palette too short for the image type")
    if s.npal:
        s.pal = <const uint32_t*>pal.buf
    return 1


def decode_pass(data, Py_ssize_t pos, out, Py_ssize_t gross, int mode, image_id,
                win_head_dist, lookup, palette=None):
    """See ``_glz_ref.decode_pass``.

    The stream, the output and each referenced image are read through the
    buffer protocol directly (a typed memoryview costs ~4,000 instructions to
    set up, more than decoding a small image's pass).
    """
    cdef Py_buffer src, dst, pal
    cdef Dec s
    cdef Held held
    cdef int err = E_OK, have_dst = 0, have_pal = 0, started = 0
    _get_buffer(data, &src, PyBUF_SIMPLE)
    try:
        _get_buffer(out, &dst, PyBUF_WRITABLE)
        have_dst = 1
        if dst.len < gross * 4:
            raise ValueError("output buffer too small")
        if pos < 0 or pos >= src.len:
            raise CodecError("GLZ stream truncated")
        s.data = <const uint8_t*>src.buf
        s.size = src.len
        s.pos = pos
        s.op = 0
        s.out = <uint8_t*>dst.buf
        s.gross = gross
        s.mode = mode
        s.image_id = image_id
        s.whd = win_head_dist
        s.missing = 0
        s.pal = NULL
        s.npal = 0
        if mode >= M_PLT8:
            if palette is None:
                raise CodecError("GLZ palette image without a palette")
            have_pal = _use_palette(&s, palette, &pal)
        _start(&s, &held)
        started = 1
        err = _run(&s, lookup, &held)
    finally:
        if started:
            _finish(&s, &held)
        if have_pal:
            PyBuffer_Release(&pal)
        if have_dst:
            PyBuffer_Release(&dst)
        PyBuffer_Release(&src)
    if err != E_OK:
        raise CodecError(_MESSAGES[err])
    return s.pos


# --------------------------------------------------------------------------- stream


cdef enum:
    HEADER_SIZE = 33
    TYPE_RGBA = 9
    N_TYPES = 12

cdef uint32_t MAGIC = _glz_ref.MAGIC
cdef uint32_t VERSION = _glz_ref.VERSION
cdef int64_t MAX_RATIO = _glz_ref.MAX_RATIO
cdef int64_t MAX_SIDE = MAX_DIMENSION
#: first pass's mode by LzImageType code, -1: not decodable (_glz_ref.TYPE_MODE)
cdef int TYPE_MODE[N_TYPES]
#: palette pixels per row byte by code, 0: not a palette type
cdef int64_t TYPE_PPB[N_TYPES]
for _code in range(N_TYPES):
    TYPE_MODE[_code] = _glz_ref.TYPE_MODE.get(_code, -1)
    TYPE_PPB[_code] = _glz_ref.TYPE_PIXELS_PER_BYTE[_code]
cdef object _empty = np.empty
cdef object _u8 = np.dtype(np.uint8)


cdef inline uint64_t _be(const uint8_t* p, int n) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(n):
        v = (v << 8) | p[i]
    return v


cdef struct Header:
    int code
    int top_down
    int64_t width, height, row_pixels, gross
    uint64_t image_id, whd


cdef bint _header_ok(const uint8_t* p, int64_t size, int64_t max_pixels,
                     Header* h) noexcept nogil:
    # _glz_ref.stream_header's checks, without their words
    cdef int64_t stride, ppb, units
    if size < HEADER_SIZE or _be(p, 4) != MAGIC or _be(p + 4, 4) != VERSION:
        return False
    h.code = p[8] & 0x0F
    h.top_down = p[8] >> 4
    if h.code >= N_TYPES or TYPE_MODE[h.code] < 0:
        return False
    h.width = <int64_t>_be(p + 9, 4)
    h.height = <int64_t>_be(p + 13, 4)
    stride = <int64_t>_be(p + 17, 4)
    h.image_id = _be(p + 21, 8)
    h.whd = _be(p + 29, 4)
    if not (0 < h.width <= MAX_SIDE and 0 < h.height <= MAX_SIDE
            and h.width * h.height <= max_pixels):
        return False
    ppb = TYPE_PPB[h.code]
    h.row_pixels = stride * ppb if ppb else h.width
    if h.row_pixels < h.width:
        return False
    h.gross = h.row_pixels * h.height
    if h.gross > max_pixels:
        return False
    units = (stride if ppb else h.width) * h.height
    if h.code == TYPE_RGBA:
        units *= 2
    return units <= MAX_RATIO * (size - HEADER_SIZE)


def decode(data, lookup, palette, Py_ssize_t max_pixels):
    """See ``_glz_ref.decode``: the header read and checked here, both passes
    in this call."""
    cdef Py_buffer src, dst, pal
    cdef Header h
    cdef Dec s
    cdef Held held
    cdef int err = E_OK, have_dst = 0, have_pal = 0, started = 0
    _get_buffer(data, &src, PyBUF_SIMPLE)
    try:
        if not _header_ok(<const uint8_t*>src.buf, src.len, max_pixels, &h):
            # the cold path: the reference twin's checks raise, worded
            _glz_ref.stream_header(data, max_pixels)
            raise AssertionError("the GLZ twins disagree on a header")
        s.mode = TYPE_MODE[h.code]
        s.pal = NULL
        s.npal = 0
        if TYPE_PPB[h.code]:
            have_pal = _use_palette(&s, _glz_ref.image_palette(palette), &pal)
        buf = _empty(h.gross * 4, _u8)
        _get_buffer(buf, &dst, PyBUF_WRITABLE)
        have_dst = 1
        s.data = <const uint8_t*>src.buf
        s.size = src.len
        s.pos = HEADER_SIZE
        s.op = 0
        s.out = <uint8_t*>dst.buf
        s.gross = h.gross
        s.image_id = h.image_id
        s.whd = h.whd
        s.missing = 0
        _start(&s, &held)
        started = 1
        err = _run(&s, lookup, &held)
        if err == E_OK and h.code == TYPE_RGBA:
            s.mode = M_ALPHA
            s.op = 0
            err = _run(&s, lookup, &held)
    finally:
        if started:
            _finish(&s, &held)
        if have_pal:
            PyBuffer_Release(&pal)
        if have_dst:
            PyBuffer_Release(&dst)
        PyBuffer_Release(&src)
    if err != E_OK:
        raise CodecError(_MESSAGES[err])
    return (buf, h.code, h.top_down, h.width, h.height, h.row_pixels, h.image_id,
            h.whd)


# --------------------------------------------------------------------------- encoder


cdef struct Enc:
    const uint32_t* keys
    const uint32_t* lits
    int64_t n
    int mode
    uint32_t* htab
    uint32_t cur_seg
    uint64_t cur_id
    const uint64_t* seg_ptrs  # address of each segment's keys (0: no references)
    const int64_t* seg_len
    const uint64_t* seg_ids
    uint32_t nsegs
    uint8_t* out
    uint8_t* oend
    uint8_t* o
    uint8_t* last_copy
    int min_match
    int max_ref_encode
    int size_div
    int bias


cdef inline const uint32_t* _seg_keys(const Enc* e, uint32_t seg) noexcept nogil:
    """The keys of segment ``seg`` if references into it are allowed, else NULL."""
    if seg >= e.nsegs:
        return NULL
    return <const uint32_t*><uintptr_t>e.seg_ptrs[seg]


cdef inline uint32_t _hash(const Enc* e, int64_t i) noexcept nogil:
    cdef uint32_t h = 5381, v
    cdef int j
    cdef const uint32_t* p = e.keys + i
    if e.mode == M_RGB32:
        for j in range(3):
            v = p[j]
            h = ((h << 5) + h) ^ ((v >> 16) & 255)
            h = ((h << 5) + h) ^ ((v >> 8) & 255)
            h = ((h << 5) + h) ^ (v & 255)
    elif e.mode == M_RGB16:
        for j in range(3):
            v = p[j]
            h = ((h << 5) + h) ^ (v & 255)
            h = ((h << 5) + h) ^ ((v >> 8) & 0x7F)
    else:
        for j in range(3):
            h = ((h << 5) + h) ^ p[j]
    return h & HASH_MASK


cdef inline void _update_hash(Enc* e, int64_t i) noexcept nogil:
    cdef uint32_t h = _hash(e, i)
    e.htab[2 * h] = e.cur_seg
    e.htab[2 * h + 1] = <uint32_t>i


cdef inline void _literal(Enc* e, int64_t i) noexcept nogil:
    cdef uint32_t v = e.lits[i]
    cdef uint8_t* o = e.o
    if e.mode == M_RGB32:
        o[0] = v & 255
        o[1] = (v >> 8) & 255
        o[2] = (v >> 16) & 255
        e.o = o + 3
    elif e.mode == M_RGB16:
        o[0] = (v >> 8) & 255
        o[1] = v & 255
        e.o = o + 2
    else:
        o[0] = v & 255
        e.o = o + 1


cdef inline void _copy_count(Enc* e) noexcept nogil:
    e.last_copy = e.o
    e.o[0] = MAX_COPY - 1
    e.o += 1


cdef inline int _ref_size(uint64_t image_dist, int64_t pix_dist) noexcept nogil:
    cdef int size
    if pix_dist < SHORT_DIST:
        if image_dist < (1 << 6):
            return 3
        if image_dist < (1 << 14):
            return 4
        return 5 if image_dist < (1 << 22) else 6
    if image_dist == 0:
        size = 3
    elif image_dist < (1 << 8):
        size = 4
    elif image_dist < (1 << 16):
        size = 5
    else:
        size = 6
    return size + (pix_dist >= MEDIUM_DIST)


cdef inline void _match(Enc* e, uint64_t d, int64_t pix, int64_t length) noexcept nogil:
    cdef uint8_t* o = e.o
    cdef uint32_t long_bit = 16 if pix >= SHORT_DIST else 0
    cdef uint32_t top
    if length < 7:
        o[0] = <uint8_t>((length << 5) + long_bit + (pix & 0x0F))
        o += 1
    else:
        o[0] = <uint8_t>((7 << 5) + long_bit + (pix & 0x0F))
        o += 1
        length -= 7
        while length >= 255:
            o[0] = 255
            o += 1
            length -= 255
        o[0] = <uint8_t>length
        o += 1
    o[0] = (pix >> 4) & 255
    o += 1
    if pix < SHORT_DIST:
        if d < (1 << 6):
            o[0] = d & 0x3F
            o += 1
        elif d < (1 << 14):
            o[0] = 0x40 + (d & 0x3F)
            o[1] = (d >> 6) & 255
            o += 2
        elif d < (1 << 22):
            o[0] = 0x80 + (d & 0x3F)
            o[1] = (d >> 6) & 255
            o[2] = (d >> 14) & 255
            o += 3
        else:
            o[0] = 0xC0 + (d & 0x3F)
            o[1] = (d >> 6) & 255
            o[2] = (d >> 14) & 255
            o[3] = (d >> 22) & 255
            o += 4
    else:
        top = (32 if pix >= MEDIUM_DIST else 0) + ((pix >> 12) & 31)
        if d == 0:
            o[0] = top
            o += 1
        elif d < (1 << 8):
            o[0] = top + 0x40
            o[1] = d & 255
            o += 2
        elif d < (1 << 16):
            o[0] = top + 0x80
            o[1] = d & 255
            o[2] = (d >> 8) & 255
            o += 3
        else:
            o[0] = top + 0xC0
            o[1] = d & 255
            o[2] = (d >> 8) & 255
            o[3] = (d >> 16) & 255
            o += 4
        if pix >= MEDIUM_DIST:
            o[0] = (pix >> 17) & 255
            o += 1
    e.o = o


cdef inline int64_t _do_match(Enc* e, uint32_t seg, int64_t ref, int64_t ip,
                              int64_t ip_limit, uint64_t* o_image_dist,
                              int64_t* o_pix_dist) noexcept nogil:
    """glz-encode.tmpl.c do_match: length of the match at ``ref``, 0 if none."""
    cdef const uint32_t* rk = _seg_keys(e, seg)
    cdef int64_t ref_limit = e.seg_len[seg]
    cdef const uint32_t* k = e.keys
    cdef int j
    cdef uint64_t image_dist
    cdef int64_t pix_dist, t_ip, length
    cdef uint64_t a, b
    if ref > ref_limit - e.min_match:
        return 0
    for j in range(e.min_match):
        if rk[ref + j] != k[ip + j]:
            return 0
    image_dist = e.cur_id - e.seg_ids[seg]
    pix_dist = ip - ref if image_dist == 0 else ref
    if pix_dist <= 0 or pix_dist >= LONG_DIST or image_dist > MAX_IMAGE_DIST:
        return 0
    # extend while both sides have pixels left (one bound instead of two)
    length = e.min_match
    t_ip = min(ip_limit - ip, ref_limit - ref)
    while length + 2 <= t_ip:  # two pixels per compare
        memcpy(&a, rk + ref + length, 8)
        memcpy(&b, k + ip + length, 8)
        if a != b:
            break
        length += 2
    while length < t_ip and rk[ref + length] == k[ip + length]:
        length += 1
    if length <= e.max_ref_encode and length < _ref_size(image_dist, pix_dist) // e.size_div + 1:
        return 0
    o_image_dist[0] = image_dist
    o_pix_dist[0] = pix_dist
    return length


cdef int _compress(Enc* e) noexcept nogil:
    cdef const uint32_t* k = e.keys
    cdef int64_t n = e.n
    cdef int64_t ip, anchor, length, i, ip_bound, ip_limit
    cdef int64_t pix_dist = 0
    cdef uint64_t image_dist = 0
    cdef uint32_t x, h, seg, hn
    cdef uint32_t ring[16]  # ring[p & 15] = hash of position p, for p in [ring_lo, ring_hi)
    cdef int64_t ring_lo = 0, ring_hi = 0
    cdef int streak = 0  # consecutive literals
    cdef int copy
    if n < 4:  # tiny images are one literal run
        if n:
            e.o[0] = <uint8_t>(n - 1)
            e.o += 1
            for i in range(n):
                _literal(e, i)
        return E_OK
    _copy_count(e)
    _update_hash(e, 0)
    _literal(e, 0)
    _literal(e, 1)
    copy = 2
    ip = 2
    ip_bound = n - 2
    ip_limit = n - 6
    while ip < ip_limit:
        if e.oend - e.o < 64:
            return E_OVERFLOW
        anchor = ip
        length = 0
        if k[ip - 1] == k[ip] and k[ip] == k[ip + 1] and k[ip + 1] == k[ip + 2]:
            x = k[ip + 2]  # a run: match at distance 1
            pix_dist = 1
            image_dist = 0
            i = ip + 3
            while i < ip_bound and k[i] == x:
                i += 1
            length = i - ip  # ip is re-set from anchor + length below
        else:
            h = ring[ip & 15] if ring_lo <= ip < ring_hi else _hash(e, ip)
            seg = e.htab[2 * h]
            if _seg_keys(e, seg) != NULL:
                length = _do_match(e, seg, e.htab[2 * h + 1], ip, ip_bound,
                                   &image_dist, &pix_dist)
            e.htab[2 * h] = e.cur_seg
            e.htab[2 * h + 1] = <uint32_t>anchor
            if length == 0:
                _literal(e, anchor)
                # Long literal stretches (photos) are bound by cache misses on
                # the 8 MB hash table and on the pixels it points to: keep the
                # hashes of the next LOOKAHEAD positions and prefetch both.
                streak += 1
                if streak >= 3:
                    if ring_hi <= ip:
                        ring_lo = ring_hi = ip + 1
                    while ring_hi <= ip + LOOKAHEAD and ring_hi < ip_limit:
                        hn = _hash(e, ring_hi)
                        ring[ring_hi & 15] = hn
                        glz_prefetch(&e.htab[2 * hn])
                        ring_hi += 1
                    i = ip + LOOKAHEAD // 2  # its table entry has arrived by now
                    if i < ring_hi:
                        hn = ring[i & 15]
                        seg = e.htab[2 * hn]
                        if _seg_keys(e, seg) != NULL and e.htab[2 * hn + 1] < e.seg_len[seg]:
                            glz_prefetch(_seg_keys(e, seg) + e.htab[2 * hn + 1])
                ip = anchor + 1
                copy += 1
                if copy == MAX_COPY:
                    copy = 0
                    _copy_count(e)
                continue
        streak = 0
        ring_lo = ring_hi = 0
        if image_dist == 0:
            pix_dist -= 1  # distance is biased by one
        if copy:
            e.last_copy[0] = copy - 1
        else:
            e.o -= 1  # drop the unused literal count
        copy = 0
        ip = anchor + length - 2
        if e.oend - e.o < 16 + length // 255:
            return E_OVERFLOW
        _match(e, image_dist, pix_dist, length - e.bias)
        if ip > anchor:
            _update_hash(e, ip)
        ip += 1
        if ip > anchor:
            _update_hash(e, ip)
        ip += 1
        _copy_count(e)
    while ip <= ip_bound + 1:  # the tail is always literal
        if e.oend - e.o < 8:
            return E_OVERFLOW
        _literal(e, ip)
        ip += 1
        copy += 1
        if copy == MAX_COPY:
            copy = 0
            _copy_count(e)
    if copy:
        e.last_copy[0] = copy - 1
    else:
        e.o -= 1
    return E_OK


def compress(keys, lits, int mode, htab, Py_ssize_t cur_seg, cur_id, table):
    """See ``_glz_ref.compress``; uses ``table.ptrs/lens/ids``."""
    cdef const uint32_t[::1] kv = keys
    cdef const uint32_t[::1] lv = lits
    cdef uint32_t[::1] hv = htab
    cdef const uint64_t[::1] ptrs = table.ptrs
    cdef const int64_t[::1] lens = table.lens
    cdef const uint64_t[::1] ids = table.ids
    cdef Enc e
    cdef Py_ssize_t cap
    cdef int err
    cdef int lit_bytes = 3 if mode == M_RGB32 else (2 if mode == M_RGB16 else 1)
    if lv.shape[0] != kv.shape[0] or hv.shape[0] != 2 * (HASH_MASK + 1):
        raise ValueError("bad compress arguments")
    if not (ptrs.shape[0] == lens.shape[0] == ids.shape[0] == len(table.keys)):
        raise ValueError("inconsistent segment table")
    if not 0 <= cur_seg < ptrs.shape[0] or table.keys[cur_seg] is not keys:
        raise ValueError("the current segment must hold the image keys")
    e.n = kv.shape[0]
    if e.n == 0:
        return b""
    e.keys = &kv[0]
    e.lits = &lv[0]
    e.mode = mode
    e.htab = &hv[0]
    e.cur_seg = cur_seg
    e.cur_id = cur_id
    e.nsegs = ptrs.shape[0]
    e.seg_ptrs = &ptrs[0]
    e.seg_len = &lens[0]
    e.seg_ids = &ids[0]
    e.min_match = 2 if mode <= M_RGB16 else 4
    e.max_ref_encode = 2 if mode == M_RGB32 else (3 if mode == M_RGB16 else 7)
    e.size_div = 3 if mode == M_RGB32 else (2 if mode == M_RGB16 else 1)
    e.bias = 0 if mode == M_RGB32 else (1 if mode == M_RGB16 else 2)
    cap = e.n * lit_bytes + e.n // 16 + 256
    buf = np.empty(cap, np.uint8)
    cdef uint8_t[::1] bv = buf
    e.out = &bv[0]
    e.o = e.out
    e.oend = e.out + cap
    e.last_copy = e.out
    with nogil:
        err = _compress(&e)
    if err != E_OK:
        raise CodecError(_MESSAGES[err])
    return bytes(buf[: e.o - e.out])
