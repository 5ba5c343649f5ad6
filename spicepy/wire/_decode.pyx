# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Message decoding fast path: the read plans of ``plan.py`` run in C.

Same results and exceptions as ``schema.decode_struct`` (the reference twin): the
same frozen dataclasses with the same values, payload views, error classes and
error texts.  Read ``schema.py`` and ``plan.py`` first; this module only runs the
plan of each class (converted once into the typed nodes below).

Every read goes through ``_need`` against the body length before a byte is
touched; counts are checked against ``MAX_ARRAY_ITEMS`` and the bytes left before
a tuple is allocated; pointers are followed at most ``MAX_DEPTH`` deep and only
to offsets inside the body.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.memoryview cimport PyMemoryView_FromObject
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsUnsignedLongLongMask
from cpython.object cimport PyObject, PyObject_GenericSetAttr, PyTypeObject
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

import sys
from types import MemberDescriptorType


cdef extern from "Python.h":
    # the member of a __slots__ descriptor (cpython/descrobject.h, structmember.h)
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags

    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

    int PyObject_GC_IsTracked(object)
    void PyObject_GC_UnTrack(void*)

from spicepy.errors import WireError
from spicepy.wire.buffer import Buffer
from spicepy.wire.plan import CondKind, CountKind, Kind, compile_struct, direct_fields
from spicepy.wire.schema import MAX_ARRAY_ITEMS, MAX_DEPTH, MAX_MESSAGE_SIZE, Reader

__all__ = ["Lane", "MessageReader", "build", "decode_struct", "split_frames"]

cdef enum:
    MAX_FLAT = 16
    LAST_MAX = 128  # MAX_FLAT * 8
    K_INT = 0
    K_STRUCT = 1
    K_PTR = 2
    K_ARRAY = 3
    K_BYTES = 4
    K_REST = 5
    K_OTHER = 6
    C_CONST = 0
    C_FIELD = 1
    C_RASTER = 2
    C_CALL = 3
    MEMBER_OBJECT_EX = 16  # structmember.h T_OBJECT_EX: what __slots__ makes
    MEMBER_READONLY = 1
    T_ONE_OF = 0
    T_FLAGS = 1
    T_CALL = 2

# the plan's numbers are the ones above (checked once, so the enums cannot drift)
assert [int(k) for k in Kind] == list(range(7))
assert [int(k) for k in CountKind] == list(range(4))
assert [int(k) for k in CondKind] == list(range(3))

cdef int64_t MAX_ITEMS = MAX_ARRAY_ITEMS
cdef int64_t MAX_BODY = MAX_MESSAGE_SIZE
cdef int64_t MAX_LENGTH = MAX_ARRAY_ITEMS * 64  # schema._count's range
cdef int MAX_PTR_DEPTH = MAX_DEPTH
cdef int64_t U32_END = 1LL << 32
cdef int64_t PRODUCT_LIMIT = 1LL << 62  # raster bytes computed in C below this
cdef tuple EMPTY = ()
cdef bint LITTLE = sys.byteorder == "little"


# -- the plan as typed nodes --------------------------------------------------------------
cdef class _Count:
    cdef int kind
    cdef int64_t const_
    cdef Py_ssize_t slot, slot2
    cdef int64_t bpp
    cdef object limit, what, func, const_obj


cdef class _Cond:
    cdef int kind
    cdef Py_ssize_t slot
    cdef object attr, choices, func
    cdef bint negate, any_bit
    cdef uint64_t mask, equal
    # ONE_OF whose choices are all integers 0..255: them as a bitmap (``small``)
    cdef bint small
    cdef uint64_t bits[4]
    # ONE_OF on an attribute: the class it was first read from and where that
    # class keeps it (``_attr``)
    cdef type attr_type
    cdef Py_ssize_t attr_offset


cdef class _Value:
    cdef int kind, width
    cdef bint signed, view
    cdef _Struct struct
    cdef _Value target
    cdef _Count count
    cdef int64_t min_size
    cdef object wtype


cdef class _Struct:
    cdef type cls
    cdef Py_ssize_t n
    cdef list names, values, conds
    cdef bint direct
    cdef str cls_name
    # flat: integers only, no conditions, built directly (Rect, Point, descriptors):
    # one bounds check for all of them, no list of values
    cdef bint flat
    cdef int64_t flat_size
    cdef int widths[MAX_FLAT]
    cdef bint signs[MAX_FLAT]
    # pure: a frozen slotted struct read from its own bytes alone (integers,
    # inline structs and arrays of them; conditions and counts on its own
    # fields), so the same bytes always give an equal value.  ``last``: the last
    # flat or pure instance built, from the ``last_size`` bytes kept in
    # ``last_bytes``; the same bytes again give that (immutable) instance back
    # (a QMask's Point(0, 0), an unclipped draw's Clip, repeated Rects)
    cdef bint pure
    cdef object last
    cdef Py_ssize_t last_size
    cdef uint8_t last_bytes[LAST_MAX]
    # direct: where each field's __slots__ member lives in the object, so it is
    # stored as the member descriptor would, without looking the name up (NULL:
    # a member that is not a plain object slot; PyObject_GenericSetAttr then)
    cdef Py_ssize_t* offsets

    def __dealloc__(self):
        PyMem_Free(self.offsets)


