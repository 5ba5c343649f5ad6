# cython: language_level=3, boundscheck=False, wraparound=False
"""The display lane: the commonest display draws applied in C, before any event.

Theory of operation: one ``DisplayLane`` serves one display channel.  The
channel machine's compiled reader (``wire._decode.MessageReader``) offers it
the body of each DRAW_FILL, DRAW_COPY, DRAW_BLEND and COPY_BITS while no older
event of that channel waits (``wire.stream``), before decoding it; ``offer``
either applies the message completely and returns 1 (it is never decoded), or
declines (0) having changed nothing, and the message then is decoded and takes
the general path (``MessageReceived`` -> ``SessionCore.handle_event`` ->
``DisplayDriver.apply`` -> ``Canvas``).

The lane reads the few fields it needs in place (``_parse``), at offsets that
``wire.layout`` derives at import from the schema definitions, one ``Shape``
per message class and clip shape (no clip, a clip of 0 or 1 rectangle; a solid
brush), checked there to be the widths read here.  It takes only a body the
decoder reads without error: every fixed field inside the body, the source
image pointer inside it with the whole image (descriptor, the surface
reference of a SURFACE image, a stream's size and bytes) too, no mask;
anything else (truncated, a pointer or size that lies, several clip
rectangles, another brush or image type) is declined, and the decoder then
reads it, or raises, as without a lane.

It takes exactly what ``Canvas.fill`` / ``copy`` / ``copy_bits`` send to one
compiled clipped kernel (``canvas/_draw.pxd``, called without Python): a solid
unmasked fill, a same-size unmasked copy from a cache entry that is present,
from an existing surface, or of a fresh LZ_RGB, QUIC or LZ4 image a cache
keeps (CACHE_ME, CACHE_REPLACE_ME: ``Canvas.copy`` resolves such an image
before its kernel call; ``_fresh`` decodes it from the body through the
codec, where ``ImageResolver._decode`` would, and hands it to
``ImageResolver.keep``, the cache path ``get`` takes; a stream the codec or
the general path's checks refuse is declined before anything changed, and
the general path raises the same error), a COPY_BITS that moves; never onto
a quantised surface, never with a ROP the canvas has not resolved before (its
tables) or a NOOP, never when the kernel returns -1 (several clip rectangles,
a scaled source) or raises (the canvas then meets the same error and drops
the message).  It draws the pixels at once and keeps the rest of what the general
path does for such a message in C (``pixels_drawn``, ``counts``,
``image_types``, the boxes drawn on surface 0); ``flush()``, which
``Channel._parse`` calls before it returns (before any event of the channel is
delivered), writes that out: ``last_display_activity`` once, the sums, then per
change in order the listeners, the change list and ``change_count``.

It declines everything while the general path must see the messages: a
message of any display channel is held (``SessionCore._holding``: the
general path retries held ones after each message), a handler other than the
core's own is routed DISPLAY messages (``SessionCore.on_message``), the
channel's driver is missing or has stream work pending, or the ``observer``
(the live session) has ``events()`` iterators.  Not for its connect backlog:
that keeps connect()'s newest 256 events (links, INITs) for a first iterator,
and ``spicepy screenshot``'s whole display burst arrives while connect() still
gathers the other channels (measured: the lane took 0 of text-lz's 1509
draws), where draws would only push the links out of it.  The
pure-Python twin is the general path itself: no lane is made under
``SPICEPY_PUREPYTHON=1`` (``SessionCore.display_lane``).
"""

from cpython.dict cimport PyDict_GetItemWithError, PyDict_SetItem
from cpython.long cimport PyLong_FromLong, PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.object cimport PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.buffer cimport PyBUF_READ
from cpython.object cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

import time


cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void*)


cdef extern from "<time.h>" nogil:
    cdef struct timespec:
        long tv_sec
        long tv_nsec
    int clock_gettime(int clk_id, timespec* tp)
    int CLOCK_MONOTONIC

from spicepy.canvas._draw cimport Cut, blit_box, fill_box
from spicepy.wire._decode cimport Lane, build_c, slot_offset

import numpy as np

from spicepy.canvas import canvas as _canvas
from spicepy.canvas.images import CachedImage
from spicepy.canvas.rop import Rop
from spicepy.codecs import lz
from spicepy.codecs.image import _ALPHA_FORMATS, decode_pixels
from spicepy.errors import CanvasError
from spicepy.session.lookahead import MIN_PIXELS as _AHEAD_PIXELS
from spicepy.wire import msg_display as md
from spicepy.wire import types as wt
from spicepy.wire.enums import BrushType, ClipType, DisplayMsg, ImageFlags, ImageType
from spicepy.wire.layout import layout

