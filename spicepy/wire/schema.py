"""The declarative message engine: one marshal/demarshal pair for every SPICE struct.

Theory of operation: a message or sub-structure is a frozen, slotted dataclass whose
fields carry a wire type in their metadata (``field(metadata=wt(U32))``, ...), in
spice.proto order.  ``pull_struct`` walks the fields once, ``push_struct`` writes them
back.  Pointers are u32 offsets from the start of the message body (spice.proto
``*field``, ``ptypes.py``: PointerType is 4 bytes); the writer appends what they point
to after the fixed part, in field order, and patches the offsets.  A field with a
``cond`` is present on the wire only when the predicate, given the fields read so far,
holds (spice.proto ``switch``); otherwise its value is ``None``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from spicepy.errors import WireError
from spicepy.wire.buffer import Buffer

__all__ = [
    "MAX_MESSAGE_SIZE",
    "MAX_ARRAY_ITEMS",
    "Reader",
    "Writer",
    "WireType",
    "wt",
    "pull_struct",
    "push_struct",
    "I8",
    "I16",
    "I32",
    "I64",
    "U8",
    "U16",
    "U32",
    "U64",
    "Struct",
    "Ptr",
    "Array",
    "Bytes",
    "Rest",
    "Count",
    "Cond",
    "Values",
    "FieldIn",
    "FlagsMatch",
    "RasterSize",
    "image_size",
]

#: Largest message body we accept (the server's biggest are full-screen bitmaps).
MAX_MESSAGE_SIZE = 64 * 1024 * 1024
#: Largest element count of a decoded array (rects, glyphs, heads...).
MAX_ARRAY_ITEMS = 1 << 20
#: Pointer nesting limit (Image in Brush pattern in a draw is 2 deep).
MAX_DEPTH = 8

Values = Mapping[str, Any]
Cond = Callable[[Values], bool]
Count = int | str | Callable[[Values], int]
T = TypeVar("T")


class Reader:
    """A cursor into one message body; pointers resolve against the whole body."""

    __slots__ = ("buf", "depth")

    def __init__(self, buf: Buffer, depth: int = 0) -> None:
        self.buf = buf
        self.depth = depth

    def at(self, offset: int) -> Reader:
        """A reader for a pointer target at ``offset`` from the body start."""
        if self.depth >= MAX_DEPTH:
            raise WireError("pointers nested too deeply")
        view = self.buf.view
        # offset == len is a zero-length target at the very end (an empty array)
        if not 0 < offset <= len(view):
            raise WireError(f"pointer {offset} outside the {len(view)}-byte body")
        sub = Buffer(view)
        sub.seek(offset)
        return Reader(sub, self.depth + 1)


class Writer:
    """Builds one message body, appending pointer targets after the fixed part."""

    __slots__ = ("buf", "pending")

    def __init__(self) -> None:
        self.buf = Buffer()
        self.pending: list[tuple[int, WireType, Any]] = []

    def finish(self) -> bytes:
        while self.pending:
            slot, wtype, value = self.pending.pop(0)
            self.buf.patch_u32(slot, self.buf.written)
            wtype.push(self, value, {})
        return self.buf.data()


class WireType(Protocol):
    def pull(self, r: Reader, values: Values) -> Any: ...

    def push(self, w: Writer, value: Any, values: Values) -> None: ...


class _Int:
    def __init__(self, name: str) -> None:
        self.name = name
        self._pull = getattr(Buffer, "pull_" + name)
        self._push = getattr(Buffer, "push_" + name)

    def pull(self, r: Reader, values: Values) -> int:
        return int(self._pull(r.buf))

    def push(self, w: Writer, value: int, values: Values) -> None:
        self._push(w.buf, int(value))

    def __repr__(self) -> str:
        return self.name.upper()


U8, U16, U32, U64 = _Int("u8"), _Int("u16"), _Int("u32"), _Int("u64")
I8, I16, I32, I64 = _Int("i8"), _Int("i16"), _Int("i32"), _Int("i64")


def _count(count: Count, values: Values, r: Reader | None = None) -> int:
    if isinstance(count, int):
        n = count
    elif isinstance(count, str):
        n = int(values[count])
    else:
        n = int(count(values))
    if n < 0 or n > MAX_ARRAY_ITEMS * 64:
        raise WireError(f"length {n} out of range")
    return n


class Struct:
    """An inline sub-structure (another schema dataclass)."""

    def __init__(self, cls: type) -> None:
        # Checked here, once per definition: the compiled plan trusts it (a
        # Struct(None) made the compiled decoder crash instead of raising).
        if not isinstance(cls, type):
            raise TypeError(f"Struct needs a schema dataclass, not {cls!r}")
        self.cls = cls

    def pull(self, r: Reader, values: Values) -> Any:
        return pull_struct(self.cls, r)

    def push(self, w: Writer, value: Any, values: Values) -> None:
        push_struct(w, value)


class Ptr:
    """spice.proto ``*field``: u32 offset from the body start (0 = NULL)."""

    def __init__(self, target: WireType | type) -> None:
        self.target: WireType = Struct(target) if isinstance(target, type) else target

    def pull(self, r: Reader, values: Values) -> Any:
        offset = r.buf.pull_u32()
        if offset == 0:
            return None
        return self.target.pull(r.at(offset), values)

    def push(self, w: Writer, value: Any, values: Values) -> None:
        if value is None:
            w.buf.push_u32(0)
            return
        w.pending.append((w.buf.written, _Bound(self.target, values), value))
        w.buf.push_u32(0)


class _Bound:
    """A pointer target that still needs the values of the struct that pointed to it."""

    def __init__(self, target: WireType, values: Values) -> None:
        self.target = target
        self.values = dict(values)

    def pull(self, r: Reader, values: Values) -> Any:  # pragma: no cover - write only
        return self.target.pull(r, self.values)

    def push(self, w: Writer, value: Any, values: Values) -> None:
        self.target.push(w, value, self.values)


class Array:
    """``elem name[count]``: ``count`` is a number, an earlier field, or a function
    of the fields so far; ``None`` = to the end of the body (``@end``)."""

    def __init__(
        self, elem: WireType | type, count: Count | None, min_size: int = 1
    ) -> None:
        self.elem: WireType = Struct(elem) if isinstance(elem, type) else elem
        self.count = count
        self.min_size = max(1, min_size)  # bytes per element, for the pre-check

    def pull(self, r: Reader, values: Values) -> tuple[Any, ...]:
        if self.count is None:
            out = []
            while r.buf.remaining >= self.min_size:
                before = r.buf.position
                out.append(self.elem.pull(r, values))
                if r.buf.position == before:  # a zero-size element would never end
                    raise WireError("array element of no bytes before @end")
            return tuple(out)
        n = _count(self.count, values)
        if n > MAX_ARRAY_ITEMS or n * self.min_size > r.buf.remaining:
            raise WireError(
                f"array of {n} items does not fit in {r.buf.remaining} bytes"
            )
        return tuple(self.elem.pull(r, values) for _ in range(n))

    def push(self, w: Writer, value: tuple[Any, ...], values: Values) -> None:
        if self.count is not None and len(value) != _count(self.count, values):
            raise ValueError(
                f"array has {len(value)} items, its count field says otherwise"
            )
        for item in value:
            self.elem.push(w, item, values)


class Bytes:
    """``uint8 name[count]``; ``view=True`` gives a zero-copy memoryview (payloads)."""

    def __init__(self, count: Count, *, view: bool = False) -> None:
        self.count = count
        self.view = view

    def pull(self, r: Reader, values: Values) -> bytes | memoryview:
        n = _count(self.count, values)
        return r.buf.pull_view(n) if self.view else r.buf.pull_bytes(n)

    def push(self, w: Writer, value: bytes | memoryview, values: Values) -> None:
        if len(value) != _count(self.count, values):
            raise ValueError("byte string length does not match its size field")
        w.buf.push_bytes(value)


class Rest:
    """``uint8 data[] @end``: the rest of the body."""

    def __init__(self, *, view: bool = False) -> None:
        self.view = view

    def pull(self, r: Reader, values: Values) -> bytes | memoryview:
        n = r.buf.remaining
        return r.buf.pull_view(n) if self.view else r.buf.pull_bytes(n)

    def push(self, w: Writer, value: bytes | memoryview, values: Values) -> None:
        w.buf.push_bytes(value)


# -- declarative conditions and counts -------------------------------------------------
# Any callable works as a ``cond`` or a count; these three state what they test as data,
# which the compiled twin (``plan.py``, ``_decode.pyx``) runs without calling Python.


def image_size(bpp: int, width: int, height: int) -> int:
    """spice.proto ``image_size(bpp, w, h)``: bytes of a packed raster."""
    return ((bpp * width + 7) // 8) * height


@dataclasses.dataclass(frozen=True, slots=True)
class FieldIn:
    """Present when ``values[name]`` (or its attribute ``attr``) is one of ``choices``
    (spice.proto ``switch (name) { case A: ... }``); ``negate`` for ``!= NONE``."""

    name: str
    choices: frozenset[int]
    attr: str | None = None
    negate: bool = False

    def __call__(self, values: Values) -> bool:
        v = values[self.name]
        if self.attr is not None:
            v = getattr(v, self.attr)
        return (v in self.choices) != self.negate


@dataclasses.dataclass(frozen=True, slots=True)
class FlagsMatch:
    """Present when ``values[name] & mask`` is non-zero (``equal`` None) or equals
    ``equal`` (``flags & BIT`` / ``!(flags & BIT)`` / first matching switch case)."""

    name: str
    mask: int
    equal: int | None = None

    def __call__(self, values: Values) -> bool:
        bits = int(values[self.name]) & self.mask
        return bits != 0 if self.equal is None else bits == self.equal


@dataclasses.dataclass(frozen=True, slots=True)
class RasterSize:
    """Byte count ``image_size(bpp, values[width], values[height])``; above ``limit``
    it is a WireError naming ``what``."""

    bpp: int
    width: str
    height: str
    limit: int | None = None
    what: str = "raster"

    def __call__(self, values: Values) -> int:
        n = image_size(self.bpp, int(values[self.width]), int(values[self.height]))
        if self.limit is not None and n > self.limit:
            raise WireError(f"{self.what} of {n} bytes is too big")
        return n


def wt(wtype: WireType | type, cond: Cond | None = None) -> dict[str, Any]:
    """Field metadata carrying a wire type (and an optional presence condition).

    Usage: ``x: int = field(metadata=w(U32))``; an optional field is
    ``field(default=None, kw_only=True, metadata=wt(U32, cond))`` so it may sit
    between required ones.
    """
    if isinstance(wtype, type):
        wtype = Struct(wtype)
    return {"wire": wtype, "cond": cond}


_SPECS: dict[type, tuple[tuple[str, WireType, Cond | None], ...]] = {}


def spec(cls: type) -> tuple[tuple[str, WireType, Cond | None], ...]:
    """The (name, wire type, condition) list of a schema dataclass."""
    got = _SPECS.get(cls)
    if got is None:
        got = tuple(
            (f.name, f.metadata["wire"], f.metadata.get("cond"))
            for f in dataclasses.fields(cls)
            if "wire" in f.metadata
        )
        _SPECS[cls] = got
    return got


def pull_struct(cls: type[T], r: Reader) -> T:
    """Read one ``cls`` at the reader's position."""
    values: dict[str, Any] = {}
    for name, wtype, cond in spec(cls):
        if cond is not None and not cond(values):
            values[name] = None
            continue
        values[name] = wtype.pull(r, values)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # a __post_init__ check
        raise WireError(f"{cls.__name__}: {exc}") from exc


def push_struct(w: Writer, obj: Any) -> None:
    """Write ``obj`` (a schema dataclass) at the writer's position."""
    fields = spec(type(obj))
    values = {name: getattr(obj, name) for name, _, _ in fields}
    for name, wtype, cond in fields:
        if cond is not None and not cond(values):
            continue
        wtype.push(w, values[name], values)


def decode_struct(cls: type[T], body: bytes | memoryview) -> T:
    """Parse ``body`` as one ``cls`` (trailing bytes ignored, as in spice-common)."""
    try:
        return pull_struct(cls, Reader(Buffer(body)))
    except (IndexError, KeyError, OverflowError, UnicodeDecodeError) as exc:
        raise WireError(f"{cls.__name__}: {exc}") from exc


def encode_struct(obj: Any) -> bytes:
    """Marshal ``obj`` and everything it points to into one body."""
    w = Writer()
    push_struct(w, obj)
    return w.finish()