cdef dict _STRUCTS = {}


cdef Py_ssize_t slot_offset(type cls, str name) except -2:
    """Offset of the __slots__ member ``name`` of ``cls`` (a plain writable
    object slot, read as ``*(PyObject**)((char*)obj + offset)``, NULL while
    unset), or -1."""
    for klass in cls.__mro__:
        d = klass.__dict__.get(name)
        if d is not None:
            break
    else:
        return -1
    if type(d) is not MemberDescriptorType:
        return -1
    cdef PyMemberDef* m = (<PyMemberDescrObject*><PyObject*>d).d_member
    if m.type != MEMBER_OBJECT_EX or m.flags & MEMBER_READONLY or m.offset <= 0:
        return -1
    return m.offset


cdef int _set_offsets(_Struct s) except -1:
    cdef Py_ssize_t i, off
    cdef list offs = []
    for i in range(s.n):
        off = slot_offset(s.cls, s.names[i])
        if off < 0:
            return 0
        offs.append(off)
    s.offsets = <Py_ssize_t*>PyMem_Malloc(max(s.n, 1) * sizeof(Py_ssize_t))
    if s.offsets == NULL:
        raise MemoryError()
    for i in range(s.n):
        s.offsets[i] = offs[i]
    return 0


cdef inline void _leaf(object obj, list vals, Py_ssize_t n):
    """Take a decoded ``obj`` off the collector's lists when none of its ``n``
    values is on them.  A decoded value is frozen (nothing stores into it
    afterwards), so one that holds only such values can never close a cycle
    and the collector need not walk it at every young collection (CPython
    untracks tuples and dicts of atoms the same way).  Payload views stay
    tracked, and so does whatever holds one."""
    cdef Py_ssize_t k
    for k in range(n):
        if PyObject_GC_IsTracked(vals[k]):
            return
    PyObject_GC_UnTrack(<void*>obj)


cdef inline void _leaf_tuple(tuple t):
    """``_leaf`` for a decoded array."""
    cdef object item
    for item in t:
        if PyObject_GC_IsTracked(item):
            return
    PyObject_GC_UnTrack(<void*>t)


cdef inline int _store(_Struct s, object obj, Py_ssize_t i, object value) except -1:
    """Field ``i`` of a new ``s.cls`` instance (what its frozen __init__ does)."""
    cdef PyObject** slot
    cdef PyObject* old
    if s.offsets == NULL:
        return PyObject_GenericSetAttr(obj, s.names[i], value)
    slot = <PyObject**>((<char*><PyObject*>obj) + s.offsets[i])
    old = slot[0]
    Py_INCREF(value)
    slot[0] = <PyObject*>value
    Py_XDECREF(old)
    return 0


cdef _Struct _struct_of(type cls):
    cdef _Struct s = _STRUCTS.get(cls)
    if s is not None:
        return s
    cdef Py_ssize_t i
    cdef _Value v
    plan = compile_struct(cls)
    s = _Struct()
    s.cls, s.cls_name, s.direct = cls, cls.__name__, plan.direct
    _STRUCTS[cls] = s  # before the fields: a struct may contain itself
    # (plain loops: this runs inside a session's first display messages)
    s.names, s.values, s.conds = [], [], []
    for f in plan.fields:
        s.names.append(f.name)
        s.values.append(_value_of(f.value))
        s.conds.append(None if f.cond is None else _cond_of(f.cond))
    s.n = len(s.names)
    if s.direct:
        _set_offsets(s)
    s.flat = s.direct and 0 < s.n <= MAX_FLAT
    s.pure = s.direct
    s.flat_size = 0
    for i in range(s.n):
        v = <_Value>s.values[i]
        if s.conds[i] is not None or v.kind != K_INT:
            s.flat = False
        if not _pure_value(v) or (
            s.conds[i] is not None and (<_Cond>s.conds[i]).kind == T_CALL
        ):
            s.pure = False
    if s.flat:
        for i in range(s.n):
            v = <_Value>s.values[i]
            s.widths[i], s.signs[i] = v.width, v.signed
            s.flat_size += v.width
    s.pure = s.pure and not s.flat
    return s


