"""Review 7 of the video workers (``canvas/video.py``, ``canvas/streams.py``):
cases their tests let through when a bug was planted in them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_video import needs_av
from test_video_thread import blocking_decoder, capture, manager

# a worker that never decodes a frame leaves ``collect`` waiting: fail, not hang
pytestmark = pytest.mark.timeout(60)


@needs_av
def test_a_stream_destroyed_mid_decode_does_not_wake_the_loop(
    captures_dir: Path,
) -> None:
    """A frame the timer chose (``want``) whose decode ends after its stream
    was destroyed wakes nobody: the worker is stopped and the frame dropped,
    there is nothing for the loop to show."""
    create, frames = capture(captures_dir, "video-vp8")
    _, m = manager(create, threaded=True)
    woken: list[str] = []
    m.wakeup = lambda: woken.append(threading.current_thread().name)
    s = m.streams[1]
    worker = s.worker
    assert worker is not None
    started, release, calls = blocking_decoder(m)
    for i, f in enumerate(frames[:4]):
        m.data(1, 1000 + 33 * i, f, now=900)
    assert started.wait(60)
    failsafe = threading.Timer(10, release.set)
    failsafe.start()
    try:
        m.run(2000)  # chooses frame 0, still held in its decode: wanted
        assert len(s.ready) == 2 and s.ready[0].wake
        m.destroy(1)
    finally:
        release.set()
        failsafe.cancel()
    assert worker._thread is not None
    worker._thread.join(60)
    assert not worker.alive and calls == [len(frames[0])]
    assert woken == []
