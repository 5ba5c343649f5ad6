# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Drawing kernels fast path: the loops of ``_draw_ref`` in C.

Same arguments, pixels and exceptions (CanvasError) as the reference twin; read
that module and ``spicepy.canvas.kernels`` first. Arguments are checked at
Python level, then every rectangle is cut to the destination and to the
source / mask / tile extent before any pointer is formed, so no index the input
chooses leaves an array. Pixels are handled as 32-bit little-endian words
(B, G, R, X/A bytes), loaded and stored with memcpy (no alignment assumed).

A glyph-sized draw costs about as much as the call itself, so the arrays are
read through the numpy C API into C structs (no typed memoryview, no buffer
export, no object per call; up to ``LOCAL_RECTS`` rectangles live on the
stack). The caller holds the arrays (and a kernel any copy it makes) for the
call; a loop that runs without the GIL first exports their buffers
(``_pin``), so no other thread can resize or free them meanwhile, and every
buffer taken is released in a ``finally``.
"""

import sys

import numpy as np

from cpython.buffer cimport (
    PyBUF_FORMAT,
    PyBUF_SIMPLE,
    PyBUF_STRIDES,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport int64_t, uint8_t, uint32_t, uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memmove, memset

cimport numpy as cnp

from spicepy.canvas import _draw_ref
from spicepy.canvas._draw_ref import GLYPH_MAX_PIXELS, REGION_MAX_SWEEP
from spicepy.errors import CanvasError
from spicepy.wire.enums import ClipType

if sys.byteorder != "little":  # pixel words are B, G, R, X in memory order
    raise ImportError("the drawing kernels need a little-endian host")

cnp.import_array()

cdef int64_t I64_MAX = 0x7FFFFFFFFFFFFFFF
cdef int64_t POS_LIMIT = 1LL << 61  # glyph positions (the extent stays in int64)
cdef int64_t SIZE_LIMIT = 1LL << 31
cdef uint32_t OPAQUE = 0xFF000000u  # the alpha byte of a word

cdef enum:
    ROP_CLEAR = 0
    ROP_COPY = 3
    ROP_NOOP = 5
    ROP_INVERT = 10
    ROP_SET = 15
    LOCAL_RECTS = 4  # rectangles a call keeps on the stack (a draw has 1-3)
    # the GIL is released only for draws this large: for smaller ones the
    # release costs more than what another thread could run meanwhile
    NOGIL_PIXELS = 1 << 14

cdef object _NDARRAY = np.ndarray
cdef object _U8 = np.dtype(np.uint8)
cdef object _I64 = np.dtype(np.int64)
cdef object _CLIP_NONE = int(ClipType.NONE)
cdef str _DST_ERROR = "destination must be a writable C-contiguous (h, w, 4) uint8"


# -- argument checks ------------------------------------------------------------------


cdef int64_t _int(object value, str name) except? -1:
    if type(value) is not int and (
        isinstance(value, bool) or not isinstance(value, (int, np.integer))
    ):
        raise CanvasError(f"{name} must be an int, not {type(value).__name__}")
    try:
        return value
    except OverflowError:
        raise CanvasError(f"{name} {value} is out of range") from None


cdef uint32_t _u32(object value, str name) except? 0xFFFFFFFF:
    if type(value) is not int and (
        isinstance(value, bool) or not isinstance(value, (int, np.integer))
    ):
        raise CanvasError(f"{name} must be an int, not {type(value).__name__}")
    try:
        _int(value, name)
        return <uint32_t>(int(value) & 0xFFFFFFFF)
    except OverflowError:
        raise CanvasError(f"{name} {value} is out of range") from None


cdef inline void _clear(Py_buffer* buf) noexcept nogil:
    """An unused buffer (obj NULL): PyBuffer_Release on it does nothing."""
    memset(buf, 0, sizeof(Py_buffer))


cdef inline bint _u8_array(object a):
    """A numpy uint8 array (the dtype compared by identity first: it is cached)."""
    if not isinstance(a, _NDARRAY):
        return False
    dt = a.dtype
    return dt is _U8 or dt == _U8


cdef struct Img:
    uint8_t* p          # pixel (0, 0); only read when h and w are not 0
    int64_t h, w
    int64_t stride      # bytes from a row to the next (a source's may be negative)
    uintptr_t lo, hi    # the bytes the pixels span, [lo, hi), for overlap tests


cdef inline void _span(Img* img) noexcept nogil:
    cdef uintptr_t first = <uintptr_t>img.p
    cdef uintptr_t last = first + <uintptr_t>((img.h - 1) * img.stride)
    if img.h == 0 or img.w == 0:
        img.lo = img.hi = first
    elif last >= first:
        img.lo, img.hi = first, last + <uintptr_t>(img.w * 4)
    else:
        img.lo, img.hi = last, first + <uintptr_t>(img.w * 4)


cdef inline bint _overlaps(const Img* a, const Img* b) noexcept nogil:
    """The two images' memory ranges overlap (np.may_share_memory)."""
    return a.lo < b.hi and b.lo < a.hi and a.lo < a.hi and b.lo < b.hi


cdef int _get_dst(object dst, Img* out) except -1:
    """The destination's pointer and size (the caller holds ``dst``)."""
    if not cnp.PyArray_Check(dst):
        raise CanvasError(_DST_ERROR)
    cdef cnp.ndarray a = <cnp.ndarray>dst
    # numpy's C-contiguous flag counts strides only along dimensions longer
    # than 1, as the buffer protocol's check did
    if (
        cnp.PyArray_TYPE(a) != cnp.NPY_UINT8
        or cnp.PyArray_NDIM(a) != 3
        or cnp.PyArray_DIM(a, 2) != 4
        or not cnp.PyArray_IS_C_CONTIGUOUS(a)
        or not cnp.PyArray_ISWRITEABLE(a)
    ):
        raise CanvasError(_DST_ERROR)
    out.p = <uint8_t*>cnp.PyArray_DATA(a)
    out.h, out.w = cnp.PyArray_DIM(a, 0), cnp.PyArray_DIM(a, 1)
    out.stride = out.w * 4
    _span(out)
    return 0


