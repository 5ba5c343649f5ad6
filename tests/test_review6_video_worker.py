"""Review of ``video.DecodeWorker`` on its own, with a stand-in decoder (no
FFmpeg needed): decode order, the look-ahead bound and its release, dropped
frames' pictures, errors carried to the caller, stop, decode seconds."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from spicepy.canvas.video import DecodeWorker, LookAhead
from spicepy.errors import CanvasError

WAIT = 5.0  # seconds a test waits for the worker thread before failing
# and a collect nobody stops (a worker that never decodes): fail, not hang
pytestmark = pytest.mark.timeout(60)


@dataclass
class Job:
    data: bytes | memoryview
    dropped: bool = False
    done: tuple[Any, BaseException | None, float, int] | None = None
    seq: int = 0
    wake: bool = False


@dataclass
class Plane:
    buffer_size: int


@dataclass
class Picture:
    data: bytes | memoryview
    planes: list[Plane] = field(default_factory=list)


class Decoder:
    """Decodes ``data`` to a Picture of ``len(data)`` bytes; b"bad" raises;
    each call waits for ``gate`` (set: no wait) and sleeps ``pause``."""

    def __init__(self, pause: float = 0.0) -> None:
        self.calls: list[bytes] = []
        self.gate = threading.Event()
        self.gate.set()
        self.pause = pause

    def decode_picture(self, data: bytes) -> Picture:
        self.calls.append(data)
        assert self.gate.wait(WAIT)
        time.sleep(self.pause)
        if data == b"bad":
            raise CanvasError("bad frame")
        return Picture(data, [Plane(len(data))])


def wait_for(check: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, "the worker did not get there"
        time.sleep(0.005)


def stop_later(worker: DecodeWorker) -> threading.Timer:
    """Stop ``worker`` after WAIT: a collect that would wait forever raises."""
    timer = threading.Timer(WAIT, worker.stop)
    timer.start()
    return timer


def test_frames_are_decoded_and_collected_in_arrival_order() -> None:
    dec = Decoder()
    worker = DecodeWorker(dec, LookAhead(1 << 20))  # type: ignore[arg-type]
    jobs = [Job(bytes([i]) * (i + 1)) for i in range(12)]
    for job in jobs:
        worker.submit(job)
    got = [worker.collect(job)[0].data for job in jobs]
    assert got == [job.data for job in jobs]
    assert dec.calls == [job.data for job in jobs]
    worker.stop()


def test_look_ahead_stops_past_its_bytes_and_resumes_when_collected() -> None:
    dec = Decoder()
    worker = DecodeWorker(dec, LookAhead(10))  # type: ignore[arg-type]
    timer = stop_later(worker)
    jobs = [Job(b"x" * 8) for _ in range(5)]
    for job in jobs:
        worker.submit(job)
    wait_for(lambda: jobs[1].done is not None)
    time.sleep(0.1)  # room to run ahead, if it would
    assert len(dec.calls) == 2  # 16 bytes held > 10: it waits
    for job in jobs:  # each collect gives bytes back: all five come out
        assert worker.collect(job)[0].data == b"x" * 8
    assert len(dec.calls) == 5
    timer.cancel()
    worker.stop()


def test_the_worker_decodes_a_few_frames_past_what_was_asked_for() -> None:
    """Frames nobody asked for (a burst the caller may never show) are decoded
    only ``frames_ahead`` past the last one wanted or collected."""
    dec = Decoder()
    worker = DecodeWorker(dec, LookAhead(1 << 20), frames_ahead=3)  # type: ignore[arg-type]
    timer = stop_later(worker)
    jobs = [Job(bytes([i])) for i in range(12)]
    for job in jobs:
        worker.submit(job)
    wait_for(lambda: jobs[2].done is not None)
    time.sleep(0.1)  # room to run ahead, if it would
    assert len(dec.calls) == 3  # none wanted yet: the first three
    assert worker.want(jobs[1])  # decoded already: the look-ahead goes on
    wait_for(lambda: jobs[4].done is not None)
    time.sleep(0.1)
    assert len(dec.calls) == 5
    assert not worker.want(jobs[6])
    wait_for(lambda: jobs[9].done is not None)
    time.sleep(0.1)
    assert len(dec.calls) == 10  # through the wanted one, and three beyond
    assert worker.collect(jobs[11])[0].data == bytes([11])  # waited for: decoded
    timer.cancel()
    worker.stop()


def test_a_dropped_frame_is_decoded_but_its_picture_not_kept() -> None:
    dec = Decoder()
    worker = DecodeWorker(dec, LookAhead(10), frames_ahead=8)  # type: ignore[arg-type]
    timer = stop_later(worker)
    jobs = [Job(b"y" * 8, dropped=True) for _ in range(4)] + [Job(b"z" * 8)]
    for job in jobs:
        worker.submit(job)
    wait_for(lambda: jobs[-1].done is not None)  # dropped ones hold no bytes
    assert len(dec.calls) == 5
    assert [worker.collect(job)[0] for job in jobs[:4]] == [None] * 4
    assert worker.collect(jobs[-1])[0].data == b"z" * 8
    timer.cancel()
    worker.stop()


def test_a_decode_error_is_raised_by_collect_and_the_next_frames_go_on() -> None:
    worker = DecodeWorker(Decoder(), LookAhead(1 << 20))  # type: ignore[arg-type]
    jobs = [Job(b"ok1"), Job(b"bad"), Job(b"ok2")]
    for job in jobs:
        worker.submit(job)
    assert worker.collect(jobs[0])[0].data == b"ok1"
    with pytest.raises(CanvasError, match="bad frame"):
        worker.collect(jobs[1])
    assert worker.collect(jobs[2])[0].data == b"ok2"
    worker.stop()


def test_stop_forgets_the_queue_and_refuses_what_comes_after() -> None:
    dec = Decoder()
    dec.gate.clear()  # the first decode waits: the rest stay queued
    worker = DecodeWorker(dec, LookAhead(1 << 20))  # type: ignore[arg-type]
    jobs = [Job(bytes([i])) for i in range(4)]
    for job in jobs:
        worker.submit(job)
    wait_for(lambda: len(dec.calls) == 1)
    worker.stop()
    with pytest.raises(CanvasError, match="stopped"):
        worker.collect(jobs[2])  # never decoded: refused, not waited for
    with pytest.raises(CanvasError, match="stopped"):
        worker.submit(Job(b"late"))
    dec.gate.set()
    wait_for(lambda: not worker.alive)
    assert dec.calls == [b"\x00"]  # the one under way, nothing after it


def test_collect_gives_the_decode_seconds() -> None:
    worker = DecodeWorker(Decoder(pause=0.05), LookAhead(1 << 20))  # type: ignore[arg-type]
    job = Job(b"slow")
    worker.submit(job)
    _, seconds = worker.collect(job)
    assert seconds >= 0.05
    worker.stop()


# -- the look-ahead of every stream's worker against the session's budget -----------


class BigPictures:
    """A ``VideoDecoder`` stand-in: every payload, however small, completes a
    picture of PICTURE bytes (a flat VP8 key frame of a large stream does)."""

    PICTURE = 256 * 1024

    def __init__(self, codec: int, width: int = 0, height: int = 0) -> None:
        self.frames_decoded = 0

    def decode_picture(self, data: bytes | memoryview) -> Picture:
        self.frames_decoded += 1
        return Picture(bytes(data), [Plane(self.PICTURE)])


def test_pictures_decoded_ahead_stay_within_the_sessions_video_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server opens many VP8 streams and sends tiny payloads due far in the
    future: what the workers hold decoded ahead must stay within the one
    session budget ``Limits.video_queue`` (the synchronous path holds only the
    tiny payloads)."""
    from spicepy.canvas import Canvas, SurfaceFormat
    from spicepy.canvas import streams as streams_mod
    from spicepy.canvas.images import SharedState
    from spicepy.limits import Limits
    from spicepy.wire.enums import VideoCodecType
    from spicepy.wire.types import Rect

    monkeypatch.setattr(streams_mod, "VideoDecoder", BigPictures)
    monkeypatch.setattr(streams_mod, "VIDEO_CODECS", {int(VideoCodecType.VP8)})
    budget = 1024 * 1024
    canvas = Canvas(SharedState(limits=Limits(video_queue=budget)))
    canvas.create_surface(0, 64, 64, SurfaceFormat.FMT_32_xRGB)
    m = streams_mod.StreamManager(canvas, threaded=True)
    n = 8
    for sid in range(n):
        m.create(sid, 0, 0, VideoCodecType.VP8, 64, 64, 64, 64, Rect(0, 0, 64, 64))
        for i in range(20):
            m.data(sid, 10_000_000 + i, b"\x10" * 16, now=0)
    workers = [m.streams[sid].worker for sid in range(n)]
    assert all(w is not None for w in workers)
    time.sleep(0.5)  # the workers decode ahead as far as they may
    held = sum(w._held for w in workers if w is not None)
    shared = workers[0]._ahead if workers[0] is not None else None
    assert shared is not None and shared.held == held  # one count for all
    decoders: list[Any] = [m.streams[sid].decoder for sid in range(n)]
    decoded = sum(d.frames_decoded for d in decoders)
    m.destroy_all()
    # each worker checks the count before a decode: one picture over, at most
    assert held <= budget + BigPictures.PICTURE * n, held
    assert decoded >= budget // BigPictures.PICTURE  # they did decode ahead
    assert shared.held == 0  # stopped workers give their share back


