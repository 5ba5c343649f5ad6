"""The two message decoders are twins: ``schema.decode_struct`` (declarative
reference) and ``_decode.decode_struct`` (compiled plan) give the same dataclasses,
payload views and errors (class and text) on every message of every capture (both
directions), on a committed sample, on hypothesis bodies for every registered
message and on valid messages truncated or with lying counts and pointers."""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spicepy.capture.streams import read_channels
from spicepy.errors import WireError
from spicepy.wire import all_messages, decode_message, encode_message, messages
from spicepy.wire.registry import lookup
from spicepy.wire.schema import (
    I32,
    U8,
    U16,
    U32,
    Array,
    Bytes,
    FieldIn,
    Ptr,
    Reader,
    Rest,
    decode_struct,
    wt,
)

fast = pytest.importorskip("spicepy.wire._decode")

SAMPLE = Path(__file__).parent / "data" / "wire_twin_sample.bin"
_RECORD = struct.Struct("<BBHI")  # channel type, from_server, message type, body size
MESSAGES = sorted(
    all_messages(), key=lambda c: (c.CHANNEL, not c.FROM_SERVER, c.MSG_TYPE)
)
Decoder = Callable[[type[Any], Any], Any]


def shape(x: Any) -> Any:
    """A comparable picture of a decoded value: class by class, views kept apart
    from bytes (with their read-only flag), so equal shapes mean equal twins."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (
            type(x),
            tuple(shape(getattr(x, f.name)) for f in dataclasses.fields(x)),
        )
    if isinstance(x, tuple):
        return (tuple, tuple(shape(i) for i in x))
    if isinstance(x, memoryview):
        return (memoryview, x.readonly, x.tobytes())
    return (type(x), x)


def outcome(decode: Decoder, cls: type[Any], body: Any) -> Any:
    try:
        return ("ok", shape(decode(cls, body)))
    except WireError as exc:
        return ("error", type(exc), str(exc))


def assert_twins(cls: type[Any], body: Any) -> Any:
    ref = outcome(decode_struct, cls, body)
    assert outcome(fast.decode_struct, cls, body) == ref, cls.__name__
    return ref


def read_sample(path: Path = SAMPLE) -> Iterator[tuple[int, bool, int, bytes]]:
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        channel, from_server, msg_type, size = _RECORD.unpack_from(data, pos)
        pos += _RECORD.size
        yield channel, bool(from_server), msg_type, data[pos : pos + size]
        pos += size


def write_sample(captures: Path, path: Path = SAMPLE) -> None:
    """Regenerate the sample: up to 3 bodies under 12 kB of each (channel, direction,
    type) from a few captures (tests/data/README.md)."""
    seen: dict[tuple[int, bool, int], int] = {}
    out = bytearray()
    for name in ("text-glz", "mixed-defaults", "video-stream_all", "cursor-auto_glz"):
        for ch in read_channels(captures / f"{name}.pcap"):
            sides = ((True, ch.server_messages()), (False, ch.client_messages()))
            for from_server, msgs in sides:
                for m in msgs:
                    key = (ch.channel_type, from_server, m.type)
                    if seen.get(key, 0) < 3 and len(m.body) < 12000:
                        seen[key] = seen.get(key, 0) + 1
                        out += _RECORD.pack(*key, len(m.body)) + bytes(m.body)
    path.write_bytes(bytes(out))


# -- real messages ---------------------------------------------------------------------
def _capture_names() -> list[str]:
    from conftest import CAPTURES

    if CAPTURES is None or not (CAPTURES / "manifest.json").exists():
        return ["none"]
    data = json.loads((CAPTURES / "manifest.json").read_text())
    return sorted(c["name"] for c in data["captures"])


@pytest.mark.parametrize("name", _capture_names())
def test_twins_agree_on_every_captured_message(name: str, captures_dir: Path) -> None:
    pcap = captures_dir / f"{name}.pcap"
    if not pcap.exists():
        pytest.skip("capture not in this corpus")
    checked = 0
    for ch in read_channels(pcap):
        for from_server, msgs in (
            (True, ch.server_messages()),
            (False, ch.client_messages()),
        ):
            for m in msgs:
                cls = lookup(ch.channel_type, m.type, from_server)
                assert cls is not None, (ch.channel_type, m.type, from_server)
                body = bytes(m.body)
                assert assert_twins(cls, body)[0] == "ok"
                checked += 1
    assert checked > 20


def test_twins_agree_on_the_committed_sample() -> None:
    records = list(read_sample())
    kinds = {(c, s, t) for c, s, t, _ in records}
    assert len(kinds) > 40  # display draws, cursor, main, inputs, playback, both ways
    for channel, from_server, msg_type, body in records:
        cls = lookup(channel, msg_type, from_server)
        assert cls is not None
        assert assert_twins(cls, body)[0] == "ok"
        # every cut of a real body: the same message or the same error
        for cut in range(0, len(body), max(1, len(body) // 16)):
            assert_twins(cls, body[:cut])


# -- zero-copy payloads ----------------------------------------------------------------
def _views(x: Any) -> Iterator[memoryview]:
    if isinstance(x, memoryview):
        yield x
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            yield from _views(getattr(x, f.name))
    elif isinstance(x, tuple):
        for item in x:
            yield from _views(item)


TWINS = pytest.mark.parametrize(
    "decode", [decode_struct, fast.decode_struct], ids=["reference", "cython"]
)


@TWINS
def test_payloads_are_read_only_views_of_the_body(decode: Decoder) -> None:
    found = 0
    for channel, from_server, msg_type, raw in read_sample():
        cls = lookup(channel, msg_type, from_server)
        assert cls is not None
        for view in _views(decode(cls, raw)):
            assert view.readonly and view.obj is raw
            found += 1
    assert found > 10


@TWINS
@pytest.mark.parametrize("wrap", [bytearray, lambda b: memoryview(bytearray(b))])
def test_payload_views_share_a_writable_body(decode: Decoder, wrap: Any) -> None:
    found = 0
    for channel, from_server, msg_type, raw in read_sample():
        cls = lookup(channel, msg_type, from_server)
        assert cls is not None
        body = wrap(raw)
        views = [(v, v.tobytes()) for v in _views(decode(cls, body)) if len(v)]
        body[:] = bytes(x ^ 0xFF for x in raw)  # same size: allowed while exported
        for view, before in views:
            assert view.readonly
            assert view.tobytes() == bytes(x ^ 0xFF for x in before)
            found += 1
    assert found > 10


def test_payload_view_points_into_the_body_bytes() -> None:
    from spicepy.wire.msg_display import StreamData

    body = struct.pack("<III", 7, 1000, 5) + b"frame"
    for decode in (decode_struct, fast.decode_struct):
        msg = decode(StreamData, body)
        assert isinstance(msg.data, memoryview) and msg.data.obj is body
        assert msg.data.readonly and msg.data.tobytes() == b"frame"


# -- hypothesis ------------------------------------------------------------------------
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MESSAGES), st.binary(max_size=300))
def test_twins_agree_on_random_bodies(cls: type[Any], body: bytes) -> None:
    assert_twins(cls, body)


_HOSTILE = [0, 1, 2, 3, 4, 7, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF]


def _build_message(cls: type[Any], data: st.DataObject) -> bytes:
    from test_wire_messages import build

    return encode_message(build(cls, data))[1]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(MESSAGES), st.data())
def test_twins_agree_on_valid_cut_and_lying_messages(
    cls: type[Any], data: st.DataObject
) -> None:
    body = _build_message(cls, data)
    assert assert_twins(cls, body)[0] == "ok"
    cut = data.draw(st.integers(0, len(body)))
    assert_twins(cls, body[:cut])
    if len(body) >= 1:
        # a count, size or pointer that lies: overwrite a word at any offset
        pos = data.draw(st.integers(0, len(body) - 1))
        width = data.draw(st.sampled_from([1, 2, 4]))
        value = data.draw(st.sampled_from(_HOSTILE)) & ((1 << (8 * width)) - 1)
        lying = bytearray(body)
        lying[pos : pos + width] = value.to_bytes(width, "little")[: len(body) - pos]
        assert_twins(cls, bytes(lying))
    assert_twins(cls, body + bytes(data.draw(st.integers(0, 16))))


def test_twins_agree_on_deep_and_looping_pointers() -> None:
    from spicepy.wire.msg_display import DrawFill

    # a brush pattern image whose pointer points at itself and one past the end
    base = struct.pack("<I4iB", 0, 0, 0, 10, 10, 0)
    for offset in (len(base) + 1, 0xFFFFFFFF, 1 << 31, 10_000):
        body = base + struct.pack("<BI", 2, offset) + struct.pack("<ii", 0, 0)
        body += struct.pack("<HBiiI", 0, 0, 0, 0, 0)
        assert assert_twins(DrawFill, body)[0] == "error"


# -- definitions the plan cannot hold as data: both twins call the same Python ------
class _Twice:
    """A wire type of its own: one u16, doubled (the plan falls back to it)."""

    def pull(self, r: Reader, values: Any) -> int:
        return 2 * r.buf.pull_u16()

    def push(self, w: Any, value: int, values: Any) -> None:  # pragma: no cover
        w.buf.push_u16(value // 2)


@dataclasses.dataclass(frozen=True, slots=True)
class _Odd:
    kind: int = dataclasses.field(metadata=wt(U8))
    n: int = dataclasses.field(metadata=wt(U16))
    twice: int = dataclasses.field(metadata=wt(_Twice()))
    maybe: int | None = dataclasses.field(
        default=None, kw_only=True, metadata=wt(I32, lambda v: v["kind"] & 1 == 1)
    )
    items: tuple[int, ...] = dataclasses.field(
        default=(), kw_only=True, metadata=wt(Array(U16, lambda v: v["n"] - 1, 2))
    )
    name: bytes | None = dataclasses.field(
        default=None, kw_only=True, metadata=wt(Ptr(Bytes("n")))
    )
    tail: bytes = dataclasses.field(default=b"", kw_only=True, metadata=wt(Rest()))


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    size: int = dataclasses.field(metadata=wt(U32))
    data: bytes = dataclasses.field(metadata=wt(Bytes("size", view=True)))
    ends: tuple[_Odd, ...] = dataclasses.field(metadata=wt(Array(_Odd, None, 5)))
    kind: int | None = dataclasses.field(
        default=None,
        kw_only=True,
        metadata=wt(U8, FieldIn("size", frozenset({2, 3}), negate=True)),
    )

    def __post_init__(self) -> None:
        if self.size == 3:
            raise ValueError("size 3 is reserved")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_twins_agree_on_definitions_outside_the_plan(body: bytes) -> None:
    assert_twins(_Odd, body)
    assert_twins(_Checked, body)


def test_definitions_outside_the_plan_decode_and_fail_alike() -> None:
    odd = struct.pack("<BHH", 1, 3, 21) + struct.pack("<i", -5)
    odd += struct.pack("<HH", 8, 9) + struct.pack("<I", 0) + b"end"
    assert assert_twins(_Odd, odd) == outcome(decode_struct, _Odd, odd)
    msg = fast.decode_struct(_Odd, odd)
    assert (msg.twice, msg.maybe, msg.items, msg.tail) == (42, -5, (8, 9), b"end")
    reserved = struct.pack("<I", 3) + b"abc"
    assert assert_twins(_Checked, reserved) == (
        "error",
        WireError,
        "_Checked: size 3 is reserved",
    )


# -- the choice of twin ----------------------------------------------------------------
def test_fast_path_built() -> None:
    from spicepy.wire import headers, twins

    if os.environ.get("SPICEPY_PUREPYTHON", "") not in ("", "0"):
        assert not messages.FAST and not twins.FAST
        assert messages._decode_struct is twins.decode_struct is decode_struct
        assert headers.split_frames is headers.split_frames_ref
    else:
        assert messages.FAST and twins.FAST
        assert messages._decode_struct is twins.decode_struct is fast.decode_struct
        assert headers.split_frames is fast.split_frames


def test_decode_message_names_the_message_in_errors() -> None:
    with pytest.raises(
        WireError, match=r"^DRAW_FILL: truncated: need 4 bytes at offset 0"
    ):
        decode_message(2, 302, b"")


def test_builtin_definitions_compile_to_data_only() -> None:
    """Every condition and count of the channel messages is one the interpreter
    runs in C (no call back into Python), so the twins differ only in speed."""
    from spicepy.wire.plan import CondKind, CountKind, Kind, ValuePlan, compile_struct

    builtin = {"msg_common", "msg_display", "msg_other"}
    seen: set[type] = set()
    calls: list[str] = []

    def value(v: ValuePlan, where: str) -> None:
        if v.kind == Kind.OTHER or (v.count and v.count.kind == CountKind.CALL):
            calls.append(where)
        if v.target is not None:
            value(v.target, where)
        if v.struct is not None:
            struct(v.struct)

    def struct(cls: type) -> None:
        if cls in seen:
            return
        seen.add(cls)
        for f in compile_struct(cls).fields:
            if f.cond is not None and f.cond.kind == CondKind.CALL:
                calls.append(f"{cls.__name__}.{f.name} (condition)")
            value(f.value, f"{cls.__name__}.{f.name}")

    for cls in MESSAGES:
        if cls.__module__.rsplit(".", 1)[-1] in builtin:
            struct(cls)
    assert len(seen) > 150
    assert calls == []
    assert all(compile_struct(c).direct for c in seen)


# -- framing ---------------------------------------------------------------------------
def _frames(split: Any, data: Any, mini: bool, start: int, max_size: int) -> Any:
    try:
        frames, stop = split(data, mini, start, max_size)
    except ValueError as exc:
        return ("error", type(exc), str(exc))
    return [(t, type(b), bytes(b), *rest) for t, b, *rest in frames], stop


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=8),
    st.data(),
)
def test_frame_splitting_twins_agree(
    mini: bool, msgs: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    from spicepy.wire.headers import pack_header, parse_header, split_frames_ref

    stream = b"".join(
        pack_header(t, len(b), mini=mini, serial=i + 1, sub_list=i % 2) + b
        for i, (t, b) in enumerate(msgs)
    )
    if data.draw(st.booleans()):  # a header that lies about its size
        stream += pack_header(7, data.draw(st.sampled_from(_HOSTILE)), mini=mini)
    stream = stream[: data.draw(st.integers(0, len(stream)))]
    start = data.draw(st.integers(-1, len(stream) + 1))
    max_size = data.draw(st.sampled_from([0, 10, 40, 1 << 30]))
    view = memoryview(stream)
    ref = _frames(split_frames_ref, view, mini, start, max_size)
    assert _frames(fast.split_frames, view, mini, start, max_size) == ref
    if ref[0] == "error":
        assert not 0 <= start <= len(stream)
        return
    frames, stop = ref
    # the frames tile data[start:stop] and each one is a header plus its body
    assert [f[5] for f in frames] == [start, *(f[6] for f in frames)][: len(frames)]
    assert stop == (frames[-1][6] if frames else start)
    for t, _, body, serial, sub_list, pos, end in frames:
        hdr = parse_header(stream, mini, pos)
        assert (hdr.msg_type, hdr.size, hdr.serial, hdr.sub_list) == (
            t, len(body), serial, sub_list
        )  # fmt: skip
        assert stream[end - len(body) : end] == body and len(body) <= max_size
    # what is left is an incomplete message or one announcing too much
    hsize = 6 if mini else 18
    if len(stream) - stop >= hsize:
        (size,) = struct.unpack_from("<I", stream, stop + (2 if mini else 10))
        assert size > max_size or stop + hsize + size > len(stream)


def test_frame_splitting_of_captured_streams(captures_dir: Path) -> None:
    from spicepy.wire.headers import split_frames_ref

    for name in ("text-glz", "mixed-defaults"):
        for ch in read_channels(captures_dir / f"{name}.pcap"):
            data = memoryview(bytes(ch.server_data))
            frames, stop = fast.split_frames(data, ch.mini_header)
            ref_frames, ref_stop = split_frames_ref(data, ch.mini_header)
            assert stop == ref_stop == len(data)
            got = [(t, bytes(b)) for t, b, *_ in frames]
            assert got == [(t, bytes(b)) for t, b, *_ in ref_frames]
            assert got == [(m.type, bytes(m.body)) for m in ch.server_messages()]
            assert all(isinstance(f[1], memoryview) for f in frames)


def test_lying_counts_fail_before_allocating() -> None:
    from spicepy.wire.msg_display import InvalList, MonitorsConfig
    from spicepy.wire.types import BitmapData

    # a count far beyond the bytes left: refused from the count alone
    assert assert_twins(InvalList, struct.pack("<H", 0xFFFF)) == (
        "error",
        WireError,
        "array of 65535 items does not fit in 0 bytes",
    )
    assert assert_twins(MonitorsConfig, struct.pack("<HH", 40000, 1) + bytes(28))[
        2
    ].startswith("array of 40000 items")
    # a bitmap whose stride * height is beyond any image: refused before reading
    huge = struct.pack("<BBIII", 8, 0, 1 << 20, 1 << 20, 1 << 20) + struct.pack("<I", 0)
    assert assert_twins(BitmapData, huge) == (
        "error",
        WireError,
        f"bitmap of {1 << 40} bytes is too big",
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _TypeFirst:
    type: int


@dataclasses.dataclass(frozen=True, slots=True)
class _TypeSecond:
    pad: int
    type: int


@dataclasses.dataclass(frozen=True)
class _TypeProperty:
    @property
    def type(self) -> int:
        return 3


class _AnyHead:
    """A wire type the plan does not know: u8 class, u8 type -> one of three
    classes that all have a ``type`` (in another slot, or a property)."""

    def pull(self, r: Reader, values: Any) -> Any:
        which, kind = r.buf.pull_u8(), r.buf.pull_u8()
        if which == 0:
            return _TypeFirst(kind)
        if which == 1:
            return _TypeSecond(kind + 7, kind)
        return _TypeProperty()

    def push(self, w: Any, value: Any, values: Any) -> None:  # pragma: no cover
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, slots=True)
class _Headed:
    head: Any = dataclasses.field(metadata=wt(_AnyHead()))  # type: ignore[arg-type]
    x: int | None = dataclasses.field(
        default=None,
        kw_only=True,
        metadata=wt(U8, FieldIn("head", frozenset({1, 3}), attr="type")),
    )


def test_attribute_conditions_follow_the_class_they_read() -> None:
    """The compiled twin reads a condition's attribute straight from the slot of
    the first class it met; other classes (another slot, a property) still get
    the attribute looked up, in any order."""
    results = []
    for which in (0, 1, 2, 0, 1):
        for kind in (1, 2, 3):
            got = assert_twins(_Headed, bytes([which, kind, 42]))
            assert got[0] == "ok"
            results.append(got[1][1][1])  # the shape of x
    present = [r == (int, 42) for r in results]
    # x is present where the type read is 1 or 3 (the property always says 3)
    assert present == [True, False, True] * 2 + [True] * 3 + [True, False, True] * 2
