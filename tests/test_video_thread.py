"""VP8 / H.264 decoding on a worker thread per stream (``DecodeWorker``), as
spice-gtk's GStreamer pipeline decodes apart from its main loop: the frames
shown, their order and their pixels are exactly the synchronous path's (on the
captures and on hypothesis sequences, corrupt payloads and a tight budget
included); a stream destroyed mid-decode does not wait for it and decodes no
more; a decode error reaches the loop thread as the synchronous path's
CanvasError; workers stop with their stream or manager."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_video import needs_av, stream_of

from spicepy.canvas import Canvas, SurfaceFormat
from spicepy.canvas.images import SharedState
from spicepy.canvas.streams import StreamManager
from spicepy.errors import CanvasError
from spicepy.limits import Limits
from spicepy.wire.types import Rect

#: ("data", frame index, mm time, now), ("run", now, 0, 0) or ("destroy", 0,
#: 0, 0): STREAM_DESTROY then STREAM_CREATE of the same id (a fresh decoder)
Step = tuple[str, int, int, int]

# a worker that never decodes a frame leaves ``collect`` waiting: fail, not
# hang (the slowest test here takes ~2 s on the loaded 2-core machine)
pytestmark = pytest.mark.timeout(60)

_CAPTURES: dict[str, tuple[Any, list[bytes]]] = {}


def capture(captures_dir: Path, name: str) -> tuple[Any, list[bytes]]:
    if name not in _CAPTURES:
        path = captures_dir / f"{name}.pcap"
        if not path.exists():
            pytest.skip(f"{name} capture missing")
        _CAPTURES[name] = stream_of(path)
    return _CAPTURES[name]


def manager(
    create: Any, threaded: bool, limits: Limits | None = None
) -> tuple[Canvas, StreamManager]:
    w, h = create.stream_width, create.stream_height
    canvas = Canvas(SharedState(limits=limits or Limits()))
    canvas.create_surface(0, w, h, SurfaceFormat.FMT_32_xRGB)
    m = StreamManager(canvas, threaded=threaded)
    m.create(1, 0, 0, create.codec_type, w, h, w, h, Rect(0, 0, h, w))
    return canvas, m


def play(
    create: Any,
    frames: list[bytes],
    steps: list[Step],
    threaded: bool,
    limits: Limits | None = None,
    finish_each: bool = True,
    pause: float = 0.0,
) -> tuple[list[tuple[Any, ...]], list[tuple[int, bytes]]]:
    """The canvas pixels and the streams' counts after every timer run (with
    ``finish_each``, else only at the end), and each shown frame's stamp and
    the canvas once it was drawn, in order.  ``pause``: each worker decode
    first sleeps that long (so the loop runs ahead of the worker)."""
    canvas, m = manager(create, threaded, limits)
    s = m.streams[1]
    assert (s.worker is not None) == threaded
    if pause:
        slowed(s, pause)
    w, h = create.stream_width, create.stream_height
    seen = []
    shown: list[tuple[int, bytes]] = []
    note = m._shown

    def noting(stream: Any, item: Any) -> None:
        shown.append((item.mm_time, canvas.surface(0).pixels.tobytes()))
        note(stream, item)

    m._shown = noting  # type: ignore[method-assign,assignment]
    for n, (kind, a, b, c) in enumerate(steps):
        if kind == "data":
            m.data(1, b, frames[a], now=c)
            continue
        if kind == "destroy":
            # the chosen frames first: threaded, the end of a stream drops
            # those still decoding (test_destroy_while_decoding_...)
            m.finish()
            m.destroy(1)
            s = m.create(1, 0, 0, create.codec_type, w, h, w, h, Rect(0, 0, h, w))
            if pause:
                slowed(s, pause)
            continue
        m.run(a)
        if finish_each or n == len(steps) - 1:
            m.finish()
            assert not s.ready
            every = m.history
            seen.append(
                (
                    canvas.surface(0).pixels.tobytes(),
                    [st.frames_shown for st in every],
                    [st.frames_dropped for st in every],
                    [st.decode_errors for st in every],
                    m.over_budget,
                    len(s.pending),
                    s.scheduler.bytes,
                )
            )
    m.destroy_all()
    return seen, shown


def slowed(s: Any, pause: float) -> None:
    """Make the worker of stream ``s`` sleep ``pause`` s before each decode."""
    decoder = s.worker.decoder
    decode = decoder.decode_picture

    def slow(frame: bytes | memoryview) -> Any:
        time.sleep(pause)
        return decode(frame)

    decoder.decode_picture = slow


def capture_plan(n: int) -> list[Step]:
    """Frames 33 ms apart arriving in bursts of 6, some late, some early, with
    a timer run between bursts (late ones dropped, early ones kept)."""
    steps: list[Step] = []
    for start in range(0, n, 6):
        now = 1000 + 33 * start + (60 if start % 12 else -60)
        for i in range(start, min(start + 6, n)):
            steps.append(("data", i, 1000 + 33 * i, now))
        steps.append(("run", now + 40, 0, 0))
    steps.append(("run", 1000 + 33 * n + 100, 0, 0))
    return steps


@needs_av
@pytest.mark.parametrize("name", ["video-vp8", "video-h264"])
def test_threaded_shows_the_synchronous_frames_and_pixels_on_the_captures(
    name: str, captures_dir: Path
) -> None:
    create, frames = capture(captures_dir, name)
    steps = capture_plan(len(frames))
    sync = play(create, frames, steps, threaded=False)
    threaded = play(create, frames, steps, threaded=True)
    assert len(threaded) == len(sync)
    for step, (got, want) in enumerate(zip(threaded[0], sync[0], strict=True)):
        assert got == want, f"after timer run {step}"
    assert threaded[1] == sync[1]
    (shown,) = sync[0][-1][1]
    assert 0 < shown < len(frames)  # some shown, some dropped as late


@needs_av
def test_the_worker_thread_does_the_decoding(captures_dir: Path) -> None:
    create, frames = capture(captures_dir, "video-vp8")
    _, m = manager(create, threaded=True)
    s = m.streams[1]
    assert s.worker is not None
    decode = s.worker.decoder.decode_picture
    threads: list[int] = []

    def noting(frame: bytes | memoryview) -> Any:
        threads.append(threading.get_ident())
        return decode(frame)

    s.worker.decoder.decode_picture = noting  # type: ignore[method-assign]
    for i, f in enumerate(frames[:5]):
        m.data(1, 1000 + 33 * i, f, now=900)
    m.run(2000)
    m.finish()
    assert s.frames_shown == 2 and not s.pending  # the armed one, the last late one
    assert len(threads) == 5 and threading.get_ident() not in threads


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Step], set[int]]:
    """Up to 24 frames with random stamps and arrival times, timer runs
    between them, a stream destroyed and re-created now and then (its next
    frames then decode on a fresh decoder: garbage until a key frame), and
    some payloads replaced by garbage."""
    n = draw(st.integers(1, 24))
    steps: list[Step] = []
    now = 1000
    for i in range(n):
        now += draw(st.integers(0, 50))
        mm = now + draw(st.integers(-100, 100))
        steps.append(("data", i, mm, now))
        if draw(st.booleans()):
            steps.append(("run", now + draw(st.integers(0, 80)), 0, 0))
        if draw(st.integers(0, 9)) == 0:
            steps.append(("destroy", 0, 0, 0))
    steps.append(("run", now + 500, 0, 0))
    corrupt = draw(st.sets(st.integers(0, n - 1), max_size=3))
    return steps, corrupt


@needs_av
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plan=plans(),
    name=st.sampled_from(["video-vp8", "video-h264"]),
    budget=st.sampled_from([64 * 1024 * 1024, 200_000, 20_000]),
    pause=st.sampled_from([0.0, 0.002]),
)
def test_threaded_equals_synchronous_on_random_sequences(
    plan: tuple[list[Step], set[int]],
    name: str,
    budget: int,
    pause: float,
    captures_dir: Path,
) -> None:
    steps, corrupt = plan
    create, frames = capture(captures_dir, name)
    frames = [
        b"\x9d\x01\x2a" + bytes(range(i, i + 40)) if i in corrupt else f
        for i, f in enumerate(frames[:24])
    ]
    limits = Limits(video_queue=budget)
    sync = play(create, frames, steps, False, limits, finish_each=False)
    threaded = play(create, frames, steps, True, limits, False, pause)
    assert threaded == sync


def blocking_decoder(
    m: StreamManager,
) -> tuple[threading.Event, threading.Event, list[int]]:
    """Make stream 1's worker decode wait for ``release`` (``started`` set when
    a decode begins); the list counts the decodes begun."""
    worker = m.streams[1].worker
    assert worker is not None
    decode = worker.decoder.decode_picture
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def waiting(frame: bytes | memoryview) -> Any:
        calls.append(len(frame))
        started.set()
        release.wait()
        return decode(frame)

    worker.decoder.decode_picture = waiting  # type: ignore[method-assign]
    return started, release, calls


def wait_decoded(worker: Any, item: Any) -> None:
    """Block until the worker has decoded ``item`` (its condition, no sleep)."""
    with worker._cond:
        assert worker._cond.wait_for(lambda: item.done is not None, 60)


@needs_av
def test_a_timer_run_does_not_wait_for_a_decode_under_way(
    captures_dir: Path,
) -> None:
    create, frames = capture(captures_dir, "video-vp8")
    canvas, m = manager(create, threaded=True)
    s = m.streams[1]
    worker = s.worker
    assert worker is not None
    started, release, calls = blocking_decoder(m)
    for i, f in enumerate(frames[:3]):
        m.data(1, 1000 + 33 * i, f, now=900)
    assert started.wait(60)
    failsafe = threading.Timer(10, release.set)  # a run that waits: ends
    failsafe.start()
    try:
        m.run(2000)  # chooses frame 0 (armed at 1000) and the last late one
        assert not release.is_set()  # it returned while the decode was held
        assert s.frames_shown == 0 and len(s.ready) == 2
        assert m.queued_frames == 2 and m.next_deadline(2000) == 2001
        first, last = s.ready
    finally:
        release.set()
        failsafe.cancel()
    wait_decoded(worker, first)
    m.run(2001)  # the first one at least, now decoded
    assert s.frames_shown >= 1
    wait_decoded(worker, last)
    m.run(2002)
    assert s.frames_shown == 2 and not s.ready and m.next_deadline(2002) is None
    assert canvas.surface(0).pixels.any()


@needs_av
@pytest.mark.parametrize(
    "destroy",
    [
        lambda m: m.destroy(1),
        lambda m: m.destroy_all(),
        lambda m: m.create(1, 0, 0, m.streams[1].codec, 8, 8, 8, 8, Rect(0, 0, 8, 8)),
    ],
    ids=["destroy", "destroy_all", "re-create"],
)
@pytest.mark.parametrize("chosen", [False, True], ids=["queued", "chosen"])
def test_destroy_while_decoding_does_not_wait_and_decodes_no_more(
    destroy: Callable[[StreamManager], object], chosen: bool, captures_dir: Path
) -> None:
    """Inherent to threading, as in spice-gtk (whose STREAM_DESTROY frees the
    frames still in its GStreamer pipeline): frames the timer chose and the
    worker has not decoded are dropped at the stream's end, not waited for
    (the synchronous path has shown them in that timer run)."""
    create, frames = capture(captures_dir, "video-vp8")
    _, m = manager(create, threaded=True)
    s = m.streams[1]
    worker = s.worker
    assert worker is not None
    started, release, calls = blocking_decoder(m)
    for i, f in enumerate(frames[:4]):
        m.data(1, 1000 + 33 * i, f, now=900)
    assert started.wait(60)
    # were the destroy to wait for the decode under way, this lets it go on
    # and the worker would be found ended below
    failsafe = threading.Timer(10, release.set)
    failsafe.start()
    try:
        if chosen:
            m.run(2000)  # chooses frame 0 and the last late one
            assert len(s.ready) == 2
        destroy(m)
        assert worker.alive and not release.is_set()  # destroy did not wait
    finally:
        release.set()
        failsafe.cancel()
    assert worker._thread is not None
    worker._thread.join(60)
    assert not worker.alive and calls == [len(frames[0])]  # no frame after
    if chosen:  # frames 1 and 2 dropped as late by the run, 0 and 3 at the end
        assert (s.frames_shown, s.frames_dropped, len(s.ready)) == (0, 4, 0)
    assert worker._ahead.held == 0


@needs_av
def test_a_decode_error_in_the_worker_is_raised_on_the_loop_thread(
    captures_dir: Path,
) -> None:
    create, frames = capture(captures_dir, "video-vp8")
    _, m = manager(create, threaded=True)
    s = m.streams[1]
    assert s.worker is not None
    failed_on: list[int] = []

    def failing_for(decoder: Any) -> Any:
        """``decoder.decode_picture`` failing on frame 1: each decoder wraps
        its own FFmpeg context (two threads on one context crash FFmpeg)."""
        decode = decoder.decode_picture

        def failing(frame: bytes | memoryview) -> Any:
            if frame == frames[1]:
                failed_on.append(threading.get_ident())
                raise CanvasError("bad VP8 frame: planted")
            return decode(frame)

        return failing

    s.worker.decoder.decode_picture = failing_for(s.worker.decoder)  # type: ignore[method-assign]
    for i, f in enumerate(frames[:3]):
        m.data(1, 1000 + 33 * i, f, now=900)
    first, second = s.pending[0], s.pending[1]
    assert s.worker.collect(first)[0] is not None
    with pytest.raises(CanvasError, match="planted"):
        s.worker.collect(second)  # here, on this thread
    assert failed_on and threading.get_ident() not in failed_on
    m.destroy_all()  # its worker may still be decoding frame 2
    # through the manager: counted as the synchronous path counts it
    counts = []
    for threaded in (False, True):
        _, m2 = manager(create, threaded)
        s2 = m2.streams[1]
        assert s2.decoder is not None
        s2.decoder.decode_picture = failing_for(s2.decoder)  # type: ignore[method-assign]
        for i, f in enumerate(frames[:3]):
            m2.data(1, 1000 + 33 * i, f, now=900)
        m2.run(2000)
        m2.finish()
        counts.append((s2.decode_errors, s2.frames_shown, len(s2.pending)))
    assert counts[0] == counts[1] and counts[0][0] == 1


@needs_av
def test_workers_stop_with_their_manager_and_streams_gone(
    captures_dir: Path,
) -> None:
    create, frames = capture(captures_dir, "video-vp8")
    _, m = manager(create, threaded=True)
    gone = m.streams[1].worker
    assert gone is not None
    m.data(1, 1000, frames[0], now=900)
    # the display driver drops a destroyed surface's streams from the dict
    del m.streams[1]
    w, h = create.stream_width, create.stream_height
    m.create(2, 0, 0, create.codec_type, w, h, w, h, Rect(0, 0, h, w))
    assert gone._stopped
    kept = m.streams[2].worker
    assert kept is not None and not kept._stopped
    m.data(2, 1000, frames[0], now=900)
    del m
    gc.collect()
    assert kept._stopped
    assert kept._thread is not None
    kept._thread.join(60)
    assert not kept.alive


@needs_av
def test_a_decoded_frame_wakes_the_loop_instead_of_a_poll(captures_dir: Path) -> None:
    create, frames = capture(captures_dir, "video-vp8")
    canvas, m = manager(create, threaded=True)
    s = m.streams[1]
    wakes: list[int] = []
    woken = threading.Event()

    def wakeup() -> None:  # on the worker's thread, as a session's hand-off
        wakes.append(threading.get_ident())
        woken.set()

    m.wakeup = wakeup
    started, release, _ = blocking_decoder(m)
    for i, f in enumerate(frames[:3]):
        m.data(1, 1000 + 33 * i, f, now=900)
    assert started.wait(60)
    failsafe = threading.Timer(10, release.set)
    failsafe.start()
    try:
        m.run(2000)  # chooses frame 0 and the last late one, both undecoded
        assert len(s.ready) == 2 and s.frames_shown == 0
        assert m.next_deadline(2000) is None  # no poll: the worker will call
        assert not woken.is_set()
    finally:
        release.set()
        failsafe.cancel()
    assert woken.wait(10)
    assert m.next_deadline(2005) == 2000  # a chosen frame is decoded: due now
    m.run(2005)
    assert s.frames_shown >= 1
    last = s.ready[-1] if s.ready else None
    if last is not None:
        wait_decoded(s.worker, last)
        m.run(2006)
    assert s.frames_shown == 2 and not s.ready and m.next_deadline(2006) is None
    # one call per chosen frame (frame 1, dropped, wakes nobody), off the loop
    assert len(wakes) == 2 and threading.get_ident() not in wakes
    assert canvas.surface(0).pixels.any()
    m.destroy_all()


class _BigPictures:
    """A ``VideoDecoder`` stand-in: every payload completes a picture of
    PICTURE bytes, converted to black 8x8 BGRX."""

    PICTURE = 400 * 1024  # three are over the budget below (DECODE_AHEAD_FRAMES 4)

    def __init__(self, codec: int, width: int = 0, height: int = 0) -> None:
        self.frames_decoded = 0

    def decode_picture(self, data: bytes | memoryview) -> Any:
        from types import SimpleNamespace

        self.frames_decoded += 1
        plane = SimpleNamespace(buffer_size=self.PICTURE)
        return SimpleNamespace(planes=[plane], width=8, height=8)

    def to_pixels(self, picture: Any) -> Any:
        import numpy as np

        return np.zeros((8, 8, 4), np.uint8)


def test_a_frame_to_show_is_decoded_past_the_look_ahead_another_stream_filled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The session's one look-ahead count is full of stream 0's pictures due
    far ahead; stream 1's frame due now must still be decoded and shown."""
    from spicepy.canvas import streams as streams_mod
    from spicepy.wire.enums import VideoCodecType

    monkeypatch.setattr(streams_mod, "VideoDecoder", _BigPictures)
    monkeypatch.setattr(streams_mod, "VIDEO_CODECS", {int(VideoCodecType.VP8)})
    budget = 1024 * 1024
    canvas = Canvas(SharedState(limits=Limits(video_queue=budget)))
    canvas.create_surface(0, 8, 8, SurfaceFormat.FMT_32_xRGB)
    m = StreamManager(canvas, threaded=True)
    woken = threading.Event()
    m.wakeup = woken.set
    whole = Rect(0, 0, 8, 8)
    for sid in (0, 1):
        m.create(sid, 0, 0, VideoCodecType.VP8, 8, 8, 8, 8, whole)
    for i in range(12):  # tiny payloads, pictures of 256 KiB, far ahead
        m.data(0, 1_000_000 + i, b"\x10" * 16, now=100)
    ahead = m.streams[0].worker._ahead  # type: ignore[union-attr]
    with ahead.cond:
        assert ahead.cond.wait_for(lambda: ahead.held > budget, 10)
    m.data(1, 100, b"\x20" * 16, now=100)
    m.run(100)  # chooses stream 1's frame: its worker passes the full count
    assert woken.wait(10), "the chosen frame was never decoded"
    m.run(101)
    assert m.streams[1].frames_shown == 1 and not m.streams[1].ready
    assert m.streams[0].frames_shown == 0
    m.destroy_all()
    assert ahead.held == 0