__all__ = ["DisplayLane", "parse"]

cdef enum:
    FILL = 0
    COPY = 1
    BLEND = 2
    BITS = 3
    KINDS = 4
    NO_CLIP = 0  # Shape index: clip NONE, RECTS of 0, RECTS of 1 rectangle
    NO_RECT = 1
    ONE_RECT = 2
    FROM_CACHE = 0  # ImageShape index
    FROM_CACHE_LOSSLESS = 1
    SURFACE = 2
    LZ_RGB = 3  # (from here on: a stream of a self-contained codec)
    QUIC = 4
    LZ4 = 5
    IMAGE_KINDS = 6

cdef object _CLASSES = (md.DrawFill, md.DrawCopy, md.DrawBlend, md.CopyBits)
cdef unsigned int _NUMBERS[KINDS]
_NUMBERS[:] = [DisplayMsg.DRAW_FILL, DisplayMsg.DRAW_COPY, DisplayMsg.DRAW_BLEND,
               DisplayMsg.COPY_BITS]
cdef uint8_t _CLIP_NONE = ClipType.NONE
cdef uint8_t _CLIP_RECTS = ClipType.RECTS
cdef uint8_t _SOLID = BrushType.SOLID
cdef tuple _IMAGE_KINDS = (ImageType.FROM_CACHE, ImageType.FROM_CACHE_LOSSLESS,
                           ImageType.SURFACE, ImageType.LZ_RGB, ImageType.QUIC,
                           ImageType.LZ4)
cdef uint8_t _IMAGE_TYPES[IMAGE_KINDS]
_IMAGE_TYPES[:] = _IMAGE_KINDS
# an image a cache keeps (``Canvas.copy`` resolves it first, as the lane does)
cdef uint8_t _KEPT = ImageFlags.CACHE_ME | ImageFlags.CACHE_REPLACE_ME
cdef type _RECT = wt.Rect
cdef long _COPY_OP = Rop.COPY
cdef long _NOOP = Rop.NOOP
# the canvas's own resolved-ROP tables (a descriptor seen there first)
cdef dict _IMAGE_ROPS = _canvas._IMAGE_ROPS
cdef dict _BRUSH_ROPS = _canvas._BRUSH_ROPS


# -- where the fields are (from the schema, at import) ---------------------------------
cdef struct RectAt:
    Py_ssize_t top, left, bottom, right


cdef struct Shape:
    Py_ssize_t size  # the fixed part: the decoder reads it all
    Py_ssize_t surface_id, clip_type, num_rects  # (num_rects -1: no clip)
    RectAt box, clip  # (clip.top -1: no rectangle)
    # the draw's own fields, -1 where the class has none
    Py_ssize_t brush_type, color, rop, src_bitmap, mask_bitmap, src_x, src_y
    RectAt src_area


cdef struct ImageShape:
    Py_ssize_t size  # the fixed part (a stream's bytes follow it)
    Py_ssize_t id, type, flags, width, height
    Py_ssize_t surface_id, data_size  # (-1: none)


cdef Shape _SHAPES[KINDS][3]
cdef ImageShape _IMAGES[IMAGE_KINDS]


def _slot(lay, str path, int width, bint signed, bint optional=False):
    """The offset of ``path`` in ``lay``, which must be read as this integer."""
    got = lay.slots.get(path)
    if got is None and optional:
        return -1
    if got is None or got.width != width or got.signed != signed:
        raise TypeError(
            f"the display lane reads {path} as a {width}-byte "
            f"{'signed' if signed else 'unsigned'} integer; the schema has {got}"
        )
    return got.offset


def _rect_at(lay, str path, bint optional=False):
    top = _slot(lay, path + ".top", 4, True, optional)
    if top < 0:
        return {"top": -1, "left": -1, "bottom": -1, "right": -1}
    return {name: _slot(lay, f"{path}.{name}", 4, True)
            for name in ("top", "left", "bottom", "right")}


