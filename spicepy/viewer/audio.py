"""Guest audio to the local sound device, and the microphone to the guest
(SDL audio through pygame-ce).

``AudioOut`` keeps a bounded FIFO of S16 bytes that the session's decoded
frames (``Session.audio.frames()``) fill and SDL's audio thread drains in its
callback.  Playing starts once ``PREBUFFER`` s are queued (network jitter is
absorbed there, not heard as clicks), or once nothing new came for
``PREBUFFER`` s (the end of a stream plays out); an underrun plays silence
and buffers again; a FIFO over ``max_buffered`` seconds (default ``MAX_BUFFERED``;
``spicepy view --audio-latency``) drops its oldest audio, so the
delay never grows (the device runs on its own clock, the guest on the
server's).  A new stream format reopens the
device.  ``SDL_AUDIODRIVER=disk`` writes what would be played to a file
(``SDL_DISKAUDIOFILE``), which the tests read back.

``AudioIn`` is the other way (``--record``): an SDL capture device opened at
the guest's record format, its callback appending S16 bytes to a FIFO bounded
at ``MAX_BUFFERED`` s (oldest dropped), which ``take`` empties in whole
10 ms frames (what SPICE's record packets carry).  The disk driver reads
``SDL_DISKAUDIOFILEIN`` instead of a microphone.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.audio import AudioFrame

__all__ = ["AudioIn", "AudioOut", "MAX_BUFFERED"]

log = logging.getLogger(__name__)

#: seconds of audio kept before the oldest is dropped
MAX_BUFFERED = 0.25
#: device buffer in sample frames (10.7 ms at 48 kHz: SDL wants a power of 2)
CHUNK = 512
#: seconds queued before playing starts (again, after an underrun): network
#: jitter is absorbed here instead of being heard as clicks
PREBUFFER = 0.05


class AudioOut:
    """One SDL playback device fed with ``AudioFrame``s, keeping at most
    ``max_buffered`` seconds queued (a burst longer than that, after a network
    or CPU stall, loses its oldest audio instead of delaying all that follows)."""

    def __init__(self, max_buffered: float = MAX_BUFFERED) -> None:
        if not max_buffered > 0:
            raise ValueError(f"max_buffered must be > 0 s, not {max_buffered}")
        self.max_buffered = max_buffered
        self._lock = threading.Lock()
        self._fifo: collections.deque[bytes] = collections.deque()
        self._head = b""  # the partly played front chunk
        self._queued = 0  # bytes in _fifo + _head
        self._device: object | None = None
        self._format: tuple[int, int] | None = None
        self._prebuffer = 0  # bytes; set with the format
        self._playing = False
        self._last_in = 0.0  # time.monotonic() of the newest frame
        self.underruns = 0
        self.dropped_bytes = 0

    def _open(self, frequency: int, channels: int) -> None:
        self.close()
        self._device = _open_device(False, frequency, channels, self._fill)
        self._format = (frequency, channels)
        self._prebuffer = int(PREBUFFER * frequency) * channels * 2

    def play(self, frame: AudioFrame) -> None:
        """Queue one decoded frame (opens the device at the first one)."""
        fmt = (frame.frequency, int(frame.samples.shape[1]))
        if fmt != self._format:
            try:
                self._open(*fmt)
            except Exception as exc:  # no sound device: the session goes on
                log.warning("audio output unavailable: %s", exc)
                self._format = fmt
                return
        if self._device is None:
            return
        data = frame.samples.astype("<i2", copy=False).tobytes()
        limit = int(self.max_buffered * fmt[0]) * fmt[1] * 2
        with self._lock:
            self._fifo.append(data)
            self._last_in = time.monotonic()
            self._queued += len(data)
            while self._queued > limit and self._fifo:
                old = self._fifo.popleft()
                self._queued -= len(old)
                self.dropped_bytes += len(old)

    def _fill(self, device: object, out: memoryview) -> None:
        """SDL's audio thread: the next ``len(out)`` bytes, silence if short."""
        need = len(out)
        pos = 0
        with self._lock:
            if not self._playing and self._queued:
                quiet = time.monotonic() - self._last_in > PREBUFFER
                self._playing = quiet or self._queued >= max(need, self._prebuffer)
            while self._playing and pos < need:
                if not self._head:
                    if not self._fifo:
                        break
                    self._head = self._fifo.popleft()
                take = min(need - pos, len(self._head))
                out[pos : pos + take] = self._head[:take]
                self._head = self._head[take:]
                self._queued -= take
                pos += take
            if self._playing and pos < need:
                self._playing = False  # ran dry: buffer again before playing
                self.underruns += 1
        if pos < need:
            out[pos:need] = bytes(need - pos)

    def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.close()  # type: ignore[attr-defined]
            log.info(
                "audio out: %d underruns, %d bytes dropped",
                self.underruns,
                self.dropped_bytes,
            )
        with self._lock:
            self._fifo.clear()
            self._head, self._queued = b"", 0


def _open_device(
    capture: bool,
    frequency: int,
    channels: int,
    callback: Callable[[Any, memoryview], None],
) -> object:
    from pygame._sdl2 import audio as sdl_audio
    from pygame._sdl2 import sdl2

    sdl2.init_subsystem(sdl2.INIT_AUDIO)  # pygame inits audio only for its mixer
    device = sdl_audio.AudioDevice(
        devicename=None,
        iscapture=capture,
        frequency=frequency,
        audioformat=sdl_audio.AUDIO_S16,
        numchannels=channels,
        chunksize=CHUNK,
        allowed_changes=0,  # SDL converts from/to what the device does
        callback=callback,
    )
    device.pause(0)
    return device


class AudioIn:
    """One SDL capture device (the microphone) at ``frequency`` x ``channels``;
    capturing from ``open`` on (which raises what SDL raises without one)."""

    def __init__(self, frequency: int, channels: int) -> None:
        self.format = (frequency, channels)
        self._lock = threading.Lock()
        self._fifo = bytearray()
        self._limit = int(MAX_BUFFERED * frequency) * channels * 2
        self.dropped_bytes = 0
        self._device: object | None = None

    def open(self) -> AudioIn:
        self._device = _open_device(True, *self.format, self._store)
        return self

    def _store(self, device: object, data: memoryview) -> None:
        """SDL's audio thread: the microphone's next bytes."""
        with self._lock:
            self._fifo += data
            over = len(self._fifo) - self._limit
            if over > 0:
                frame = self.format[1] * 2
                over += -over % frame  # whole sample frames
                del self._fifo[:over]
                self.dropped_bytes += over

    def take(self) -> npt.NDArray[np.int16]:
        """The whole 10 ms frames captured since the last call, (n, channels)."""
        frequency, channels = self.format
        step = max(1, frequency // 100) * channels * 2
        with self._lock:
            n = len(self._fifo) - len(self._fifo) % step
            data = bytes(self._fifo[:n])
            del self._fifo[:n]
        return np.frombuffer(data, "<i2").reshape(-1, channels)

    def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.close()  # type: ignore[attr-defined]
