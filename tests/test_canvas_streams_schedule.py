"""Video frames on the multimedia clock follow spice-gtk's rules, one test each:
channel-display-mjpeg.c (``mjpeg_decoder_queue_frame`` / ``_schedule`` /
``_reschedule``) for MJPEG, channel-display-gst.c (``queue_frame`` /
``schedule_frame`` / ``reschedule``) for VP8 and H.264; then hypothesis over
random frame / timer / reset sequences for both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simplejpeg
from hypothesis import given, settings
from hypothesis import strategies as st
from test_session_streams import T0, display, make_core
from test_session_streams import frame as session_frame
from test_session_streams import stream as session_stream

from spicepy.canvas import Canvas, SurfaceFormat
from spicepy.canvas.streams import (
    MAX_QUEUED_FRAMES,
    FrameScheduler,
    StreamManager,
    _Frame,
    mm_diff,
)
from spicepy.wire.enums import ChannelType, DisplayMsg, StreamFlags, VideoCodecType
from spicepy.wire.types import Rect

WHOLE = Rect(0, 0, 8, 8)  # top, left, bottom, right


def frame(mm_time: int, tag: int = 0) -> _Frame:
    """A queued frame; ``tag`` (its payload) tells frames apart."""
    return _Frame(mm_time, tag.to_bytes(4, "big"), 8, 8, WHOLE, nbytes=4)


def tags(frames: list[_Frame]) -> list[int]:
    return [int.from_bytes(f.data, "big") for f in frames]


def jpeg_manager() -> tuple[Canvas, StreamManager]:
    canvas = Canvas()
    canvas.create_surface(0, 8, 8, SurfaceFormat.FMT_32_xRGB)
    m = StreamManager(canvas)
    m.create(1, 0, StreamFlags.TOP_DOWN, VideoCodecType.MJPEG, 8, 8, 8, 8, WHOLE)
    return canvas, m


def grey_jpeg(level: int) -> bytes:
    grey = np.full((8, 8, 3), level, np.uint8)
    return bytes(simplejpeg.encode_jpeg(grey, quality=100, colorsubsampling="444"))


# -- both paths ----------------------------------------------------------------------


def test_a_frame_due_now_waits_for_the_timer() -> None:
    """spice-gtk arms a timer even for a frame due now (g_timeout_add(0)): the
    frames of one read are queued before any is shown."""
    canvas, m = jpeg_manager()
    m.data(1, 100, grey_jpeg(200), now=100)
    assert m.streams[1].frames_shown == 0 and m.next_deadline() == 100
    m.run(100)
    assert m.streams[1].frames_shown == 1
    assert canvas.surface(0).pixels[4, 4, :3].tolist() == [200, 200, 200]


def test_the_session_shows_a_frame_due_now_from_its_timer() -> None:
    """Through ``SessionCore``: the frame waits for ``get_timer`` (the caller's
    ``loop.call_at``), which is due at once."""
    core = make_core()
    display(core, session_frame(10_000, 120))  # due exactly now (T0)
    assert session_stream(core).frames_shown == 0
    when = core.get_timer()
    assert when == pytest.approx(T0)
    core.handle_timer(T0)
    assert session_stream(core).frames_shown == 1 and core.get_timer() is None


@pytest.mark.parametrize("keep_late", [False, True])
def test_the_armed_frame_shows_late_and_the_late_ones_behind_it_drop(
    keep_late: bool,
) -> None:
    s = FrameScheduler(keep_late)
    for k, t in enumerate((100, 110, 120, 300)):
        assert s.push(frame(t, k), now=50)
    assert s.armed_at == 100 and s.due(99) == []
    # the timer fired late, at 125: 100 shown; 110 and 120 past, 300 follows
    assert tags(s.due(125)) == [0] and s.dropped_on_playback == 2
    assert s.next_time() == 300 and tags(s.due(300)) == [3]


def test_a_capture_queues_every_frame_spice_gtk_queues(captures_dir: Path) -> None:
    """video-stream_filter sends its 69 frames ahead of the clock; spice-gtk
    queues them all (69 "video margin" lines with SPICE_DEBUG) and each is
    shown at its time; a per-stream cap of 64 dropped the first 5."""
    from spicepy.capture.streams import read_channels
    from spicepy.wire import decode_message

    path = captures_dir / "video-stream_filter.pcap"
    if not path.exists():
        pytest.skip("video-stream_filter capture missing")
    stamped = [
        decode_message(ch.channel_type, m.type, m.body)
        for ch in read_channels(path)
        if ch.channel_type == ChannelType.DISPLAY
        for m in ch.server_messages()
        if m.type == DisplayMsg.STREAM_DATA
    ]
    w, h = 1024, 768  # the primary
    canvas = Canvas()
    canvas.create_surface(0, w, h, SurfaceFormat.FMT_32_xRGB)
    m = StreamManager(canvas)
    dest = Rect(0, 0, 240, 320)
    m.create(1, 0, StreamFlags.TOP_DOWN, VideoCodecType.MJPEG, 320, 240, 320, 240, dest)
    start = stamped[0].base.multi_media_time - 1
    for msg in stamped:
        m.data(1, msg.base.multi_media_time, msg.data, now=start)
    s = m.streams[1]
    assert len(s.scheduler.queue) == len(stamped) == 69 and s.frames_dropped == 0
    while (due := m.next_deadline()) is not None:
        m.run(due)
    assert s.frames_shown == 69 and s.frames_dropped == 0


@pytest.mark.parametrize("keep_late", [False, True])
def test_the_queue_keeps_at_most_max_queued_frames_dropping_the_oldest(
    keep_late: bool,
) -> None:
    s = FrameScheduler(keep_late)
    for k in range(MAX_QUEUED_FRAMES + 2):
        assert s.push(frame(1000 + k, k), now=0)
    assert len(s.queue) == MAX_QUEUED_FRAMES and s.dropped == 2
    assert tags(s.due(1002)) == [2]  # the next frame is armed once its time comes


# -- MJPEG (channel-display-mjpeg.c) -------------------------------------------------


def test_mjpeg_drops_a_late_frame_on_arrival() -> None:
    s = FrameScheduler()
    assert not s.push(frame(90), now=100)
    assert s.dropped == s.late_on_arrival == 1 and s.next_time() is None


def test_mjpeg_time_going_back_drops_the_queue_behind_the_armed_frame() -> None:
    s = FrameScheduler()
    for k, t in enumerate((100, 200)):
        s.push(frame(t, k), now=50)
    assert s.push(frame(150, 2), now=50)  # older than 200: the queue starts over
    assert s.dropped == 2 and tags(list(s.queue)) == [2] and s.armed_at == 150


def test_mjpeg_time_going_back_behind_the_armed_frame_alone_is_no_reset() -> None:
    """spice-gtk compares with the tail of its queue, which does not hold the
    armed frame: with only that one, nothing is reset; the older frame is
    late once the armed one is shown, and dropped."""
    s = FrameScheduler()
    s.push(frame(100, 0), now=50)
    assert s.push(frame(90, 1), now=50)
    assert s.dropped == 0 and len(s.queue) == 2 and s.due(90) == []
    assert tags(s.due(100)) == [0] and s.dropped_on_playback == 1


def test_mjpeg_reschedule_drops_the_armed_frame_once_past() -> None:
    s = FrameScheduler()
    s.push(frame(100, 0), now=50)
    s.push(frame(400, 1), now=50)
    s.reschedule(200)  # the mm clock jumped past 100
    assert s.dropped_on_playback == 1 and s.armed_at == 400


# -- VP8 / H.264 (channel-display-gst.c) ---------------------------------------------


def test_gst_keeps_a_late_frame_and_shows_the_last_one_at_once() -> None:
    """Late VP8/H.264 frames still go to the decoder; the newest one is shown
    "so the video is not completely frozen"."""
    s = FrameScheduler(keep_late=True)
    assert s.push(frame(90, 0), now=100)
    assert s.dropped == 0 and s.late_on_arrival == 1 and s.armed_at == 100
    assert tags(s.due(100)) == [0]


def test_gst_drops_a_late_frame_with_a_newer_one_behind_it() -> None:
    s = FrameScheduler(keep_late=True)
    for k, t in enumerate((80, 85, 90)):
        s.push(frame(t, k), now=100)  # the first is armed at once
    assert tags(s.due(100)) == [0, 2] and s.dropped_on_playback == 1


def test_gst_time_going_back_resets_nothing() -> None:
    s = FrameScheduler(keep_late=True)
    for k, t in enumerate((100, 200, 150)):
        assert s.push(frame(t, k), now=50)
    assert s.dropped == 0 and tags(s.due(100)) == [0]
    # at 200: 200 shown, then 150 (late, the last) at once
    assert tags(s.due(200)) == [1, 2] and s.dropped == 0


def test_gst_reschedule_keeps_the_last_late_frame() -> None:
    s = FrameScheduler(keep_late=True)
    s.push(frame(100, 0), now=50)
    s.reschedule(200)
    assert s.dropped == 0 and s.armed_at == 200 and tags(s.due(200)) == [0]


# -- properties ----------------------------------------------------------------------

times = st.integers(0, 600)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), times, times),
        st.tuples(st.just("due"), times),
        st.tuples(st.just("reschedule"), times),
        st.tuples(st.just("drop_oldest")),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(keep_late=st.booleans(), steps=ops)
def test_every_frame_is_shown_dropped_or_queued_once_and_never_early(
    keep_late: bool, steps: list[tuple[object, ...]]
) -> None:
    s = FrameScheduler(keep_late)
    pushed = 0
    shown: list[int] = []
    late_tags: set[int] = set()
    for step in steps:
        if step[0] == "push":
            mm, now = int(step[1]), int(step[2])  # type: ignore[call-overload]
            if mm_diff(mm, now) < 0:
                late_tags.add(pushed)
            s.push(frame(mm, pushed), now)
            pushed += 1
        elif step[0] == "due":
            now = int(step[1])  # type: ignore[call-overload]
            out = s.due(now)
            assert all(mm_diff(f.mm_time, now) <= 0 for f in out)  # never early
            assert not any(f.queued for f in out)
            shown += tags(out)
        elif step[0] == "reschedule":
            s.reschedule(int(step[1]))  # type: ignore[call-overload]
        elif s.queue:
            s.drop_oldest()
        assert pushed == len(shown) + s.dropped + len(s.queue)
        assert s.bytes == sum(f.nbytes for f in s.queue)
        assert all(f.queued for f in s.queue)
        assert (s.next_time() is None) == (not s.queue)
        assert s.armed_at is None or s.queue
    assert shown == sorted(shown)  # arrival order
    if not keep_late:  # MJPEG: a frame late on arrival is never shown
        assert not late_tags & set(shown)