def _shape(cls, dict given):
    lay = layout(cls, given)
    if lay.size is None:
        raise TypeError(f"{cls.__name__} has no fixed layout for {given}")
    return {
        "size": lay.size,
        "surface_id": _slot(lay, "base.surface_id", 4, False),
        "clip_type": _slot(lay, "base.clip.type", 1, False),
        "num_rects": _slot(lay, "base.clip.num_rects", 4, False, True),
        "box": _rect_at(lay, "base.box"),
        "clip": _rect_at(lay, "base.clip.rects.0", True),
        "brush_type": _slot(lay, "data.brush.type", 1, False, True),
        "color": _slot(lay, "data.brush.color", 4, False, True),
        "rop": _slot(lay, "data.rop_descriptor", 2, False, True),
        "src_bitmap": _slot(lay, "data.src_bitmap", 4, False, True),
        "mask_bitmap": _slot(lay, "data.mask.bitmap", 4, False, True),
        "src_x": _slot(lay, "src_pos.x", 4, True, True),
        "src_y": _slot(lay, "src_pos.y", 4, True, True),
        "src_area": _rect_at(lay, "data.src_area", True),
    }


def _shapes():
    """Every Shape and ImageShape, from ``wire.layout`` (raises TypeError
    when the schema no longer has the fields where and as the lane reads)."""
    clips = (
        {"base.clip.type": ClipType.NONE},
        {"base.clip.type": ClipType.RECTS, "base.clip.num_rects": 0},
        {"base.clip.type": ClipType.RECTS, "base.clip.num_rects": 1},
    )
    shapes = []
    for kind, cls in enumerate(_CLASSES):
        row = []
        for given in clips:
            if kind == FILL:
                given = dict(given, **{"data.brush.type": BrushType.SOLID})
            row.append(_shape(cls, dict(given)))
        # the clip's shape is read before it is known: the same offsets in all
        if len({sh["clip_type"] for sh in row}) != 1 or row[NO_RECT]["num_rects"] != \
                row[ONE_RECT]["num_rects"] or row[ONE_RECT]["num_rects"] < 0:
            raise TypeError(f"{cls.__name__}: the clip's shape moves its fields")
        needed = {FILL: ("color", "rop", "brush_type", "mask_bitmap"),
                  COPY: ("rop", "src_bitmap", "mask_bitmap"),
                  BLEND: ("rop", "src_bitmap", "mask_bitmap"),
                  BITS: ("src_x", "src_y")}[kind]
        for sh in row:
            if any(sh[name] < 0 for name in needed) or (
                    kind in (COPY, BLEND) and sh["src_area"]["top"] < 0):
                raise TypeError(f"{cls.__name__}: a field the lane reads is gone")
        shapes.append(row)
    images = []
    for i, image_type in enumerate(_IMAGE_KINDS):
        # a stream laid out empty: its fixed part ends where its bytes start
        stream = i >= LZ_RGB
        lay = layout(wt.Image, {"descriptor.type": image_type,
                                **({"binary.data_size": 0} if stream else {})})
        if lay.size is None or (stream and lay.starts.get("binary.data") != lay.size):
            raise TypeError(f"Image of type {image_type} has no fixed layout")
        images.append({
            "size": lay.size,
            "id": _slot(lay, "descriptor.id", 8, False),
            "type": _slot(lay, "descriptor.type", 1, False),
            "flags": _slot(lay, "descriptor.flags", 1, False),
            "width": _slot(lay, "descriptor.width", 4, False),
            "height": _slot(lay, "descriptor.height", 4, False),
            "surface_id": _slot(lay, "surface.surface_id", 4, False,
                                image_type != ImageType.SURFACE),
            "data_size": _slot(lay, "binary.data_size", 4, False, not stream),
        })
    if len({im["type"] for im in images}) != 1:
        raise TypeError("Image: the type moves with the type")
    return shapes, images


def _load():
    cdef int k, c
    shapes, images = _shapes()
    for k in range(KINDS):
        for c in range(3):
            _SHAPES[k][c] = shapes[k][c]
    for k in range(IMAGE_KINDS):
        _IMAGES[k] = images[k]


_load()


def offsets():
    """The offsets the lane reads at (what ``_shapes`` derived), for tests."""
    return ([[_SHAPES[k][c] for c in range(3)] for k in range(KINDS)],
            [_IMAGES[k] for k in range(IMAGE_KINDS)])


# -- one draw read in place ------------------------------------------------------------
cdef struct Draw:
    int kind
    uint32_t surface_id
    Cut box, clip, src_area
    int nclip  # -1 no clip, 0 a clip of no rectangle, 1 ``clip``
    uint32_t color
    uint16_t rop
    int image  # ImageShape index
    uint64_t image_id
    uint32_t image_surface
    # a stream's (image >= LZ_RGB): its descriptor and where its bytes are
    uint8_t image_flags
    uint32_t image_width, image_height
    Py_ssize_t data, data_size
    int32_t src_x, src_y


cdef inline uint32_t _u32(const uint8_t* p) noexcept nogil:
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline int32_t _i32(const uint8_t* p) noexcept nogil:
    return <int32_t>_u32(p)


