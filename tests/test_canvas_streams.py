"""Video streams: MJPEG frames into the canvas, clip, flip, scheduling, reports."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import simplejpeg
from _canvas_build import Rect, clip

from spicepy.canvas import Canvas, SurfaceFormat
from spicepy.canvas.streams import StreamManager
from spicepy.errors import CanvasError
from spicepy.wire.enums import DisplayMsgc, StreamFlags, VideoCodecType
from spicepy.wire.messages import encode_message
from spicepy.wire.types import Rect as WireRect


def two_band_jpeg(w: int = 16, h: int = 16) -> bytes:
    """Top half pure red, bottom half pure blue (RGB), quality 100."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[: h // 2, :, 0] = 255
    rgb[h // 2 :, :, 2] = 255
    return simplejpeg.encode_jpeg(
        rgb, quality=100, colorspace="RGB", colorsubsampling="444"
    )


FULL = Rect(0, 0, 16, 16)


def setup(flags: int = 0, dest: WireRect = FULL) -> tuple[Canvas, StreamManager]:
    c = Canvas()
    c.create_surface(0, 40, 40, SurfaceFormat.FMT_32_xRGB)
    m = StreamManager(c)
    m.create(3, 0, flags, VideoCodecType.MJPEG, 16, 16, 16, 16, dest)
    return c, m


def is_red(px: np.ndarray) -> bool:  # BGRX
    return bool(px[2] > 200 and px[0] < 50)


def is_blue(px: np.ndarray) -> bool:
    return bool(px[0] > 200 and px[2] < 50)


def test_top_down_frame_lands_upright() -> None:
    c, m = setup(StreamFlags.TOP_DOWN)
    m.data(3, 1000, two_band_jpeg())
    assert is_red(c.primary.pixels[2, 2]) and is_blue(c.primary.pixels[13, 2])
    assert m.streams[3].frames_shown == 1


def test_bottom_up_frame_is_flipped() -> None:
    c, m = setup(0)
    m.data(3, 1000, two_band_jpeg())
    assert is_blue(c.primary.pixels[2, 2]) and is_red(c.primary.pixels[13, 2])


def test_frame_scaled_to_dest_and_clipped() -> None:
    c, m = setup(StreamFlags.TOP_DOWN, Rect(4, 4, 36, 36))  # 16x16 -> 32x32
    m.clip(3, clip([Rect(0, 0, 40, 20)]))
    m.data(3, 1000, two_band_jpeg())
    px = c.primary.pixels
    assert is_red(px[5, 5]) and is_red(px[19, 35])
    assert int(px[20:, :].sum()) == 0  # clipped away
    assert int(px[:4, :].sum()) == 0  # outside dest


def test_sized_frame_changes_dest() -> None:
    c, m = setup(StreamFlags.TOP_DOWN)
    m.data(3, 1000, two_band_jpeg(8, 8), width=8, height=8, dest=Rect(20, 20, 28, 28))
    assert (
        is_red(c.primary.pixels[21, 21]) and int(c.primary.pixels[:16, :16].sum()) == 0
    )


def test_scheduler_drops_late_and_waits_for_future() -> None:
    c, m = setup(StreamFlags.TOP_DOWN)
    jpeg = two_band_jpeg()
    m.data(3, 90, jpeg, now=100)  # late by 10 ms
    assert m.streams[3].frames_dropped == 1 and m.streams[3].frames_shown == 0
    m.data(3, 150, jpeg, now=100)  # 50 ms early: queued
    assert m.streams[3].frames_shown == 0 and m.next_deadline() == 150
    m.run(149)
    assert m.streams[3].frames_shown == 0
    m.run(150)
    assert m.streams[3].frames_shown == 1 and m.next_deadline() is None


def test_stream_report_window() -> None:
    c, m = setup(StreamFlags.TOP_DOWN)
    m.activate_report(3, unique_id=77, max_window_size=2, timeout_ms=10_000)
    jpeg = two_band_jpeg()
    m.data(3, 200, jpeg, now=100)
    assert m.take_reports() == []
    m.data(3, 250, jpeg, now=260)  # late by 10
    (report,) = m.take_reports()
    assert (report.stream_id, report.unique_id) == (3, 77)
    assert (report.start_frame_mm_time, report.end_frame_mm_time) == (200, 250)
    assert (report.num_frames, report.num_drops, report.last_frame_delay) == (2, 1, -10)
    # wire body: 6 u32, i32 delay, u32 audio delay (0xFFFFFFFF = no audio)
    assert encode_message(report) == (
        DisplayMsgc.STREAM_REPORT,
        struct.pack("<IIIIIIiI", 3, 77, 200, 250, 2, 1, -10, 0xFFFFFFFF),
    )


def test_hostile_stream_messages() -> None:
    c, m = setup()
    with pytest.raises(CanvasError):
        m.data(9, 0, b"")  # no such stream
    with pytest.raises(CanvasError):
        m.create(64, 0, 0, 1, 16, 16, 16, 16, Rect(0, 0, 1, 1))
    with pytest.raises(CanvasError):
        m.create(1, 7, 0, 1, 16, 16, 16, 16, Rect(0, 0, 1, 1))  # no surface 7
    with pytest.raises(CanvasError):
        m.data(3, 0, b"not a jpeg at all")
    m.destroy(3)
    with pytest.raises(CanvasError):
        m.destroy(3)


def test_mm_time_wraps_like_spice_mmtime_diff() -> None:
    from spicepy.canvas.streams import mm_diff

    assert mm_diff(5, 0xFFFFFFF0) == 21 and mm_diff(0xFFFFFFF0, 5) == -21
    c, m = setup(StreamFlags.TOP_DOWN)
    m.data(3, 5, two_band_jpeg(), now=0xFFFFFFF0)  # 21 ms ahead across the wrap
    assert m.streams[3].frames_dropped == 0 and m.next_deadline(0xFFFFFFF0) == 5
    m.run(0xFFFFFFFF)
    assert m.streams[3].frames_shown == 0
    m.run(5)
    assert m.streams[3].frames_shown == 1


def test_zero_stamp_gets_spice_gtk_workaround() -> None:
    c, m = setup(StreamFlags.TOP_DOWN)
    m.data(3, 0, two_band_jpeg(), now=1000)  # shown at now + 100, not dropped
    assert m.streams[3].frames_dropped == 0 and m.next_deadline() == 1100


def test_scheduled_bad_frame_is_counted_not_raised() -> None:
    c, m = setup(StreamFlags.TOP_DOWN)
    m.data(3, 1010, b"\xff\xd8 not really", now=1000)
    m.run(1010)
    s = m.streams[3]
    assert s.decode_errors == 1 and s.frames_shown == 0 and m.queued_frames == 0


def test_queued_frame_owns_its_bytes_and_late_one_is_not_kept() -> None:
    """A frame waiting for its time holds a copy of its payload (a view would
    pin the whole received chunk); a frame late on arrival is dropped without
    being kept; the shown one is exact."""
    c, m = setup(StreamFlags.TOP_DOWN)
    chunk = bytearray(two_band_jpeg())
    m.data(3, 900, memoryview(chunk), now=1000)  # late: dropped
    m.data(3, 1100, memoryview(chunk), now=1000)  # due later: queued
    queue = m.streams[3].scheduler.queue
    assert len(queue) == 1 and type(queue[0].data) is bytes
    assert queue[0].data == chunk and queue[0].nbytes == len(chunk)
    assert m.streams[3].scheduler.late_on_arrival == 1
    chunk[:] = bytes(len(chunk))  # the receive buffer is reused meanwhile
    m.run(1100)
    assert m.streams[3].frames_shown == 1
    assert is_red(c.primary.pixels[2, 2]) and is_blue(c.primary.pixels[13, 2])


def test_session_streams_are_those_of_live_managers() -> None:
    """The video budget spans every display channel of the session (canvases
    sharing one SharedState); a manager gone with its channel drops out."""
    import gc

    c, m = setup()
    other = Canvas(c.shared)
    other.create_surface(0, 40, 40, SurfaceFormat.FMT_32_xRGB)
    m2 = StreamManager(other)
    m2.create(5, 0, 0, VideoCodecType.MJPEG, 16, 16, 16, 16, FULL)
    alone = StreamManager(Canvas())  # another session: never counted
    alone.canvas.create_surface(0, 40, 40, SurfaceFormat.FMT_32_xRGB)
    alone.create(7, 0, 0, VideoCodecType.MJPEG, 16, 16, 16, 16, FULL)
    got = {(id(mgr), st.stream_id) for mgr, st in m._session_streams()}
    assert got == {(id(m), 3), (id(m2), 5)}
    del m2
    gc.collect()
    assert [(mgr, st.stream_id) for mgr, st in m._session_streams()] == [(m, 3)]
