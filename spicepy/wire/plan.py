"""The schema compiled into flat read plans, for the compiled decoder ``_decode.pyx``.

Theory of operation: ``compile_struct(cls)`` walks ``schema.spec(cls)`` once and
turns each field into a ``FieldPlan``: how to read the value (``ValuePlan``: an
integer width, an inline struct, a pointer, an array, a byte string, the rest of
the body), when it is present (``CondPlan``) and how many items or bytes it has
(``CountPlan``).  Field names become slot numbers, so the interpreter tests and
counts on a list of the values read so far instead of building a dict.

The declarative conditions and counts of ``schema`` (``FieldIn``, ``FlagsMatch``,
``RasterSize``) compile to data.  Any other callable, and any wire type this
module does not know, compiles to a call back into the reference engine with the
same arguments, so every definition decodes the same in both twins, including
ones registered later.  The definitions stay the only description of a layout: a
plan is derived from them at first use and cached per class.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from enum import IntEnum
from typing import Any, NamedTuple

from spicepy.wire.schema import (
    Array,
    Bytes,
    FieldIn,
    FlagsMatch,
    Ptr,
    RasterSize,
    Rest,
    Struct,
    Values,
    WireType,
    _Int,
    spec,
)

__all__ = [
    "Kind",
    "CountKind",
    "CondKind",
    "CountPlan",
    "CondPlan",
    "ValuePlan",
    "FieldPlan",
    "StructPlan",
    "compile_struct",
    "direct_fields",
]

_U64_MASK = (1 << 64) - 1


class Kind(IntEnum):
    INT = 0  # width bytes, signed or not
    STRUCT = 1  # an inline schema dataclass: its own plan
    PTR = 2  # u32 offset from the body start (0 = None) to ``target``
    ARRAY = 3  # ``count`` items of ``target`` (count None = to the end)
    BYTES = 4  # ``count`` bytes (bytes, or a read-only view if ``view``)
    REST = 5  # the bytes left (bytes, or a read-only view)
    OTHER = 6  # any other wire type: the reference engine reads it (``wtype``)


class CountKind(IntEnum):
    CONST = 0  # ``const``
    FIELD = 1  # the integer in ``slot``
    RASTER = 2  # image_size(bpp, slot, slot2), WireError above ``limit``
    CALL = 3  # int(func(values)): any other count


class CondKind(IntEnum):
    ONE_OF = 0  # (value of slot [.attr] in choices) != negate
    FLAGS = 1  # integer slot & mask: != 0 (equal None) or == equal
    CALL = 2  # bool(func(values))


# (a member read through its Enum class costs a Python call in 3.11: once here)
_INT, _STRUCT, _PTR, _ARRAY, _BYTES, _REST, _OTHER = Kind
_CONST, _FIELD, _RASTER, _COUNT_CALL = CountKind
_ONE_OF, _FLAGS, _COND_CALL = CondKind

# The plan nodes are named tuples: immutable and compared by value like frozen
# dataclasses, but made without one object.__setattr__ call per field (a
# session compiles the plans of its first display messages inside its data
# phase: ~20 classes, ~200 nodes).


class CountPlan(NamedTuple):
    kind: CountKind
    const: int = 0
    slot: int = -1
    slot2: int = -1
    bpp: int = 0
    limit: int | None = None
    what: str = ""
    func: Callable[[Values], Any] | None = None


class CondPlan(NamedTuple):
    kind: CondKind
    slot: int = -1
    attr: str | None = None
    choices: frozenset[int] = frozenset()
    negate: bool = False
    mask: int = 0
    equal: int | None = None  # None: any bit of mask set
    func: Callable[[Values], Any] | None = None


class ValuePlan(NamedTuple):
    kind: Kind
    width: int = 0
    signed: bool = False
    struct: type | None = None
    target: ValuePlan | None = None
    # (hides tuple.count, which nothing calls on a plan node)
    count: CountPlan | None = None  # type: ignore[assignment]
    min_size: int = 1
    view: bool = False
    wtype: WireType | None = None


class FieldPlan(NamedTuple):
    name: str
    value: ValuePlan
    cond: CondPlan | None


class StructPlan(NamedTuple):
    """``direct``: a plain frozen slotted dataclass whose fields are all wire fields
    and that has no ``__post_init__``, so the interpreter may set its slots instead
    of calling ``__init__`` (same object, no per-field Python call)."""

    cls: type
    fields: tuple[FieldPlan, ...]
    direct: bool


_PLANS: dict[type, StructPlan] = {}


def compile_struct(cls: type) -> StructPlan:
    """The read plan of a schema dataclass (cached)."""
    got = _PLANS.get(cls)
    if got is None:
        got = _compile(cls)
        _PLANS[cls] = got
    return got


def _compile(cls: type) -> StructPlan:
    fields = spec(cls)
    slots: dict[str, int] = {}  # earlier fields: name -> slot
    ints: set[str] = set()  # earlier fields read as integers
    out = []
    for i, (name, wtype, cond) in enumerate(fields):
        out.append(
            FieldPlan(name, _value(wtype, slots, ints), _cond(cond, slots, ints))
        )
        slots[name] = i
        if isinstance(wtype, _Int):
            ints.add(name)
    return StructPlan(cls, tuple(out), _direct(cls, len(fields)))


def _direct(cls: type, n_wire: int) -> bool:
    names = direct_fields(cls)
    return names is not None and len(names) == n_wire


def direct_fields(cls: type) -> tuple[str, ...] | None:
    """The field names of a plain frozen slotted dataclass with no
    ``__post_init__`` (its generated ``__init__`` only sets the slots, in this
    order), else None."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return None
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    fields = dataclasses.fields(cls)
    init = cls.__dict__.get("__init__")
    if (
        params.frozen
        and "__slots__" in cls.__dict__
        and all(f.init for f in fields)
        # dataclass writes its __init__ with exec(); a hand-written one it keeps
        and getattr(getattr(init, "__code__", None), "co_filename", "") == "<string>"
    ):
        return tuple(f.name for f in fields)
    return None


