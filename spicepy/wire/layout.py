"""Where a message's fields sit in its body, for readers that read a few in place.

Theory of operation: ``layout(cls, given)`` walks the read plan of ``cls``
(``plan.compile_struct``, derived from the schema definitions) the way the
decoder reads a body from offset 0, with the values of the fields that decide
the shape (conditions, counts) taken from ``given`` (dotted paths:
``"base.clip.type"``, ``"descriptor.type"`` for a condition on an attribute).
Every integer and pointer field met gets a ``Slot`` (offset, width, sign),
array items ``"path.0.top"``...; a pointer's target is not followed (lay its
class out on its own: offsets inside it count from where the pointer points).
A byte string gets its start in ``starts`` (its length is its count field's
value, in ``given`` or read by the reader, which checks the bytes are there).

The walk stops at the first field whose presence or size it cannot know (a
condition or count on a field missing from ``given``, a function, the rest
of the body); ``size`` is then None.  With ``size`` known, a body of at least
``size`` bytes whose shape fields hold the ``given`` values decodes its fixed
part without error, and a shorter one fails in the decoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from spicepy.wire.plan import (
    CondKind,
    CondPlan,
    CountKind,
    CountPlan,
    FieldPlan,
    Kind,
    ValuePlan,
    compile_struct,
)

__all__ = ["Slot", "Layout", "layout"]


class Slot(NamedTuple):
    offset: int
    width: int
    signed: bool


class Layout(NamedTuple):
    slots: dict[str, Slot]
    size: int | None  # None: the walk stopped before the end
    starts: dict[str, int]  # byte string path -> its first byte's offset


class _Stop(Exception):
    """The shape is not known from here on."""


def layout(cls: type, given: Mapping[str, int] | None = None) -> Layout:
    """The slots of ``cls`` for a body whose shape fields hold ``given``."""
    slots: dict[str, Slot] = {}
    starts: dict[str, int] = {}
    try:
        size: int | None = _walk(cls, "", 0, dict(given or {}), slots, starts)
    except _Stop:
        size = None
    return Layout(slots, size, starts)


def _walk(
    cls: type,
    prefix: str,
    at: int,
    given: dict[str, int],
    slots: dict[str, Slot],
    starts: dict[str, int],
) -> int:
    fields = compile_struct(cls).fields
    for f in fields:
        path = prefix + f.name
        if f.cond is not None and not _present(f.cond, fields, prefix, given):
            continue
        at = _value(f.value, fields, prefix, path, at, given, slots, starts)
    return at


def _value(
    v: ValuePlan,
    fields: tuple[FieldPlan, ...],
    prefix: str,
    path: str,
    at: int,
    given: dict[str, int],
    slots: dict[str, Slot],
    starts: dict[str, int],
) -> int:
    if v.kind == Kind.INT:
        slots[path] = Slot(at, v.width, v.signed)
        return at + v.width
    if v.kind == Kind.STRUCT and v.struct is not None:
        return _walk(v.struct, path + ".", at, given, slots, starts)
    if v.kind == Kind.PTR:
        slots[path] = Slot(at, 4, False)
        return at + 4
    count, target = v.count, v.target
    if v.kind == Kind.BYTES and count is not None:
        starts[path] = at
        return at + _count(count, fields, prefix, given)
    if v.kind == Kind.ARRAY and count is not None and target is not None:
        n = _count(count, fields, prefix, given)
        for k in range(n):
            at = _value(target, fields, prefix, f"{path}.{k}", at, given, slots, starts)
        return at
    raise _Stop


def _count(
    count: CountPlan, fields: tuple[FieldPlan, ...], prefix: str, given: dict[str, int]
) -> int:
    if count.kind == CountKind.CONST:
        return count.const
    if count.kind == CountKind.FIELD:
        return _given(given, prefix + fields[count.slot].name)
    raise _Stop


def _given(given: dict[str, int], path: str) -> int:
    if path not in given:
        raise _Stop
    return given[path]


def _present(
    c: CondPlan, fields: tuple[FieldPlan, ...], prefix: str, given: dict[str, int]
) -> bool:
    if c.kind == CondKind.CALL:
        raise _Stop
    path = prefix + fields[c.slot].name
    if c.attr is not None:
        path += "." + c.attr
    value = _given(given, path)
    if c.kind == CondKind.ONE_OF:
        return (value in c.choices) != c.negate
    bits = value & c.mask
    return bits != 0 if c.equal is None else bits == c.equal