cdef bint _pure_value(_Value v):
    """``v`` is read from its own bytes alone (see ``_Struct.pure``)."""
    if v.kind == K_INT:
        return True
    if v.kind == K_STRUCT:  # (a struct still being built, itself: not pure)
        return v.struct.flat or v.struct.pure
    if v.kind == K_ARRAY:
        return v.count is not None and v.count.kind != C_CALL and _pure_value(v.target)
    return False


cdef _Value _value_of(vp):
    cdef _Value v = _Value()
    v.kind, v.width, v.signed, v.view = int(vp.kind), vp.width, vp.signed, vp.view
    v.min_size = vp.min_size
    if v.kind == K_ARRAY and not 1 <= v.min_size <= (1 << 30):
        v.kind, v.wtype = K_OTHER, None  # no such definition; keep n * size in int64
    if vp.struct is not None:
        v.struct = _struct_of(vp.struct)
    if vp.target is not None:
        v.target = _value_of(vp.target)
    if vp.count is not None:
        v.count = _count_of(vp.count)
    v.wtype = vp.wtype
    if v.kind == K_OTHER and v.wtype is None:
        raise ValueError("plan has an OTHER value without its wire type")
    return v


cdef _Count _count_of(cp):
    cdef _Count c = _Count()
    c.kind, c.slot, c.slot2, c.bpp = int(cp.kind), cp.slot, cp.slot2, cp.bpp
    c.limit, c.what, c.func, c.const_obj = cp.limit, cp.what, cp.func, cp.const
    c.const_ = cp.const if 0 <= cp.const <= MAX_LENGTH else -1
    return c


cdef _Cond _cond_of(tp):
    cdef _Cond c = _Cond()
    c.kind, c.slot, c.attr, c.choices = int(tp.kind), tp.slot, tp.attr, tp.choices
    c.negate, c.func, c.mask = tp.negate, tp.func, tp.mask
    c.any_bit = tp.equal is None
    c.equal = 0 if tp.equal is None else tp.equal
    c.small = c.kind == T_ONE_OF
    for x in c.choices:
        if not (isinstance(x, int) and 0 <= x <= 255):
            c.small = False
    c.bits[0] = c.bits[1] = c.bits[2] = c.bits[3] = 0
    if c.small:
        for x in c.choices:
            c.bits[x >> 6] |= 1ULL << (x & 63)
    return c


# -- one decode ---------------------------------------------------------------------------
cdef class _Body:
    cdef const uint8_t* p
    cdef Py_ssize_t n
    cdef object obj  # what the reference's Buffer would wrap (None: made from mv)
    # a read-only byte view holding the body at ``base`` (made at the first view
    # field from ``obj``; MessageReader sets it to the whole chunk instead)
    cdef object mv
    cdef Py_ssize_t base

    cdef object view(self, Py_ssize_t pos, Py_ssize_t n):
        if self.mv is None:  # Buffer(obj).view, without the Python constructor
            if type(self.obj) is bytes:
                self.mv = PyMemoryView_FromObject(self.obj)
            else:
                self.mv = PyMemoryView_FromObject(self.obj).cast("B").toreadonly()
        return self.mv[self.base + pos : self.base + pos + n]

    cdef object body(self):
        if self.obj is None:
            self.obj = self.mv[self.base : self.base + self.n]
        return self.obj

    # the values read so far of each struct being read, one list per nesting
    # level, kept for the next body (MessageReader reuses its _Body); entries
    # are None between uses
    cdef list pool
    cdef Py_ssize_t level

    cdef list take_vals(self, Py_ssize_t n):
        cdef list vals
        if self.pool is None:
            self.pool = []
        if self.level < len(self.pool):
            vals = self.pool[self.level]
            if len(vals) < n:
                vals.extend([None] * (n - len(vals)))
        else:
            vals = [None] * n
            self.pool.append(vals)
        self.level += 1
        return vals

    cdef void give_vals(self, list vals, Py_ssize_t n) noexcept:
        cdef Py_ssize_t k
        for k in range(n):
            vals[k] = None
        self.level -= 1


cdef int _need(_Body b, Py_ssize_t pos, int64_t n) except -1:
    if n < 0 or n > b.n - pos:
        raise WireError(f"truncated: need {n} bytes at offset {pos}, have {b.n - pos}")
    return 0


cdef inline uint64_t _le(const uint8_t* p, int width) noexcept nogil:
    cdef uint64_t u = 0
    cdef uint32_t u32
    cdef uint16_t u16
    cdef int k
    if LITTLE:  # the host's order is the wire's: one load
        if width == 4:
            memcpy(&u32, p, 4)
            return u32
        if width == 2:
            memcpy(&u16, p, 2)
            return u16
        if width == 1:
            return p[0]
        if width == 8:
            memcpy(&u, p, 8)
            return u
    for k in range(width - 1, -1, -1):
        u = (u << 8) | p[k]
    return u