cdef object _get_image(object src, str name, Img* out):
    """A source / tile array's pointer, size and row stride; returns the array
    read, which the caller holds: ``src`` itself (any row stride is read in
    place) or a C-contiguous copy when its pixels are not 4 packed bytes."""
    if not cnp.PyArray_Check(src):
        raise CanvasError(f"{name} must be an (h, w, 4) uint8 array")
    cdef cnp.ndarray a = <cnp.ndarray>src
    if (
        cnp.PyArray_TYPE(a) != cnp.NPY_UINT8
        or cnp.PyArray_NDIM(a) != 3
        or cnp.PyArray_DIM(a, 2) != 4
    ):
        raise CanvasError(f"{name} must be an (h, w, 4) uint8 array")
    cdef cnp.npy_intp* strides = cnp.PyArray_STRIDES(a)
    if strides[2] != 1 or (cnp.PyArray_DIM(a, 1) > 1 and strides[1] != 4):
        a = np.ascontiguousarray(a)
        strides = cnp.PyArray_STRIDES(a)
    out.p = <uint8_t*>cnp.PyArray_DATA(a)
    out.h, out.w = cnp.PyArray_DIM(a, 0), cnp.PyArray_DIM(a, 1)
    out.stride = strides[0]
    _span(out)
    return a


cdef int _pin(Py_buffer* buf, object array) except -1:
    """Export ``array``'s buffer (released by the caller's ``finally``) before a
    loop that runs without the GIL: no thread can resize or free it meanwhile."""
    if array is not None:
        PyObject_GetBuffer(array, buf, PyBUF_STRIDES)
    return 0


cdef struct Rects:
    const int64_t* p      # n rectangles, 4 int64 each (left, top, right, bottom)
    Py_ssize_t n
    int64_t* heap         # malloc'd storage when more than LOCAL_RECTS
    bint held             # buf holds an int64 array p points into
    Py_buffer buf
    int64_t local[4 * LOCAL_RECTS]


cdef bint _ints4(object item, int64_t* out):
    """A 4-tuple/list of plain ints within int64 into out; False otherwise."""
    cdef Py_ssize_t k
    cdef int overflow
    if (type(item) is not tuple and type(item) is not list) or len(item) != 4:
        return False
    for k in range(4):
        v = item[k]
        if type(v) is not int:
            return False
        out[k] = PyLong_AsLongLongAndOverflow(v, &overflow)
        if overflow:
            return False
    return True


cdef int _get_rects(object rects, Rects* r) except -1:
    """The rectangles as int64 (release with ``_rects_done`` whatever happens);
    plain lists/tuples of int tuples and int64 (n, 4) arrays are read directly,
    anything else goes through the twin's conversion (same values, same errors)."""
    cdef Py_ssize_t i, n
    cdef int64_t* store
    r.p, r.n, r.heap, r.held = NULL, 0, NULL, False
    if type(rects) is tuple or type(rects) is list:
        n = len(rects)
        if n <= LOCAL_RECTS:
            store = r.local
        else:
            r.heap = store = <int64_t*>malloc(n * 4 * sizeof(int64_t))
            if store == NULL:
                raise MemoryError()
        for i in range(n):
            if not _ints4(rects[i], store + 4 * i):
                break
        else:
            r.p, r.n = store, n
            return 0
        arr = np.ascontiguousarray(_draw_ref._rects(rects))
    elif (
        isinstance(rects, _NDARRAY)
        and rects.dtype == _I64
        and rects.ndim == 2
        and rects.shape[1] == 4
        and rects.flags.c_contiguous
    ):
        arr = rects
    else:
        arr = np.ascontiguousarray(_draw_ref._rects(rects))
    PyObject_GetBuffer(arr, &r.buf, PyBUF_SIMPLE)
    r.held = True
    r.p, r.n = <const int64_t*>r.buf.buf, arr.shape[0]
    return 0


cdef void _rects_done(Rects* r) noexcept:
    free(r.heap)
    r.heap = NULL
    if r.held:
        PyBuffer_Release(&r.buf)
        r.held = False


cdef inline int64_t _mod(int64_t a, int64_t m) noexcept nogil:
    cdef int64_t r = a % m
    return r + m if r < 0 else r


cdef inline int64_t _max(int64_t a, int64_t b) noexcept nogil:
    return a if a > b else b


cdef inline int64_t _min(int64_t a, int64_t b) noexcept nogil:
    return a if a < b else b


# -- pixel operations -----------------------------------------------------------------


