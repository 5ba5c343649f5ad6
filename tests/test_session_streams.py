"""Video timing in the session: the multimedia clock, the frame timer, STREAM_REPORTs.

The unit tests drive ``spicepy.session._glue`` with parsed display messages and
a fake loop clock (so ``mm_now`` is exact); the live test makes Xspice stream a
repainted rect (streaming_video="all") and checks the whole loop: the server
activates reports, spicepy sends STREAM_REPORTs, frames are shown, and after the
lossless upgrade the screen is exact.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import simplejpeg

from spicepy.channels.events import MainInitReceived, MultiMediaTimeReceived
from spicepy.session import _glue
from spicepy.session.session import Session
from spicepy.session.uri import SpiceUri
from spicepy.wire.enums import DisplayCap
from spicepy.wire.msg_display import (
    StreamActivateReport,
    StreamCreate,
    StreamData,
    SurfaceCreate,
)
from spicepy.wire.types import Clip, StreamDataHeader
from spicepy.wire.types import Rect as WireRect

STREAM = 5
SIZE = 16


def jpeg(value: int) -> bytes:
    """A flat grey SIZE x SIZE frame (quality 100: decodes to ~value)."""
    rgb = np.full((SIZE, SIZE, 3), value, np.uint8)
    return bytes(
        simplejpeg.encode_jpeg(
            rgb, quality=100, colorspace="RGB", colorsubsampling="444"
        )
    )


@dataclass
class FakeMachine:
    """Records send_stream_report calls (the real machine only queues bytes)."""

    sent: list[tuple[int, ...]] = field(default_factory=list)

    def send_stream_report(self, *fields: int) -> None:
        self.sent.append(fields)


class FakeConn:
    name = "display:0"

    def __init__(self) -> None:
        self.machine = FakeMachine()
        self.closed = asyncio.Event()

    def call(self, method: Any, *args: Any) -> Any:
        return method(*args)

    async def close(self) -> None:
        self.closed.set()


class Clock:
    """Stands in for loop.time() (seconds)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make_session() -> tuple[Session, FakeConn, Clock]:
    session = Session(SpiceUri("127.0.0.1", port=1))
    clock = Clock()
    session._loop.time = clock  # type: ignore[method-assign]
    conn = FakeConn()
    session.connections[(_glue.DISPLAY, 0)] = conn  # type: ignore[assignment]
    _glue._display_linked(session, 0)
    main_init = MainInitReceived(1, 1, 3, 2, False, 0, 10_000, 64 * 1024 * 1024)
    _glue.set_mm_time(session, main_init.multi_media_time)
    display(session, SurfaceCreate(0, 64, 64, 32, 1))
    display(session, create_stream())
    return session, conn, clock


def create_stream() -> Any:
    rect = WireRect(0, 0, SIZE, SIZE)
    return StreamCreate(0, STREAM, 1, 1, 0, SIZE, SIZE, SIZE, SIZE, rect, Clip(0))


def display(session: Session, message: Any) -> None:
    _glue._display_message(session, FakeConn(), 0, message)  # type: ignore[arg-type]


def frame(mm_time: int, value: int) -> StreamData:
    data = jpeg(value)
    return StreamData(StreamDataHeader(STREAM, mm_time), len(data), data)


