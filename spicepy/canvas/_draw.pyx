# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Drawing kernels fast path: the loops of ``_draw_ref`` in C.

Same arguments, pixels and exceptions (CanvasError) as the reference twin; read
that module and ``spicepy.canvas.kernels`` first. Arguments are checked at
Python level, then every rectangle is cut to the destination and to the
source / mask / tile extent before any pointer is formed, so no index the input
chooses leaves an array. Pixels are handled as 32-bit little-endian words
(B, G, R, X/A bytes), loaded and stored with memcpy (no alignment assumed).
"""

import sys

import numpy as np

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport int64_t, uint8_t, uint32_t, uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memmove, memset

from spicepy.canvas import _draw_ref
from spicepy.canvas._draw_ref import GLYPH_MAX_PIXELS, REGION_MAX_SWEEP
from spicepy.errors import CanvasError

if sys.byteorder != "little":  # pixel words are B, G, R, X in memory order
    raise ImportError("the drawing kernels need a little-endian host")

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


cdef uint8_t[:, :, ::1] _surface(object dst) except *:
    cdef uint8_t[:, :, ::1] view
    if not isinstance(dst, np.ndarray) or dst.dtype != np.uint8:
        raise CanvasError("destination must be a writable C-contiguous (h, w, 4) uint8")
    try:
        view = dst
    except (ValueError, TypeError, BufferError):
        raise CanvasError(
            "destination must be a writable C-contiguous (h, w, 4) uint8"
        ) from None
    if view.shape[2] != 4:
        raise CanvasError("destination must be a writable C-contiguous (h, w, 4) uint8")
    return view


cdef const uint8_t[:, :, ::1] _image(object src, str name) except *:
    cdef const uint8_t[:, :, ::1] view
    if not isinstance(src, np.ndarray) or src.dtype != np.uint8 or src.ndim != 3:
        raise CanvasError(f"{name} must be an (h, w, 4) uint8 array")
    if not src.flags.c_contiguous:
        src = np.ascontiguousarray(src)
    try:
        view = src
    except (ValueError, TypeError, BufferError):
        raise CanvasError(f"{name} must be an (h, w, 4) uint8 array") from None
    if view.shape[2] != 4:
        raise CanvasError(f"{name} must be an (h, w, 4) uint8 array")
    return view


cdef struct RectList:
    const int64_t* p  # n rectangles, 4 int64 each (left, top, right, bottom)
    Py_ssize_t n


cdef class _RectBuf:
    """Owns what a RectList points into: a malloc'd copy or an array's view."""
    cdef int64_t* p
    cdef const int64_t[:, ::1] view

    def __dealloc__(self):
        free(self.p)


cdef bint _ints4(object item, int64_t* out):
    """A 4-tuple/list of plain ints within int64 into out; False otherwise."""
    cdef Py_ssize_t k
    if (type(item) is not tuple and type(item) is not list) or len(item) != 4:
        return False
    for k in range(4):
        v = item[k]
        if type(v) is not int or not -I64_MAX <= v <= I64_MAX:
            return False
        out[k] = v
    return True


cdef _RectBuf _rects(object rects, RectList* out):
    """The rectangles as int64; plain lists of int tuples and int64 (n, 4) arrays
    are read directly, anything else goes through the twin's conversion (same
    values, same errors)."""
    cdef _RectBuf buf = _RectBuf()
    cdef Py_ssize_t i, n
    if type(rects) is list or type(rects) is tuple:
        n = len(rects)
        buf.p = <int64_t*>malloc((n + 1) * 4 * sizeof(int64_t))
        if buf.p == NULL:
            raise MemoryError()
        for i in range(n):
            if not _ints4(rects[i], buf.p + 4 * i):
                break
        else:
            out.p, out.n = buf.p, n
            return buf
    elif (
        isinstance(rects, np.ndarray)
        and rects.dtype == np.int64
        and rects.ndim == 2
        and rects.shape[1] == 4
        and rects.flags.c_contiguous
    ):
        buf.view = rects
        out.p, out.n = (&buf.view[0, 0] if buf.view.shape[0] else NULL), buf.view.shape[0]
        return buf
    buf.view = np.ascontiguousarray(_draw_ref._rects(rects))
    out.p, out.n = (&buf.view[0, 0] if buf.view.shape[0] else NULL), buf.view.shape[0]
    return buf


cdef bint _overlaps(const uint8_t[:, :, ::1] a, uint8_t[:, :, ::1] b):
    """True when the two arrays' memory ranges overlap (np.may_share_memory)."""
    cdef size_t na = <size_t>a.shape[0] * a.shape[1] * 4
    cdef size_t nb = <size_t>b.shape[0] * b.shape[1] * 4
    if na == 0 or nb == 0:
        return False
    cdef uintptr_t pa = <uintptr_t>&a[0, 0, 0]
    cdef uintptr_t pb = <uintptr_t>&b[0, 0, 0]
    return pa < pb + nb and pb < pa + na


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
    const uint8_t* tile
    int64_t th, tw, tx, ty  # tile size and origin reduced mod the size