class SlowPictures(BigPictures):
    """Each decode takes PAUSE seconds; pictures convert to black 8x8 BGRX."""

    PAUSE = 0.03

    def decode_picture(self, data: bytes | memoryview) -> Picture:
        time.sleep(self.PAUSE)
        return super().decode_picture(data)

    def to_pixels(self, picture: Picture) -> Any:
        import numpy as np

        return np.zeros((8, 8, 4), np.uint8)


@pytest.mark.parametrize("threaded", [False, True])
def test_decode_seconds_count_the_workers_decodes(
    monkeypatch: pytest.MonkeyPatch, threaded: bool
) -> None:
    """``StreamManager.decode_seconds`` holds the decodes' own time whether
    they ran on the loop thread or on the stream's worker."""
    from spicepy.canvas import Canvas, SurfaceFormat
    from spicepy.canvas import streams as streams_mod
    from spicepy.wire.enums import VideoCodecType
    from spicepy.wire.types import Rect

    monkeypatch.setattr(streams_mod, "VideoDecoder", SlowPictures)
    monkeypatch.setattr(streams_mod, "VIDEO_CODECS", {int(VideoCodecType.VP8)})
    canvas = Canvas()
    canvas.create_surface(0, 8, 8, SurfaceFormat.FMT_32_xRGB)
    m = streams_mod.StreamManager(canvas, threaded=threaded)
    m.create(1, 0, 0, VideoCodecType.VP8, 8, 8, 8, 8, Rect(0, 0, 8, 8))
    for i in range(4):
        m.data(1, 100 + i, b"\x10" * 16, now=100 + i)
        m.run(100 + i)
    stream = m.streams[1]
    deadline = time.monotonic() + WAIT
    while stream.frames_shown < 1:  # (a threaded show may wait for its decode)
        assert time.monotonic() < deadline, "no frame shown"
        time.sleep(0.01)
        m.run(1000)
    assert m.decode_seconds >= stream.frames_shown * SlowPictures.PAUSE
    m.destroy_all()
