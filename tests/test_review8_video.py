"""Review 8 of the video workers (``canvas/video.py``): the look-ahead's cap
at its exact bound, and the frames a stream's worker decodes before any is
asked for (``DECODE_AHEAD_FRAMES``, which the stream manager leaves as is)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_review6_video_worker import Decoder, Job, stop_later, wait_for
from test_video import needs_av
from test_video_thread import capture, manager

from spicepy.canvas.video import DECODE_AHEAD_FRAMES, DecodeWorker, LookAhead

pytestmark = pytest.mark.timeout(60)  # a collect nobody answers: fail, not hang


def test_pictures_held_exactly_at_the_cap_do_not_stop_the_worker() -> None:
    """Past its cap the worker waits; at it, it decodes one more (two 8-byte
    pictures held of a 16-byte cap: a third is decoded, then it waits)."""
    dec = Decoder()
    worker = DecodeWorker(dec, LookAhead(16), frames_ahead=8)  # type: ignore[arg-type]
    timer = stop_later(worker)
    jobs = [Job(b"x" * 8) for _ in range(5)]
    for job in jobs:
        worker.submit(job)
    wait_for(lambda: jobs[2].done is not None)
    time.sleep(0.1)  # room to run ahead, if it would
    assert len(dec.calls) == 3
    for job in jobs:
        worker.collect(job)
    timer.cancel()
    worker.stop()


@needs_av
def test_a_burst_nobody_asked_for_is_decoded_only_a_few_frames_deep(
    captures_dir: Path,
) -> None:
    """Twelve frames of a stream arrive long before they are due and no timer
    run has asked for any: its worker decodes ``DECODE_AHEAD_FRAMES`` of them
    (ready when due), not the whole burst, which the caller may never show."""
    create, frames = capture(captures_dir, "video-vp8")
    _, m = manager(create, threaded=True)
    s = m.streams[1]
    worker = s.worker
    assert worker is not None
    decoded: list[int] = []
    decode = worker.decoder.decode_picture

    def counting(frame: bytes | memoryview) -> object:
        decoded.append(len(frame))
        return decode(frame)

    worker.decoder.decode_picture = counting  # type: ignore[method-assign]
    for i, f in enumerate(frames[:12]):
        m.data(1, 100_000 + 33 * i, f, now=900)  # due in ~100 s
    assert 0 < DECODE_AHEAD_FRAMES < 12
    wait_for(lambda: len(decoded) >= DECODE_AHEAD_FRAMES)
    time.sleep(0.2)  # room to run ahead, if it would
    assert len(decoded) == DECODE_AHEAD_FRAMES
    assert [item.done is not None for item in s.pending] == [
        i < DECODE_AHEAD_FRAMES for i in range(12)
    ]
    m.destroy_all()


def test_a_picture_collected_after_stop_is_not_given_back_twice() -> None:
    """``stop`` gives back what the worker holds; collecting a frame it had
    decoded before leaves the session's count at 0, not below."""
    dec = Decoder()
    ahead = LookAhead(1 << 20)
    worker = DecodeWorker(dec, ahead)  # type: ignore[arg-type]
    jobs = [Job(b"x" * 8), Job(b"y" * 8)]
    for job in jobs:
        worker.submit(job)
    wait_for(lambda: jobs[1].done is not None)
    assert ahead.held == 16
    worker.stop()
    assert ahead.held == 0
    assert worker.collect(jobs[0])[0].data == b"x" * 8
    assert ahead.held == 0


def test_a_collect_that_frees_the_cap_wakes_the_waiting_worker() -> None:
    """The worker waits past the cap with the next frame not wanted; a collect
    of a frame already wanted (no new want to wake it) gives bytes back and
    the worker goes on."""
    dec = Decoder()
    worker = DecodeWorker(dec, LookAhead(10), frames_ahead=8)  # type: ignore[arg-type]
    timer = stop_later(worker)
    jobs = [Job(b"x" * 8) for _ in range(4)]
    for job in jobs:
        worker.submit(job)
    wait_for(lambda: jobs[1].done is not None)
    assert worker.want(jobs[1])  # decoded; the next ones are not wanted
    time.sleep(0.1)
    assert jobs[2].done is None  # 16 bytes held > 10: it waits
    worker.collect(jobs[0])  # 8 back: room again
    wait_for(lambda: jobs[2].done is not None)
    timer.cancel()
    worker.stop()
