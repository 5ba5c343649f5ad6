"""The compiled decoder takes decoded values off the collector's lists only when
that is sound: a value it untracks holds nothing the collector tracks (so it can
never close a cycle), and values holding a payload view stay tracked.  Checked
on every message of the committed capture sample (tests/data/README.md), on the
MessageReader's events, and on a schema whose field holds a tracked object."""

from __future__ import annotations

import dataclasses
import gc
from dataclasses import dataclass, field
from typing import Any

import pytest

from spicepy.channels.events import MessageReceived
from spicepy.wire.enums import ChannelType, DisplayMsg
from spicepy.wire.headers import pack_header
from spicepy.wire.registry import lookup
from spicepy.wire.schema import U8, U32, Reader, wt

fast = pytest.importorskip("spicepy.wire._decode")

from test_wire_twins import read_sample  # noqa: E402


def _children(obj: Any) -> list[Any]:
    if isinstance(obj, tuple):
        return list(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    return []


def _walk(obj: Any, seen: dict[int, Any]) -> None:
    if id(obj) in seen:
        return
    seen[id(obj)] = obj
    for child in _children(obj):
        _walk(child, seen)


def _assert_sound(root: Any) -> tuple[int, int]:
    """Every untracked decoded value holds only untracked values; returns
    (values untracked, values holding a tracked one)."""
    seen: dict[int, Any] = {}
    _walk(root, seen)
    untracked = holders = 0
    for obj in seen.values():
        kids = _children(obj)
        if not kids and not dataclasses.is_dataclass(obj):
            continue
        tracked_kid = any(gc.is_tracked(k) for k in kids)
        if not gc.is_tracked(obj):
            untracked += 1
            assert not tracked_kid, (
                f"{type(obj).__name__} untracked over a tracked value"
            )
        elif tracked_kid:
            holders += 1
    return untracked, holders


def test_untracked_values_hold_only_untracked_ones() -> None:
    untracked = holders = 0
    for channel, from_server, msg_type, body in read_sample():
        cls = lookup(channel, msg_type, from_server)
        if cls is None:
            continue
        try:
            msg = fast.decode_struct(cls, body)
        except Exception:
            continue
        u, h = _assert_sound(msg)
        untracked += u
        holders += h
    # the untracking happens at all (Rects, Clips, descriptors...), and payload
    # holders (images, stream data) were met and stayed tracked
    assert untracked > 100 and holders > 10


def test_a_draw_keeps_its_payload_holders_tracked() -> None:
    draws = [
        body
        for channel, from_server, msg_type, body in read_sample()
        if (channel, from_server, msg_type)
        == (ChannelType.DISPLAY, True, DisplayMsg.DRAW_COPY)
    ]
    cls = lookup(ChannelType.DISPLAY, DisplayMsg.DRAW_COPY, True)
    assert draws and cls is not None
    for body in draws:
        msg = fast.decode_struct(cls, body)
        assert not gc.is_tracked(msg.base) and not gc.is_tracked(msg.data.src_area)
        image = msg.data.src_bitmap
        if image is not None:
            assert not gc.is_tracked(image.descriptor)
            # tracked exactly when it holds a tracked value (a payload view)
            assert gc.is_tracked(image) == any(map(gc.is_tracked, _children(image)))
        held = image is not None and gc.is_tracked(image)
        assert gc.is_tracked(msg) == gc.is_tracked(msg.data) == held


class _Box:
    """A wire type the plan does not know, read by the reference engine: it
    yields a list (a tracked object) the struct then holds."""

    def pull(self, r: Reader, values: Any) -> list[int]:
        return [r.buf.pull_u8()]

    def push(self, w: Any, value: Any, values: Any) -> None:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _HoldsList:
    n: int = field(metadata=wt(U8))
    box: list[int] = field(metadata=wt(_Box()))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Atoms:
    a: int = field(metadata=wt(U32))
    b: int = field(metadata=wt(U8))


def test_a_value_holding_a_tracked_object_stays_tracked() -> None:
    held = fast.decode_struct(_HoldsList, b"\x01\x02")
    assert held.box == [2] and gc.is_tracked(held.box)
    assert gc.is_tracked(held)
    atoms = fast.decode_struct(_Atoms, b"\x01\x00\x00\x00\x02")
    assert (atoms.a, atoms.b) == (1, 2) and not gc.is_tracked(atoms)


def test_reader_events_untracked_only_over_untracked_messages() -> None:
    events: list[Any] = []
    counts: dict[int, int] = {}
    reader = fast.MessageReader(
        {101: _Atoms, 102: _HoldsList}, 2, MessageReceived, events, counts
    )
    data = (
        pack_header(101, 5, mini=True)
        + b"\x01\x00\x00\x00\x02"
        + pack_header(102, 2, mini=True)
        + b"\x01\x07"
    )
    assert reader.read(memoryview(data), 0, True, 1 << 20, 0, 10)[2] == 2
    atoms, held = events
    assert not gc.is_tracked(atoms) and not gc.is_tracked(atoms.message)
    assert gc.is_tracked(held) and held.message.box == [7]
