"""The display lane's runs (``session/_lane.pyx``): what it takes is kept in C
while the reader runs and written out by ``flush()`` at the end of each
``Channel._parse``; the driver, the surface drawn on and the resolved ROPs are
looked up once per run.  Lane on must still equal lane off, fed in one chunk
(one run ends where an event waits) as well as message by message."""

from __future__ import annotations

from typing import Any

import pytest
from test_session_lane import (
    OR,
    PUT,
    XOR,
    Rig,
    _bitmap,
    _cached,
    _copy,
    _create,
    _fill,
    _rect,
    _surface_image,
    state,
)

from spicepy.session import core as core_mod
from spicepy.session.core import SessionCore
from spicepy.session.frames import FrameTracker
from spicepy.wire import msg_display as md
from spicepy.wire import types as wt

pytestmark = pytest.mark.skipif(
    core_mod._lane is None, reason="no compiled lane (pure-Python twins)"
)


def _run(msgs: list[Any], lane: bool, one_chunk: bool) -> tuple[Any, list[Any], int]:
    """``msgs`` through a core: its state, what its change listener saw (the
    box with the change count and list length at the call), what the lane took."""
    core = SessionCore()
    heard: list[Any] = []

    def listener(channel_id: int, rect: Any) -> None:
        heard.append((channel_id, rect, core.change_count, len(core._changes)))

    core.on_change(listener)
    rig = Rig(core, lane)
    packed = [rig.pack(m) for m in msgs]
    if one_chunk:
        rig.feed(b"".join(packed))
    else:
        for data in packed:
            rig.feed(data)
    rig.feed(b"", now=9.0)
    taken = rig.lane.taken if rig.lane is not None else 0
    return state(core, [rig.machine], [bytes(rig.sent)]), heard, taken


def _alike(msgs: list[Any]) -> int:
    """Lane on == lane off, fed whole and message by message; the draws the
    lane took fed whole."""
    off = _run(msgs, False, True)
    for one_chunk in (True, False):
        on = _run(msgs, True, one_chunk)
        assert on[0] == off[0]
        assert on[1] == off[1]
    return _run(msgs, True, True)[2]


def _destroy(sid: int) -> md.SurfaceDestroy:
    return md.SurfaceDestroy(sid)


def test_a_surface_made_again_within_one_chunk_is_drawn_on_anew() -> None:
    """The run's surface is looked up again after a flush: surface 1 destroyed
    and created again (another size) between draws of one chunk gets the later
    draws, not the old pixels."""
    msgs = [
        _create(0),
        _create(1, 16, 12),
        _fill(1, 0, 0, 0x112233, PUT, 0),
        _fill(1, 2, 2, 0x445566, PUT, 0),
        _destroy(1),
        _create(1, 20, 10),
        _fill(1, 1, 1, 0x778899, PUT, 0),
        _fill(1, 5, 3, 0xAABBCC, PUT, 0),
        _copy(0, 3, 3, _surface_image(1), PUT, 0),
    ]
    assert _alike(msgs) >= 5


def test_listeners_see_the_change_list_as_the_general_path_leaves_it() -> None:
    """Per change, in order: the listeners (with the count and the list as
    before it), then the list and ``change_count``; draws the lane declines
    (several clip rectangles) interleaved."""
    msgs: list[Any] = [_create(0)]
    for i in range(12):
        msgs.append(_fill(0, i, i % 5, 0x010101 * i, PUT, 2 if i % 4 == 3 else 0))
    assert _alike(msgs) >= 9