cdef object _read_int(_Body b, Py_ssize_t* pos, int width, bint signed):
    _need(b, pos[0], width)
    cdef uint64_t u = _le(b.p + pos[0], width)
    pos[0] += width
    return _int_value(u, width, signed)


cdef inline object _int_value(uint64_t u, int width, bint signed):
    if not signed:
        return u
    if width == 1:
        return <int64_t>(<signed char>u)
    if width == 2:
        return <int64_t>(<short>u)
    if width == 4:
        return <int64_t>(<int>u)
    return <int64_t>u


cdef dict _so_far(_Struct s, list vals, Py_ssize_t upto):
    """The reference engine's ``values``: every field before ``upto``."""
    cdef dict d = {}
    cdef Py_ssize_t k
    for k in range(upto):
        d[s.names[k]] = vals[k]
    return d


cdef object _attr(_Cond c, object o):
    """``getattr(o, c.attr)``; from an instance of the first class seen with it
    as a plain slot (an Image's descriptor.type, read by six conditions per
    image), straight from that slot."""
    cdef PyObject* got
    cdef Py_ssize_t off
    if c.attr_type is None:
        off = slot_offset(type(o), c.attr)
        if off > 0:
            c.attr_type, c.attr_offset = type(o), off
    if type(o) is c.attr_type:
        got = (<PyObject**>((<char*><PyObject*>o) + c.attr_offset))[0]
        if got != NULL:
            return <object>got
    return getattr(o, c.attr)  # (an empty slot raises AttributeError here)


cdef bint _present(_Cond c, _Struct s, list vals, Py_ssize_t i) except -1:
    cdef object o
    if c.kind == T_FLAGS:
        o = vals[c.slot]
        if o is None:
            int(o)  # the reference's int(values[name]): the same TypeError
        bits = PyLong_AsUnsignedLongLongMask(o) & c.mask
        return bits != 0 if c.any_bit else bits == c.equal
    cdef int overflow = 0
    cdef long long v
    if c.kind == T_ONE_OF:
        o = vals[c.slot]
        if c.attr is not None:
            o = _attr(c, o)
        if c.small and type(o) is int:  # an int the decoder read: the bitmap
            v = PyLong_AsLongLongAndOverflow(o, &overflow)
            if overflow or not 0 <= v <= 255:
                return c.negate
            return ((c.bits[v >> 6] >> (v & 63)) & 1) != c.negate
        return (o in c.choices) != c.negate
    return bool(c.func(_so_far(s, vals, i)))


cdef int64_t _checked(object n) except -1:
    """schema._count's range check on a Python int."""
    cdef int overflow = 0
    cdef int64_t x = 0
    if type(n) is int:
        x = PyLong_AsLongLongAndOverflow(n, &overflow)
    else:
        overflow = 1
    if overflow or x < 0 or x > MAX_LENGTH:
        if n < 0 or n > MAX_LENGTH:
            raise WireError(f"length {n} out of range")
        return n  # an int subclass in range
    return x


