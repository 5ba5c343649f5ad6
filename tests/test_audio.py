"""spicepy.audio: playback events -> int16 frames (RAW exact, Opus at the right
frequency and level), hostile packets -> spicepy errors, WAV round trips."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spicepy.audio import (
    OPUS_AVAILABLE,
    OPUS_FRAME_SAMPLES,
    AudioFrame,
    OpusDecoder,
    OpusEncoder,
    WavWriter,
    pcm_packets,
    read_wav,
)
from spicepy.channels.playback import AudioData, AudioStarted, AudioStopped
from spicepy.errors import CodecError, ProtocolError
from spicepy.session.media import PlaybackDecoder
from spicepy.wire.enums import AudioDataMode

needs_av = pytest.mark.skipif(not OPUS_AVAILABLE, reason="PyAV (media extra) missing")


def tone(freq: float, seconds: float, rate: int = 48000, amp: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = np.round(np.sin(2 * np.pi * freq * t) * amp).astype(np.int16)
    return np.stack([mono, mono], 1)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples[:, 0].astype(float)))
    return float(np.argmax(spectrum) * rate / len(samples))


def frames_of(decoder: PlaybackDecoder, events: list[object]) -> list[AudioFrame]:
    out = []
    for ev in events:
        frame = decoder.handle(ev)
        if frame is not None:
            out.append(frame)
    return out


def test_raw_packets_decode_exactly_with_their_times() -> None:
    src = tone(1000, 0.1)
    packets = list(pcm_packets(src))
    assert len(packets) == 10 and len(packets[0]) == OPUS_FRAME_SAMPLES * 4
    evs: list[object] = [AudioStarted(2, 1, 48000, 0)]
    evs += [AudioData(7 + 10 * k, AudioDataMode.RAW, p) for k, p in enumerate(packets)]
    frames = frames_of(PlaybackDecoder(), evs + [AudioStopped()])
    assert [f.time for f in frames] == [7 + 10 * k for k in range(10)]
    assert all(f.duration_ms == 10 for f in frames)
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames]), src)
    assert peak_hz(src, 48000) == 1000


def test_raw_mono_44100_and_ragged_packet() -> None:
    dec = PlaybackDecoder()
    dec.handle(AudioStarted(1, 1, 44100, 0))
    (frame,) = frames_of(dec, [AudioData(0, 1, b"\x01\x00\xff\xff")])
    assert frame.samples.tolist() == [[1], [-1]] and frame.frequency == 44100
    with pytest.raises(ProtocolError, match="whole"):
        dec.handle(AudioData(0, AudioDataMode.RAW, b"\x01\x00\xff"))
    with pytest.raises(ProtocolError, match="mode"):
        dec.handle(AudioData(0, AudioDataMode.CELT_0_5_1, b"\0\0"))


@needs_av
@pytest.mark.parametrize("freq", [440.0, 1000.0, 3000.0])
def test_opus_stream_comes_out_at_the_right_frequency(freq: float) -> None:
    src = tone(freq, 0.5)
    enc = OpusEncoder(2)
    packets = []
    for start in range(0, len(src), OPUS_FRAME_SAMPLES):
        packets += enc.encode(src[start : start + OPUS_FRAME_SAMPLES])
    packets += enc.flush()
    assert 50 <= len(packets) <= 51  # 10 ms packets (+ the encoder's tail)
    evs: list[object] = [AudioStarted(2, 1, 48000, 0)]
    evs += [AudioData(10 * k, AudioDataMode.OPUS, p) for k, p in enumerate(packets)]
    frames = frames_of(PlaybackDecoder(), evs)
    assert all(f.frequency == 48000 and f.samples.dtype == np.int16 for f in frames)
    pcm = np.concatenate([f.samples for f in frames])
    assert len(pcm) >= len(src)
    # one FFT bin is 48000 / len(pcm) Hz wide: the peak lands in the tone's bin
    assert abs(peak_hz(pcm, 48000) - freq) <= 48000 / len(pcm)
    # level: Opus at 128 kbit/s keeps a pure tone's RMS: measured -0.04 dB at
    # most (440/1000/3000 Hz, libopus through PyAV, 3 Dec 2026); 0.25 dB leaves
    # room for other libopus builds, 1 dB would hide a gain bug of 12 %
    body = pcm[4800:-4800, 0].astype(float)
    ratio = np.sqrt(np.mean(body**2)) / np.sqrt(np.mean(src[:, 0].astype(float) ** 2))
    assert abs(20 * np.log10(ratio)) < 0.25


@needs_av
@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_opus_packets_decode_or_raise_codec_error(packet: bytes) -> None:
    try:
        out = OpusDecoder(2).decode(packet)
    except CodecError:
        return
    assert out.dtype == np.int16 and out.ndim == 2 and out.shape[1] == 2


@needs_av
def test_oversized_opus_packet_is_refused_before_decoding() -> None:
    # RFC 6716 3.2.5: at most 48 frames of at most 1275 bytes in one packet
    largest = 1275 * 48

    class Untouchable:
        def decode(self, packet: Any) -> list[object]:
            assert packet.size <= largest, "an oversized packet reached libopus"
            return []

    decoder = OpusDecoder()
    decoder._ctx = Untouchable()  # the size check comes before any decoding
    for size in (largest + 1, 100_000):
        with pytest.raises(CodecError, match=f"^Opus packet of {size} bytes$"):
            decoder.decode(bytes(size))
    assert decoder.decode(bytes(largest)).shape == (0, 2)  # the largest is let through
    with pytest.raises(CodecError):
        OpusDecoder().decode(b"")


@settings(max_examples=30, deadline=None)
@given(
    samples=arrays(np.int16, st.tuples(st.integers(0, 300), st.integers(1, 2))),
    rate=st.sampled_from([8000, 44100, 48000]),
)
def test_wav_round_trip(
    samples: np.ndarray, rate: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("wav") / "x.wav"
    with WavWriter(path, samples.shape[1], rate) as w:
        w.write(samples[: len(samples) // 2])
        w.write(samples[len(samples) // 2 :])
    assert w.frames_written == len(samples)
    back, back_rate = read_wav(path)
    assert back_rate == rate
    np.testing.assert_array_equal(back, samples)
    with wave.open(str(path)) as check:  # a plain WAV reader agrees
        assert (check.getnchannels(), check.getsampwidth()) == (samples.shape[1], 2)


def test_bad_wav_files_raise_codec_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF0000WAVEnope")
    with pytest.raises(CodecError):
        read_wav(junk)
    eight = tmp_path / "eight.wav"
    with wave.open(str(eight), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(b"\x80" * 10)
    with pytest.raises(CodecError, match="8-bit"):
        read_wav(eight)
    with pytest.raises(ValueError):
        WavWriter(tmp_path / "w.wav", 2, 48000).write(np.zeros((3, 1), np.int16))


@needs_av
def test_opus_keeps_left_and_right_apart() -> None:
    left = tone(600, 0.2)[:, 0]
    src = np.stack([left, np.zeros_like(left)], 1)
    enc, dec = OpusEncoder(2), OpusDecoder(2)
    packets = []
    for start in range(0, len(src), OPUS_FRAME_SAMPLES):
        packets += enc.encode(src[start : start + OPUS_FRAME_SAMPLES])
    pcm = np.concatenate([dec.decode(p) for p in packets]).astype(float)
    rms = np.sqrt(np.mean(pcm[2400:] ** 2, axis=0))
    # an 8000-amplitude sine has an RMS of 8000 / sqrt(2) = 5657 (measured 5662);
    # the silent right channel measured exactly 0: ask for 60 dB of separation
    assert 5657 * 0.89 < rms[0] < 5657 * 1.12  # within 1 dB
    assert rms[1] < rms[0] / 1000


@needs_av
def test_captured_opus_playback_is_the_440_hz_tone(captures_dir: Path) -> None:
    """video-vp8 recorded Xspice playing a 440 Hz tone through its audio FIFO,
    sent by spice-server as Opus (spice-gtk advertised OPUS)."""
    from spicepy.capture.streams import read_channels
    from spicepy.channels.playback import AudioModeSet
    from spicepy.wire import decode_message
    from spicepy.wire.enums import ChannelType, PlaybackMsg

    path = captures_dir / "video-vp8.pcap"
    if not path.exists():
        pytest.skip("video-vp8 capture missing")
    dec, evs = PlaybackDecoder(), []
    for ch in read_channels(path):
        if ch.channel_type != ChannelType.PLAYBACK:
            continue
        mode = AudioDataMode.RAW
        for m in ch.server_messages():
            msg = decode_message(ch.channel_type, m.type, m.body)
            if m.type == PlaybackMsg.MODE:
                mode = msg.mode
                evs.append(AudioModeSet(msg.time, msg.mode))
            elif m.type == PlaybackMsg.START:
                evs.append(
                    AudioStarted(msg.channels, msg.format, msg.frequency, msg.time)
                )
            elif m.type == PlaybackMsg.DATA:
                evs.append(AudioData(msg.time, mode, bytes(msg.data)))
    assert mode == AudioDataMode.OPUS
    frames = frames_of(dec, evs)
    assert len(frames) > 400 and all(
        len(f.samples) == OPUS_FRAME_SAMPLES for f in frames
    )
    # the server stamps packets when it sends them (bursts): times never go back
    # and span about the audio's duration (10 ms a packet: 5019 ms for 510
    # packets measured; 20 % either way allows for the burst at each end)
    steps = [
        (b.time - a.time) & 0xFFFFFFFF
        for a, b in zip(frames[:-1], frames[1:], strict=True)
    ]
    assert max(steps) < 1000
    span = sum(steps)
    assert 0.8 * 10 * len(frames) <= span <= 1.2 * 10 * len(frames)
    pcm = np.concatenate([f.samples for f in frames])
    loud = pcm[np.abs(pcm[:, 0]) > 0]
    assert abs(peak_hz(pcm, 48000) - 440) <= 48000 / len(pcm)
    assert len(loud) > len(pcm) // 2