def _value(wtype: WireType, slots: dict[str, int], ints: set[str]) -> ValuePlan:
    if isinstance(wtype, _Int):
        return ValuePlan(_INT, int(wtype.name[1:]) // 8, wtype.name[0] == "i")
    if type(wtype) is Struct:
        return ValuePlan(_STRUCT, struct=wtype.cls)
    if type(wtype) is Ptr:
        return ValuePlan(_PTR, target=_value(wtype.target, slots, ints))
    if type(wtype) is Array:
        count = None if wtype.count is None else _count(wtype.count, slots, ints)
        return ValuePlan(
            _ARRAY,
            target=_value(wtype.elem, slots, ints),
            count=count,
            min_size=wtype.min_size,
        )
    if type(wtype) is Bytes:
        count = _count(wtype.count, slots, ints)
        return ValuePlan(_BYTES, count=count, view=wtype.view)
    if type(wtype) is Rest:
        return ValuePlan(_REST, view=wtype.view)
    return ValuePlan(_OTHER, wtype=wtype)


def _count(count: Any, slots: dict[str, int], ints: set[str]) -> CountPlan:
    if isinstance(count, int):
        return CountPlan(_CONST, const=count)
    if isinstance(count, str):
        if count in ints:
            return CountPlan(_FIELD, slot=slots[count])
        return CountPlan(_COUNT_CALL, func=operator.itemgetter(count))
    if (
        type(count) is RasterSize
        and count.width in ints
        and count.height in ints
        and 0 <= count.bpp <= 64
    ):
        return CountPlan(
            _RASTER,
            slot=slots[count.width],
            slot2=slots[count.height],
            bpp=count.bpp,
            limit=count.limit,
            what=count.what,
        )
    return CountPlan(_COUNT_CALL, func=count)


def _cond(cond: Any, slots: dict[str, int], ints: set[str]) -> CondPlan | None:
    if cond is None:
        return None
    if type(cond) is FieldIn and cond.name in slots:
        return CondPlan(
            _ONE_OF,
            slot=slots[cond.name],
            attr=cond.attr,
            choices=cond.choices,
            negate=cond.negate,
        )
    if (
        type(cond) is FlagsMatch
        and cond.name in ints
        and 0 <= cond.mask <= _U64_MASK
        and (cond.equal is None or 0 <= cond.equal <= _U64_MASK)
    ):
        return CondPlan(_FLAGS, slot=slots[cond.name], mask=cond.mask, equal=cond.equal)
    return CondPlan(_COND_CALL, func=cond)