cdef int64_t _count(_Count c, _Struct s, list vals, Py_ssize_t i) except -1:
    cdef object o, w, h, n
    cdef int64_t wi, hi, a
    if c.kind == C_CONST:
        if c.const_ < 0:
            return _checked(c.const_obj)
        return c.const_
    if c.kind == C_FIELD:
        o = vals[c.slot]
        return _checked(o if type(o) is int else int(o))
    if c.kind == C_CALL:
        return _checked(int(c.func(_so_far(s, vals, i))))
    w, h = vals[c.slot], vals[c.slot2]
    if w is not None and h is not None and 0 <= w < U32_END and 0 <= h < U32_END:
        wi, hi = w, h
        a = (c.bpp * wi + 7) >> 3
        if hi == 0 or a <= PRODUCT_LIMIT // hi:
            n = a * hi
        else:
            n = a * int(h)
    else:
        n = ((c.bpp * int(w) + 7) // 8) * int(h)
    if c.limit is not None and n > c.limit:
        raise WireError(f"{c.what} of {n} bytes is too big")
    return _checked(n)


cdef object _read(_Body b, _Value v, Py_ssize_t* pos, int depth, _Struct s,
                  list vals, Py_ssize_t i):
    """One value of field ``i`` of ``s`` (whose values so far are ``vals``)."""
    cdef Py_ssize_t at, k
    cdef int64_t n
    cdef uint64_t off
    cdef object item
    cdef tuple out
    if v.kind == K_INT:
        return _read_int(b, pos, v.width, v.signed)
    if v.kind == K_STRUCT:
        return _read_struct(b, v.struct, pos, depth)
    if v.kind == K_PTR:
        _need(b, pos[0], 4)
        off = _le(b.p + pos[0], 4)
        pos[0] += 4
        if off == 0:
            return None
        if depth >= MAX_PTR_DEPTH:
            raise WireError("pointers nested too deeply")
        if off > <uint64_t>b.n:
            raise WireError(f"pointer {off} outside the {b.n}-byte body")
        at = <Py_ssize_t>off
        return _read(b, v.target, &at, depth + 1, s, vals, i)
    if v.kind == K_BYTES or v.kind == K_REST:
        n = _count(v.count, s, vals, i) if v.kind == K_BYTES else b.n - pos[0]
        _need(b, pos[0], n)
        at = pos[0]
        pos[0] += n
        if v.view:
            return b.view(at, n)
        return PyBytes_FromStringAndSize(<const char*>b.p + at, n)
    if v.kind == K_ARRAY:
        if v.count is None:
            return _read_to_end(b, v, pos, depth, s, vals, i)
        n = _count(v.count, s, vals, i)
        if n > MAX_ITEMS or n * v.min_size > b.n - pos[0]:
            raise WireError(
                f"array of {n} items does not fit in {b.n - pos[0]} bytes"
            )
        out = PyTuple_New(n)
        for k in range(n):
            item = _read(b, v.target, pos, depth, s, vals, i)
            Py_INCREF(item)
            PyTuple_SET_ITEM(out, k, item)
        _leaf_tuple(out)
        return out
    return _read_other(b, v, pos, depth, s, vals, i)


cdef tuple _read_to_end(_Body b, _Value v, Py_ssize_t* pos, int depth, _Struct s,
                        list vals, Py_ssize_t i):
    cdef list out = []
    cdef Py_ssize_t before
    while b.n - pos[0] >= v.min_size:
        before = pos[0]
        out.append(_read(b, v.target, pos, depth, s, vals, i))
        if pos[0] == before:
            raise WireError("array element of no bytes before @end")
    cdef tuple t = tuple(out)
    _leaf_tuple(t)
    return t


cdef object _read_other(_Body b, _Value v, Py_ssize_t* pos, int depth, _Struct s,
                        list vals, Py_ssize_t i):
    """A wire type the plan does not know: the reference engine reads it in place."""
    buf = Buffer(b.body())
    buf.seek(pos[0])
    out = v.wtype.pull(Reader(buf, depth), _so_far(s, vals, i))
    pos[0] = buf.position
    return out


cdef object _read_struct(_Body b, _Struct s, Py_ssize_t* pos, int depth):
    cdef Py_ssize_t i
    cdef object c, obj
    cdef const uint8_t* src = b.p + pos[0]
    cdef Py_ssize_t start = pos[0], used
    if s.flat and s.flat_size <= b.n - pos[0]:
        if s.last is not None and memcmp(src, s.last_bytes, s.flat_size) == 0:
            pos[0] += s.flat_size
            return s.last
        obj = (<PyTypeObject*>s.cls).tp_new(s.cls, <PyObject*>EMPTY, NULL)
        for i in range(s.n):
            _store(s, obj, i, _int_value(_le(b.p + pos[0], s.widths[i]),
                                         s.widths[i], s.signs[i]))
            pos[0] += s.widths[i]
        PyObject_GC_UnTrack(<void*>obj)  # integers only (``_leaf``)
        memcpy(s.last_bytes, src, s.flat_size)
        s.last = obj
        return obj
    # (a flat struct cut short goes the long way, which names the field that is cut)
    if (s.pure and s.last is not None and s.last_size <= b.n - start
            and memcmp(src, s.last_bytes, s.last_size) == 0):
        pos[0] = start + s.last_size  # the same bytes: the same value
        return s.last
    cdef list vals = b.take_vals(s.n)
    try:
        for i in range(s.n):
            c = s.conds[i]
            if c is not None and not _present(<_Cond>c, s, vals, i):
                continue
            vals[i] = _read(b, <_Value>s.values[i], pos, depth, s, vals, i)
        obj = _build(s, vals)
    finally:
        b.give_vals(vals, s.n)
    used = pos[0] - start
    if s.pure and used <= LAST_MAX:
        memcpy(s.last_bytes, src, used)
        s.last, s.last_size = obj, used
    return obj


cdef object _build(_Struct s, list vals):
    cdef Py_ssize_t i
    if s.direct:
        # what the dataclass __init__ does for a frozen slotted class, minus the calls
        obj = (<PyTypeObject*>s.cls).tp_new(s.cls, <PyObject*>EMPTY, NULL)
        for i in range(s.n):
            _store(s, obj, i, vals[i])
        _leaf(obj, vals, s.n)
        return obj
    try:
        return s.cls(**_so_far(s, vals, s.n))
    except (TypeError, ValueError) as exc:  # a __post_init__ check
        raise WireError(f"{s.cls_name}: {exc}") from exc


def decode_struct(type cls, body):
    """Parse ``body`` as one ``cls`` (trailing bytes ignored): ``schema.decode_struct``.

    Raises:
        WireError: truncated or inconsistent body.
    """
    cdef _Struct s = _struct_of(cls)
    cdef _Body b = _Body()
    cdef Py_buffer pybuf
    cdef Py_ssize_t pos = 0
    cdef bint release = False
    if type(body) is bytes:
        b.obj = body
        b.p = <const uint8_t*>PyBytes_AS_STRING(body)
        b.n = len(<bytes>body)
    else:
        b.obj = body
        try:
            PyObject_GetBuffer(body, &pybuf, PyBUF_SIMPLE)
        except BufferError:
            # not contiguous: Buffer(body) raises its own error here, or copes
            b.obj = memoryview(body).cast("B")
            PyObject_GetBuffer(b.obj, &pybuf, PyBUF_SIMPLE)
        release = True
        b.p, b.n = <const uint8_t*>pybuf.buf, pybuf.len
    try:
        return _read_struct(b, s, &pos, 0)
    except (IndexError, KeyError, OverflowError, UnicodeDecodeError) as exc:
        raise WireError(f"{cls.__name__}: {exc}") from exc
    finally:
        if release:
            PyBuffer_Release(&pybuf)


# -- building a record --------------------------------------------------------------------
cdef dict _RECORDS = {}  # class -> _Struct (fields and slots only) or None: call it


cdef object _record_of(type cls):
    """The fields and slots of a frozen slotted dataclass (``_Struct``), or None."""
    cdef _Struct s
    cdef PyObject* known = PyDict_GetItem(_RECORDS, cls)  # (a type hashes safely)
    if known != NULL:
        return <object>known
    names = direct_fields(cls)
    if names is None:
        got = None
    else:
        s = _Struct()
        s.cls, s.cls_name, s.direct = cls, cls.__name__, True
        s.names, s.n = list(names), len(names)
        _set_offsets(s)
        got = s
    _RECORDS[cls] = got
    return got


def build(type cls, tuple values):
    """``cls(*values)`` for a frozen slotted dataclass (``plan.direct_fields``):
    its slots set in C instead of by its ``__init__``'s ``object.__setattr__``
    calls (the channel machines' events); any other class is called.

    Raises:
        TypeError: not one value per field (as ``__init__`` would).
    """
    return build_c(cls, values)


cdef object build_c(type cls, tuple values):
    cdef Py_ssize_t i
    cdef _Struct s
    got = _record_of(cls)
    if got is None:
        return cls(*values)
    s = <_Struct>got
    if len(values) != s.n:
        raise TypeError(f"{s.cls_name} takes {s.n} values, got {len(values)}")
    obj = (<PyTypeObject*>s.cls).tp_new(s.cls, <PyObject*>EMPTY, NULL)
    for i in range(s.n):
        _store(s, obj, i, values[i])
    return obj


# -- framing --------------------------------------------------------------------------
cdef struct _Frame:
    unsigned int msg_type
    uint64_t serial, sub_list  # 0 with a mini header
    Py_ssize_t body, end  # where its body starts, where it ends


cdef inline bint _whole(const uint8_t* p, Py_ssize_t n, Py_ssize_t pos, bint mini,
                        int64_t limit, _Frame* f) noexcept nogil:
    """A whole message starts at ``pos`` of the ``n`` bytes at ``p`` (its header
    read into ``f``): a whole header, a size within ``limit``, a whole body
    (``headers.frame_at``; the one reading of a header for ``split_frames`` and
    ``MessageReader``)."""
    cdef Py_ssize_t hsize = 6 if mini else 18
    cdef int64_t size
    if n - pos < hsize:
        return False
    if mini:
        f.msg_type = <unsigned int>_le(p + pos, 2)
        size = <int64_t>_le(p + pos + 2, 4)
        f.serial = f.sub_list = 0
    else:
        f.serial = _le(p + pos, 8)
        f.msg_type = <unsigned int>_le(p + pos + 8, 2)
        size = <int64_t>_le(p + pos + 10, 4)
        f.sub_list = _le(p + pos + 14, 4)
    f.body = pos + hsize
    f.end = f.body + size  # (a u32 size: no overflow)
    return size <= limit and f.end <= n


def split_frames(data, bint mini_header, Py_ssize_t start=0,
                 int64_t max_size=MAX_MESSAGE_SIZE):
    """``headers.split_frames_ref``: whole messages from ``start`` and where they stop.

    Raises:
        ValueError: ``start`` outside ``data``.
    """
    cdef Py_buffer pybuf
    cdef const uint8_t* p
    cdef Py_ssize_t n, pos = start
    cdef int64_t limit = max_size if max_size < MAX_BODY else MAX_BODY
    cdef _Frame f
    cdef list frames = []
    PyObject_GetBuffer(data, &pybuf, PyBUF_SIMPLE)
    try:
        p, n = <const uint8_t*>pybuf.buf, pybuf.len
        if not 0 <= start <= n:
            raise ValueError(f"start {start} outside {n} bytes")
        while _whole(p, n, pos, mini_header, limit, &f):
            frames.append(
                (f.msg_type, data[f.body : f.end], f.serial, f.sub_list, pos, f.end)
            )
            pos = f.end
    finally:
        PyBuffer_Release(&pybuf)
    return frames, pos


# -- a lane: messages applied in C before any event (``_decode.pxd``) ---------------------
cdef class Lane:
    """The base of a lane (``stream`` module docstring): ``wants(n)`` says the
    lane may take message number ``n`` (set by ``set_wanted``, which also
    names the class the lane reads it as: the reader it is given to must
    decode that number as that class); ``ready()`` that it may take messages
    at all now (else the reader neither offers nor stops for it); ``offer``
    gets the body of each such message while no event of its channel waits,
    before it is decoded, and returns 1 when it applied it completely (the
    message is then never decoded: the lane must take only bodies the decoder
    reads without error), 0 when it declines having changed nothing (the
    message then takes the general path).  This base declines everything."""

    def set_wanted(self, classes):
        """The message numbers (0..511) ``offer`` may be called with, each
        with the message class the lane reads it as."""
        cdef int i
        for i in range(8):
            self.wanted[i] = 0
        self.classes = dict(classes)
        for n in self.classes:
            if not 0 <= n < 512:
                raise ValueError(f"message number {n} outside 0..511")
            self.wanted[n >> 6] |= (<uint64_t>1) << (n & 63)

    cdef bint wants(self, unsigned int msg_type) noexcept:
        return msg_type < 512 and (self.wanted[msg_type >> 6] >> (msg_type & 63)) & 1

    cdef int ready(self) except -1:
        return 1

    cdef int offer(self, unsigned int msg_type, const uint8_t* body,
                   Py_ssize_t n) except -1:
        return 0


# -- a channel's own messages, read in a row (``stream.MessageReaderRef``) ---------------
cdef inline bint _plain_view(object view):
    """A read-only 1-D byte memoryview: payload views may be slices of it."""
    return (type(view) is memoryview and view.readonly and view.ndim == 1
            and view.format == "B" and view.c_contiguous)


cdef class MessageReader:
    """``stream.MessageReaderRef`` in C: the same returns, events and counts.

    Each taken message is decoded straight from the chunk (its payload views
    are slices of one read-only view of it) and its event built as ``build``
    builds it; the per-type counts are added to ``counts`` once per ``read``.
    """

    cdef dict table  # msg_type -> message class, as given
    cdef list structs  # msg_type - lo -> the class, its _Struct once used, or None
    cdef list keys  # msg_type - lo -> that number as a Python int
    cdef Py_ssize_t lo, width
    cdef int64_t* taken_by_type
    # the indices whose taken_by_type went above 0 in this read (n_touched of them)
    cdef Py_ssize_t* touched
    cdef Py_ssize_t n_touched
    cdef object channel_type, wrap_cls, append
    cdef object wrap  # _Struct of a frozen slotted event class, or None: call it
    cdef object counts  # a dict or a subclass (defaultdict)
    cdef _Body body
    cdef object events  # where the events go (its truth: an event waits)
    cdef Lane _lane  # or None

    def __cinit__(self):
        self.taken_by_type = NULL
        self.touched = NULL

    def __dealloc__(self):
        PyMem_Free(self.taken_by_type)
        PyMem_Free(self.touched)

    def __init__(self, dict table, channel_type, type wrap, events, counts):
        cdef Py_ssize_t i
        self.table = table
        types = sorted(t for t in table if type(t) is int and 0 <= t <= 0xFFFF)
        self.lo = types[0] if types else 0
        self.width = types[len(types) - 1] - self.lo + 1 if types else 0
        self.structs = [None] * self.width
        self.keys = [None] * self.width
        for t in types:
            cls = table[t]
            if not isinstance(cls, type):
                raise TypeError(f"message {t}: {cls!r} is not a class")
            self.structs[t - self.lo], self.keys[t - self.lo] = cls, t
        # the read plans now (the machine is being made), not inside the
        # channel's first burst (text-lz's window spent ~10M Ir building them)
        for i in range(self.width):
            cls = self.structs[i]
            if cls is not None:
                try:
                    self.structs[i] = _struct_of(cls)
                except Exception:  # read lazily: the general path reports it
                    pass
        self.taken_by_type = <int64_t*>PyMem_Malloc(max(self.width, 1) * sizeof(int64_t))
        self.touched = <Py_ssize_t*>PyMem_Malloc(max(self.width, 1) * sizeof(Py_ssize_t))
        if self.taken_by_type == NULL or self.touched == NULL:
            raise MemoryError()
        for i in range(self.width):
            self.taken_by_type[i] = 0
        self.n_touched = 0
        self.channel_type, self.wrap_cls = channel_type, wrap
        self.wrap = _record_of(wrap)
        if self.wrap is not None and (<_Struct>self.wrap).n != 4:
            self.wrap = None
        self.append = events.append
        self.events = events
        self._lane = None
        if not isinstance(counts, dict):
            raise TypeError("counts must be a dict")
        self.counts = counts
        self.body = _Body()

    @property
    def lane(self):
        """The ``Lane`` offered the wanted messages, or None (see ``read``)."""
        return self._lane

    @lane.setter
    def lane(self, Lane lane):
        if lane is not None:
            for n, cls in (lane.classes or {}).items():
                if self.table.get(n) is not cls:
                    raise ValueError(
                        f"the lane reads message {n} as {cls.__name__}, this "
                        f"channel as {getattr(self.table.get(n), '__name__', None)}"
                    )
        self._lane = lane

    cdef object _event(self, unsigned int msg_type, uint64_t serial, object msg):
        cdef _Struct s
        if self.wrap is None:
            return self.wrap_cls(self.channel_type, msg_type, serial, msg)
        s = <_Struct>self.wrap
        obj = (<PyTypeObject*>s.cls).tp_new(s.cls, <PyObject*>EMPTY, NULL)
        _store(s, obj, 0, self.channel_type)
        _store(s, obj, 1, msg_type)
        _store(s, obj, 2, serial)
        _store(s, obj, 3, msg)
        if not PyObject_GC_IsTracked(msg):  # the rest are integers (``_leaf``)
            PyObject_GC_UnTrack(<void*>obj)
        return obj

    def read(self, view, Py_ssize_t pos, bint mini_header, int64_t max_size,
             uint64_t serial, int64_t most):
        """See ``MessageReaderRef.read``."""
        cdef Py_buffer pybuf
        cdef const uint8_t* p
        cdef Py_ssize_t n, idx, at
        cdef int64_t limit = max_size if max_size < MAX_BODY else MAX_BODY
        cdef int64_t taken = 0
        cdef _Frame f
        cdef object s, msg
        cdef object frame = None
        cdef _Body b = self.body
        cdef Lane lane = self._lane
        cdef bint lane_may, took
        mv = view if _plain_view(view) else memoryview(view).cast("B").toreadonly()
        PyObject_GetBuffer(mv, &pybuf, PyBUF_SIMPLE)
        try:
            p, n = <const uint8_t*>pybuf.buf, pybuf.len
            if not 0 <= pos <= n:
                raise ValueError(f"start {pos} outside {n} bytes")
            b.mv = mv
            while taken < most and _whole(p, n, pos, mini_header, limit, &f):
                lane_may = lane is not None and lane.wants(f.msg_type)
                if lane_may and self.events:
                    if lane.ready():
                        break  # older events first: the caller resumes after them
                    lane_may = False  # (stopping would gain nothing)
                idx = <Py_ssize_t>f.msg_type - self.lo
                s = None
                if f.sub_list == 0 and 0 <= idx < self.width:
                    s = self.structs[idx]
                took = False
                if s is not None and lane_may:
                    took = lane.offer(f.msg_type, p + f.body, f.end - f.body)
                if s is not None and not took:
                    b.p, b.n, b.base, b.obj = p + f.body, f.end - f.body, f.body, None
                    at = 0
                    try:
                        if type(s) is not _Struct:
                            s = _struct_of(s)
                            self.structs[idx] = s
                        msg = _read_struct(b, <_Struct>s, &at, 0)
                    except Exception:  # the caller decodes it again and raises
                        s = None
                if s is None:
                    frame = (f.msg_type, view[f.body : f.end], f.serial, f.sub_list,
                             pos, f.end)
                    break
                serial += 1
                if not took:
                    self.append(self._event(
                        f.msg_type, serial if mini_header else f.serial, msg))
                if self.taken_by_type[idx] == 0:
                    self.touched[self.n_touched] = idx
                    self.n_touched += 1
                self.taken_by_type[idx] += 1
                taken += 1
                pos = f.end
        finally:
            PyBuffer_Release(&pybuf)
            b.mv = b.obj = None  # keep no chunk alive
            self._flush_counts()
        return pos, serial, taken, frame

    cdef int _flush_counts(self) except -1:
        cdef Py_ssize_t i, k
        cdef int64_t c
        while self.n_touched:
            self.n_touched -= 1
            i = self.touched[self.n_touched]
            c, self.taken_by_type[i] = self.taken_by_type[i], 0
            key = self.keys[i]
            got = PyDict_GetItem(self.counts, key)
            PyDict_SetItem(self.counts, key, c if got == NULL else <object>got + c)
        return 0
