"""Audio for the playback and record channels: PCM frames, Opus, WAV files.

Theory of operation: the playback machine (``spicepy.channels.playback``) turns
messages into events; ``spicepy.session.media.PlaybackDecoder`` follows those
events and decodes each DATA packet here into an ``AudioFrame``: int16 samples
shaped (n, channels) with the packet's multimedia time.  This module sits below
the channel machines (they ask it for Opus and cut record packets with it), so
it never imports them.  RAW packets are S16LE interleaved; OPUS packets are
one Opus frame each (spice-common ``snd_codec.h``: 48 kHz, 10 ms = 480 samples a
channel), decoded with PyAV's libopus (the optional ``media`` extra).  The
record direction uses ``pcm_packets`` / ``OpusEncoder`` to cut samples into the
packets a RecordChannel sends.  ``WavWriter`` and ``read_wav`` handle 16-bit PCM
WAV files with the standard library's ``wave``.
"""

from __future__ import annotations

import importlib.util
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.errors import CodecError

__all__ = [
    "OPUS_AVAILABLE",
    "OPUS_FREQUENCY",
    "OPUS_FRAME_SAMPLES",
    "AudioFrame",
    "OpusDecoder",
    "OpusEncoder",
    "WavWriter",
    "pcm_packets",
    "read_wav",
]

Samples = npt.NDArray[np.int16]

#: snd_codec.h: SND_CODEC_OPUS_PLAYBACK_FREQ and SND_CODEC_OPUS_FRAME_SIZE
OPUS_FREQUENCY = 48000
OPUS_FRAME_SAMPLES = 480
#: the largest Opus packet (RFC 6716: 120 ms at most; 1275 bytes a frame x 48)
MAX_OPUS_PACKET = 1275 * 48

#: PyAV (the media extra) is found here without importing it (~25 MB of RSS,
#: ~0.1 s): the first Opus decoder or encoder imports it (``_need_av``)
OPUS_AVAILABLE = importlib.util.find_spec("av") is not None


@dataclass(frozen=True, slots=True, eq=False)
class AudioFrame:
    """Decoded samples: (n, channels) int16 at ``frequency`` Hz, ``time`` = the
    packet's multimedia time (ms)."""

    time: int
    frequency: int
    samples: Samples

    @property
    def duration_ms(self) -> float:
        return 1000 * len(self.samples) / self.frequency


def _need_av() -> Any:
    try:
        import av
    except ImportError as exc:  # the media extra is not installed
        raise CodecError("Opus needs PyAV: pip install 'spicepy[media]'") from exc
    return av


class OpusDecoder:
    """One Opus stream (decoder state lasts across packets)."""

    def __init__(self, channels: int = 2, frequency: int = OPUS_FREQUENCY) -> None:
        lib = _need_av()
        self.channels, self.frequency = channels, frequency
        self._ctx = lib.CodecContext.create("libopus", "r")
        self._ctx.sample_rate = frequency
        self._ctx.layout = "stereo" if channels == 2 else "mono"
        self._ctx.format = "s16"

    def decode(self, packet: bytes) -> Samples:
        """Samples of one packet, (n, channels) int16.

        Raises:
            CodecError: an empty, oversized or corrupt packet.
        """
        if not packet or len(packet) > MAX_OPUS_PACKET:
            raise CodecError(f"Opus packet of {len(packet)} bytes")
        lib = _need_av()
        try:
            frames = self._ctx.decode(lib.Packet(packet))
        except (lib.error.FFmpegError, ValueError) as exc:
            raise CodecError(f"Opus: {exc}") from exc
        parts = [_interleaved(f, self.channels) for f in frames]
        if not parts:
            return np.zeros((0, self.channels), np.int16)
        return np.concatenate(parts)


def _interleaved(frame: Any, channels: int) -> Samples:
    # the decoder was asked for packed s16: one (1, n * channels) plane
    if frame.format.name != "s16":
        raise CodecError(f"Opus decoder gave {frame.format.name} samples, not s16")
    samples: Samples = frame.to_ndarray().reshape(-1, channels).astype(np.int16)
    return samples


class OpusEncoder:
    """Samples -> Opus packets of 10 ms (for the record channel and tests)."""

    def __init__(
        self, channels: int = 2, frequency: int = OPUS_FREQUENCY, bitrate: int = 128000
    ) -> None:
        lib = _need_av()
        self.channels = channels
        self._ctx = lib.CodecContext.create("libopus", "w")
        self._ctx.sample_rate = frequency
        self._ctx.layout = "stereo" if channels == 2 else "mono"
        self._ctx.format = "s16"
        self._ctx.bit_rate = bitrate
        self._ctx.options = {"frame_duration": "10", "application": "audio"}
        self._pts = 0

    def encode(self, samples: Samples) -> list[bytes]:
        """Packets for ``samples`` (n, channels) int16; a partial 10 ms tail is
        kept by the encoder until more samples (or ``flush``) come."""
        lib = _need_av()
        data = np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1)
        layout = "stereo" if self.channels == 2 else "mono"
        frame = lib.AudioFrame.from_ndarray(data, format="s16", layout=layout)
        frame.sample_rate = self._ctx.sample_rate
        frame.pts = self._pts
        self._pts += len(samples)
        return [bytes(p) for p in self._ctx.encode(frame)]

    def flush(self) -> list[bytes]:
        return [bytes(p) for p in self._ctx.encode(None)]


def pcm_packets(
    samples: Samples, frame_samples: int = OPUS_FRAME_SAMPLES
) -> Iterator[bytes]:
    """Cut (n, channels) int16 samples into RAW packets (S16LE interleaved)."""
    data = np.ascontiguousarray(samples, dtype="<i2")
    for start in range(0, len(data), frame_samples):
        yield data[start : start + frame_samples].tobytes()


class WavWriter:
    """16-bit PCM WAV sink: ``with WavWriter(path, 2, 48000) as w: w.write(s)``."""

    def __init__(self, path: str | Path, channels: int, frequency: int) -> None:
        self.channels = channels
        self._wav = wave.open(str(path), "wb")
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(frequency)
        self.frames_written = 0

    def write(self, samples: Samples) -> None:
        if samples.ndim != 2 or samples.shape[1] != self.channels:
            raise ValueError(f"expected (n, {self.channels}) samples")
        self._wav.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
        self.frames_written += len(samples)

    def close(self) -> None:
        self._wav.close()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_wav(path: str | Path) -> tuple[Samples, int]:
    """A 16-bit PCM WAV file as ((n, channels) int16, frequency).

    Raises:
        CodecError: not 16-bit PCM, or not a WAV file.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise CodecError(f"{path}: {8 * wav.getsampwidth()}-bit WAV, need 16")
            channels, frequency = wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise CodecError(f"{path}: {exc}") from exc
    samples = np.frombuffer(raw, "<i2")
    samples = samples[: len(samples) - len(samples) % channels]
    return samples.reshape(-1, channels).astype(np.int16), frequency