@needs_av
def test_the_session_cores_timer_shows_a_frame_its_wakeup_announced(
    captures_dir: Path,
) -> None:
    """Through ``SessionCore``, as the live session drives it: the timer
    chooses frames, no poll is armed while they decode, the worker's call to
    ``video_wakeup`` is followed by ``handle_timer``, which shows them."""
    from spicepy.channels.events import LinkCompleted, MainInitReceived
    from spicepy.channels.events import MessageReceived as Received
    from spicepy.session.core import SessionCore
    from spicepy.wire.enums import ChannelType
    from spicepy.wire.msg_display import StreamCreate, StreamData, SurfaceCreate
    from spicepy.wire.types import Clip, StreamDataHeader

    create, frames = capture(captures_dir, "video-vp8")
    w, h = create.stream_width, create.stream_height
    key = (int(ChannelType.DISPLAY), 0)
    core = SessionCore()
    woken = threading.Event()
    core.video_wakeup = woken.set
    core.handle_event(
        key, LinkCompleted(ChannelType.DISPLAY, 0, frozenset(), frozenset(), True), 0.0
    )
    main_init = MainInitReceived(1, 1, 3, 2, False, 0, 10_000, 64 * 1024 * 1024)
    core.handle_event((int(ChannelType.MAIN), 0), main_init, 0.0)
    driver = core.drivers[0]
    driver.streams.threaded = True
    dest = Rect(0, 0, h, w)
    messages: list[Any] = [
        SurfaceCreate(0, w, h, 32, 1),
        StreamCreate(0, 1, 0, create.codec_type, 0, w, h, w, h, dest, Clip(0)),
    ]
    for message in messages:
        core.handle_event(key, Received(ChannelType.DISPLAY, 0, 0, message), 0.0)
    stream = driver.streams.streams[1]
    assert stream.worker is not None
    started, release, _ = blocking_decoder(driver.streams)
    for i, f in enumerate(frames[:3]):
        data = StreamData(StreamDataHeader(1, 10_050 + 33 * i), len(f), f)
        core.handle_event(key, Received(ChannelType.DISPLAY, 0, 0, data), 0.0)
    assert started.wait(60)
    changes = core.change_count
    now = 1.0  # mm 11_000: every frame is due, the last one shown at once
    when = core.get_timer()
    assert when is not None and when <= now
    failsafe = threading.Timer(10, release.set)
    failsafe.start()
    try:
        core.handle_timer(now)  # chooses two frames, held in their decode
        assert len(stream.ready) == 2 and stream.frames_shown == 0
        assert core.get_timer() is None  # no poll: the wake-up will come
    finally:
        release.set()
        failsafe.cancel()
    while stream.ready:  # each chosen frame, once decoded, wakes the core
        assert woken.wait(10), "no wake-up for a chosen frame"
        woken.clear()
        when = core.get_timer()
        assert when is not None and when <= now  # due at once
        core.handle_timer(now)
    assert stream.frames_shown == 2  # the armed one and the last late one
    assert core.get_timer() is None
    assert core.change_count == changes + 2
    driver.streams.destroy_all()


