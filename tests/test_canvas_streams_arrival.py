"""MJPEG frames on the clock: ``StreamManager.data`` decides a frame's fate on
arrival (``FrameScheduler.admit``) before it builds a frame object or copies
the payload, and ``next_deadline`` picks the nearest time in one loop.

Each is checked against a reference restated here from the code it replaced:
the frame built first and handed to ``FrameScheduler.push`` (the scheduler's
own rules, which test_canvas_streams_schedule pins to spice-gtk's), and the
deadline as the minimum of a list by ``mm_diff`` from ``now``.
"""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.canvas import Canvas, SurfaceFormat
from spicepy.canvas import streams as streams_mod
from spicepy.canvas.streams import StreamManager, _Frame, mm_diff
from spicepy.wire.enums import StreamFlags, VideoCodecType
from spicepy.wire.types import Rect

SIZE = 8
WHOLE = Rect(0, 0, SIZE, SIZE)  # top, left, bottom, right


def grey_jpeg(level: int) -> bytes:
    grey = np.full((SIZE, SIZE, 3), level, np.uint8)
    return bytes(simplejpeg.encode_jpeg(grey, quality=100, colorsubsampling="444"))


#: payloads told apart by their grey level (quality 100, 4:4:4: decoded exactly)
JPEGS = [grey_jpeg(40 + 10 * k) for k in range(20)]


def manager(window: int = 4, timeout: int = 1000) -> StreamManager:
    canvas = Canvas()
    canvas.create_surface(0, SIZE, SIZE, SurfaceFormat.FMT_32_xRGB)
    m = StreamManager(canvas, threaded=False)
    m.create(
        1, 0, StreamFlags.TOP_DOWN, VideoCodecType.MJPEG, SIZE, SIZE, SIZE, SIZE, WHOLE
    )
    m.activate_report(1, 9, window, timeout)
    return m


def data_via_push(
    m: StreamManager, mm_time: int, payload: memoryview, now: int
) -> None:
    """The reference: what ``data`` did before the arrival check moved ahead
    of the frame (frame built, report, ``push``, a queued one's bytes copied,
    budget checked)."""
    s = m.streams[1]
    s.frames_received += 1
    s.bytes_received += len(payload)
    if mm_time == 0:
        mm_time = (now + 100) & 0xFFFFFFFF
    item = _Frame(mm_time, payload, s.stream_width, s.stream_height, s.dest)
    m._report(s, mm_time, mm_diff(mm_time, now), now)
    m._now = now
    item.nbytes = len(payload)
    if s.scheduler.push(item, now):
        item.data = bytes(item.data)
        m._within_budget()


def state(m: StreamManager) -> tuple[object, ...]:
    s = m.streams[1]
    sched = s.scheduler
    pixels = m.canvas.surfaces[0].pixels
    return (
        [(f.mm_time, bytes(f.data), f.nbytes, f.queued) for f in sched.queue],
        sched.armed_at,
        sched.bytes,
        sched.dropped,
        sched.late_on_arrival,
        sched.dropped_on_playback,
        s.frames_received,
        s.bytes_received,
        s.frames_shown,
        m.take_reports(),
        list(m.shown),
        m.next_deadline(),
        pixels.tobytes(),
    )


#: mm times near a small base and across the u32 wrap, 0 (the stamp spice-gtk
#: replaces) included
mm_times = st.one_of(
    st.integers(0, 400), st.integers(0xFFFFFFFF - 200, 0xFFFFFFFF), st.just(0)
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("data"), mm_times, mm_times, st.integers(0, 19)),
        st.tuples(st.just("run"), mm_times),
        st.tuples(st.just("reschedule"), mm_times),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(steps=steps, window=st.integers(1, 6), timeout=st.integers(0, 500))
def test_arrival_decision_equals_building_the_frame_first(
    steps: list[tuple[object, ...]], window: int, timeout: int
) -> None:
    fast, ref = manager(window, timeout), manager(window, timeout)
    for step in steps:
        if step[0] == "data":
            mm, now, k = (int(v) for v in step[1:])  # type: ignore[call-overload]
            payload = memoryview(bytearray(JPEGS[k]))  # a view, as from the wire
            fast.data(1, mm, payload, now)
            data_via_push(ref, mm, payload, now)
        elif step[0] == "run":
            fast.run(int(step[1]))  # type: ignore[call-overload]
            ref.run(int(step[1]))  # type: ignore[call-overload]
        else:
            fast.reschedule(int(step[1]))  # type: ignore[call-overload]
            ref.reschedule(int(step[1]))  # type: ignore[call-overload]
        assert state(fast) == state(ref)


def test_a_late_frame_builds_no_frame_and_copies_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Most of a replayed burst's frames come late: they cost a count, no
    ``_Frame`` and no copy of the payload (the one queued is copied once)."""
    built: list[_Frame] = []

    def counting(*args: object) -> _Frame:
        item = _Frame(*args)  # type: ignore[arg-type]
        built.append(item)
        return item

    monkeypatch.setattr(streams_mod, "_Frame", counting)
    m = manager()
    payload = memoryview(bytearray(JPEGS[0]))
    m.data(1, 900, payload, 1000)  # 100 ms late
    s = m.streams[1]
    assert built == [] and s.scheduler.dropped == 1 and s.frames_received == 1
    m.data(1, 1100, payload, 1000)  # on time: queued, with its own bytes
    assert len(built) == 1 and list(s.scheduler.queue) == built
    assert type(built[0].data) is bytes and built[0].data == JPEGS[0]


def deadline_reference(m: StreamManager, now: int | None) -> int | None:
    """``next_deadline`` as it was: every stream's next time plus, when a
    chosen frame waits, the last run's time; the least by ``mm_diff`` from
    ``now`` (by value without ``now``)."""
    times = [
        t for s in m.streams.values() if (t := s.scheduler.next_time()) is not None
    ]
    polled = m.wakeup is None
    for s in m.streams.values():
        if s.ready and (polled or s.ready[0].done is not None):
            times.append((m._now + polled) & 0xFFFFFFFF)
            break
    if not times:
        return None
    if now is None:
        return min(times)
    return min(times, key=lambda t: mm_diff(t, now))


@settings(max_examples=200, deadline=None)
@given(
    queued=st.lists(st.lists(mm_times, max_size=3), min_size=1, max_size=4),
    ready=st.lists(st.booleans(), min_size=4, max_size=4),
    last_run=mm_times,
    now=st.one_of(st.none(), mm_times),
    polled=st.booleans(),
)
def test_next_deadline_is_the_nearest_time(
    queued: list[list[int]],
    ready: list[bool],
    last_run: int,
    now: int | None,
    polled: bool,
) -> None:
    m = manager()
    for sid, times in enumerate(queued, start=1):
        if sid > 1:
            m.create(sid, 0, 0, VideoCodecType.MJPEG, SIZE, SIZE, SIZE, SIZE, WHOLE)
        s = m.streams[sid]
        for t in times:  # queued behind each other, never dropped: keep_late
            s.scheduler.keep_late = True
            s.scheduler.push(_Frame(t, b"", SIZE, SIZE, WHOLE), 0)
        if ready[sid - 1]:  # a frame ``run`` chose, decoded or not
            chosen = _Frame(last_run, b"", SIZE, SIZE, WHOLE)
            chosen.done = (None, None, 0.0, 0) if sid % 2 else None
            s.ready.append(chosen)
    m._now = last_run
    m.wakeup = None if polled else (lambda: None)
    assert m.next_deadline(now) == deadline_reference(m, now)
