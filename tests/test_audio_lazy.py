"""Session.audio decodes Opus only when the audio is read (or recorded, or the
waiting packets reach MAX_AUDIO_FRAMES), and then gives exactly the frames an
eager decoder gives for the same packets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from test_session_media import FakeSession

import spicepy.session.media as media
from spicepy.audio import (
    OPUS_AVAILABLE,
    OpusDecoder,
    OpusEncoder,
    Samples,
    read_wav,
)
from spicepy.channels.playback import AudioData, AudioStarted
from spicepy.session.media import AudioPlayback, PlaybackDecoder
from spicepy.wire.enums import AudioDataMode

needs_opus = pytest.mark.skipif(not OPUS_AVAILABLE, reason="no Opus decoder")
KEY = (5, 0)


def opus_events(packets: int) -> list[object]:
    """START, then ``packets`` Opus packets of a 440 Hz stereo tone."""
    t = np.arange(packets * 480) / 48000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    enc = OpusEncoder(2)
    data = enc.encode(np.stack([tone, tone], axis=1)) + enc.flush()
    assert len(data) >= packets
    events: list[object] = [AudioStarted(2, AudioDataMode.OPUS, 48000, 0)]
    events += [AudioData(k, AudioDataMode.OPUS, p) for k, p in enumerate(data)]
    return events[: packets + 1]


def eager(events: list[object]) -> list[tuple[int, bytes]]:
    dec = PlaybackDecoder()
    frames = [dec.handle(e) for e in events]
    return [(f.time, f.samples.tobytes()) for f in frames if f is not None]


class CountingOpus(OpusDecoder):
    calls = 0

    def decode(self, packet: bytes) -> Samples:
        CountingOpus.calls += 1
        return super().decode(packet)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingOpus]:
    CountingOpus.calls = 0
    monkeypatch.setattr(media, "OpusDecoder", CountingOpus)
    return CountingOpus


@needs_opus
def test_opus_waits_for_a_reader_and_decodes_as_eager(
    counting: type[CountingOpus],
) -> None:
    s = FakeSession()
    audio = AudioPlayback(s)  # type: ignore[arg-type]
    events = opus_events(20)
    for e in events:
        s.core.handle_event(KEY, e, 0.0)
    assert audio.started and counting.calls == 0  # nobody read: nothing decoded
    got = [(f.time, f.samples.tobytes()) for f in audio.take_frames()]
    assert counting.calls == 20 and audio.frames_received == 20
    assert got == eager(events)


@needs_opus
def test_waiting_packets_stay_bounded(
    counting: type[CountingOpus], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media, "MAX_AUDIO_FRAMES", 8)
    s = FakeSession()
    audio = AudioPlayback(s)  # type: ignore[arg-type]
    events = opus_events(30)
    for k, e in enumerate(events, 1):
        s.core.handle_event(KEY, e, 0.0)
        # at most 8 events wait: the 8th arrival decodes them all
        assert k - counting.calls - 1 < 8
    frames = [(f.time, f.samples.tobytes()) for f in audio.take_frames()]
    assert frames == eager(events)[-8:]  # the newest MAX_AUDIO_FRAMES, as eager


@needs_opus
def test_recording_decodes_as_packets_come_and_leaves_earlier_ones_out(
    counting: type[CountingOpus], tmp_path: Path
) -> None:
    s = FakeSession()
    audio = AudioPlayback(s)  # type: ignore[arg-type]
    events = opus_events(10)
    for e in events[:4]:  # START + 3 packets before the recording
        s.core.handle_event(KEY, e, 0.0)
    assert counting.calls == 0

    async def main() -> int:
        task = asyncio.create_task(audio.record_wav(tmp_path / "a.wav", 0.2))
        await asyncio.sleep(0.05)
        for k, e in enumerate(events[4:], 1):
            s.core.handle_event(KEY, e, 0.0)
            assert counting.calls == 3 + k  # a recording decodes at once
        return await task

    assert asyncio.run(main()) == 7 * 480
    samples, rate = read_wav(tmp_path / "a.wav")
    expected = b"".join(pcm for _, pcm in eager(events)[3:])
    assert rate == 48000 and samples.tobytes() == expected
