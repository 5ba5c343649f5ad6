"""Session.frames (session/frames.py): per-display damage, resize events,
bounded consumers, callbacks, copies; through a real SessionCore fed by a
FakeServer display channel, by a recorded Xspice stream, and by a Session."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _channel_helpers import linked
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.capture.streams import iter_data_messages, server_data_start
from spicepy.channels.display import DisplayChannel
from spicepy.channels.events import MessageReceived
from spicepy.errors import SpiceTimeoutError
from spicepy.session.core import ChangedRect, SessionCore
from spicepy.session.frames import FrameTracker, FrameUpdate, Monitor, SurfaceResized
from spicepy.session.session import Session
from spicepy.session.uri import SpiceUri
from spicepy.wire import decode_message
from spicepy.wire import msg_display as md
from spicepy.wire.enums import BrushType, ChannelType, SurfaceFmt
from spicepy.wire.types import CLIP_NONE, QMASK_NONE, Brush, DisplayBase, Head, Rect

DATA = Path(__file__).parent / "data"
DISPLAY = int(ChannelType.DISPLAY)


def fill(left: int, top: int, right: int, bottom: int, color: int = 0xFF) -> Any:
    base = DisplayBase(0, Rect(top, left, bottom, right), CLIP_NONE)
    return md.DrawFill(
        base, md.Fill(Brush(BrushType.SOLID, color=color), 8, QMASK_NONE)
    )


def create(width: int, height: int) -> Any:
    return md.SurfaceCreate(0, width, height, SurfaceFmt.FMT_32_xRGB, 1)


def feed(core: SessionCore, display: int, msg: Any) -> None:
    event = MessageReceived(DISPLAY, 0, 0, msg)
    core.handle_event((DISPLAY, display), event, 0.0)


def make(displays: int = 1) -> tuple[SessionCore, FrameTracker]:
    core = SessionCore()
    tracker = FrameTracker(core)
    for cid in range(displays):
        core.add_display(cid)  # what LinkCompleted of a display channel does
    return core, tracker


def test_fake_server_display_damage_per_display() -> None:
    """Bytes from a FakeServer display channel: every display's updates carry
    its own rectangles, counter and pixels."""
    core, tracker = make(2)
    machines = {cid: linked(DisplayChannel, channel_id=cid) for cid in (0, 1)}
    sub = tracker.subscribe()

    def send(cid: int, msg: Any) -> None:
        machine, server = machines[cid]
        machine.receive_data(server.pack(msg))
        while (event := machine.next_event()) is not None:
            core.handle_event((DISPLAY, cid), event, 0.0)

    send(0, create(64, 48))
    send(1, create(32, 16))
    first = sub.take()
    assert first[0] == SurfaceResized(0, 64, 48, ())
    assert first[2] == SurfaceResized(1, 32, 16, ())
    assert [e.rects for e in first if isinstance(e, FrameUpdate)] == [
        (ChangedRect(0, 0, 64, 48),),
        (ChangedRect(0, 0, 32, 16),),
    ]
    send(1, fill(2, 3, 10, 12, 0x00FF00))
    send(0, fill(5, 6, 7, 8, 0x0000FF))
    (u0, u1) = sub.take()
    assert isinstance(u0, FrameUpdate) and isinstance(u1, FrameUpdate)
    assert (u0.display, u0.rects, u0.frame, u0.changes) == (
        0,
        (ChangedRect(5, 6, 7, 8),),
        2,
        1,
    )
    assert (u1.display, u1.rects, u1.frame) == (1, (ChangedRect(2, 3, 10, 12),), 2)
    assert u1.copy(u1.rects[0]).reshape(-1, 3).tolist() == [[0, 255, 0]] * 72
    assert (
        u0.copy(ChangedRect(4, 6, 7, 8)).tolist()
        == [[[0, 0, 0], [0, 0, 255], [0, 0, 255]]] * 2
    )
    assert sub.take() == []
    assert tracker.displays == [0, 1] and tracker.size(1) == (32, 16)


def test_resize_and_monitors_are_their_own_events() -> None:
    core, tracker = make()
    sub = tracker.subscribe()
    feed(core, 0, create(40, 30))
    feed(core, 0, fill(0, 0, 4, 4))
    events = sub.take()
    assert events[0] == SurfaceResized(0, 40, 30, ())
    # damage before the new surface is dropped: the surface is damaged whole
    assert isinstance(events[1], FrameUpdate)
    assert events[1].rects == (ChangedRect(0, 0, 40, 30), ChangedRect(0, 0, 4, 4))
    head = Head(0, 0, 20, 30, 20, 0, 0)
    feed(core, 0, md.MonitorsConfig(1, 4, (head,)))  # no pixel changes: seen on take
    assert sub.pending
    assert sub.take() == [SurfaceResized(0, 40, 30, (Monitor(0, 20, 0, 20, 30),))]
    feed(core, 0, fill(20, 0, 40, 30, 0x123456))
    right = tracker.copy_monitor(0)
    assert right.shape == (30, 20, 3) and right[0, 0].tolist() == [0x12, 0x34, 0x56]
    feed(core, 0, md.SurfaceDestroy(0))
    feed(core, 0, create(80, 60))  # a guest resize: destroy + create
    events = sub.take()
    assert events[0] == SurfaceResized(0, 80, 60, (Monitor(0, 20, 0, 20, 30),))
    assert isinstance(events[1], FrameUpdate) and events[1].pixels.shape == (60, 80, 4)
    assert events[1].rects == (ChangedRect(0, 0, 80, 60),)


def test_a_consumer_that_never_reads_stays_bounded() -> None:
    core, tracker = make()
    feed(core, 0, create(200, 100))
    slow = tracker.subscribe(max_rects=8)
    for i in range(1000):
        feed(core, 0, fill(i % 190, i % 90, i % 190 + 3, i % 90 + 2))
    assert len(slow._pending[0].rects) <= 8
    (update,) = slow.take()
    assert isinstance(update, FrameUpdate)
    assert update.changes == 1000 and update.frame == 1001 and len(update.rects) <= 8
    # the coalesced rectangles still cover every change
    covered = np.zeros((100, 200), bool)
    for r in update.rects:
        covered[r.top : r.bottom, r.left : r.right] = True
    for i in range(1000):
        assert covered[i % 90 : i % 90 + 2, i % 190 : i % 190 + 3].all()
    with pytest.raises(ValueError):
        tracker.subscribe(max_rects=0)


def test_callbacks_get_each_change_and_a_failing_one_is_contained() -> None:
    core, tracker = make()
    seen: list[object] = []
    remove = tracker.on_update(seen.append)

    def broken(event: object) -> None:
        raise RuntimeError("application bug")

    tracker.on_update(broken)
    feed(core, 0, create(16, 16))
    feed(core, 0, fill(1, 2, 3, 4))
    assert seen[0] == SurfaceResized(0, 16, 16, ())
    assert [(e.rects, e.frame) for e in seen[1:] if isinstance(e, FrameUpdate)] == [
        ((ChangedRect(0, 0, 16, 16),), 1),
        ((ChangedRect(1, 2, 3, 4),), 2),
    ]
    remove()
    feed(core, 0, fill(1, 2, 3, 4))
    assert len(seen) == 3


def test_a_box_beyond_the_surface_is_clipped_or_dropped() -> None:
    """A server box need not lie inside the surface: updates report only what
    the surface holds."""
    core, tracker = make()
    feed(core, 0, create(16, 16))
    sub = tracker.subscribe()
    feed(core, 0, fill(-4, 10, 40, 99))  # the canvas draws the clipped part
    feed(core, 0, fill(100, 100, 120, 120))  # entirely outside: no damage
    (update,) = sub.take()
    assert isinstance(update, FrameUpdate)
    assert update.rects == (ChangedRect(0, 10, 16, 16),) and update.changes == 1


def test_copy_is_a_copy_and_refuses_outside_rects() -> None:
    core, tracker = make()
    with pytest.raises(Exception, match="no primary"):
        tracker.copy()
    feed(core, 0, create(8, 8))
    feed(core, 0, fill(0, 0, 8, 8, 0x0000FF))
    snap = tracker.copy(ChangedRect(-5, -5, 2, 2))  # clipped to the surface
    assert snap.shape == (2, 2, 3)
    feed(core, 0, fill(0, 0, 8, 8, 0xFF0000))
    assert snap.reshape(-1, 3).tolist() == [[0, 0, 255]] * 4
    assert tracker.copy()[0, 0].tolist() == [255, 0, 0]
    with pytest.raises(ValueError):
        tracker.copy(ChangedRect(9, 9, 12, 12))


def test_recorded_xspice_stream_damage_covers_every_changed_pixel() -> None:
    """Offline replay of a recorded Xspice display stream: between two takes,
    every pixel that changed lies inside the rectangles reported."""
    raw = (DATA / "display_server_head.bin").read_bytes()
    core, tracker = make()
    sub = tracker.subscribe(max_rects=4)
    before: np.ndarray[Any, Any] | None = None
    updates = 0
    for n, wire in enumerate(iter_data_messages(raw[server_data_start(raw) :], True)):
        feed(core, 0, decode_message(DISPLAY, wire.type, wire.body))
        if n % 16:  # a take every 16 messages (full-surface compares are slow)
            continue
        events = sub.take()
        pixels = tracker.pixels()
        if pixels is None:
            continue
        covered = np.zeros(pixels.shape[:2], bool)
        for event in events:
            if isinstance(event, FrameUpdate):
                updates += 1
                assert event.pixels is pixels
                for r in event.rects:
                    covered[r.top : r.bottom, r.left : r.right] = True
        if before is not None and before.shape == pixels.shape:
            changed = (before != pixels).any(axis=2)
            assert not (changed & ~covered).any()
        before = pixels.copy()
    assert updates > 10 and tracker.frame() == core.change_count


def _session() -> Session:
    session = Session(SpiceUri("127.0.0.1", port=1))
    session.core.add_display(0)
    return session


def _draw(session: Session, msg: Any) -> None:
    event = MessageReceived(DISPLAY, 0, 0, msg)
    session._on_event((DISPLAY, 0), None, event)  # type: ignore[arg-type]
    session._after_pump()


def test_async_iterator_coalesces_while_the_reader_is_busy() -> None:
    async def main() -> list[object]:
        session = _session()
        tracker = session.screen
        got: list[object] = []

        async def reader() -> None:
            async for event in tracker.updates(timeout=5):
                got.append(event)
                await asyncio.sleep(0.1)  # busy: later draws coalesce

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(0)
        _draw(session, create(32, 32))
        await asyncio.sleep(0.01)
        for i in range(5):
            _draw(session, fill(i, i, i + 1, i + 1))
        await asyncio.sleep(0.3)
        await session.close()
        await asyncio.wait_for(task, 2)  # ends with the session
        return got

    got = asyncio.run(main())
    assert got[0] == SurfaceResized(0, 32, 32, ())
    updates = [e for e in got if isinstance(e, FrameUpdate)]
    assert updates[0].rects == (ChangedRect(0, 0, 32, 32),)
    assert updates[1].changes == 5 and updates[1].frame == 6
    assert updates[1].rects == tuple(ChangedRect(i, i, i + 1, i + 1) for i in range(5))


_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("fill"),
            st.integers(0, 47),
            st.integers(0, 31),
            st.integers(1, 20),
            st.integers(1, 20),
        ),
        st.tuples(st.just("resize"), st.integers(8, 48), st.integers(8, 32)),
        st.tuples(st.just("take")),
    ),
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(ops=_ops, max_rects=st.integers(1, 6))
def test_any_sequence_damage_is_bounded_and_covers_every_changed_pixel(
    ops: list[tuple[Any, ...]], max_rects: int
) -> None:
    core, tracker = make()
    feed(core, 0, create(48, 32))
    sub = tracker.subscribe(max_rects)
    before = tracker.copy()
    color = 0
    for op in ops + [("take",)]:
        if op[0] == "fill":
            _, x, y, w, h = op
            color = (color + 0x10305) & 0xFFFFFF
            feed(core, 0, fill(x, y, min(48, x + w), min(32, y + h), color))
            assert all(len(p.rects) <= max_rects for p in sub._pending.values())
        elif op[0] == "resize":
            feed(core, 0, md.SurfaceDestroy(0))
            feed(core, 0, create(op[1], op[2]))
        else:
            now = tracker.copy()
            events = sub.take()
            if now.shape != before.shape:  # a new surface is announced first
                assert events[0] == SurfaceResized(0, now.shape[1], now.shape[0], ())
            covered = np.zeros(now.shape[:2], bool)
            for event in events:
                if isinstance(event, FrameUpdate):
                    assert len(event.rects) <= max_rects
                    for r in event.rects:
                        covered[r.top : r.bottom, r.left : r.right] = True
            if now.shape == before.shape:
                assert not ((now != before).any(axis=2) & ~covered).any()
            else:
                assert covered.all()
            before = now


def test_async_iterator_times_out_when_nothing_changes() -> None:
    async def main() -> None:
        session = _session()
        _draw(session, create(8, 8))  # before the iterator: not its news
        with pytest.raises(SpiceTimeoutError):
            async for event in session.screen.updates(timeout=0.2):
                raise AssertionError(f"unexpected {event}")
        await session.close()

    asyncio.run(main())


def test_a_box_that_only_touches_the_surface_edge_is_no_damage() -> None:
    core, tracker = make()
    feed(core, 0, create(16, 16))
    sub = tracker.subscribe()
    feed(core, 0, fill(16, 0, 20, 4))  # starts at the right edge: zero width
    feed(core, 0, fill(0, 16, 4, 20))  # starts at the bottom edge: zero height
    assert sub.take() == [] and not sub.pending
    assert tracker.frame() == 3  # the counter counts every change all the same


def test_max_rects_rectangles_stay_apart_one_more_collapses_them() -> None:
    core, tracker = make()
    feed(core, 0, create(16, 16))
    sub = tracker.subscribe(max_rects=3)
    boxes = [(0, 0, 1, 1), (4, 4, 5, 5), (8, 8, 9, 9)]
    for box in boxes:
        feed(core, 0, fill(*box))
    (update,) = sub.take()
    assert isinstance(update, FrameUpdate)
    assert update.rects == tuple(ChangedRect(*b) for b in boxes)
    for box in [*boxes, (12, 1, 13, 2)]:
        feed(core, 0, fill(*box))
    (update,) = sub.take()
    assert isinstance(update, FrameUpdate) and update.changes == 4
    assert update.rects == (ChangedRect(0, 0, 13, 9),)


def test_monitors_of_other_surfaces_are_not_the_primarys() -> None:
    core, tracker = make()
    feed(core, 0, create(40, 30))
    heads = (Head(0, 0, 20, 30, 0, 0, 0), Head(1, 5, 20, 30, 20, 0, 0))
    feed(core, 0, md.MonitorsConfig(2, 4, heads))
    assert tracker.monitors() == (Monitor(0, 0, 0, 20, 30),)


def test_a_new_callback_is_not_told_of_sizes_from_before_it() -> None:
    core, tracker = make()
    feed(core, 0, create(16, 16))  # nobody listens yet
    seen: list[object] = []
    tracker.on_update(seen.append)
    feed(core, 0, fill(1, 2, 3, 4))
    assert seen == [
        FrameUpdate(0, 2, 1, (ChangedRect(1, 2, 3, 4),), tracker.pixels())  # type: ignore[arg-type]
    ]
