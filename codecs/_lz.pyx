# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""LZ decoder fast path: the same functions as ``_lz_ref.py`` (``decode``,
``decode_pass``), in C (the encoder's twin is ``_lz_enc.pyx``).

``decode`` reads the header, checks it, and runs the passes straight into the
caller's pixels, all in one call: most LZ images are a few hundred pixels, so
the per-call cost counts as much as the loops. Refusals are worded by the
reference twin (its checks run again on the cold path and raise).

The pass decoder is specialised at compile time on the unit layout (a fused
type), so each mode's loop holds only its own code. Matches copy whole pixels,
8 at a time where the offset is at least 8 (every chunk then reads pixels
already written), the last chunk overshooting where the image has room (those
pixels are written again by the next ops); a run (offset 1) stores one value.
Literal RGB pixels come 4 from three 4-byte loads, the rest from one
4-byte load each, masked, while the stream has a byte after them. A palette
given as a tuple or list of ints (a wire Palette's entries) is read into a C
table on the stack (a numpy table cost ~110k instructions a 256-entry
palette, mostly converting its ints). Every read of
the stream is checked against its end and every match against the pixels
written so far; errors are returned as codes and raised as CodecError outside
the nogil section.
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from cpython.buffer cimport PyBUF_FORMAT
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from cpython.sequence cimport (
    PySequence_Fast_GET_ITEM,
    PySequence_Fast_GET_SIZE,
)
from libc.string cimport memcpy, memset

import numpy as np

from spicepy.codecs import _lz_ref
from spicepy.codecs._common import MAX_DIMENSION, CodecError, byte_view, output_array

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
    CHUNK = 8  # pixels per block copy (two 16-byte moves)

cdef enum:
    ERR_TRUNCATED = 1
    ERR_MATCH_END = 2
    ERR_MATCH_START = 3
    ERR_LITERAL_END = 4

cdef enum:
    HEADER_SIZE = 28
    TYPE_RGBA = 9
    N_TYPES = 12

cdef uint32_t COLOUR_MASK = 0x00FFFFFF
cdef uint32_t ALPHA_MASK = 0xFF000000

_MESSAGES = {
    ERR_TRUNCATED: "LZ stream truncated",
    ERR_MATCH_END: "LZ match runs past the end of the image",
    ERR_MATCH_START: "LZ match refers before the start of the image",
    ERR_LITERAL_END: "LZ literals run past the end of the image",
}

cdef int[8] PIXELS_PER_UNIT = [1, 1, 1, 1, 2, 2, 8, 8]

# The per-type tables and header constants, read from the reference twin once.
cdef int TYPE_MODE[N_TYPES]
cdef int TYPE_PPB[N_TYPES]
cdef int TYPE_BPP[N_TYPES]
cdef uint32_t MAGIC = _lz_ref.MAGIC
cdef uint32_t VERSION = _lz_ref.VERSION
cdef Py_ssize_t MAX_RATIO = _lz_ref.MAX_RATIO
cdef Py_ssize_t MAX_SIDE = MAX_DIMENSION
assert _lz_ref.HEADER_SIZE == HEADER_SIZE and _lz_ref.ImageType.RGBA == TYPE_RGBA
assert len(_lz_ref.TYPE_MODE) == N_TYPES
for _i in range(N_TYPES):
    TYPE_MODE[_i] = _lz_ref.TYPE_MODE[_i]
    TYPE_PPB[_i] = _lz_ref.TYPE_PIXELS_PER_BYTE[_i]
    TYPE_BPP[_i] = _lz_ref.TYPE_BYTES_PER_PIXEL[_i]

cdef object _ndarray = np.ndarray
cdef object _empty = np.empty
cdef object _u8 = np.dtype(np.uint8)


# ------------------------------------------------------------------ pass decoder
#
# One empty struct per mode: a fused type over them compiles _inflate once per
# mode, with ``Mode is ...`` tests resolved by the compiler.

cdef struct ModeRgb32:
    char unused

cdef struct ModeRgb16:
    char unused

cdef struct ModeAlpha:
    char unused

cdef struct ModePlt8:
    char unused

cdef struct ModePlt4Le:
    char unused

cdef struct ModePlt4Be:
    char unused

cdef struct ModePlt1Le:
    char unused

cdef struct ModePlt1Be:
    char unused

ctypedef fused Mode:
    ModeRgb32
    ModeRgb16
    ModeAlpha
    ModePlt8
    ModePlt4Le
    ModePlt4Be
    ModePlt1Le
    ModePlt1Be


cdef inline uint32_t _rgb16(uint32_t hi, uint32_t lo) noexcept nogil:
    # x555 to 0x00RRGGBB exactly as lz_rgb16_to_rgb32 (uint8 truncation included)
    cdef uint32_t g = ((hi << 6) | (lo >> 2)) & 0xF8
    g |= g >> 5
    cdef uint32_t r = ((hi << 1) & 0xF8) | ((hi >> 4) & 7)
    cdef uint32_t b = ((lo << 3) & 0xF8) | ((lo >> 2) & 7)
    return b | (g << 8) | (r << 16)


cdef inline void _copy(uint32_t* d, const uint32_t* s, Py_ssize_t length,
                       Py_ssize_t ofs, Py_ssize_t spare) noexcept nogil:
    # A match's pixels, s = d - ofs; ``spare`` pixels of the image follow the
    # match: the last chunk may overshoot into them (the next ops write them
    # again), else the last pixels go one by one.
    cdef Py_ssize_t i = 0
    cdef uint64_t v2
    cdef Py_ssize_t whole = length if spare >= CHUNK - 1 else length - CHUNK + 1
    if ofs >= CHUNK:  # every chunk reads pixels at least CHUNK back: written
        while i < whole:
            memcpy(d + i, s + i, CHUNK * 4)
            i += CHUNK
    elif ofs == 1:  # a run of one value
        v2 = s[0] * <uint64_t>0x100000001
        while i < whole:
            memcpy(d + i, &v2, 8)
            memcpy(d + i + 2, &v2, 8)
            memcpy(d + i + 4, &v2, 8)
            memcpy(d + i + 6, &v2, 8)
            i += CHUNK
    while i < length:  # forward, pixel by pixel: repeats the last ofs
        d[i] = s[i]
        i += 1


cdef inline void _copy_alpha(uint32_t* d, const uint32_t* s, Py_ssize_t length,
                             Py_ssize_t ofs, Py_ssize_t spare) noexcept nogil:
    # _copy for the alpha pass: byte 3 from s, bytes 0-2 kept
    cdef Py_ssize_t i = 0, k
    cdef uint32_t[CHUNK] a
    cdef uint32_t v
    if ofs == 1:  # one alpha value
        v = s[0] & ALPHA_MASK
        for i in range(length):
            d[i] = (d[i] & COLOUR_MASK) | v
        return
    cdef Py_ssize_t whole = length if spare >= CHUNK - 1 else length - CHUNK + 1
    if ofs >= CHUNK:
        while i < whole:
            memcpy(a, s + i, CHUNK * 4)
            for k in range(CHUNK):
                a[k] = (d[i + k] & COLOUR_MASK) | (a[k] & ALPHA_MASK)
            memcpy(d + i, a, CHUNK * 4)
            i += CHUNK
    while i < length:
        d[i] = (d[i] & COLOUR_MASK) | (s[i] & ALPHA_MASK)
        i += 1


cdef int _inflate(const Mode* tag, const uint8_t* src, Py_ssize_t pos,
                  Py_ssize_t end, uint32_t* out, Py_ssize_t n_px,
                  const uint32_t* lut, Py_ssize_t* pos_out) noexcept nogil:
    # FNAME(decompress) of lz_decompress_tmpl.c for one mode (``tag`` only
    # selects the specialisation), its asserts as error codes.
    cdef Py_ssize_t op = 0, i, length, ofs, count
    cdef uint32_t ctrl, code, w0, w1, w2
    cdef const uint8_t* p
    cdef uint32_t* d
    cdef Py_ssize_t ppu, bias, unit  # pixels per unit, match length bias, unit bytes
    if Mode is ModePlt4Le or Mode is ModePlt4Be:
        ppu = 2
    elif Mode is ModePlt1Le or Mode is ModePlt1Be:
        ppu = 8
    else:
        ppu = 1
    if Mode is ModeRgb32:
        bias, unit = 1, 3
    elif Mode is ModeRgb16:
        bias, unit = 2, 2
    else:
        bias, unit = 3, 1
    while True:
        if pos >= end:
            return ERR_TRUNCATED
        ctrl = src[pos]
        pos += 1
        if ctrl >= MAX_COPY:
            ofs = <Py_ssize_t>(ctrl & 31) << 8
            if ctrl < (7 << 5):
                length = <Py_ssize_t>(ctrl >> 5) - 1
            else:  # 7: the length goes on in bytes while they are 255
                length = 6
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
            ofs += src[pos]
            pos += 1
            if ofs == MAX_DISTANCE:  # 31, 255: a 16-bit offset follows
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
            d = out + op
            op += length
            if Mode is ModeAlpha:
                _copy_alpha(d, d - ofs, length, ofs, n_px - op)
            else:
                _copy(d, d - ofs, length, ofs, n_px - op)
        else:
            count = ctrl + 1
            if count * ppu > n_px - op:
                return ERR_LITERAL_END
            if count * unit > end - pos:
                return ERR_TRUNCATED
            p = src + pos
            d = out + op
            pos += count * unit
            op += count * ppu
            if Mode is ModeRgb32:
                i = 0
                while count - i >= 4:  # 4 pixels from 12 bytes, 3 loads
                    memcpy(&w0, p, 4)
                    memcpy(&w1, p + 4, 4)
                    memcpy(&w2, p + 8, 4)
                    d[i] = w0 & COLOUR_MASK
                    d[i + 1] = (w0 >> 24) | ((w1 << 8) & COLOUR_MASK)
                    d[i + 2] = (w1 >> 16) | ((w2 << 16) & COLOUR_MASK)
                    d[i + 3] = w2 >> 8
                    p += 12
                    i += 4
                if pos < end:  # a byte to spare: one 4-byte load a pixel
                    while i < count:
                        memcpy(&w0, p, 4)
                        d[i] = w0 & COLOUR_MASK
                        p += 3
                        i += 1
                while i < count:
                    d[i] = p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
                    p += 3
                    i += 1
            elif Mode is ModePlt8:
                for i in range(count):
                    d[i] = lut[p[i]]
            elif Mode is ModeAlpha:
                for i in range(count):
                    d[i] = (d[i] & COLOUR_MASK) | (<uint32_t>p[i] << 24)
            elif Mode is ModeRgb16:
                for i in range(count):
                    d[i] = _rgb16(p[2 * i], p[2 * i + 1])
            elif Mode is ModePlt4Le:
                for i in range(count):
                    d[2 * i] = lut[p[i] & 15]
                    d[2 * i + 1] = lut[p[i] >> 4]
            elif Mode is ModePlt4Be:
                for i in range(count):
                    d[2 * i] = lut[p[i] >> 4]
                    d[2 * i + 1] = lut[p[i] & 15]
            elif Mode is ModePlt1Le:
                for i in range(count * 8):
                    d[i] = lut[(p[i >> 3] >> (i & 7)) & 1]
            else:
                for i in range(count * 8):
                    d[i] = lut[(p[i >> 3] >> (7 - (i & 7))) & 1]
        if op >= n_px:
            pos_out[0] = pos
            return 0


cdef int _pass(int mode, const uint8_t* src, Py_ssize_t pos, Py_ssize_t end,
               uint32_t* out, Py_ssize_t n_px, const uint32_t* lut,
               Py_ssize_t* pos_out) noexcept nogil:
    if mode == MODE_RGB32:
        return _inflate(<ModeRgb32*>NULL, src, pos, end, out, n_px, lut, pos_out)
    if mode == MODE_ALPHA:
        return _inflate(<ModeAlpha*>NULL, src, pos, end, out, n_px, lut, pos_out)
    if mode == MODE_PLT8:
        return _inflate(<ModePlt8*>NULL, src, pos, end, out, n_px, lut, pos_out)
    if mode == MODE_RGB16:
        return _inflate(<ModeRgb16*>NULL, src, pos, end, out, n_px, lut, pos_out)
    if mode == MODE_PLT4_LE:
        return _inflate(<ModePlt4Le*>NULL, src, pos, end, out, n_px, lut, pos_out)
    if mode == MODE_PLT4_BE:
        return _inflate(<ModePlt4Be*>NULL, src, pos, end, out, n_px, lut, pos_out)
    if mode == MODE_PLT1_LE:
        return _inflate(<ModePlt1Le*>NULL, src, pos, end, out, n_px, lut, pos_out)
    return _inflate(<ModePlt1Be*>NULL, src, pos, end, out, n_px, lut, pos_out)


cdef const uint32_t* _lut_pointer(object lut, int mode, Py_buffer* view) except? NULL:
    # the palette table of a PLT mode (held in ``view``): C-contiguous uint32,
    # an entry for every index; NULL (nothing held) for the other modes
    if mode < MODE_PLT8:
        return NULL
    PyObject_GetBuffer(lut, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    need = 256 if mode == MODE_PLT8 else (16 if mode <= MODE_PLT4_BE else 2)
    if (view.itemsize != 4 or view.format == NULL
            or <bytes>view.format not in (b"I", b"=I", b"<I")
            or <size_t>view.buf % sizeof(uint32_t)):
        PyBuffer_Release(view)
        raise ValueError("the palette table must be an aligned uint32 array")
    if view.len < need * 4:
        PyBuffer_Release(view)
        raise ValueError("palette table too short")
    return <const uint32_t*>view.buf


def decode_pass(data, Py_ssize_t pos, int mode, out, lut):
    """Decode one LZ pass into ``out``; see ``_lz_ref.decode_pass``. The stream
    and the pixels are read through the buffer protocol (``_buffers.pxi``)."""
    if mode < 0 or mode > MODE_PLT1_BE:
        raise ValueError(f"bad LZ mode {mode}")
    cdef Py_buffer src, dst, lv
    cdef const uint32_t* lut_ptr = _lut_pointer(lut, mode, &lv)
    cdef Py_ssize_t n_px, pos_out = 0
    cdef uint32_t* px
    cdef uint32_t dummy = 0
    cdef int err
    try:
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
                    err = _pass(
                        mode,
                        <const uint8_t*>src.buf if src.len else <const uint8_t*>&dummy,
                        pos, src.len, px, n_px, lut_ptr, &pos_out,
                    )
            finally:
                PyBuffer_Release(&dst)
        finally:
            PyBuffer_Release(&src)
    finally:
        if lut_ptr != NULL:
            PyBuffer_Release(&lv)
    if err:
        raise CodecError(_MESSAGES[err])
    return pos_out


# ------------------------------------------------------------------ stream decoder


cdef inline Py_ssize_t _be32(const uint8_t* p) noexcept nogil:
    return ((<Py_ssize_t>p[0] << 24) | (<Py_ssize_t>p[1] << 16)
            | (<Py_ssize_t>p[2] << 8) | p[3])


cdef struct Header:
    int code
    Py_ssize_t width, height, stride, top_down


cdef bint _header_ok(const uint8_t* p, Py_ssize_t size, Py_ssize_t max_pixels,
                     Header* h) noexcept nogil:
    # _lz_ref.parse_header and check_body_size's tests, without their words
    cdef Py_ssize_t code, ppb, units
    if size < HEADER_SIZE or _be32(p) != MAGIC or _be32(p + 4) != VERSION:
        return False
    code = _be32(p + 8)
    if code < 1 or code >= N_TYPES:
        return False
    h.code = <int>code
    h.width = _be32(p + 12)
    h.height = _be32(p + 16)
    h.stride = _be32(p + 20)
    h.top_down = _be32(p + 24)
    if not (0 < h.width <= MAX_SIDE and 0 < h.height <= MAX_SIDE
            and h.width * h.height <= max_pixels):
        return False
    ppb = TYPE_PPB[code]
    if ppb == 0:
        if h.stride != h.width * TYPE_BPP[code]:
            return False
        units = h.width * h.height
    else:
        if h.stride != (h.width + ppb - 1) // ppb:
            return False
        units = h.stride * h.height
    if code == TYPE_RGBA:
        units *= 2
    return units <= MAX_RATIO * (size - HEADER_SIZE)


cdef int _pixels(object arr, Py_buffer* view, Header* h) except -1:
    # ``arr`` (checked: output_array's rules) held in ``view``; 0 or raises
    try:
        _byte_buffer(arr, view, PyBUF_WRITABLE)
    except (BufferError, ValueError):  # read-only or strided: worded below
        output_array(arr, h.width, h.height)
        raise
    if not (view.ndim == 3 and view.shape[0] == h.height
            and view.shape[1] == h.width and view.shape[2] == 4
            and <size_t>view.buf % sizeof(uint32_t) == 0):
        PyBuffer_Release(view)
        output_array(arr, h.width, h.height)  # raises ValueError
        raise ValueError("decode needs a 4-byte aligned array")
    return 0


cdef bint _table(object palette, uint32_t* table, Py_ssize_t entries):
    # ``palette_lut``'s table straight from a tuple or list of ints (a wire
    # Palette's entries: no array per image); False (table unset) for any
    # other palette, or an entry numpy's int64 would not hold: the
    # reference's numpy path then builds or refuses it
    cdef Py_ssize_t n, i
    cdef int overflow
    cdef long long v
    cdef PyObject* item
    if type(palette) is not tuple and type(palette) is not list:
        return False
    n = PySequence_Fast_GET_SIZE(palette)
    if n == 0:
        return False
    for i in range(n):  # (numpy would convert every entry: each must fit)
        item = PySequence_Fast_GET_ITEM(palette, i)
        if type(<object>item) is not int:
            return False
        v = PyLong_AsLongLongAndOverflow(<object>item, &overflow)
        if overflow:
            return False
        if i < entries:
            table[i] = <uint32_t>(v & 0x00FFFFFF)
    for i in range(n, entries):  # indices past the palette wrap around it
        table[i] = table[i % n]
    return True


def decode(data, palette, out, Py_ssize_t max_pixels):
    """Decode a whole stream; see ``_lz_ref.decode``. Returns the pixels and
    the type's code."""
    cdef Py_buffer src, dst, tmp, lv
    cdef Header h
    cdef const uint8_t* p
    cdef const uint32_t* lut_ptr = NULL
    cdef uint32_t table[256]
    cdef bint tabled = False
    cdef uint32_t* px
    cdef uint8_t* rows
    cdef Py_ssize_t pos = HEADER_SIZE, n_px, row_px, r, y
    cdef int err = 0, mode
    cdef bint direct
    try:
        _byte_buffer(data, &src, PyBUF_SIMPLE)
    except (BufferError, ValueError):  # a view of wider items or a strided one
        data = byte_view(data)
        _byte_buffer(data, &src, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>src.buf
        if not _header_ok(p, src.len, max_pixels, &h):
            view = byte_view(data)
            image_type, width, height, stride, _ = _lz_ref.parse_header(view, max_pixels)
            _lz_ref.check_body_size(image_type, width, height, stride,
                                    src.len - HEADER_SIZE)
            raise AssertionError("the LZ twins disagree on a header")
        mode = TYPE_MODE[h.code]
        row_px = h.width
        lut = None
        if TYPE_PPB[h.code]:
            tabled = _table(palette, table, 1 << (8 // TYPE_PPB[h.code]))
            if not tabled:
                lut = _lz_ref.palette_table(_lz_ref.ImageType(h.code), palette)
            row_px = h.stride * TYPE_PPB[h.code]
        if out is None:
            result = _empty((h.height, h.width, 4), _u8)
        else:
            if type(out) is not _ndarray or out.dtype is not _u8:
                output_array(out, h.width, h.height)  # raises if it does not fit
            result = out
        _pixels(result, &dst, &h)
        try:
            direct = row_px == h.width and h.top_down
            if direct:
                px = <uint32_t*>dst.buf
            else:
                target = _empty((h.height, row_px, 4), _u8)
                _byte_buffer(target, &tmp, PyBUF_WRITABLE)
                px = <uint32_t*>tmp.buf
            try:
                n_px = h.height * row_px
                if tabled:
                    lut_ptr = &table[0]
                else:
                    lut_ptr = _lut_pointer(lut, mode, &lv)
                with nogil:
                    if mode == MODE_ALPHA:
                        memset(px, 0, n_px * 4)
                    err = _pass(mode, p, pos, src.len, px, n_px, lut_ptr, &pos)
                    if err == 0 and h.code == TYPE_RGBA:
                        err = _pass(MODE_ALPHA, p, pos, src.len, px, n_px, NULL, &pos)
                    if err == 0 and pos == src.len and not direct:
                        rows = <uint8_t*>dst.buf
                        for y in range(h.height):  # the rows top-down, cropped
                            r = y if h.top_down else h.height - 1 - y
                            memcpy(rows + y * h.width * 4, px + r * row_px,
                                   h.width * 4)
                if lut_ptr != NULL and not tabled:
                    PyBuffer_Release(&lv)
            finally:
                if not direct:
                    PyBuffer_Release(&tmp)
        finally:
            PyBuffer_Release(&dst)
    finally:
        PyBuffer_Release(&src)
    if err:
        raise CodecError(_MESSAGES[err])
    if pos != src.len:
        _lz_ref.check_end(pos, src.len)
    return result, h.code