cdef inline uint32_t _ld(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline void _st(uint8_t* p, uint32_t v) noexcept nogil:
    memcpy(p, &v, 4)


cdef inline uint32_t _rop(int rop, uint32_t s, uint32_t d) noexcept nogil:
    """The 16 binary ROPs (``rop._OPS``), bitwise on the word."""
    if rop == 0:
        return 0
    if rop == 1:
        return s & d
    if rop == 2:
        return s & ~d
    if rop == 3:
        return s
    if rop == 4:
        return ~s & d
    if rop == 5:
        return d
    if rop == 6:
        return s ^ d
    if rop == 7:
        return s | d
    if rop == 8:
        return ~(s | d)
    if rop == 9:
        return ~(s ^ d)
    if rop == 10:
        return ~d
    if rop == 11:
        return s | ~d
    if rop == 12:
        return ~s
    if rop == 13:
        return ~s | d
    if rop == 14:
        return ~(s & d)
    return 0xFFFFFFFF


cdef inline uint32_t _rop3(uint32_t code, uint32_t p, uint32_t s, uint32_t d) noexcept nogil:
    """Bit ``(p << 2) | (s << 1) | d`` of ``code`` per bit (``rop.rop3``)."""
    cdef uint32_t r = 0
    if code & 0x01:
        r |= ~p & ~s & ~d
    if code & 0x02:
        r |= ~p & ~s & d
    if code & 0x04:
        r |= ~p & s & ~d
    if code & 0x08:
        r |= ~p & s & d
    if code & 0x10:
        r |= p & ~s & ~d
    if code & 0x20:
        r |= p & ~s & d
    if code & 0x40:
        r |= p & s & ~d
    if code & 0x80:
        r |= p & s & d
    return r


cdef void _rop_span(
    uint8_t* d, const uint8_t* s, Py_ssize_t n, Py_ssize_t sstep, uint32_t sor, int rop
) noexcept nogil:
    """d[i] = rop(s[i * sstep] | sor, d[i]) for n pixels (sstep 0: one colour)."""
    cdef Py_ssize_t i
    cdef uint32_t v
    if rop == ROP_NOOP:
        return
    if rop == ROP_CLEAR:
        memset(d, 0, <size_t>n * 4)
    elif rop == ROP_SET:
        memset(d, 0xFF, <size_t>n * 4)
    elif rop == ROP_COPY:
        if sstep == 4 and sor == 0:
            memmove(d, s, <size_t>n * 4)
        elif sstep == 4:
            for i in range(n):
                _st(d + 4 * i, _ld(s + 4 * i) | sor)
        else:
            v = _ld(s) | sor
            for i in range(n):
                _st(d + 4 * i, v)
    elif rop == ROP_INVERT:
        for i in range(n):
            _st(d + 4 * i, ~_ld(d + 4 * i))
    elif sstep == 0:
        v = _ld(s) | sor
        for i in range(n):
            _st(d + 4 * i, _rop(rop, v, _ld(d + 4 * i)))
    else:
        for i in range(n):
            _st(d + 4 * i, _rop(rop, _ld(s + 4 * i) | sor, _ld(d + 4 * i)))


cdef inline uint32_t _mul(uint32_t a, uint32_t b) noexcept nogil:
    """pixman MUL_UN8: rounded a * b / 255."""
    cdef uint32_t t = a * b + 0x80
    return ((t >> 8) + t) >> 8


# -- the brush (solid colour or pattern tile) -----------------------------------------


cdef struct Brush:
    uint8_t color[4]
    const uint8_t* tile   # NULL for the solid colour
    int64_t th, tw        # tile size
    int64_t tstride       # bytes from a tile row to the next
    int64_t tx, ty        # tile origin reduced mod the size


cdef object _get_brush(
    Brush* b, object color, object tile, object tile_x, object tile_y, const Img* dst,
):
    """Solid colour or tile; returns the tile array read, which the caller holds
    (a tile sharing memory with dst is read from a snapshot)."""
    cdef uint32_t c = _u32(color, "color")
    memcpy(b.color, &c, 4)
    cdef int64_t tx = _int(tile_x, "tile_x")
    cdef int64_t ty = _int(tile_y, "tile_y")
    cdef Img t
    b.tile = NULL
    b.th = b.tw = b.tstride = b.tx = b.ty = 0
    if tile is None:
        return None
    tile = _get_image(tile, "tile", &t)
    if t.h == 0 or t.w == 0:
        raise CanvasError("empty pattern tile")
    if _overlaps(&t, dst):
        tile = _get_image(np.array(tile, np.uint8), "tile", &t)
    b.tile = t.p
    b.th, b.tw, b.tstride = t.h, t.w, t.stride
    b.tx, b.ty = _mod(tx, b.tw), _mod(ty, b.th)
    return tile


cdef void _brush_span(
    uint8_t* d, const Brush* b, int64_t x, int64_t y, Py_ssize_t n, int rop
) noexcept nogil:
    """rop(brush, dest) over n pixels of row y from column x."""
    cdef const uint8_t* row
    cdef int64_t tx, chunk
    if b.tile == NULL:
        _rop_span(d, b.color, n, 0, 0, rop)
        return
    row = b.tile + _mod(y - b.ty, b.th) * b.tstride
    tx = _mod(x - b.tx, b.tw)
    while n > 0:
        chunk = _min(n, b.tw - tx)
        _rop_span(d, row + tx * 4, chunk, 4, 0, rop)
        d += chunk * 4
        n -= chunk
        tx = 0


cdef inline uint32_t _brush_at(const Brush* b, int64_t x, int64_t y) noexcept nogil:
    cdef uint32_t v
    if b.tile == NULL:
        memcpy(&v, b.color, 4)
        return v
    return _ld(b.tile + _mod(y - b.ty, b.th) * b.tstride + _mod(x - b.tx, b.tw) * 4)


# -- a source (snapshot when it shares memory with the destination) ------------------


cdef Py_ssize_t _cut_all(
    const Rects* rects, Cut* out, int64_t x0, int64_t y0, int64_t x1, int64_t y1
) noexcept nogil:
    """Cut every rectangle to [x0, x1) x [y0, y1); the non-empty ones go to out."""
    cdef Py_ssize_t i, n = 0
    cdef Cut c
    cdef const int64_t* r
    for i in range(rects.n):
        r = rects.p + 4 * i
        c.left = _max(r[0], x0)
        c.top = _max(r[1], y0)
        c.right = _min(r[2], x1)
        c.bottom = _min(r[3], y1)
        if c.right > c.left and c.bottom > c.top:
            out[n] = c
            n += 1
    return n


cdef bint _large(const Cut* cuts, Py_ssize_t n) noexcept nogil:
    """The cut rectangles hold at least NOGIL_PIXELS pixels."""
    cdef int64_t total = 0
    cdef Py_ssize_t i
    for i in range(n):
        total += (cuts[i].right - cuts[i].left) * (cuts[i].bottom - cuts[i].top)
        if total >= NOGIL_PIXELS:
            return True
    return False


cdef struct Src:
    const uint8_t* base   # source pixel (0, 0) (maybe of a snapshot)
    int64_t stride        # bytes from a source row to the next
    int64_t ox, oy        # dest (x, y) reads source (x - ox, y - oy)
    Cut* cuts             # the rectangles cut to dest and source: n of them
    Py_ssize_t n
    uint8_t* snap         # malloc'd snapshot, or NULL
    bint bottom_up        # moved in place: rows from the bottom up
    Cut local[LOCAL_RECTS]


cdef int _get_source(
    const Img* d, const Img* s, const Rects* r, int64_t ox, int64_t oy,
    bint inplace_ok, Src* out,
) except -1:
    """Cut the rectangles to dest and source; snapshot the read area when the
    source shares memory with dst, unless ``inplace_ok``, one rectangle and the
    same row stride: a plain copy then moves the rows (memmove) in the order that
    reads each before it is overwritten. Release with ``_source_done``."""
    out.base, out.stride, out.ox, out.oy = s.p, s.stride, ox, oy
    out.cuts, out.n, out.snap, out.bottom_up = out.local, 0, NULL, False
    if r.n == 0 or ox >= d.w or oy >= d.h or s.h == 0 or s.w == 0:
        return 0
    if r.n > LOCAL_RECTS:
        out.cuts = <Cut*>malloc(r.n * sizeof(Cut))
        if out.cuts == NULL:
            raise MemoryError()
    # ox < w and oy < h here, so ox + s.w and oy + s.h cannot overflow
    out.n = _cut_all(r, out.cuts, _max(0, ox), _max(0, oy),
                     _min(d.w, ox + s.w), _min(d.h, oy + s.h))
    if out.n == 0 or not _overlaps(s, d):
        return 0
    cdef Cut c = out.cuts[0]
    if inplace_ok and out.n == 1 and s.stride == d.stride:
        # with equal strides every source row lies the same distance from its
        # dest row: when before it, rows go bottom-up (none is overwritten unread)
        out.bottom_up = (
            <uintptr_t>(s.p + (c.top - oy) * s.stride + (c.left - ox) * 4)
            < <uintptr_t>(d.p + c.top * d.stride + c.left * 4)
        )
        return 0
    # the union box of the areas read, copied out (never more than the source)
    cdef int64_t bl = c.left, bt = c.top, br = c.right, bb = c.bottom
    cdef Py_ssize_t i
    for i in range(1, out.n):
        bl = _min(bl, out.cuts[i].left)
        bt = _min(bt, out.cuts[i].top)
        br = _max(br, out.cuts[i].right)
        bb = _max(bb, out.cuts[i].bottom)
    out.snap = <uint8_t*>malloc(<size_t>((br - bl) * (bb - bt) * 4))
    if out.snap == NULL:
        raise MemoryError()
    for i in range(bb - bt):
        memcpy(out.snap + i * (br - bl) * 4,
               s.p + (bt - oy + i) * s.stride + (bl - ox) * 4,
               <size_t>((br - bl) * 4))
    # the snapshot stands for the source: its (0, 0) is source (bl - ox, bt - oy)
    out.base = out.snap - ((bt - oy) * (br - bl) + (bl - ox)) * 4
    out.stride = (br - bl) * 4
    return 0


cdef void _source_done(Src* s) noexcept:
    if s.cuts != NULL and s.cuts != &s.local[0]:
        free(s.cuts)
    s.cuts = NULL
    free(s.snap)
    s.snap = NULL


cdef inline const uint8_t* _src_at(const Src* s, int64_t x, int64_t y) noexcept nogil:
    return s.base + (y - s.oy) * s.stride + (x - s.ox) * 4


# -- regions ----------------------------------------------------------------------------


cdef struct Run:
    int64_t left, right


def region_rects(width, height, bbox, clips):
    """Disjoint banded rectangles of bbox ∩ surface ∩ union(clips) (see the twin)."""
    cdef int64_t w = _int(width, "width"), h = _int(height, "height")
    cdef Rects box, clip
    cdef Cut area
    box.heap, box.held, clip.heap, clip.held = NULL, False, NULL, False
    try:
        _get_rects([bbox], &box)
        if box.n != 1:
            raise CanvasError("bbox must be one rectangle")
        area.left = _max(box.p[0], 0)
        area.top = _max(box.p[1], 0)
        area.right = _min(box.p[2], _max(w, 0))
        area.bottom = _min(box.p[3], _max(h, 0))
        if area.right <= area.left or area.bottom <= area.top:
            return np.zeros((0, 4), np.int64)
        if clips is None:
            return np.array([[area.left, area.top, area.right, area.bottom]], np.int64)
        _get_rects(clips, &clip)
        if clip.n > REGION_MAX_SWEEP:
            return _draw_ref.region_rects(width, height, bbox, clips)
        return _banded(&clip, area)
    finally:
        _rects_done(&box)
        _rects_done(&clip)


cdef object _banded(const Rects* clip, Cut area):
    cdef Py_ssize_t n = clip.n, count
    cdef Cut* parts = <Cut*>malloc((n + 1) * sizeof(Cut))
    cdef int64_t* ys = <int64_t*>malloc((2 * n + 1) * sizeof(int64_t))
    cdef Run* runs = <Run*>malloc(2 * (n + 1) * sizeof(Run))
    cdef int64_t* out = <int64_t*>malloc((2 * n + 1) * (n + 1) * 4 * sizeof(int64_t))
    try:
        if parts == NULL or ys == NULL or runs == NULL or out == NULL:
            raise MemoryError()
        count = _sweep(clip, area, parts, ys, runs, out)
        result = np.empty((count, 4), np.int64)
        if count:
            memcpy(<void*><uintptr_t>result.ctypes.data, out, count * 4 * sizeof(int64_t))
        return result
    finally:
        free(parts)
        free(ys)
        free(runs)
        free(out)


cdef Py_ssize_t _sweep(
    const Rects* clip, Cut area, Cut* parts, int64_t* ys, Run* runs,
    int64_t* out,
) noexcept nogil:
    """Band sweep over at most REGION_MAX_SWEEP rectangles; returns the count
    written to ``out`` (4 int64 per rectangle)."""
    cdef Py_ssize_t n = _cut_all(clip, parts, area.left, area.top, area.right,
                                 area.bottom)
    cdef Py_ssize_t i, j, k, nys = 0, nruns, prev_runs = 0, prev_first = 0, count = 0
    cdef int64_t ya, yb, prev_bottom = -1
    cdef Cut c
    cdef bint same
    # parts sorted by left (insertion sort; n is small)
    for i in range(1, n):
        c = parts[i]
        j = i - 1
        while j >= 0 and parts[j].left > c.left:
            parts[j + 1] = parts[j]
            j -= 1
        parts[j + 1] = c
    # band edges: every top and bottom, sorted, unique
    for i in range(n):
        ys[nys] = parts[i].top
        ys[nys + 1] = parts[i].bottom
        nys += 2
    for i in range(1, nys):
        ya = ys[i]
        j = i - 1
        while j >= 0 and ys[j] > ya:
            ys[j + 1] = ys[j]
            j -= 1
        ys[j + 1] = ya
    k = 0
    for i in range(nys):
        if k == 0 or ys[i] != ys[k - 1]:
            ys[k] = ys[i]
            k += 1
    nys = k
    for k in range(nys - 1):
        ya, yb = ys[k], ys[k + 1]
        # runs of this band: the covering parts in left order, merged when touching
        nruns = 0
        for i in range(n):
            if parts[i].top <= ya and parts[i].bottom >= yb:
                if nruns and parts[i].left <= runs[nruns - 1].right:
                    runs[nruns - 1].right = _max(runs[nruns - 1].right, parts[i].right)
                else:
                    runs[nruns].left = parts[i].left
                    runs[nruns].right = parts[i].right
                    nruns += 1
        if nruns == 0:
            prev_runs = 0
            continue
        same = prev_runs == nruns and prev_bottom == ya
        if same:
            for i in range(nruns):
                if (out[(prev_first + i) * 4] != runs[i].left
                        or out[(prev_first + i) * 4 + 2] != runs[i].right):
                    same = False
                    break
        if same:  # extend the band above
            for i in range(nruns):
                out[(prev_first + i) * 4 + 3] = yb
        else:
            prev_first = count
            for i in range(nruns):
                out[count * 4] = runs[i].left
                out[count * 4 + 1] = ya
                out[count * 4 + 2] = runs[i].right
                out[count * 4 + 3] = yb
                count += 1
            prev_runs = nruns
        prev_bottom = yb
    return count


# -- draws ------------------------------------------------------------------------------
#
# Each draw takes its buffers and rectangles into C structs first; the ``finally``
# gives every one back (a Py_buffer whose obj is NULL releases as a no-op).


cdef void _fill_cuts(
    const Img* d, const Brush* b, const Cut* cuts, Py_ssize_t n, int op
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t y
    for i in range(n):
        for y in range(cuts[i].top, cuts[i].bottom):
            _brush_span(d.p + y * d.stride + cuts[i].left * 4, b, cuts[i].left, y,
                        cuts[i].right - cuts[i].left, op)


def fill(dst, rects, rop, color, tile=None, tile_x=0, tile_y=0):
    """dest = rop(brush, dest) (see the twin)."""
    cdef Held h
    cdef Img d
    cdef Brush b
    cdef Rects r
    cdef Src unused
    cdef int64_t op
    cdef Py_ssize_t n
    cdef Cut local[LOCAL_RECTS]
    cdef Cut* cuts = local
    _start(&h, &r, &unused)
    try:
        _get_dst(dst, &d)
        op = _int(rop, "rop")
        if not 0 <= op <= 15:
            raise CanvasError(f"unknown rop {op}")
        keep = _get_brush(&b, color, tile, tile_x, tile_y, &d)
        _get_rects(rects, &r)
        if r.n > LOCAL_RECTS:
            cuts = <Cut*>malloc(r.n * sizeof(Cut))
            if cuts == NULL:
                raise MemoryError()
        n = _cut_all(&r, cuts, 0, 0, d.w, d.h)
        if _large(cuts, n):
            _pin_all(&h, dst, None, keep)
            with nogil:
                _fill_cuts(&d, &b, cuts, n, <int>op)
        else:
            _fill_cuts(&d, &b, cuts, n, <int>op)
    finally:
        if cuts != &local[0]:
            free(cuts)
        _done(&h, &r, &unused)


cdef struct Held:
    Py_buffer db, sb, tb  # dst, source, tile exports taken by ``_pin`` (or none)


cdef inline void _start(Held* h, Rects* r, Src* s) noexcept:
    """What every kernel's ``finally`` gives back (``_done``), all empty first."""
    _clear(&h.db)
    _clear(&h.sb)
    _clear(&h.tb)
    r.heap, r.held = NULL, False
    s.cuts, s.snap = NULL, NULL


cdef inline void _done(Held* h, Rects* r, Src* s) noexcept:
    _source_done(s)
    _rects_done(r)
    PyBuffer_Release(&h.tb)
    PyBuffer_Release(&h.sb)
    PyBuffer_Release(&h.db)


cdef int _pin_all(Held* h, object dst, object src, object tile) except -1:
    """Export the arrays a GIL-free loop reads (``_pin``)."""
    _pin(&h.db, dst)
    _pin(&h.sb, src)
    _pin(&h.tb, tile)
    return 0


cdef object _take_source(
    object dst, object rects, object src, object dx, object dy, bint inplace_ok,
    Img* d, Rects* r, Src* s,
):
    """The common start of the source draws (the caller gives r and s back with
    ``_done``); returns the source array read, which the caller holds."""
    cdef Img img
    _get_dst(dst, d)
    keep = _get_image(src, "source", &img)
    cdef int64_t ox = _int(dx, "dx"), oy = _int(dy, "dy")
    _get_rects(rects, r)
    _get_source(d, &img, r, ox, oy, inplace_ok, s)
    return keep


cdef void _blit_cuts(const Img* d, const Src* s, int op, uint32_t sor) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t y, n
    cdef Cut c
    for i in range(s.n):
        c = s.cuts[i]
        n = c.right - c.left
        if s.bottom_up:
            y = c.bottom - 1
            while y >= c.top:
                _rop_span(d.p + y * d.stride + c.left * 4, _src_at(s, c.left, y),
                          n, 4, sor, op)
                y -= 1
        else:
            for y in range(c.top, c.bottom):
                _rop_span(d.p + y * d.stride + c.left * 4, _src_at(s, c.left, y),
                          n, 4, sor, op)


def blit(dst, rects, src, dx, dy, rop, opaque=False):
    """dest(x, y) = rop(src(x - dx, y - dy), dest) inside the source; returns
    the pixels drawn (see the twin).

    A plain COPY of one rectangle within one array moves rows with memmove in
    place (bottom-up when the source lies before the destination); other
    overlapping draws read a snapshot."""
    cdef Held h
    cdef Img d
    cdef Rects r
    cdef Src s
    cdef int64_t op = _int(rop, "rop")
    if not 0 <= op <= 15:
        raise CanvasError(f"unknown rop {op}")
    cdef uint32_t sor = OPAQUE if opaque else 0
    _start(&h, &r, &s)
    try:
        keep = _take_source(dst, rects, src, dx, dy, op == ROP_COPY and sor == 0,
                            &d, &r, &s)
        return _blit_source(&h, &d, &s, dst, keep, <int>op, sor)
    finally:
        _done(&h, &r, &s)


cdef int64_t _blit_source(
    Held* h, const Img* d, const Src* s, object dst, object keep, int op, uint32_t sor
) except -1:
    """The pixels of ``blit`` once the source is cut; returns the pixels drawn."""
    cdef Py_ssize_t i
    cdef int64_t drawn = 0
    if _large(s.cuts, s.n):
        _pin_all(h, dst, keep, None)
        with nogil:
            _blit_cuts(d, s, op, sor)
    else:
        _blit_cuts(d, s, op, sor)
    for i in range(s.n):
        drawn += (s.cuts[i].right - s.cuts[i].left) * (s.cuts[i].bottom - s.cuts[i].top)
    return drawn


# -- draws clipped as a display message says (bbox and clip, at most one rect) -------


cdef int _get_box(object rect, str name, Cut* out) except -1:
    """A wire ``Rect``'s sides."""
    out.left = _int(rect.left, name)
    out.top = _int(rect.top, name)
    out.right = _int(rect.right, name)
    out.bottom = _int(rect.bottom, name)
    return 0


cdef int _clip_box(const Img* d, const Cut* bbox, object clip, Rects* r) except -1:
    """``region.clip_box`` of dst's size into r (no rectangle when empty, one
    otherwise); returns 1, r empty, for a clip of several rectangles."""
    cdef Cut c
    cdef int nclip = -1
    c.left = c.top = c.right = c.bottom = 0
    r.p, r.n = r.local, 0
    if _clip_cut(d, bbox, -1, &c, r) == 0:
        return 0  # (an empty box draws nothing whatever the clip says)
    rects = clip.rects
    if rects is None:
        if clip.type != _CLIP_NONE:
            raise CanvasError(f"unknown clip type {clip.type}")
    else:
        n = len(rects)
        if n > 1:
            r.n = 0
            return 1
        nclip = n
        if n == 1:
            rect = rects[0]
            c.left = _int(rect.left, "clip left")
            c.top = _int(rect.top, "clip top")
            c.right = _int(rect.right, "clip right")
            c.bottom = _int(rect.bottom, "clip bottom")
    _clip_cut(d, bbox, nclip, &c, r)
    return 0


cdef inline Py_ssize_t _clip_cut(
    const Img* d, const Cut* bbox, int nclip, const Cut* clip, Rects* r
) noexcept nogil:
    """bbox ∩ dst, ∩ ``clip`` when ``nclip`` is 1 (-1: no clip; 0: a clip of no
    rectangle) into r's local rectangle; returns r.n (0 or 1)."""
    cdef int64_t x0 = _max(bbox.left, 0)
    cdef int64_t y0 = _max(bbox.top, 0)
    cdef int64_t x1 = _min(bbox.right, d.w)
    cdef int64_t y1 = _min(bbox.bottom, d.h)
    r.p, r.n = r.local, 0
    if x1 <= x0 or y1 <= y0 or nclip == 0:
        return 0
    if nclip == 1:
        x0 = _max(x0, clip.left)
        y0 = _max(y0, clip.top)
        x1 = _min(x1, clip.right)
        y1 = _min(y1, clip.bottom)
        if x1 <= x0 or y1 <= y0:
            return 0
    r.local[0], r.local[1], r.local[2], r.local[3] = x0, y0, x1, y1
    r.n = 1
    return 1


def blit_clipped(dst, bbox, clip, src, dx, dy, rop, opaque=False):
    """``blit`` over bbox ∩ dst ∩ clip; -1 for a clip of several rectangles
    (see the twin)."""
    cdef Img d
    cdef Cut box
    _get_dst(dst, &d)
    _get_box(bbox, "bbox", &box)
    return _blit_clipped(dst, &d, &box, clip, src, dx, dy, rop, opaque)


def copy_clipped(dst, bbox, clip, src, src_area, rop, opaque=False):
    """``blit_clipped`` of a same-size draw from src_area; -1 also when
    src_area's size is not bbox's (see the twin)."""
    cdef Img d
    cdef Cut box, area
    _get_dst(dst, &d)
    _get_box(bbox, "bbox", &box)
    _get_box(src_area, "src_area", &area)
    if (
        area.right - area.left != box.right - box.left
        or area.bottom - area.top != box.bottom - box.top
    ):
        return -1
    return _blit_clipped(
        dst, &d, &box, clip, src, box.left - area.left, box.top - area.top, rop, opaque
    )


cdef object _blit_clipped(
    object dst, const Img* d, const Cut* box, object clip, object src, object dx,
    object dy, object rop, object opaque,
):
    cdef Img img
    cdef Rects r
    cdef int64_t op, ox, oy
    if _clip_box(d, box, clip, &r):
        return -1
    if r.n == 0:
        return 0
    keep = _get_image(src, "source", &img)
    op = _int(rop, "rop")
    if not 0 <= op <= 15:
        raise CanvasError(f"unknown rop {op}")
    ox, oy = _int(dx, "dx"), _int(dy, "dy")
    return _blit_rect(dst, d, &img, keep, &r, ox, oy, <int>op, OPAQUE if opaque else 0)


cdef int64_t _blit_rect(
    object dst, const Img* d, const Img* img, object keep, Rects* r, int64_t ox,
    int64_t oy, int op, uint32_t sor,
) except -1:
    """The pixels of a clipped blit once its one rectangle (r, local) is known."""
    cdef Held h
    cdef Rects unused
    cdef Src s
    _start(&h, &unused, &s)
    try:
        _get_source(d, img, r, ox, oy, op == ROP_COPY and sor == 0, &s)
        return _blit_source(&h, d, &s, dst, keep, op, sor)
    finally:
        _done(&h, &unused, &s)


cdef int64_t blit_box(
    object dst, const Cut* box, int nclip, const Cut* clip, object src, int64_t dx,
    int64_t dy, int op, bint opaque,
) except -1:
    cdef Img d, img
    cdef Rects r
    if not 0 <= op <= 15:
        raise CanvasError(f"unknown rop {op}")
    _get_dst(dst, &d)
    if _clip_cut(&d, box, nclip, clip, &r) == 0:
        return 0
    keep = _get_image(src, "source", &img)
    return _blit_rect(dst, &d, &img, keep, &r, dx, dy, op, OPAQUE if opaque else 0)


def fill_clipped(dst, bbox, clip, rop, color):
    """Solid ``fill`` over bbox ∩ dst ∩ clip; returns the pixels drawn, -1 for
    a clip of several rectangles (see the twin)."""
    cdef Img d
    cdef Brush b
    cdef Rects r
    cdef int64_t op
    cdef Cut c
    _get_dst(dst, &d)
    _get_box(bbox, "bbox", &c)
    if _clip_box(&d, &c, clip, &r):
        return -1
    if r.n == 0:
        return 0
    op = _int(rop, "rop")
    if not 0 <= op <= 15:
        raise CanvasError(f"unknown rop {op}")
    _get_brush(&b, color, None, 0, 0, &d)
    return _fill_rect(dst, &d, &b, &r, <int>op)


cdef int64_t _fill_rect(object dst, const Img* d, const Brush* b, const Rects* r,
                        int op) except -1:
    """The pixels of a clipped solid fill once its one rectangle is known."""
    cdef Held h
    cdef Rects unused
    cdef Src none
    cdef Cut c
    c.left, c.top, c.right, c.bottom = r.local[0], r.local[1], r.local[2], r.local[3]
    _start(&h, &unused, &none)
    try:
        if _large(&c, 1):
            _pin_all(&h, dst, None, None)
            with nogil:
                _fill_cuts(d, b, &c, 1, op)
        else:
            _fill_cuts(d, b, &c, 1, op)
        return (c.right - c.left) * (c.bottom - c.top)
    finally:
        _done(&h, &unused, &none)


cdef int64_t fill_box(
    object dst, const Cut* box, int nclip, const Cut* clip, int op, uint32_t color
) except -1:
    cdef Img d
    cdef Brush b
    cdef Rects r
    if not 0 <= op <= 15:
        raise CanvasError(f"unknown rop {op}")
    _get_dst(dst, &d)
    if _clip_cut(&d, box, nclip, clip, &r) == 0:
        return 0
    memcpy(b.color, &color, 4)
    b.tile = NULL
    b.th = b.tw = b.tstride = b.tx = b.ty = 0
    return _fill_rect(dst, &d, &b, &r, op)


cdef void _rop3_cuts(const Img* d, const Src* s, const Brush* b, uint32_t op) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t x, y
    cdef Cut c
    cdef uint8_t* q
    cdef const uint8_t* sp
    for i in range(s.n):
        c = s.cuts[i]
        for y in range(c.top, c.bottom):
            q = d.p + y * d.stride + c.left * 4
            sp = _src_at(s, c.left, y)
            for x in range(c.right - c.left):
                _st(q + 4 * x, _rop3(op, _brush_at(b, c.left + x, y),
                                     _ld(sp + 4 * x), _ld(q + 4 * x)))


def rop3_blit(dst, rects, src, dx, dy, code, color, tile=None, tile_x=0, tile_y=0):
    """dest = rop3(code)(brush, src(x - dx, y - dy), dest) (see the twin)."""
    cdef Held h
    cdef Img d
    cdef Rects r
    cdef Src s
    cdef Brush b
    cdef int64_t rop_code
    _start(&h, &r, &s)
    try:
        keep = _take_source(dst, rects, src, dx, dy, False, &d, &r, &s)
        rop_code = _int(code, "rop3 code")
        if not 0 <= rop_code <= 0xFF:
            raise CanvasError(f"rop3 code {rop_code} is not 0..255")
        keep_tile = _get_brush(&b, color, tile, tile_x, tile_y, &d)
        if _large(s.cuts, s.n):
            _pin_all(&h, dst, keep, keep_tile)
            with nogil:
                _rop3_cuts(&d, &s, &b, <uint32_t>rop_code)
        else:
            _rop3_cuts(&d, &s, &b, <uint32_t>rop_code)
    finally:
        _done(&h, &r, &s)


cdef void _transparent_cuts(
    const Img* d, const Src* s, uint32_t bits, uint32_t want
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t x, y
    cdef Cut c
    cdef uint8_t* q
    cdef const uint8_t* sp
    cdef uint32_t v
    for i in range(s.n):
        c = s.cuts[i]
        for y in range(c.top, c.bottom):
            q = d.p + y * d.stride + c.left * 4
            sp = _src_at(s, c.left, y)
            for x in range(c.right - c.left):
                v = _ld(sp + 4 * x)
                if (v & bits) != want:
                    _st(q + 4 * x, v)


def transparent(dst, rects, src, dx, dy, key, key_mask=0xFFFFFF):
    """Copy source pixels whose B, G, R & key_mask differ from key's (see the twin)."""
    cdef Held h
    cdef Img d
    cdef Rects r
    cdef Src s
    cdef uint32_t bits, want
    _start(&h, &r, &s)
    try:
        keep = _take_source(dst, rects, src, dx, dy, False, &d, &r, &s)
        bits = _u32(key_mask, "key_mask") & 0xFFFFFF
        want = _u32(key, "key") & bits
        if _large(s.cuts, s.n):
            _pin_all(&h, dst, keep, None)
            with nogil:
                _transparent_cuts(&d, &s, bits, want)
        else:
            _transparent_cuts(&d, &s, bits, want)
    finally:
        _done(&h, &r, &s)


cdef void _alpha_cuts(
    const Img* d, const Src* s, uint32_t a, bint opaque, bint keep_alpha
) noexcept nogil:
    cdef Py_ssize_t i, k
    cdef int64_t x, y
    cdef Cut c
    cdef uint8_t* q
    cdef const uint8_t* sp
    cdef uint32_t sv[4]
    cdef uint32_t inv, t
    for i in range(s.n):
        c = s.cuts[i]
        for y in range(c.top, c.bottom):
            q = d.p + y * d.stride + c.left * 4
            sp = _src_at(s, c.left, y)
            for x in range(c.right - c.left):
                for k in range(4):
                    sv[k] = sp[4 * x + k]
                if opaque:
                    sv[3] = 0xFF
                if a != 0xFF:
                    for k in range(4):
                        sv[k] = _mul(sv[k], a)
                inv = 255 - sv[3]
                for k in range(3):
                    t = sv[k] + _mul(q[4 * x + k], inv)
                    q[4 * x + k] = <uint8_t>(t if t < 255 else 255)
                if keep_alpha:
                    t = sv[3] + _mul(q[4 * x + 3], inv)
                    q[4 * x + 3] = <uint8_t>(t if t < 255 else 255)
                else:
                    q[4 * x + 3] = 0xFF


def alpha_blend(dst, rects, src, dx, dy, alpha, src_opaque, dest_alpha):
    """Premultiplied OVER of the source scaled by alpha (see the twin)."""
    cdef Held h
    cdef Img d
    cdef Rects r
    cdef Src s
    cdef int64_t a
    cdef bint opaque = bool(src_opaque), keep_alpha = bool(dest_alpha)
    _start(&h, &r, &s)
    try:
        keep = _take_source(dst, rects, src, dx, dy, False, &d, &r, &s)
        a = _int(alpha, "alpha")
        if not 0 <= a <= 0xFF:
            raise CanvasError(f"alpha {a} is not 0..255")
        if _large(s.cuts, s.n):
            _pin_all(&h, dst, keep, None)
            with nogil:
                _alpha_cuts(&d, &s, <uint32_t>a, opaque, keep_alpha)
        else:
            _alpha_cuts(&d, &s, <uint32_t>a, opaque, keep_alpha)
    finally:
        _done(&h, &r, &s)


# -- text -------------------------------------------------------------------------------


def glyph_mask(glyphs, bpp):
    """A8 coverage of a raster glyph string (see the twin)."""
    cdef int64_t depth = _int(bpp, "bpp")
    if depth != 1 and depth != 4 and depth != 8:
        raise CanvasError(f"glyph depth {depth} is not 1, 4 or 8")
    boxes = []
    cdef int64_t left, top, gw, gh
    cdef int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0
    try:
        for glyph in glyphs:
            gl, gt, gwo, gho, _ = glyph
            gw = _int(gwo, "glyph width")
            gh = _int(gho, "glyph height")
            if gw < 0 or gh < 0:
                raise CanvasError(f"glyph size {gw}x{gh}")
            left = _int(gl, "glyph x")
            top = _int(gt, "glyph y")
            boxes.append((left, top, gw, gh))
    except (TypeError, ValueError) as exc:
        raise CanvasError(f"bad glyph: {exc}") from None
    if not boxes:
        return None
    cdef bint first = True
    for left, top, gw, gh in boxes:
        if not (-POS_LIMIT < left < POS_LIMIT and -POS_LIMIT < top < POS_LIMIT):
            raise CanvasError("glyph position out of range")
        if gw >= SIZE_LIMIT or gh >= SIZE_LIMIT:
            raise CanvasError(f"glyph size {gw}x{gh}")
        if first:
            x0, y0, x1, y1 = left, top, left + gw, top + gh
            first = False
        else:
            x0, y0 = _min(x0, left), _min(y0, top)
            x1, y1 = _max(x1, left + gw), _max(y1, top + gh)
    if (x1 - x0 > GLYPH_MAX_PIXELS or y1 - y0 > GLYPH_MAX_PIXELS
            or (x1 - x0) * (y1 - y0) > GLYPH_MAX_PIXELS):
        raise CanvasError("text extent too large")
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    if (x1 - x0) * (y1 - y0) == 0:
        return x0, y0, mask
    cdef uint8_t[:, ::1] m = mask
    cdef uint8_t* mp = &m[0, 0]
    cdef int64_t mw = x1 - x0, stride, r, x
    cdef Py_buffer buf
    cdef const uint8_t* row
    cdef uint8_t* out
    cdef uint8_t v
    for glyph, (left, top, gw, gh) in zip(glyphs, boxes):
        if gw == 0 or gh == 0:
            continue
        stride = (gw * depth + 7) // 8
        try:
            PyObject_GetBuffer(glyph[4], &buf, PyBUF_SIMPLE)
        except (TypeError, ValueError, BufferError) as exc:
            raise CanvasError(f"bad glyph data: {exc}") from None
        try:
            if buf.len < stride * gh:
                raise CanvasError("glyph data truncated")
            with nogil:
                for r in range(gh):
                    # canvas_put_glyph_bits reads rows bottom-up
                    row = <const uint8_t*>buf.buf + (gh - 1 - r) * stride
                    out = mp + (top - y0 + r) * mw + (left - x0)
                    for x in range(gw):
                        if depth == 1:
                            v = 0xFF if row[x >> 3] & (0x80 >> (x & 7)) else 0
                        elif depth == 4:
                            v = (row[x >> 1] if x & 1 == 0 else row[x >> 1] << 4) & 0xF0
                        else:
                            v = row[x]
                        if v > out[x]:
                            out[x] = v
        finally:
            PyBuffer_Release(&buf)
    return x0, y0, mask


def mask_over(dst, rects, mask, mask_x, mask_y, color, dest_alpha, tile=None,
              tile_x=0, tile_y=0):
    """The opaque brush OVER dest through an A8 mask (see the twin)."""
    cdef Held h  # sb holds the mask's buffer
    cdef Img d
    cdef Brush b
    cdef Rects r
    cdef Src unused
    cdef Py_buffer* mb = &h.sb
    cdef Cut* cuts = NULL
    cdef int64_t mx, my, mh, mw, mstride, x, y
    cdef bint keep_alpha = not dest_alpha
    cdef Py_ssize_t i, k, n
    cdef Cut c
    cdef uint8_t* q
    cdef const uint8_t* mrow
    cdef const uint8_t* mbase
    cdef uint32_t cov, inv, t, bv
    _start(&h, &r, &unused)
    try:
        _get_dst(dst, &d)
        if not _u8_array(mask) or mask.ndim != 2:
            raise CanvasError("mask must be an (h, w) uint8 array")
        PyObject_GetBuffer(mask, mb, PyBUF_STRIDES)
        if mb.shape[1] > 1 and mb.strides[1] != 1:  # coverage bytes not packed
            PyBuffer_Release(mb)
            mask = np.ascontiguousarray(mask)
            PyObject_GetBuffer(mask, mb, PyBUF_STRIDES)
        mh, mw, mstride = mb.shape[0], mb.shape[1], mb.strides[0]
        mbase = <const uint8_t*>mb.buf
        mx, my = _int(mask_x, "mask_x"), _int(mask_y, "mask_y")
        keep = _get_brush(&b, color, tile, tile_x, tile_y, &d)
        _get_rects(rects, &r)
        if d.h == 0 or d.w == 0 or mh == 0 or mw == 0 or mx >= d.w or my >= d.h:
            return
        cuts = <Cut*>malloc((r.n + 1) * sizeof(Cut))
        if cuts == NULL:
            raise MemoryError()
        _pin(&h.db, dst)  # the mask's buffer is held already
        _pin(&h.tb, keep)
        with nogil:
            # mx < w and my < h, so mx + mw and my + mh cannot overflow
            n = _cut_all(&r, cuts, _max(0, mx), _max(0, my), _min(d.w, mx + mw),
                         _min(d.h, my + mh))
            for i in range(n):
                c = cuts[i]
                for y in range(c.top, c.bottom):
                    q = d.p + y * d.stride + c.left * 4
                    mrow = mbase + (y - my) * mstride + (c.left - mx)
                    for x in range(c.right - c.left):
                        cov = mrow[x]
                        if cov == 0:  # MUL_UN8(d, 255) == d: nothing changes
                            continue
                        inv = 255 - cov
                        bv = _brush_at(&b, c.left + x, y) | OPAQUE
                        for k in range(4):
                            if k == 3 and keep_alpha:
                                break
                            t = _mul((bv >> (8 * k)) & 0xFF, cov) + _mul(q[4 * x + k], inv)
                            q[4 * x + k] = <uint8_t>(t if t < 255 else 255)
    finally:
        free(cuts)
        _done(&h, &r, &unused)