cdef inline uint64_t _le64(const uint8_t* p) noexcept nogil:
    return _u32(p) | (<uint64_t>_u32(p + 4) << 32)


cdef inline void _rect(const uint8_t* p, const RectAt* at, Cut* out) noexcept nogil:
    out.top = _i32(p + at.top)
    out.left = _i32(p + at.left)
    out.bottom = _i32(p + at.bottom)
    out.right = _i32(p + at.right)


cdef int _parse(int kind, const uint8_t* p, Py_ssize_t n, Draw* m) noexcept nogil:
    """Read the draw of ``kind`` from its ``n``-byte body at ``p`` into m: 1
    when the lane may take it (the decoder reads that body without error and
    to these values), 0 to decline."""
    cdef const Shape* sh = &_SHAPES[kind][NO_CLIP]
    cdef const ImageShape* im
    cdef uint32_t count, off, size
    cdef uint8_t t
    cdef int i
    if n < sh.clip_type + 1:
        return 0
    t = p[sh.clip_type]
    if t == _CLIP_NONE:
        m.nclip = -1
    elif t == _CLIP_RECTS:
        sh = &_SHAPES[kind][ONE_RECT]
        if n < sh.num_rects + 4:
            return 0
        count = _u32(p + sh.num_rects)
        if count > 1:
            return 0  # several rectangles: the general path's region
        m.nclip = count
        sh = &_SHAPES[kind][NO_RECT + count]
    else:
        return 0  # (the canvas refuses it)
    if n < sh.size:
        return 0  # truncated: the decoder raises
    m.kind = kind
    m.surface_id = _u32(p + sh.surface_id)
    _rect(p, &sh.box, &m.box)
    if m.nclip == 1:
        _rect(p, &sh.clip, &m.clip)
    if kind == BITS:
        m.src_x, m.src_y = _i32(p + sh.src_x), _i32(p + sh.src_y)
        return 1
    if _u32(p + sh.mask_bitmap) != 0:
        return 0  # a mask: the general path
    m.rop = p[sh.rop] | (<uint16_t>p[sh.rop + 1] << 8)
    if kind == FILL:
        if p[sh.brush_type] != _SOLID:
            return 0
        m.color = _u32(p + sh.color)
        return 1
    _rect(p, &sh.src_area, &m.src_area)
    off = _u32(p + sh.src_bitmap)
    # the decoder's pointer rule (0: no image; beyond the body: an error), then
    # the whole image inside the body
    if off == 0 or off > n:
        return 0
    im = &_IMAGES[0]
    if n - off < im.type + 1:
        return 0
    t = p[off + im.type]
    for i in range(IMAGE_KINDS):
        if t == _IMAGE_TYPES[i]:
            break
    else:
        return 0  # another image type: the general path
    im = &_IMAGES[i]
    if n - off < im.size:
        return 0
    m.image = i
    m.image_id = _le64(p + off + im.id)
    if im.surface_id >= 0:
        m.image_surface = _u32(p + off + im.surface_id)
    if im.data_size >= 0:
        m.image_flags = p[off + im.flags]
        if not m.image_flags & _KEPT:
            return 0  # no cache keeps it: the general path (ImageResolver.copy_onto)
        size = _u32(p + off + im.data_size)
        if size > n - off - im.size:
            return 0  # the stream runs past the body: the decoder raises
        m.image_width = _u32(p + off + im.width)
        m.image_height = _u32(p + off + im.height)
        m.data, m.data_size = off + im.size, size
    return 1


cdef int _kind(unsigned int msg_type) noexcept:
    cdef int k
    for k in range(KINDS):
        if _NUMBERS[k] == msg_type:
            return k
    return -1


def parse(unsigned int msg_type, const uint8_t[::1] body not None):
    """What the lane reads from a draw's body (a dict), or None when it declines
    before looking at any state: ``_parse`` for tests."""
    cdef Draw m
    cdef int kind = _kind(msg_type)
    if kind < 0:
        return None
    if body.shape[0] == 0:
        if not _parse(kind, <const uint8_t*>b"", 0, &m):
            return None
    elif not _parse(kind, &body[0], body.shape[0], &m):
        return None
    out = {"surface_id": m.surface_id,
           "box": (m.box.top, m.box.left, m.box.bottom, m.box.right),
           "clip": None if m.nclip < 0 else () if m.nclip == 0 else
                   ((m.clip.top, m.clip.left, m.clip.bottom, m.clip.right),)}
    if kind == BITS:
        out["src_pos"] = (m.src_x, m.src_y)
    elif kind == FILL:
        out["rop"], out["color"] = m.rop, m.color
    else:
        out["rop"] = m.rop
        out["src_area"] = (m.src_area.top, m.src_area.left, m.src_area.bottom,
                           m.src_area.right)
        out["image"] = (_IMAGE_TYPES[m.image], m.image_id,
                        m.image_surface if m.image == SURFACE else None)
        if m.image >= LZ_RGB:
            out["stream"] = (m.image_flags, m.image_width, m.image_height,
                             (<const char*>&body[0])[m.data : m.data + m.data_size])
    return out


