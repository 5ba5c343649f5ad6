"""The blocking API (``connect_sync``) against the fake server of
tests/test_session.py, served from its own thread: ``send_audio`` streams the
samples to the record channel as the async one does."""

from __future__ import annotations

import asyncio
import queue
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from test_session import LIMIT, FakeSpice, serve

import spicepy


@contextmanager
def served(fake: FakeSpice) -> Iterator[int]:
    """``fake`` listening on a port, its event loop in a thread."""
    ports: queue.Queue[int] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        async with serve(fake) as port:
            ports.put(port)
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        yield ports.get(timeout=LIMIT)
    finally:
        stop.set()
        thread.join(LIMIT)


def test_sync_send_audio_streams_pcm() -> None:
    fake = FakeSpice(channels=[(1, 0), (6, 0)], record_start=(2, 48000))
    samples = np.random.default_rng(6).integers(-32768, 32767, (1200, 2), np.int16)
    with served(fake) as port:
        uri = f"spice://127.0.0.1:{port}"
        with spicepy.connect_sync(uri, timeout=LIMIT, record=True) as s:
            s.send_audio(samples, 48000, timeout=LIMIT)
            deadline = time.monotonic() + LIMIT
            while len(fake.record_sent) < 2 + 3 and time.monotonic() < deadline:
                time.sleep(0.01)
    types = [t for t, _ in fake.record_sent]
    assert types == [102, 103, 101, 101, 101]  # MODE, START_MARK, DATA x 3
    data = [body for t, body in fake.record_sent if t == 101]
    times = [struct.unpack_from("<I", b)[0] for b in data]
    assert times == [times[0], times[0] + 10, times[0] + 20]  # 10 ms packets
    assert b"".join(b[4:] for b in data) == samples.astype("<i2").tobytes()
