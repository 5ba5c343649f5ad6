"""The plan compiler (spicepy.wire.plan) run afresh inside each test.

``compile_struct`` caches one plan per class, and the compiled twin keeps its own
nodes per class, so a plan built once (at the first decode of a session, or by an
earlier test) hides any later change to the compiler.  These tests clone every
message definition into new classes (same fields, same wire types, new identity)
so each test compiles the whole graph again, then hold the compiled twin to the
reference engine on real messages (the committed capture sample, every cut of
each) and to the compiler's documented contract (the channel messages compile
to data only; ``direct`` exactly for plain frozen slotted dataclasses).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import pytest

from spicepy.errors import WireError
from spicepy.wire.plan import (
    CondKind,
    CondPlan,
    CountKind,
    CountPlan,
    Kind,
    ValuePlan,
    compile_struct,
)
from spicepy.wire.registry import lookup
from spicepy.wire.schema import (
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Array,
    Bytes,
    FieldIn,
    FlagsMatch,
    Ptr,
    RasterSize,
    Rest,
    Struct,
    wt,
)

fast = pytest.importorskip("spicepy.wire._decode")

from test_wire_twins import assert_twins, read_sample  # noqa: E402


class _Cloner:
    """New classes for a graph of schema dataclasses (``clone(cls)``)."""

    def __init__(self) -> None:
        self.done: dict[type, type] = {}
        self.busy: set[type] = set()

    def wire(self, wtype: Any) -> Any:
        t = type(wtype)
        if t is Struct:
            return Struct(self.clone(wtype.cls))
        if t is Ptr:
            return Ptr(self.wire(wtype.target))
        if t is Array:
            return Array(self.wire(wtype.elem), wtype.count, wtype.min_size)
        if t is Bytes:
            return Bytes(wtype.count, view=wtype.view)
        if t is Rest:
            return Rest(view=wtype.view)
        return wtype  # integers and wire types of their own are shared

    def clone(self, cls: type) -> type:
        if cls in self.done:
            return self.done[cls]
        if cls in self.busy:  # a struct containing itself keeps the original
            return cls
        self.busy.add(cls)
        fields = []
        for f in dataclasses.fields(cls):
            meta = dict(f.metadata)
            if "wire" in meta:
                meta["wire"] = self.wire(meta["wire"])
            fields.append(
                (
                    f.name,
                    f.type,
                    dataclasses.field(
                        default=f.default,
                        default_factory=f.default_factory,
                        kw_only=f.kw_only,
                        metadata=meta,
                    ),
                )
            )
        ns = {}
        if hasattr(cls, "__post_init__"):
            ns["__post_init__"] = cls.__post_init__
        new = dataclasses.make_dataclass(
            cls.__name__, fields, namespace=ns, frozen=True, slots=True
        )
        self.done[cls] = new
        return new


def _sample_clones() -> list[tuple[type, bytes]]:
    cloner = _Cloner()
    out = []
    for channel, from_server, msg_type, body in read_sample():
        cls = lookup(channel, msg_type, from_server)
        assert cls is not None
        out.append((cloner.clone(cls), body))
    return out


def test_fresh_plans_decode_real_messages_like_the_reference() -> None:
    for cls, body in _sample_clones():
        assert assert_twins(cls, body)[0] == "ok", cls.__name__
        for cut in range(0, len(body), max(1, len(body) // 8)):
            assert_twins(cls, body[:cut])


def test_fresh_plans_of_the_channel_messages_are_data_only() -> None:
    """Every count and condition of the sampled channel messages is one the
    interpreter runs itself (the compiler's contract; a CALL is a slow path)."""
    seen: set[type] = set()

    def value(v: ValuePlan) -> None:
        assert v.kind != Kind.OTHER
        assert v.count is None or v.count.kind != CountKind.CALL
        if v.target is not None:
            value(v.target)
        if v.struct is not None:
            struct_(v.struct)

    def struct_(cls: type) -> None:
        if cls in seen:
            return
        seen.add(cls)
        plan = compile_struct(cls)
        assert plan.cls is cls and plan.direct, cls.__name__
        assert [f.name for f in plan.fields] == [
            f.name for f in dataclasses.fields(cls)
        ]
        for f in plan.fields:
            assert f.cond is None or f.cond.kind != CondKind.CALL, (cls, f.name)
            value(f.value)

    for cls, _ in _sample_clones():
        struct_(cls)
    assert len(seen) > 60


# -- the compiler on small definitions -------------------------------------------------
def _fresh_ints() -> type:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Ints:
        a: int = dataclasses.field(metadata=wt(U8))
        b: int = dataclasses.field(metadata=wt(U16))
        c: int = dataclasses.field(metadata=wt(U32))
        d: int = dataclasses.field(metadata=wt(U64))
        e: int = dataclasses.field(metadata=wt(I8))
        f: int = dataclasses.field(metadata=wt(I16))
        g: int = dataclasses.field(metadata=wt(I32))
        h: int = dataclasses.field(metadata=wt(I64))

    return Ints


def test_integer_fields_compile_to_their_width_and_sign() -> None:
    plan = compile_struct(_fresh_ints())
    assert [(f.value.kind, f.value.width, f.value.signed) for f in plan.fields] == [
        (Kind.INT, 1, False),
        (Kind.INT, 2, False),
        (Kind.INT, 4, False),
        (Kind.INT, 8, False),
        (Kind.INT, 1, True),
        (Kind.INT, 2, True),
        (Kind.INT, 4, True),
        (Kind.INT, 8, True),
    ]
    assert all(f.cond is None for f in plan.fields) and plan.direct
    body = bytes([0xFF] * 15) + bytes([0x80] * 15)
    assert dataclasses.astuple(fast.decode_struct(plan.cls, body)) == (
        0xFF,
        0xFFFF,
        0xFFFFFFFF,
        0xFFFFFFFFFFFFFFFF,
        -128,
        -32640,
        -2139062144,
        -9187201950435737472,
    )


def _fresh_counted() -> type:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Inner:
        x: int = dataclasses.field(metadata=wt(U16))

    @dataclasses.dataclass(frozen=True, slots=True)
    class Counted:
        kind: int = dataclasses.field(metadata=wt(U8))
        flags: int = dataclasses.field(metadata=wt(U32))
        w: int = dataclasses.field(metadata=wt(U16))
        h: int = dataclasses.field(metadata=wt(U16))
        n: int = dataclasses.field(metadata=wt(U32))
        fixed: tuple[int, ...] = dataclasses.field(metadata=wt(Array(U8, 3)))
        items: tuple[Any, ...] = dataclasses.field(metadata=wt(Array(Inner, "n", 2)))
        raster: bytes = dataclasses.field(
            metadata=wt(Bytes(RasterSize(4, "w", "h", 1000, "glyph"), view=True))
        )
        one: int | None = dataclasses.field(
            default=None,
            kw_only=True,
            metadata=wt(U8, FieldIn("kind", frozenset({1, 2}), negate=True)),
        )
        bits: int | None = dataclasses.field(
            default=None, kw_only=True, metadata=wt(U8, FlagsMatch("flags", 6, 2))
        )
        anybit: int | None = dataclasses.field(
            default=None, kw_only=True, metadata=wt(U8, FlagsMatch("flags", 0x30))
        )
        ptr: Any = dataclasses.field(
            default=None, kw_only=True, metadata=wt(Ptr(Inner))
        )
        tail: tuple[Any, ...] = dataclasses.field(
            default=(), kw_only=True, metadata=wt(Array(Inner, None, 2))
        )
        rest: bytes = dataclasses.field(default=b"", kw_only=True, metadata=wt(Rest()))

    return Counted


def test_counts_and_conditions_compile_to_data() -> None:
    cls = _fresh_counted()
    plan = compile_struct(cls)
    assert compile_struct(cls) is plan  # cached per class
    v = {f.name: f.value for f in plan.fields}
    c = {f.name: f.cond for f in plan.fields}
    assert v["fixed"].count == CountPlan(CountKind.CONST, const=3)
    assert v["fixed"].target == ValuePlan(Kind.INT, 1, False)
    assert v["items"].kind == Kind.ARRAY and v["items"].min_size == 2
    assert v["items"].count == CountPlan(CountKind.FIELD, slot=4)
    assert v["items"].target is not None and v["items"].target.kind == Kind.STRUCT
    assert v["raster"] == ValuePlan(
        Kind.BYTES,
        count=CountPlan(
            CountKind.RASTER, slot=2, slot2=3, bpp=4, limit=1000, what="glyph"
        ),
        view=True,
    )
    assert c["one"] == CondPlan(
        CondKind.ONE_OF, slot=0, choices=frozenset({1, 2}), negate=True
    )
    assert c["bits"] == CondPlan(CondKind.FLAGS, slot=1, mask=6, equal=2)
    assert c["anybit"] == CondPlan(CondKind.FLAGS, slot=1, mask=0x30, equal=None)
    assert v["ptr"].kind == Kind.PTR and v["ptr"].target is not None
    assert v["ptr"].target.kind == Kind.STRUCT
    assert v["tail"].count is None and v["tail"].min_size == 2
    assert v["rest"] == ValuePlan(Kind.REST, view=False)
    # kind 0, flags 0x12 (bit 1 alone of mask 6; 0x10 of 0x30), 3x5 at 4 bpp:
    # image_size = ceil(4 * 3 / 8) * 5 = 10 bytes
    body = struct.pack("<BIHHI", 0, 0x12, 3, 5, 1) + b"\x01\x02\x03"
    body += struct.pack("<H", 7) + b"ABCDEFGHIJ" + bytes([9, 8, 7])
    body += struct.pack("<I", 0) + struct.pack("<HH", 5, 6) + b"z"
    got = fast.decode_struct(cls, body)
    assert assert_twins(cls, body)[0] == "ok"
    assert (got.fixed, got.raster.tobytes(), got.one, got.bits, got.anybit) == (
        (1, 2, 3),
        b"ABCDEFGHIJ",
        9,
        8,
        7,
    )
    assert [i.x for i in got.items] == [7] and got.ptr is None
    assert [i.x for i in got.tail] == [5, 6] and got.rest == b"z"


def test_counts_the_plan_cannot_hold_call_back() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Odd:
        kind: int = dataclasses.field(metadata=wt(U8))
        size: int = dataclasses.field(metadata=wt(U8))
        t: int = dataclasses.field(metadata=wt(_Twice()))  # read by Python
        a: bytes = dataclasses.field(metadata=wt(Bytes(lambda v: v["size"] - 1)))
        # a count named after a field that is not read as an integer, a raster
        # whose side is not, conditions the plan cannot hold (a function, a
        # later field)
        b: tuple[int, ...] = dataclasses.field(metadata=wt(Array(U8, "t")))
        c: bytes = dataclasses.field(metadata=wt(Bytes(RasterSize(8, "t", "size"))))
        d: int | None = dataclasses.field(
            default=None, kw_only=True, metadata=wt(U8, lambda v: v["kind"] == 1)
        )
        e: int | None = dataclasses.field(
            default=None, kw_only=True, metadata=wt(U8, FieldIn("f", frozenset({0})))
        )
        f: int = dataclasses.field(default=0, kw_only=True, metadata=wt(U8))

    plan = compile_struct(Odd)
    kinds = [f.value.count.kind for f in plan.fields if f.value.count is not None]
    assert kinds == [CountKind.CALL] * 3
    conds = [f.cond.kind for f in plan.fields if f.cond is not None]
    assert conds == [CondKind.CALL] * 2
    assert plan.fields[2].value.kind == Kind.OTHER
    # the compiled twin calls back and reads what the reference reads: t = 2,
    # 2 bytes of a, 2 items of b, 2 x 3 bytes of c, d (kind 1); e asks for f,
    # which is not read yet: both twins refuse it alike
    body = bytes([1, 3]) + struct.pack("<H", 1) + b"ab" + bytes([5, 6])
    body += b"uvwxyz" + b"\x07" + b"\x00\x00"
    assert assert_twins(Odd, body) == ("error", WireError, "Odd: 'f'")
    plain = dataclasses.make_dataclass(
        "Plain", [(f.name, f.type, f) for f in dataclasses.fields(Odd)[:7]]
    )
    assert assert_twins(plain, body)[0] == "ok"
    got = fast.decode_struct(plain, body)
    assert (got.t, got.a, got.b, got.c, got.d) == (2, b"ab", (5, 6), b"uvwxyz", 7)


def test_flags_beyond_64_bits_and_rasters_beyond_64_bpp_call_back() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Wide:
        flags: int = dataclasses.field(metadata=wt(U64))
        w: int = dataclasses.field(metadata=wt(U8))
        top: int | None = dataclasses.field(
            default=None, kw_only=True, metadata=wt(U8, FlagsMatch("flags", 1 << 63))
        )
        full: int | None = dataclasses.field(
            default=None,
            kw_only=True,
            metadata=wt(U8, FlagsMatch("flags", (1 << 64) - 1)),
        )
        never: int | None = dataclasses.field(
            default=None, kw_only=True, metadata=wt(U8, FlagsMatch("flags", 0))
        )
        over: int | None = dataclasses.field(
            default=None, kw_only=True, metadata=wt(U8, FlagsMatch("flags", 1 << 64))
        )
        eq: int | None = dataclasses.field(
            default=None,
            kw_only=True,
            metadata=wt(U8, FlagsMatch("flags", 3, (1 << 64) - 1)),
        )
        neg: int | None = dataclasses.field(
            default=None, kw_only=True, metadata=wt(U8, FlagsMatch("flags", 3, -1))
        )
        r64: bytes = dataclasses.field(
            default=b"", kw_only=True, metadata=wt(Bytes(RasterSize(64, "w", "w")))
        )
        r65: bytes = dataclasses.field(
            default=b"", kw_only=True, metadata=wt(Bytes(RasterSize(65, "w", "w")))
        )
        r0: bytes = dataclasses.field(
            default=b"", kw_only=True, metadata=wt(Bytes(RasterSize(0, "w", "w")))
        )

    plan = {f.name: f for f in compile_struct(Wide).fields}
    assert plan["top"].cond == CondPlan(CondKind.FLAGS, slot=0, mask=1 << 63)
    assert plan["eq"].cond is not None and plan["eq"].cond.kind == CondKind.FLAGS
    # every mask of 0 .. 2**64 - 1 is data (a u64 in the interpreter)
    for name in ("full", "never"):
        cond = plan[name].cond
        assert cond is not None and cond.kind == CondKind.FLAGS, name
    assert plan["over"].cond is not None and plan["over"].cond.kind == CondKind.CALL
    assert plan["neg"].cond is not None and plan["neg"].cond.kind == CondKind.CALL
    counts = {n: plan[n].value.count for n in ("r64", "r65", "r0")}
    assert counts["r64"] is not None and counts["r64"].kind == CountKind.RASTER
    assert counts["r0"] is not None and counts["r0"].kind == CountKind.RASTER
    assert counts["r65"] is not None and counts["r65"].kind == CountKind.CALL


def test_direct_only_for_plain_frozen_slotted_dataclasses() -> None:
    meta = wt(U8)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Plain:
        a: int = dataclasses.field(metadata=meta)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int = dataclasses.field(metadata=meta)

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int = dataclasses.field(metadata=meta)

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int = dataclasses.field(metadata=meta)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Extra:
        a: int = dataclasses.field(metadata=meta)
        note: str = ""

    @dataclasses.dataclass(frozen=True, slots=True)
    class NoInit:
        a: int = dataclasses.field(metadata=meta)
        b: int = dataclasses.field(default=0, init=False, metadata=meta)

    @dataclasses.dataclass(frozen=True, slots=True, init=False)
    class OwnInit:
        a: int = dataclasses.field(metadata=meta)

        def __init__(self, a: int) -> None:
            object.__setattr__(self, "a", a)

    @dataclasses.dataclass(frozen=True, slots=True, init=False)
    class InheritedInit:  # object.__init__: no __init__ of its own at all
        a: int = dataclasses.field(metadata=meta)

    assert compile_struct(Plain).direct
    for cls in (Checked, Mutable, NoSlots, Extra, NoInit, OwnInit, InheritedInit):
        assert not compile_struct(cls).direct, cls.__name__


class _Twice:
    """A wire type of its own (one u16, doubled): the plan calls back for it."""

    def pull(self, r: Any, values: Any) -> int:
        return 2 * int(r.buf.pull_u16())

    def push(self, w: Any, value: int, values: Any) -> None:
        w.buf.push_u16(value // 2)


def test_pointer_and_array_targets_count_by_their_structs_fields() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Named:
        size: int = dataclasses.field(metadata=wt(U8))
        n: int = dataclasses.field(metadata=wt(U8))
        # spice.proto PortInit: uint8 *name[name_size]; and an array of strings
        name: bytes | None = dataclasses.field(metadata=wt(Ptr(Bytes("size"))))
        names: tuple[bytes, ...] = dataclasses.field(
            metadata=wt(Array(Bytes("size"), "n"))
        )
        twice: int = dataclasses.field(metadata=wt(_Twice()))

    plan = {f.name: f.value for f in compile_struct(Named).fields}
    name_target, names_target = plan["name"].target, plan["names"].target
    assert name_target is not None and names_target is not None
    assert name_target.count == CountPlan(CountKind.FIELD, slot=0)
    assert names_target.count == CountPlan(CountKind.FIELD, slot=0)
    assert plan["twice"].kind == Kind.OTHER and plan["twice"].wtype is not None
    body = struct.pack("<BBI", 2, 2, 12) + b"abcd" + struct.pack("<H", 21) + b"ok"
    assert assert_twins(Named, body)[0] == "ok"
    got = fast.decode_struct(Named, body)
    assert (got.name, got.names, got.twice) == (b"ok", (b"ab", b"cd"), 42)


@pytest.mark.parametrize("bad", [None, 3, "SpiceRect"])
def test_struct_of_something_not_a_class_is_refused_at_definition(bad: Any) -> None:
    """The compiled plan trusts Struct.cls: a definition naming no class is a
    TypeError where it is written (it crashed the compiled decoder)."""
    with pytest.raises(TypeError, match="schema dataclass"):
        Struct(bad)