cdef class _Member:
    """``getattr(o, name)``; for instances of the first class it met as a plain
    slot of, read straight from the slot (a surface's pixels, quantised...)."""

    cdef str name
    cdef type cls
    cdef Py_ssize_t offset

    def __init__(self, str name):
        self.name, self.cls, self.offset = name, None, 0

    cdef inline object get(self, object o):
        cdef PyObject* got
        cdef Py_ssize_t off
        if self.cls is None:
            off = slot_offset(type(o), self.name)
            if off > 0:
                self.cls, self.offset = type(o), off
        if type(o) is self.cls:
            got = (<PyObject**>((<char*><PyObject*>o) + self.offset))[0]
            if got != NULL:
                return <object>got
        return getattr(o, self.name)  # (an unset slot raises here)


# a draw's surface and source (a cache entry, or a surface for a SURFACE image)
cdef _Member _PIXELS = _Member("pixels"), _QUANTISED = _Member("quantised")
cdef _Member _OPAQUE_COPY = _Member("opaque_copy")
cdef _Member _SRC_PIXELS = _Member("pixels"), _SRC_ALPHA = _Member("has_alpha")
cdef _Member _SURFACE_ALPHA = _Member("has_alpha")


# where a wire ``Rect`` keeps top, left, bottom, right (``slot_offset``), or -1s:
# built from them in place of ``build_c``'s tuple of values
cdef Py_ssize_t _RECT_AT[4]
cdef tuple _NO_ARGS = ()
for _i, _name in enumerate(("top", "left", "bottom", "right")):
    _RECT_AT[_i] = slot_offset(_RECT, _name)


# a stream's decode: the codec's whole-stream C call for LZ (a small image's
# share of ``decode_pixels`` is ~9k Ir: as much as its pixels), ``decode_pixels``
# (the general path's own call) for the others
cdef object _LZ_DECODE = lz._impl.decode
cdef frozenset _LZ_ALPHA = frozenset(
    t.value for t in lz.ImageType if t.name in _ALPHA_FORMATS)
cdef type _NDARRAY = np.ndarray
# the fewest pixels of an image the look-ahead decodes on the second core
# (``session.lookahead``; none for LZ), by image kind
cdef uint64_t _AHEAD[IMAGE_KINDS]
_AHEAD[:] = [_AHEAD_PIXELS.get(int(t), 1 << 63) for t in _IMAGE_KINDS]