def test_the_change_list_is_cut_alike_within_one_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past MAX_CHANGES within one run the lane drops the same oldest changes
    as the core does per message, with listeners and without."""
    monkeypatch.setattr(core_mod, "MAX_CHANGES", 5)
    msgs = [_create(0), *[_fill(0, i % 20, i % 9, i, PUT, 0) for i in range(23)]]
    assert _alike(msgs) >= 22
    for lane in (False, True):  # no listener: the count added once per run
        core = SessionCore()
        rig = Rig(core, lane)
        rig.feed(b"".join(rig.pack(m) for m in msgs))
        assert core.change_count == 24 and len(core._changes) == 4


def test_alternating_rops_within_one_run_each_draw_their_own() -> None:
    """The last resolved descriptor is remembered per table: fills and copies
    alternating PUT / OR / XOR in one chunk draw with each its own ROP."""
    msgs: list[Any] = [
        _create(0),
        _copy(0, 1, 1, _bitmap(3, 0x0F1E2D), PUT, 0),
        *[_fill(0, 0, 0, 5, rop, 0) for rop in (PUT, OR, XOR)],
        *[_copy(0, 0, 0, _cached(3), rop, 0) for rop in (OR, XOR)],
    ]
    for i in range(9):
        rop = (PUT, OR, XOR)[i % 3]
        msgs.append(_fill(0, i, i, 0x102030 * (i + 1), rop, 0))
        msgs.append(_copy(0, 2 * i, i, _cached(3), (XOR, PUT, OR)[i % 3], 0))
    assert _alike(msgs) >= 18


def test_what_a_run_took_is_written_out_before_receive_data_returns() -> None:
    """No event is needed to see the lane's draws: counts, pixels drawn and
    changes are written out when the machine's ``receive_data`` returns."""
    core = SessionCore()
    rig = Rig(core, True)
    rig.feed(rig.pack(_create(0)))
    start, drawn = core.change_count, core.drivers[0].canvas.pixels_drawn
    data = b"".join(rig.pack(_fill(0, i, i, i, PUT, 0)) for i in range(6))
    rig.machine.receive_data(data)
    assert rig.machine.next_event() is None
    assert rig.lane is not None and rig.lane.taken == 6
    assert core.change_count == start + 6
    assert core.drivers[0].counts[md.DrawFill] == 6
    assert core.drivers[0].canvas.pixels_drawn == drawn + 6 * 10 * 7
    assert [r for r in core._changes[-6:]] == [_rect(i, i, 10, 7) for i in range(6)]
    assert rig.lane.flush() == 0  # nothing left for a second flush


def test_a_listener_that_raises_leaves_no_run_behind() -> None:
    """The run is reset before any listener runs: a listener's exception
    leaves nothing that a later flush would write out twice."""
    core = SessionCore()
    rig = Rig(core, True)
    rig.feed(rig.pack(_create(0)))
    calls: list[Any] = []

    def bad(channel_id: int, rect: Any) -> None:
        calls.append(rect)
        raise RuntimeError("listener")

    core.on_change(bad)
    start = core.drivers[0].counts[md.DrawFill]
    with pytest.raises(RuntimeError):
        rig.machine.receive_data(rig.pack(_fill(0, 1, 1, 7, PUT, 0)))
    assert rig.lane is not None and rig.lane.flush() == 0
    assert core.drivers[0].counts[md.DrawFill] == start + 1 and len(calls) == 1


def test_a_quantised_surface_declined_for_the_whole_run() -> None:
    """A draw on a 16-bit surface goes the general path even right after draws
    on a 32-bit one in the same run (the run's surface is per surface id)."""
    narrow = md.SurfaceCreate(1, 16, 12, 16, 0)  # FMT_16_555
    msgs = [
        _create(0),
        narrow,
        *[_fill(sid, i, i, 0x7FFF * i, PUT, 0) for i in range(4) for sid in (0, 1)],
    ]
    assert _alike(msgs) >= 4


def test_draws_on_another_surface_note_no_change() -> None:
    """Only surface 0's boxes are kept for the change list."""
    msgs = [_create(0), _create(2, 8, 8), _fill(2, 0, 0, 1, PUT, 0)]
    msgs += [_fill(0, 1, 1, 3, PUT, 0), _fill(2, 1, 1, 4, PUT, 0)]
    assert _alike(msgs) >= 3
    heard = _run(msgs, True, True)[1]
    assert [rect for _, rect, _, _ in heard] == [
        _rect(0, 0, 40, 30),
        _rect(1, 1, 10, 7),
    ]