cdef class _Tile:
    """Keeps a pattern tile (or its snapshot) alive while a kernel reads it."""
    cdef const uint8_t[:, :, ::1] view


cdef _Tile _brush(Brush* b, object color, object tile, object tile_x, object tile_y,
                  uint8_t[:, :, ::1] dst):
    cdef uint32_t c = _u32(color, "color")
    memcpy(b.color, &c, 4)
    cdef int64_t tx = _int(tile_x, "tile_x")
    cdef int64_t ty = _int(tile_y, "tile_y")
    b.tile = NULL
    b.th = b.tw = b.tx = b.ty = 0
    if tile is None:
        return None
    holder = _Tile()
    holder.view = _image(tile, "tile")
    if holder.view.shape[0] == 0 or holder.view.shape[1] == 0:
        raise CanvasError("empty pattern tile")
    if _overlaps(holder.view, dst):
        holder.view = np.array(holder.view, np.uint8)
    b.tile = &holder.view[0, 0, 0]
    b.th, b.tw = holder.view.shape[0], holder.view.shape[1]
    b.tx, b.ty = _mod(tx, b.tw), _mod(ty, b.th)
    return holder


cdef void _brush_span(
    uint8_t* d, const Brush* b, int64_t x, int64_t y, Py_ssize_t n, int rop
) noexcept nogil:
    """rop(brush, dest) over n pixels of row y from column x."""
    cdef const uint8_t* row
    cdef int64_t tx, chunk
    if b.tile == NULL:
        _rop_span(d, b.color, n, 0, 0, rop)
        return
    row = b.tile + _mod(y - b.ty, b.th) * b.tw * 4
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
    return _ld(b.tile + (_mod(y - b.ty, b.th) * b.tw + _mod(x - b.tx, b.tw)) * 4)


# -- a source (snapshot when it shares memory with the destination) ------------------


cdef struct Cut:
    int64_t left, top, right, bottom