cdef inline double _seconds() noexcept nogil:
    """``time.perf_counter()`` (CLOCK_MONOTONIC on Linux), without the call."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef object _rect_of(const Cut* box):
    """``Rect(box.top, box.left, box.bottom, box.right)``."""
    cdef Py_ssize_t i
    cdef int64_t values[4]
    cdef object value
    values[0], values[1], values[2], values[3] = box.top, box.left, box.bottom, box.right
    if _RECT_AT[0] < 0 or _RECT_AT[1] < 0 or _RECT_AT[2] < 0 or _RECT_AT[3] < 0:
        return build_c(_RECT, (values[0], values[1], values[2], values[3]))
    obj = (<PyTypeObject*>_RECT).tp_new(_RECT, <PyObject*>_NO_ARGS, NULL)
    for i in range(4):
        value = PyLong_FromLongLong(values[i])
        Py_INCREF(value)  # the slot's own reference
        (<PyObject**>((<char*><PyObject*>obj) + _RECT_AT[i]))[0] = <PyObject*>value
    PyObject_GC_UnTrack(<void*>obj)  # integers only: no cycle through it
    return obj


cdef inline int _add(object counts, object key, int64_t n) except -1:
    """``counts[key] += n`` on a dict or defaultdict of ints."""
    cdef PyObject* got = PyDict_GetItemWithError(counts, key)
    PyDict_SetItem(counts, key, n if got == NULL else <object>got + n)
    return 0


cdef class DisplayLane(Lane):
    """The lane of display channel ``channel_id`` of ``core`` (module docstring).

    Per draw it keeps what the general path would write in C (the counts, the
    pixels drawn, the changed boxes); ``flush()`` writes it out, in the order
    the draws came, once the reader stops (``Channel._parse`` calls it after
    every run of reads: no event of the channel is delivered before it).  The
    only Python code that runs between the draws of one run is a fresh image's
    decode and ``ImageResolver.keep`` (the arena, the codec, the cache: none
    touches a surface, driver or hold queue), so what decides whether the
    lane may take draws at all (``ready``, the driver) and the last surface
    drawn on are looked up once per run.

    Args:
        core: the ``SessionCore``.
        channel_id: the display channel's id.
        max_changes: ``core.MAX_CHANGES``.
        clock: called for ``now`` when a run that took draws is flushed, or
            None: ``now`` is read (offline replay sets it per segment).
        observer: an object whose ``_readers`` say someone reads the events
            (the live ``Session``), or None.
    """

    cdef object core, drivers, channel_id
    cdef Py_ssize_t max_changes
    # what the driver last seen holds (each made once, in its __init__): read
    # here once per driver instead of once per message
    cdef object _drv, _canvas, _surfaces, _cached, _counts, _image_types
    cdef object _resolver, _shared
    cdef bint _monotonic  # clock is time.monotonic: read in C
    cdef public object clock
    cdef public double now
    cdef public object observer
    cdef public long long taken
    # -- the run: what it may do (0 not checked yet, 1 take, -1 decline) ------
    cdef int _run
    # the surface last drawn on in this run (_sid_ok: the fields below are it)
    cdef bint _sid_ok, _sid_quantised, _sid_opaque_copy
    cdef uint32_t _sid
    cdef object _sid_surface, _sid_pixels
    # the last descriptors resolved (the canvas's tables only ever grow)
    cdef int _image_desc, _brush_desc
    cdef long _image_op, _brush_op
    # -- what the run took, for flush() ---------------------------------------
    cdef int64_t _kinds[KINDS]
    cdef int64_t _images[IMAGE_KINDS]
    cdef int64_t _drawn, _draws
    cdef Cut* _boxes  # surface-0 changes in order (_nboxes of _cap)
    cdef Py_ssize_t _nboxes, _cap

    def __cinit__(self):
        self._boxes = NULL
        self._nboxes = self._cap = 0

    def __dealloc__(self):
        PyMem_Free(self._boxes)

    def __init__(self, core, channel_id, Py_ssize_t max_changes, clock=None,
                 observer=None):
        self.set_wanted({_NUMBERS[k]: _CLASSES[k] for k in range(KINDS)})
        self.core, self.drivers, self.channel_id = core, core.drivers, channel_id
        self.max_changes = max_changes
        self.clock, self.observer, self.now, self.taken = clock, observer, 0.0, 0
        self._monotonic = clock is time.monotonic
        self._image_desc = self._brush_desc = -1
        self._end_run()

    cdef inline void _end_run(self) noexcept:
        cdef int i
        self._run = 0
        self._sid_ok = False
        self._sid_surface = self._sid_pixels = None
        for i in range(KINDS):
            self._kinds[i] = 0
        for i in range(IMAGE_KINDS):
            self._images[i] = 0
        self._drawn = self._draws = 0
        self._nboxes = 0

    cdef object _driver(self):
        """The channel's driver when the lane may take messages now, else None."""
        cdef PyObject* got
        if not self.ready():
            return None
        got = PyDict_GetItemWithError(self.drivers, self.channel_id)
        if got == NULL:
            return None
        driver = <object>got
        if driver.streams_touched:
            return None
        if driver is not self._drv:
            canvas = driver.canvas
            self._drv, self._canvas = driver, canvas
            self._surfaces, self._cached = canvas.surfaces, canvas._cached
            self._resolver, self._shared = canvas.images, canvas.shared
            self._counts, self._image_types = driver.counts, driver.image_types
        return driver

    cdef int ready(self) except -1:
        # (not the driver: its LinkCompleted may be among the events waiting)
        core, obs = self.core, self.observer
        if core._holding or not core._plain_display or core.exact_changes:
            return 0
        return obs is None or not obs._readers

    cdef int _surface(self, uint32_t surface_id) except -1:
        """Make surface ``surface_id`` the run's ``_sid``: 0 when there is none."""
        cdef PyObject* got
        if self._sid_ok and self._sid == surface_id:
            return 1
        got = PyDict_GetItemWithError(self._surfaces, surface_id)
        if got == NULL:
            return 0
        surface = <object>got
        self._sid_pixels = _PIXELS.get(surface)
        self._sid_quantised = bool(_QUANTISED.get(surface))
        self._sid_opaque_copy = bool(_OPAQUE_COPY.get(surface))
        self._sid_surface, self._sid, self._sid_ok = surface, surface_id, True
        return 1

    cdef int _keep_box(self, const Cut* box) except -1:
        cdef Py_ssize_t cap
        cdef Cut* grown
        if self._nboxes == self._cap:
            cap = self._cap * 2 if self._cap else 64
            grown = <Cut*>PyMem_Realloc(self._boxes, cap * sizeof(Cut))
            if grown == NULL:
                raise MemoryError()
            self._boxes, self._cap = grown, cap
        self._boxes[self._nboxes] = box[0]
        self._nboxes += 1
        return 0

    cdef int offer(self, unsigned int msg_type, const uint8_t* body,
                   Py_ssize_t n) except -1:
        cdef PyObject* got
        cdef Draw m
        cdef int k = _kind(msg_type)
        cdef int64_t drawn
        cdef long op
        cdef bint opaque
        if k < 0 or not _parse(k, body, n, &m):
            return 0
        if self._run == 0:
            self._run = 1 if self._driver() is not None else -1
        if self._run < 0 or not self._surface(m.surface_id) or self._sid_quantised:
            return 0
        try:
            if k == COPY or k == BLEND:
                if (m.src_area.right - m.src_area.left != m.box.right - m.box.left
                        or m.src_area.bottom - m.src_area.top
                        != m.box.bottom - m.box.top):
                    return 0  # scaled: the general path
                if m.rop != self._image_desc:
                    got = PyDict_GetItemWithError(_IMAGE_ROPS, m.rop)
                    if got == NULL:
                        return 0
                    self._image_op, self._image_desc = <object>got, m.rop
                op = self._image_op
                if op == _NOOP:
                    return 0
                if m.image == SURFACE:
                    got = PyDict_GetItemWithError(self._surfaces, m.image_surface)
                    if got == NULL:
                        return 0
                    src = <object>got
                    src_pixels = _PIXELS.get(src)
                    alpha = _SURFACE_ALPHA.get(src)
                else:
                    if m.image < SURFACE:
                        got = PyDict_GetItemWithError(
                            self._cached, PyLong_FromUnsignedLongLong(m.image_id))
                        if got == NULL:
                            return 0
                        src = <object>got
                    else:
                        # the destination checked first: after the image is
                        # kept, nothing may decline (a fresh image is a good
                        # source, so blit_box then cannot raise)
                        fill_box(self._sid_pixels, &m.box, 0, &m.clip, 0, 0)
                        src = self._fresh(&m, body)
                        if src is None:
                            return 0
                    src_pixels = _SRC_PIXELS.get(src)
                    alpha = _SRC_ALPHA.get(src)
                opaque = op == _COPY_OP and self._sid_opaque_copy and not alpha
                drawn = blit_box(self._sid_pixels, &m.box, m.nclip, &m.clip,
                                 src_pixels, m.box.left - m.src_area.left,
                                 m.box.top - m.src_area.top, op, opaque)
                self._images[m.image] += 1
            elif k == FILL:
                if m.rop != self._brush_desc:
                    got = PyDict_GetItemWithError(_BRUSH_ROPS, m.rop)
                    if got == NULL:
                        return 0
                    self._brush_op, self._brush_desc = <object>got, m.rop
                op = self._brush_op
                if op == _NOOP:
                    return 0
                drawn = fill_box(self._sid_pixels, &m.box, m.nclip, &m.clip, op,
                                 m.color)
            else:
                if m.box.left == m.src_x and m.box.top == m.src_y:
                    return 0
                drawn = blit_box(self._sid_pixels, &m.box, m.nclip, &m.clip,
                                 self._sid_pixels, m.box.left - m.src_x,
                                 m.box.top - m.src_y, _COPY_OP, False)
        except CanvasError:
            return 0  # raised before any pixel: the canvas meets it and drops
        # what SessionCore._on_display_message / _apply / DisplayDriver.apply do,
        # written out by flush()
        self._drawn += drawn
        self._kinds[k] += 1
        self._draws += 1
        if m.surface_id == 0:
            self._keep_box(&m.box)
        self.taken += 1
        return 1

    cdef object _fresh(self, const Draw* m, const uint8_t* body):
        """The image of ``m``'s stream (a kept LZ_RGB, QUIC or LZ4 image)
        decoded and kept as ``ImageResolver.get`` would (``keep``: counts,
        HIGH_BITS_SET, the cache), or None to decline having changed nothing:
        where the general path's checks or decode would fail (it then raises
        the same error), a hook wants the wire image, or a live session
        decodes it off the loop thread.  Decoded as ``ImageResolver._decode``
        does, into ``take_pixels``."""
        cdef uint32_t w = m.image_width, h = m.image_height
        cdef uint64_t n = <uint64_t>w * h
        cdef double started
        resolver, shared = self._resolver, self._shared
        limits = shared.limits
        if resolver.decoded_hook is not None:
            return None
        # what a live session decodes off the loop thread: a large image
        # (``session.offload`` parks its connection) and one the look-ahead
        # decodes on the second core; the general path's (a small share of it)
        if n > limits.inline_decode_pixels or (
                limits.decode_ahead and n >= _AHEAD[m.image]):
            return None
        # (a size _decode refuses fails in the codec: the stream's header must
        # match it; the codecs check ``image_pixels`` against that header)
        max_pixels = limits.image_pixels
        started = _seconds()
        take = shared.take_pixels
        data = PyMemoryView_FromMemory(<char*>(body + m.data), m.data_size, PyBUF_READ)
        try:
            out = None if take is None or n < shared.take_pixels_min else take(h, w)
            if m.image == LZ_RGB:
                pixels, code = _LZ_DECODE(data, None, out, max_pixels)
                has_alpha = code in _LZ_ALPHA
            else:
                pixels, _, has_alpha, _ = decode_pixels(
                    _IMAGE_TYPES[m.image], data, width=w, height=h,
                    max_pixels=max_pixels, out=out)
        except Exception:
            return None  # the general path decodes it again and raises
        finally:
            data.release()  # (the codecs keep no view of the stream)
        if type(pixels) is not _NDARRAY or pixels.shape != (h, w, 4):
            return None  # (decode_pixels's check, for LZ's direct call)
        return resolver.keep(m.image_id, m.image_flags,
                             CachedImage(pixels, has_alpha), _seconds() - started)

    def flush(self):
        """Write out what the run took, as the general path writes it per
        message (``last_display_activity``, ``pixels_drawn``, ``counts``,
        ``image_types``, then per change in order: listeners, change list,
        ``change_count``; then the ``on_changes`` listeners once with all of
        them), and start a new run.  Returns the draws written.

        A change listener that raises drops that one change, as the general
        path drops its message's; the run's later changes are still noted
        (their draws are on the surface: the general path notes them when
        its caller reads on), and the first such error is raised at the end.
        """
        cdef timespec ts
        cdef Py_ssize_t i, nboxes = self._nboxes, most = self.max_changes
        cdef int64_t draws = self._draws, drawn = self._drawn
        cdef int64_t kinds[KINDS]
        cdef int64_t images[IMAGE_KINDS]
        if draws == 0:
            self._end_run()
            return 0
        for i in range(KINDS):
            kinds[i] = self._kinds[i]
        for i in range(IMAGE_KINDS):
            images[i] = self._images[i]
        boxes = [_rect_of(&self._boxes[i]) for i in range(nboxes)]
        self._end_run()  # before any Python runs: a listener may raise
        core = self.core
        if self._monotonic:  # what time.monotonic() returns, without the call
            clock_gettime(CLOCK_MONOTONIC, &ts)
            core.last_display_activity = ts.tv_sec + ts.tv_nsec * 1e-9
        elif self.clock is not None:
            core.last_display_activity = self.clock()
        else:
            core.last_display_activity = self.now
        canvas = self._canvas
        canvas.pixels_drawn += drawn
        for i in range(KINDS):
            if kinds[i]:
                _add(self._counts, _CLASSES[i], kinds[i])
        for i in range(IMAGE_KINDS):
            if images[i]:
                _add(self._image_types, PyLong_FromLong(_IMAGE_TYPES[i]), images[i])
        if not nboxes:
            return draws
        listeners, changes = core._change_listeners, core._changes
        channel_id = self.channel_id
        failed = None
        if listeners:  # each sees the change list as the general path left it
            noted = []
            for box in boxes:
                try:
                    for listener in listeners:
                        listener(channel_id, box)
                except Exception as exc:
                    if failed is None:
                        failed = exc
                    continue
                changes.append(box)
                core.change_count += 1
                if len(changes) > most:
                    del changes[: most // 2]
                noted.append(box)
            boxes = noted
        else:
            for box in boxes:
                changes.append(box)
                if len(changes) > most:
                    del changes[: most // 2]
            core.change_count += nboxes
        if boxes:
            for listener in core._batch_listeners:
                listener(channel_id, boxes)
        if failed is not None:
            raise failed
        return draws
