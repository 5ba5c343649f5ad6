"""Video timing in the session: the multimedia clock, the frame timer, STREAM_REPORTs.

The unit tests drive ``spicepy.session._glue`` with parsed display messages and
a fake loop clock (so ``mm_now`` is exact); the live test makes Xspice stream a
repainted rect (streaming_video="all") and checks the whole loop: the server
activates reports, spicepy sends STREAM_REPORTs, frames are shown, and after the
lossless upgrade the screen is exact.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import simplejpeg

from spicepy.channels.events import (
    LinkCompleted,
    MainInitReceived,
    MessageReceived,
    MultiMediaTimeReceived,
)
from spicepy.session.core import SessionCore, glz_window_pixels
from spicepy.session.session import DISPLAY_CAPS, Session
from spicepy.session.uri import SpiceUri
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ChannelType, DisplayCap
from spicepy.wire.msg_display import (
    DisplayMark,
    StreamActivateReport,
    StreamCreate,
    StreamData,
    StreamReport,
    SurfaceCreate,
)
from spicepy.wire.types import Clip, StreamDataHeader
from spicepy.wire.types import Rect as WireRect

STREAM = 5
SIZE = 16


def jpeg(value: int) -> bytes:
    """A flat grey SIZE x SIZE frame; quality 100, 4:4:4: libjpeg (and so our
    decoder) gives exactly ``value`` back (checked for 40..250)."""
    rgb = np.full((SIZE, SIZE, 3), value, np.uint8)
    return bytes(
        simplejpeg.encode_jpeg(
            rgb, quality=100, colorspace="RGB", colorsubsampling="444"
        )
    )


KEY = (int(ChannelType.DISPLAY), 0)
T0 = 1000.0  # caller clock (s) when MAIN INIT set mm time 10_000


def make_core() -> SessionCore:
    core = SessionCore()
    core.handle_event(
        KEY, LinkCompleted(ChannelType.DISPLAY, 0, frozenset(), frozenset(), True), T0
    )
    main_init = MainInitReceived(1, 1, 3, 2, False, 0, 10_000, 64 * 1024 * 1024)
    core.handle_event((int(ChannelType.MAIN), 0), main_init, T0)
    core.messages_to_send()  # the mouse-mode request
    display(core, SurfaceCreate(0, 64, 64, 32, 1))
    display(core, create_stream())
    return core


def create_stream() -> Any:
    rect = WireRect(0, 0, SIZE, SIZE)
    return StreamCreate(0, STREAM, 1, 1, 0, SIZE, SIZE, SIZE, SIZE, rect, Clip(0))


def display(core: SessionCore, message: Any, now: float = T0) -> None:
    core.handle_event(KEY, MessageReceived(ChannelType.DISPLAY, 0, 0, message), now)


def frame(mm_time: int, value: int) -> StreamData:
    data = jpeg(value)
    return StreamData(StreamDataHeader(STREAM, mm_time), len(data), data)


def shown_value(core: SessionCore) -> int:
    pixels = core.drivers[0].primary_pixels()
    assert pixels is not None
    return int(pixels[SIZE // 2, SIZE // 2, 0])


def stream(core: SessionCore) -> Any:
    return core.drivers[0].streams.streams[STREAM]


def reports(core: SessionCore) -> list[tuple[int, ...]]:
    """STREAM_REPORTs the core queued for the display channel (as tuples)."""
    out = []
    for key, msg in core.messages_to_send():
        assert key == KEY and isinstance(msg, StreamReport)
        out.append(dataclasses.astuple(msg))
    return out


def test_frames_wait_for_their_mm_time_and_the_timer_shows_them() -> None:
    core = make_core()
    display(core, frame(10_050, 200))  # 50 ms ahead of the clock
    assert stream(core).frames_shown == 0 and core.pending_frames == 1
    when = core.get_timer()
    assert when == pytest.approx(T0 + 0.05)
    start = core.change_count
    core.handle_timer(when)  # what loop.call_at runs
    assert stream(core).frames_shown == 1 and core.pending_frames == 0
    assert shown_value(core) == 200
    assert core.get_timer() is None
    # the shown frame's area is a screen change
    (change,) = core.changes_since(start)
    assert (change.left, change.top, change.right, change.bottom) == (0, 0, SIZE, SIZE)


def test_frames_shown_in_order_and_a_late_one_dropped_and_counted() -> None:
    core = make_core()
    display(core, frame(10_020, 50))
    display(core, frame(10_040, 100))
    display(core, frame(9_990, 150))  # 10 ms late, older than the queue
    s = stream(core)
    # an older stamp resets the queue (spice-gtk), and the late frame goes too
    assert s.frames_dropped == 3 and s.frames_shown == 0
    display(core, frame(10_060, 200))
    display(core, frame(10_080, 250))
    shown = []
    while (when := core.get_timer()) is not None:
        core.handle_timer(when)
        shown.append(shown_value(core))
    assert shown == [200, 250]
    assert s.frames_shown == 2 and s.frames_dropped == 3


def test_late_timer_shows_head_and_drops_frames_already_past() -> None:
    core = make_core()
    for i, mm in enumerate((10_010, 10_020, 10_030, 10_050)):
        display(core, frame(mm, 40 * (i + 1)))
    core.handle_timer(T0 + 0.040)  # the loop was busy: the timer fires 30 ms late
    s = stream(core)
    # head shown (its timer fired), 10_020 and 10_030 dropped on playback
    assert s.frames_shown == 1 and s.scheduler.dropped_on_playback == 2
    assert shown_value(core) == 40
    assert core.pending_frames == 1  # 10_050 still ahead


def test_mm_time_jump_reschedules_queued_frames() -> None:
    core = make_core()
    display(core, frame(10_100, 60))
    display(core, frame(11_000, 70))
    # MULTI_MEDIA_TIME 1 s ahead (more than spice-gtk's 500 ms threshold)
    core.handle_event((1, 0), MultiMediaTimeReceived(10_900), T0)
    s = stream(core)
    assert s.frames_dropped == 1 and core.pending_frames == 1
    assert core.mm_now(T0) == 10_900
    assert core.mm_now(T0 + 0.5) == 11_400  # the clock runs with the caller's


def test_reports_after_max_window_with_fields_from_the_frames() -> None:
    core = make_core()
    display(core, StreamActivateReport(STREAM, 99, 3, 5_000))
    display(core, frame(10_030, 10))  # margin +30
    display(core, frame(10_090, 20), T0 + 0.1)  # mm now 10_100: late by 10, dropped
    assert reports(core) == []
    display(core, frame(10_120, 30), T0 + 0.1)  # margin +20, window full
    assert reports(core) == [(STREAM, 99, 10_030, 10_120, 3, 1, 20, 0xFFFFFFFF)]
    assert core.stream_reports_sent == 1


def test_report_after_timeout() -> None:
    core = make_core()
    display(core, StreamActivateReport(STREAM, 7, 100, 200))
    display(core, frame(10_050, 10))
    display(core, frame(10_300, 20), T0 + 0.25)  # 250 ms > the 200 ms timeout
    (fields,) = reports(core)
    assert fields[:6] == (STREAM, 7, 10_050, 10_300, 2, 0)
    assert fields[6] == 50  # 10_300 - 10_250


def test_undecodable_codec_reported_invalid() -> None:
    core = make_core()
    rect = WireRect(0, 0, SIZE, SIZE)
    # VP9 (4): no decoder here (VP8/H.264 are decoded when PyAV imports)
    vp9 = StreamCreate(0, 6, 0, 4, 0, SIZE, SIZE, SIZE, SIZE, rect, Clip(0))
    display(core, vp9)
    assert reports(core) == [(6, 0, 0, 0, 0, 0xFFFFFFFF, 0, 0)]


def test_caps_and_glz_window() -> None:
    from spicepy.canvas.video import video_display_caps

    caps = DISPLAY_CAPS | video_display_caps()  # what a display channel advertises
    assert {
        DisplayCap.STREAM_REPORT,
        DisplayCap.COMPOSITE,
        DisplayCap.A8_SURFACE,
    } <= caps
    assert DisplayCap.CODEC_MJPEG in caps
    # VP8/H.264 exactly when their decoders import; never codecs we cannot decode
    from spicepy.canvas.video import VIDEO_CODECS

    decodable = {DisplayCap.CODEC_VP8, DisplayCap.CODEC_H264} if VIDEO_CODECS else set()
    assert caps & {DisplayCap.CODEC_VP8, DisplayCap.CODEC_H264} == decodable
    assert not {DisplayCap.CODEC_VP9, DisplayCap.CODEC_H265} & caps
    mib = 1024 * 1024
    # clamp(ram_hint / 2, 12 MiB, 64 MiB) bytes, announced in 4-byte pixels
    assert glz_window_pixels(0) == 12 * mib // 4
    assert glz_window_pixels(40 * mib) == 20 * mib // 4
    assert glz_window_pixels(1 << 40) == 64 * mib // 4
    assert glz_window_pixels(1 << 40) <= 1 << 25  # the server's limit


def test_display_machine_and_dictionary_use_the_window() -> None:
    async def main() -> None:
        session = Session(SpiceUri("127.0.0.1", port=1))
        session.core.ram_hint = 40 * 1024 * 1024
        machine = session._make_machine(ChannelType.DISPLAY, 0, 1)
        window = 20 * 1024 * 1024 // 4
        assert machine._init.glz_dictionary_window_size == window
        session.core.add_display(0)
        dictionary = session.core.shared.glz_dictionary
        assert window // 2 <= dictionary.max_pixels <= 1 << 25
        await session.close()

    asyncio.run(main())


class FakeConn:
    name = "display:0"

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        # a display the server has attached (it sent messages): close() need
        # not wait for it (Session._let_server_attach)
        self.machine = SimpleNamespace(linked=True, messages_received=3)

    async def close(self) -> None:
        self.closed.set()


def test_wait_until_settled_waits_for_queued_frames() -> None:
    async def main() -> int:
        session = Session(SpiceUri("127.0.0.1", port=1))
        session.connections[KEY] = FakeConn()  # type: ignore[assignment]
        core = session.core
        now = session._loop.time()
        core.add_display(0)
        core.set_mm_time(10_000, now)
        display(core, SurfaceCreate(0, 64, 64, 32, 1), now)
        display(core, create_stream(), now)
        display(core, DisplayMark(), now)
        display(core, frame(10_300, 90), now)  # due 0.3 s from now (loop clock)
        session._after_pump()  # arms the session's one timer from the core
        await session.wait_until_settled(quiet=0.05, timeout=5)
        shown = int(stream(core).frames_shown)
        await session.close()
        return shown

    assert asyncio.run(main()) == 1


def _live_reason() -> str | None:
    from spicepy.testing.xspice import available

    return available()


@pytest.mark.live
def test_live_stream_reports_and_exact_end() -> None:
    """Xspice streams a repainted rect (streaming_video="all") to spicepy, which
    advertises STREAM_REPORT: the server activates reports, spicepy answers with
    STREAM_REPORTs, frames are shown on the mm clock, and once the stream ends
    the lossless upgrade makes the screen exact."""
    reason = _live_reason()
    if reason is not None and not os.environ.get("SPICEPY_REQUIRE_XSPICE"):
        pytest.skip(f"Xspice not available: {reason}")
    import spicepy
    from spicepy.testing.xdraw import XDraw
    from spicepy.testing.xspice import Xspice, XspiceOptions

    timeout = 30.0

    async def main(draw: XDraw) -> dict[str, Any]:
        async with asyncio.timeout(timeout * 3):
            async with spicepy.connect(server.uri, timeout=timeout) as s:
                await s.wait_until_settled(timeout=timeout)
                yy, xx = np.mgrid[0:200, 0:300]
                for i in range(60):
                    img = np.stack(
                        [
                            (xx + i * 5) % 256,
                            (yy + i * 3) % 256,
                            np.full_like(xx, i * 4),
                        ],
                        axis=-1,
                    ).astype(np.uint8)
                    draw.put_image(100, 100, img)
                    draw.sync()
                    await asyncio.sleep(0.04)
                truth = draw.framebuffer()
                try:  # the server ends the stream after 1 s, then repaints losslessly
                    await s.wait_for(
                        lambda: np.array_equal(s.screenshot(), truth), timeout, "exact"
                    )
                except spicepy.SpiceError:
                    pass
                driver = s.state.drivers[0]
                return {
                    "counts": dict(driver.counts),
                    "shown": sum(st.frames_shown for st in driver.streams.history),
                    "received": sum(
                        st.frames_received for st in driver.streams.history
                    ),
                    "reports": list(s.state.stream_reports),
                    "sent": s.state.stream_reports_sent,
                    "shot": s.screenshot(),
                    "truth": truth,
                }

    with Xspice(XspiceOptions(image_compression="lz", streaming_video="all")) as server:
        with XDraw(server.display) as draw:
            draw.clear((0, 0, 0))
            draw.sync()
            r = asyncio.run(main(draw))
    counts = r["counts"]
    assert counts.get(md.StreamCreate, 0) >= 1 and counts.get(md.StreamData, 0) > 0
    assert counts.get(md.StreamActivateReport, 0) >= 1, counts
    assert r["sent"] >= 1 and r["sent"] == len(r["reports"])
    for report in r["reports"]:
        assert 1 <= report.num_frames and report.num_drops <= report.num_frames
    assert sum(rep.num_frames for rep in r["reports"]) <= r["received"]
    assert r["shown"] >= 1
    differing = np.argwhere((r["shot"] != r["truth"]).any(axis=-1))
    assert len(differing) == 0, f"{len(differing)} pixels differ"