def _batched(msgs: list[Any], lane: bool, one_chunk: bool) -> tuple[list[Any], Any]:
    """What an ``on_changes`` listener heard (the rects with the change count
    at each call) and what an ``on_change`` listener heard."""
    core = SessionCore()
    calls: list[Any] = []
    each: list[Any] = []
    core.on_changes(lambda cid, rects: calls.append((cid, rects, core.change_count)))
    core.on_change(lambda cid, rect: each.append((cid, rect)))
    rig = Rig(core, lane)
    packed = [rig.pack(m) for m in msgs]
    for data in [b"".join(packed)] if one_chunk else packed:
        rig.feed(data)
    return calls, each


def test_batch_listeners_hear_every_change_once_in_order_after_it_is_counted() -> None:
    """``on_changes``: the same rects in the same order as ``on_change``,
    lane on or off, each call after its rects are counted; the lane's run
    in one call (fewer calls than changes)."""
    msgs: list[Any] = [_create(0), _create(1, 8, 8), _fill(1, 0, 0, 1, PUT, 0)]
    msgs += [
        _fill(0, i, i % 4, 0x030201 * i, PUT, 2 if i == 5 else 0) for i in range(9)
    ]
    for lane in (False, True):
        for one_chunk in (False, True):
            calls, each = _batched(msgs, lane, one_chunk)
            flat = [(cid, r) for cid, rects, _ in calls for r in rects]
            assert flat == each and len(each) == 10
            total = 0
            for _, rects, count in calls:
                total += len(rects)
                assert count == total  # (the core's count starts at 0)
            if lane and one_chunk:
                assert len(calls) < len(each)
            if not lane:
                assert len(calls) == len(each)


def test_the_lanes_rects_are_wire_rects_equal_to_the_general_paths() -> None:
    """The change list's rects the lane builds in place are ``wire.types.Rect``
    values equal to the core's, hashable and frozen."""
    msgs = [_create(0), *[_fill(0, i - 3, i, 7, PUT, 0) for i in range(5)]]
    core = SessionCore()
    rig = Rig(core, True)
    rig.feed(b"".join(rig.pack(m) for m in msgs))
    assert rig.lane is not None and rig.lane.taken == 5
    got = core._changes[-5:]
    assert got == [_rect(i - 3, i, 10, 7) for i in range(5)]
    assert all(type(r) is wt.Rect for r in got)
    assert {hash(r) for r in got} == {hash(_rect(i - 3, i, 10, 7)) for i in range(5)}
    with pytest.raises(AttributeError):
        got[0].top = 1  # type: ignore[misc]
    assert (got[0].top, got[0].left, got[0].bottom, got[0].right) == (0, -3, 7, 7)


def test_a_frame_tracker_counts_every_change_of_a_lane_run() -> None:
    """``FrameTracker`` hears a lane run in one ``on_changes`` call: with
    nobody subscribed it counts the run's changes at once, the frame number
    the general path gives (one per change on the primary), and a subscriber
    that comes later still sees each change."""
    msgs: list[Any] = [_create(0), _create(1, 8, 8), _fill(1, 0, 0, 1, PUT, 0)]
    msgs += [
        _fill(0, i, i % 4, 0x030201 * i, PUT, 2 if i == 5 else 0) for i in range(9)
    ]
    frames = []
    for lane in (False, True):
        core = SessionCore()
        tracker = FrameTracker(core)
        rig = Rig(core, lane)
        rig.feed(b"".join(rig.pack(m) for m in msgs))
        if lane:
            assert rig.lane is not None and rig.lane.taken >= 7
        frames.append(tracker.frame(0))
        subscription = tracker.subscribe()
        subscription.take()  # (the size it catches up on)
        rig.feed(b"".join(rig.pack(_fill(0, i, 1, 0x0F0F0F, PUT, 0)) for i in range(3)))
        frames.append(tracker.frame(0))
        (update,) = subscription.take()
        assert update.changes == 3 and len(update.rects) == 3
    # the general path's numbers (the primary's creation is a change too)
    assert frames[2] == frames[0] >= 10 and frames[3] == frames[1] == frames[0] + 3