def shown_value(session: Session) -> int:
    pixels = _glue.primary_pixels(session)
    assert pixels is not None
    return int(pixels[SIZE // 2, SIZE // 2, 0])


def stream(session: Session) -> Any:
    return session.state.drivers[0].streams.streams[STREAM]


def test_frames_wait_for_their_mm_time_and_the_timer_shows_them() -> None:
    async def main() -> None:
        session, _, clock = make_session()
        display(session, frame(10_050, 200))  # 50 ms ahead of the clock
        assert stream(session).frames_shown == 0 and _glue.pending_frames(session) == 1
        timer = session.state.stream_timer
        assert timer is not None and timer.when() == pytest.approx(1000.05)
        clock.t = timer.when()
        _glue._on_stream_timer(session)  # what loop.call_at runs
        assert stream(session).frames_shown == 1 and _glue.pending_frames(session) == 0
        assert abs(shown_value(session) - 200) <= 2
        assert session.state.stream_timer is None
        # the shown frame's area is a screen change
        changes = session.take_changes()
        assert (changes[-1].left, changes[-1].right) == (0, SIZE)
        await session.close()

    asyncio.run(main())


def test_frames_shown_in_order_and_a_late_one_dropped_and_counted() -> None:
    async def main() -> None:
        session, _, clock = make_session()
        display(session, frame(10_020, 50))
        display(session, frame(10_040, 100))
        display(session, frame(9_990, 150))  # 10 ms late, older than the queue
        s = stream(session)
        # an older stamp resets the queue (spice-gtk), and the late frame goes too
        assert s.frames_dropped == 3 and s.frames_shown == 0
        display(session, frame(10_060, 200))
        display(session, frame(10_080, 250))
        shown = []
        while (timer := session.state.stream_timer) is not None:
            clock.t = timer.when()
            _glue._on_stream_timer(session)
            shown.append(shown_value(session))
        assert len(shown) == 2 and abs(shown[0] - 200) <= 2 and abs(shown[1] - 250) <= 2
        assert s.frames_shown == 2 and s.frames_dropped == 3
        await session.close()

    asyncio.run(main())


def test_late_timer_shows_head_and_drops_frames_already_past() -> None:
    async def main() -> None:
        session, _, clock = make_session()
        for i, mm in enumerate((10_010, 10_020, 10_030, 10_050)):
            display(session, frame(mm, 40 * (i + 1)))
        clock.t = 1000.040  # the loop was busy: the timer fires 30 ms late
        _glue._on_stream_timer(session)
        s = stream(session)
        # head shown (its timer fired), 10_020 and 10_030 dropped on playback
        assert s.frames_shown == 1 and s.scheduler.dropped_on_playback == 2
        assert abs(shown_value(session) - 40) <= 2
        assert _glue.pending_frames(session) == 1  # 10_050 still ahead
        await session.close()

    asyncio.run(main())


def test_mm_time_jump_reschedules_queued_frames() -> None:
    async def main() -> None:
        session, _, _ = make_session()
        display(session, frame(10_100, 60))
        display(session, frame(11_000, 70))
        # MULTI_MEDIA_TIME 1 s ahead (more than spice-gtk's 500 ms threshold)
        _glue.handle_event(session, FakeConn(), MultiMediaTimeReceived(10_900))  # type: ignore[arg-type]
        s = stream(session)
        assert s.frames_dropped == 1 and _glue.pending_frames(session) == 1
        assert _glue.mm_now(session) == 10_900
        await session.close()

    asyncio.run(main())


def test_reports_after_max_window_with_fields_from_the_frames() -> None:
    async def main() -> None:
        session, conn, clock = make_session()
        display(session, StreamActivateReport(STREAM, 99, 3, 5_000))
        display(session, frame(10_030, 10))  # margin +30
        clock.t += 0.1  # mm now 10_100
        display(session, frame(10_090, 20))  # late by 10: dropped
        assert conn.machine.sent == []
        display(session, frame(10_120, 30))  # margin +20, window full
        (fields,) = conn.machine.sent
        assert fields == (STREAM, 99, 10_030, 10_120, 3, 1, 20, 0xFFFFFFFF)
        assert session.state.stream_reports_sent == 1
        await session.close()

    asyncio.run(main())


def test_report_after_timeout() -> None:
    async def main() -> None:
        session, conn, clock = make_session()
        display(session, StreamActivateReport(STREAM, 7, 100, 200))
        display(session, frame(10_050, 10))
        clock.t += 0.25  # 250 ms > the 200 ms timeout
        display(session, frame(10_300, 20))
        (fields,) = conn.machine.sent
        assert fields[:6] == (STREAM, 7, 10_050, 10_300, 2, 0)
        assert fields[6] == 50  # 10_300 - 10_250
        await session.close()

    asyncio.run(main())


def test_undecodable_codec_reported_invalid() -> None:
    async def main() -> None:
        session, conn, _ = make_session()
        rect = WireRect(0, 0, SIZE, SIZE)
        vp8 = StreamCreate(0, 6, 0, 2, 0, SIZE, SIZE, SIZE, SIZE, rect, Clip(0))
        display(session, vp8)
        assert conn.machine.sent == [(6, 0, 0, 0, 0, 0xFFFFFFFF, 0, 0)]
        await session.close()

    asyncio.run(main())


def test_caps_and_glz_window() -> None:
    caps = _glue.DISPLAY_CAPS
    assert {
        DisplayCap.STREAM_REPORT,
        DisplayCap.COMPOSITE,
        DisplayCap.A8_SURFACE,
    } <= caps
    assert DisplayCap.CODEC_MJPEG in caps
    assert (
        not {
            DisplayCap.CODEC_VP8,
            DisplayCap.CODEC_H264,
            DisplayCap.CODEC_VP9,
            DisplayCap.CODEC_H265,
        }
        & caps
    )
    mib = 1024 * 1024
    # clamp(ram_hint / 2, 12 MiB, 64 MiB) bytes, announced in 4-byte pixels
    assert _glue.glz_window_pixels(0) == 12 * mib // 4
    assert _glue.glz_window_pixels(40 * mib) == 20 * mib // 4
    assert _glue.glz_window_pixels(1 << 40) == 64 * mib // 4
    assert _glue.glz_window_pixels(1 << 40) <= 1 << 25  # the server's limit


def test_display_machine_and_dictionary_use_the_window() -> None:
    async def main() -> None:
        session, _, _ = make_session()
        session.state.ram_hint = 40 * 1024 * 1024
        machine = _glue.make_machine(session, _glue.DISPLAY, 0, 1)
        window = 20 * 1024 * 1024 // 4
        assert machine._init.glz_dictionary_window_size == window
        dictionary = session.state.shared.glz_dictionary
        assert window // 2 <= dictionary.max_pixels <= 1 << 25
        await session.close()

    asyncio.run(main())


def test_wait_until_settled_waits_for_queued_frames() -> None:
    async def main() -> int:
        session = Session(SpiceUri("127.0.0.1", port=1))
        session.connections[(_glue.DISPLAY, 0)] = FakeConn()  # type: ignore[assignment]
        _glue._display_linked(session, 0)
        _glue.set_mm_time(session, 10_000)
        display(session, SurfaceCreate(0, 64, 64, 32, 1))
        display(session, create_stream())
        session.state.marks = 1
        display(session, frame(10_300, 90))  # due 0.3 s from now (real loop clock)
        await session.wait_until_settled(quiet=0.05, timeout=5)
        shown = int(stream(session).frames_shown)
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
    assert counts.get("stream_create", 0) >= 1 and counts.get("stream_data", 0) > 0
    assert counts.get("stream_activate_report", 0) >= 1, counts
    assert r["sent"] >= 1 and r["sent"] == len(r["reports"])
    for report in r["reports"]:
        assert 1 <= report.num_frames and report.num_drops <= report.num_frames
    assert sum(rep.num_frames for rep in r["reports"]) <= r["received"]
    assert r["shown"] >= 1
    differing = np.argwhere((r["shot"] != r["truth"]).any(axis=-1))
    assert len(differing) == 0, f"{len(differing)} pixels differ"