@needs_av
def test_a_frame_drawn_after_a_stream_clip_takes_the_clip_it_finds(
    captures_dir: Path,
) -> None:
    """A frame the timer chose and the worker decodes later is drawn with
    the stream's clip at that time: a STREAM_CLIP that hid the stream in
    between (the server then draws over the area) keeps it off the canvas."""
    from spicepy.wire.enums import ClipType
    from spicepy.wire.types import Clip

    create, frames = capture(captures_dir, "video-vp8")
    canvas, m = manager(create, threaded=True)
    s = m.streams[1]
    started, release, _ = blocking_decoder(m)
    m.data(1, 1000, frames[0], now=900)
    assert started.wait(60)
    failsafe = threading.Timer(10, release.set)
    failsafe.start()
    try:
        m.run(1000)  # chosen, its decode held
        assert len(s.ready) == 1
        m.clip(1, Clip(ClipType.RECTS, num_rects=0, rects=()))  # hidden
    finally:
        release.set()
        failsafe.cancel()
    m.finish()
    assert s.frames_shown == 1 and not canvas.surface(0).pixels.any()
    m.destroy_all()


@needs_av
@pytest.mark.parametrize("name", ["video-vp8", "video-h264"])
def test_offline_replay_is_the_same_with_worker_threads(
    name: str, captures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``spicepy replay`` has no multimedia clock: every frame is shown as it
    arrives, the threaded managers waiting for their worker, so the result is
    the synchronous one, pixel for pixel and count for count."""
    from spicepy.canvas import streams as streams_mod
    from spicepy.capture.replay import replay

    path = captures_dir / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"{name} capture missing")
    results = []
    for threaded in (False, True):
        monkeypatch.setattr(streams_mod, "VIDEO_THREADS", threaded)
        core = replay(path).core
        driver = core.primary_driver()
        assert driver is not None and driver.canvas.primary is not None
        every = [st for d in core.drivers.values() for st in d.streams.history]
        assert all((st.worker is not None) == threaded for st in every)
        counts = [(s.frames_shown, s.frames_dropped, s.decode_errors) for s in every]
        results.append(
            (driver.canvas.primary.pixels.tobytes(), counts, dict(core.dropped))
        )
    assert results[1] == results[0]
    assert results[0][1][0][0] > 0  # frames were shown


def test_the_live_session_runs_the_cores_timer_on_its_loop_at_a_wakeup() -> None:
    """``Session`` gives the core a ``video_wakeup`` that a decode thread may
    call: the core's timer work then runs on the session's loop thread."""
    import asyncio

    from spicepy.session.session import Session
    from spicepy.session.uri import SpiceUri

    async def main() -> list[int]:
        session = Session(SpiceUri("127.0.0.1", port=1))
        ran_on: list[int] = []
        session.core.handle_timer = (  # type: ignore[method-assign]
            lambda now: ran_on.append(threading.get_ident())
        )
        wakeup = session.core.video_wakeup
        assert wakeup is not None
        worker = threading.Thread(target=wakeup)
        worker.start()
        worker.join(10)
        for _ in range(100):  # the hand-off lands within a few loop turns
            if ran_on:
                break
            await asyncio.sleep(0.01)
        await session.close()
        wakeup()  # after close: nothing runs, nothing raises
        await asyncio.sleep(0.05)
        return ran_on + [threading.get_ident()]

    *ran_on, loop_thread = asyncio.run(main())
    assert ran_on == [loop_thread]