cdef Py_ssize_t _cut_all(
    const RectList* rects, Cut* out, int64_t x0, int64_t y0, int64_t x1, int64_t y1
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


cdef class _Source:
    """Source pixels for a list of destination rectangles, with their cuts."""
    cdef const uint8_t[:, :, ::1] view
    cdef const uint8_t* base  # pixel (0, 0) of the source (maybe of a snapshot)
    cdef int64_t stride        # bytes per source row
    cdef int64_t ox, oy        # dest (x, y) reads source (x - ox, y - oy)
    cdef Cut* cuts
    cdef Py_ssize_t n
    cdef uint8_t* snap

    def __dealloc__(self):
        free(self.cuts)
        free(self.snap)


cdef _Source _source(
    uint8_t[:, :, ::1] dst, object rects, object src, object dx, object dy,
    bint inplace_ok=False,
):
    """Check the source, cut the rectangles to dest and source, snapshot the read
    area when the source shares memory with dst (unless ``inplace_ok`` and one
    rectangle: a plain copy then moves rows in a safe order instead)."""
    cdef _Source s = _Source()
    s.view = _image(src, "source")
    s.ox = _int(dx, "dx")
    s.oy = _int(dy, "dy")
    cdef RectList r
    keep = _rects(rects, &r)
    cdef int64_t h = dst.shape[0], w = dst.shape[1]
    cdef int64_t sh = s.view.shape[0], sw = s.view.shape[1]
    s.stride = sw * 4
    s.n = 0
    s.cuts = NULL
    s.snap = NULL
    if r.n == 0 or s.ox >= w or s.oy >= h or sh == 0 or sw == 0:
        return s
    s.cuts = <Cut*>malloc(r.n * sizeof(Cut))
    if s.cuts == NULL:
        raise MemoryError()
    # ox < w and oy < h here, so ox + sw and oy + sh cannot overflow
    s.n = _cut_all(&r, s.cuts, _max(0, s.ox), _max(0, s.oy),
                   _min(w, s.ox + sw), _min(h, s.oy + sh))
    if s.n == 0:
        return s
    s.base = &s.view[0, 0, 0]
    if (inplace_ok and s.n == 1) or not _overlaps(s.view, dst):
        return s
    # the union box of the areas read, copied out (never more than the source)
    cdef int64_t bl = s.cuts[0].left, bt = s.cuts[0].top
    cdef int64_t br = s.cuts[0].right, bb = s.cuts[0].bottom
    cdef Py_ssize_t i
    for i in range(1, s.n):
        bl = _min(bl, s.cuts[i].left)
        bt = _min(bt, s.cuts[i].top)
        br = _max(br, s.cuts[i].right)
        bb = _max(bb, s.cuts[i].bottom)
    s.snap = <uint8_t*>malloc(<size_t>((br - bl) * (bb - bt) * 4))
    if s.snap == NULL:
        raise MemoryError()
    for i in range(bb - bt):
        memcpy(s.snap + i * (br - bl) * 4,
               s.base + (bt - s.oy + i) * s.stride + (bl - s.ox) * 4,
               <size_t>((br - bl) * 4))
    # pretend the snapshot is the source: pixel (x - ox, y - oy) of it
    s.base = s.snap - ((bt - s.oy) * (br - bl) + (bl - s.ox)) * 4
    s.stride = (br - bl) * 4
    return s


cdef struct SrcPtr:
    const uint8_t* base
    int64_t stride, ox, oy


cdef inline SrcPtr _ptr(_Source s):
    cdef SrcPtr p
    p.base, p.stride, p.ox, p.oy = s.base, s.stride, s.ox, s.oy
    return p


cdef inline const uint8_t* _src_at(const SrcPtr* s, int64_t x, int64_t y) noexcept nogil:
    return s.base + (y - s.oy) * s.stride + (x - s.ox) * 4


# -- regions ----------------------------------------------------------------------------


cdef struct Run:
    int64_t left, right


def region_rects(width, height, bbox, clips):
    """Disjoint banded rectangles of bbox ∩ surface ∩ union(clips) (see the twin)."""
    cdef int64_t w = _int(width, "width"), h = _int(height, "height")
    cdef RectList box
    keep_box = _rects([bbox], &box)
    if box.n != 1:
        raise CanvasError("bbox must be one rectangle")
    cdef Cut area
    area.left = _max(box.p[0], 0)
    area.top = _max(box.p[1], 0)
    area.right = _min(box.p[2], _max(w, 0))
    area.bottom = _min(box.p[3], _max(h, 0))
    if area.right <= area.left or area.bottom <= area.top:
        return np.zeros((0, 4), np.int64)
    if clips is None:
        return np.array([[area.left, area.top, area.right, area.bottom]], np.int64)
    cdef RectList clip
    keep_clip = _rects(clips, &clip)
    if clip.n > REGION_MAX_SWEEP:
        return _draw_ref.region_rects(width, height, bbox, clips)
    cdef Py_ssize_t n = clip.n
    cdef Cut* parts = <Cut*>malloc((n + 1) * sizeof(Cut))
    cdef int64_t* ys = <int64_t*>malloc((2 * n + 1) * sizeof(int64_t))
    cdef Run* runs = <Run*>malloc(2 * (n + 1) * sizeof(Run))
    cdef int64_t* out = <int64_t*>malloc((2 * n + 1) * (n + 1) * 4 * sizeof(int64_t))
    try:
        if parts == NULL or ys == NULL or runs == NULL or out == NULL:
            raise MemoryError()
        count = _sweep(&clip, area, parts, ys, runs, out)
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
    const RectList* clip, Cut area, Cut* parts, int64_t* ys, Run* runs,
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


def fill(dst, rects, rop, color, tile=None, tile_x=0, tile_y=0):
    """dest = rop(brush, dest) (see the twin)."""
    cdef uint8_t[:, :, ::1] d = _surface(dst)
    cdef int64_t op = _int(rop, "rop")
    if not 0 <= op <= 15:
        raise CanvasError(f"unknown rop {op}")
    cdef Brush b
    keep = _brush(&b, color, tile, tile_x, tile_y, d)
    cdef RectList r
    keep_rects = _rects(rects, &r)
    cdef int64_t h = d.shape[0], w = d.shape[1], y
    cdef Cut c
    cdef Py_ssize_t i
    if h == 0 or w == 0:
        return
    cdef uint8_t* base = &d[0, 0, 0]
    with nogil:
        for i in range(r.n):
            c.left = _max(r.p[4 * i], 0)
            c.top = _max(r.p[4 * i + 1], 0)
            c.right = _min(r.p[4 * i + 2], w)
            c.bottom = _min(r.p[4 * i + 3], h)
            if c.right <= c.left or c.bottom <= c.top:
                continue
            for y in range(c.top, c.bottom):
                _brush_span(base + (y * w + c.left) * 4, &b, c.left, y,
                            c.right - c.left, <int>op)


def blit(dst, rects, src, dx, dy, rop, opaque=False):
    """dest(x, y) = rop(src(x - dx, y - dy), dest) inside the source (see the twin)."""
    cdef uint8_t[:, :, ::1] d = _surface(dst)
    cdef int64_t op = _int(rop, "rop")
    if not 0 <= op <= 15:
        raise CanvasError(f"unknown rop {op}")
    cdef uint32_t sor = 0xFF000000 if opaque else 0
    # one rectangle copied within one array: memmove rows in a safe order
    cdef _Source s = _source(d, rects, src, dx, dy, op == ROP_COPY and sor == 0)
    cdef int64_t w = d.shape[1], y, n
    cdef Py_ssize_t i
    cdef Cut c
    cdef uint8_t* base
    if s.n == 0:
        return
    base = &d[0, 0, 0]
    cdef SrcPtr p = _ptr(s)
    with nogil:
        for i in range(s.n):
            c = s.cuts[i]
            n = c.right - c.left
            if s.oy > 0:  # source rows above: go bottom-up so none is overwritten unread
                y = c.bottom - 1
                while y >= c.top:
                    _rop_span(base + (y * w + c.left) * 4, _src_at(&p, c.left, y),
                              n, 4, sor, <int>op)
                    y -= 1
            else:
                for y in range(c.top, c.bottom):
                    _rop_span(base + (y * w + c.left) * 4, _src_at(&p, c.left, y),
                              n, 4, sor, <int>op)


def rop3_blit(dst, rects, src, dx, dy, code, color, tile=None, tile_x=0, tile_y=0):
    """dest = rop3(code)(brush, src(x - dx, y - dy), dest) (see the twin)."""
    cdef uint8_t[:, :, ::1] d = _surface(dst)
    cdef _Source s = _source(d, rects, src, dx, dy)
    cdef int64_t rop_code = _int(code, "rop3 code")
    if not 0 <= rop_code <= 0xFF:
        raise CanvasError(f"rop3 code {rop_code} is not 0..255")
    cdef Brush b
    keep = _brush(&b, color, tile, tile_x, tile_y, d)
    cdef int64_t w = d.shape[1], x, y
    cdef Py_ssize_t i
    cdef Cut c
    cdef uint8_t* q
    cdef const uint8_t* sp
    cdef uint32_t op = <uint32_t>rop_code
    if s.n == 0:
        return
    cdef uint8_t* base = &d[0, 0, 0]
    cdef SrcPtr p = _ptr(s)
    with nogil:
        for i in range(s.n):
            c = s.cuts[i]
            for y in range(c.top, c.bottom):
                q = base + (y * w + c.left) * 4
                sp = _src_at(&p, c.left, y)
                for x in range(c.right - c.left):
                    _st(q + 4 * x, _rop3(op, _brush_at(&b, c.left + x, y),
                                         _ld(sp + 4 * x), _ld(q + 4 * x)))


def transparent(dst, rects, src, dx, dy, key, key_mask=0xFFFFFF):
    """Copy source pixels whose B, G, R & key_mask differ from key's (see the twin)."""
    cdef uint8_t[:, :, ::1] d = _surface(dst)
    cdef _Source s = _source(d, rects, src, dx, dy)
    cdef uint32_t bits = _u32(key_mask, "key_mask") & 0xFFFFFF
    cdef uint32_t want = _u32(key, "key") & bits
    cdef int64_t w = d.shape[1], x, y
    cdef Py_ssize_t i
    cdef Cut c
    cdef uint8_t* q
    cdef const uint8_t* sp
    cdef uint32_t v
    if s.n == 0:
        return
    cdef uint8_t* base = &d[0, 0, 0]
    cdef SrcPtr p = _ptr(s)
    with nogil:
        for i in range(s.n):
            c = s.cuts[i]
            for y in range(c.top, c.bottom):
                q = base + (y * w + c.left) * 4
                sp = _src_at(&p, c.left, y)
                for x in range(c.right - c.left):
                    v = _ld(sp + 4 * x)
                    if (v & bits) != want:
                        _st(q + 4 * x, v)


def alpha_blend(dst, rects, src, dx, dy, alpha, src_opaque, dest_alpha):
    """Premultiplied OVER of the source scaled by alpha (see the twin)."""
    cdef uint8_t[:, :, ::1] d = _surface(dst)
    cdef _Source s = _source(d, rects, src, dx, dy)
    cdef int64_t a = _int(alpha, "alpha")
    if not 0 <= a <= 0xFF:
        raise CanvasError(f"alpha {a} is not 0..255")
    cdef bint opaque = bool(src_opaque), keep_alpha = bool(dest_alpha)
    cdef int64_t w = d.shape[1], x, y
    cdef Py_ssize_t i, k
    cdef Cut c
    cdef uint8_t* q
    cdef const uint8_t* sp
    cdef uint32_t sv[4]
    cdef uint32_t inv, t
    if s.n == 0:
        return
    cdef uint8_t* base = &d[0, 0, 0]
    cdef SrcPtr p = _ptr(s)
    with nogil:
        for i in range(s.n):
            c = s.cuts[i]
            for y in range(c.top, c.bottom):
                q = base + (y * w + c.left) * 4
                sp = _src_at(&p, c.left, y)
                for x in range(c.right - c.left):
                    for k in range(4):
                        sv[k] = sp[4 * x + k]
                    if opaque:
                        sv[3] = 0xFF
                    if a != 0xFF:
                        for k in range(4):
                            sv[k] = _mul(sv[k], <uint32_t>a)
                    inv = 255 - sv[3]
                    for k in range(3):
                        t = sv[k] + _mul(q[4 * x + k], inv)
                        q[4 * x + k] = <uint8_t>(t if t < 255 else 255)
                    if keep_alpha:
                        t = sv[3] + _mul(q[4 * x + 3], inv)
                        q[4 * x + 3] = <uint8_t>(t if t < 255 else 255)
                    else:
                        q[4 * x + 3] = 0xFF


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
    cdef uint8_t[:, :, ::1] d = _surface(dst)
    cdef const uint8_t[:, ::1] m
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.ndim != 2:
        raise CanvasError("mask must be an (h, w) uint8 array")
    m = np.ascontiguousarray(mask)
    cdef int64_t mx = _int(mask_x, "mask_x"), my = _int(mask_y, "mask_y")
    cdef Brush b
    keep = _brush(&b, color, tile, tile_x, tile_y, d)
    cdef bint keep_alpha = not dest_alpha
    cdef RectList r
    keep_rects = _rects(rects, &r)
    cdef int64_t h = d.shape[0], w = d.shape[1], mh = m.shape[0], mw = m.shape[1]
    cdef int64_t x, y
    cdef Py_ssize_t i, k, n
    cdef Cut c
    cdef uint8_t* q
    cdef const uint8_t* mrow
    cdef uint32_t cov, inv, t, bv
    if h == 0 or w == 0 or mh == 0 or mw == 0 or mx >= w or my >= h:
        return
    cdef Cut* cuts = <Cut*>malloc((r.n + 1) * sizeof(Cut))
    if cuts == NULL:
        raise MemoryError()
    cdef uint8_t* base = &d[0, 0, 0]
    cdef const uint8_t* mbase = &m[0, 0]
    try:
        with nogil:
            n = _cut_all(&r, cuts, _max(0, mx), _max(0, my), _min(w, mx + mw),
                         _min(h, my + mh))
            for i in range(n):
                c = cuts[i]
                for y in range(c.top, c.bottom):
                    q = base + (y * w + c.left) * 4
                    mrow = mbase + (y - my) * mw + (c.left - mx)
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
