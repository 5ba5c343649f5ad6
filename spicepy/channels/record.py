"""Record channel: the guest asks for microphone audio, the client sends it.

Theory of operation (spice-gtk ``channel-record.c``): the server sends START
(channels, format S16, frequency) when the guest opens its capture device and
STOP when it closes it; VOLUME and MUTE are settings.  While started the client
sends, before its first packet, MODE (RAW, or OPUS when both sides can) and
START_MARK with the stream time, then DATA packets each stamped with its time.
``send_samples`` does that for (n, channels) int16 samples: 10 ms packets, the
time advancing by their duration, Opus-encoded when the mode is OPUS.  The
machine never reads a clock: the caller passes the time of the first sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from spicepy.channels.base import Channel
from spicepy.channels.events import ChannelEvent, MessageReceived
from spicepy.errors import ProtocolError
from spicepy.wire.enums import AudioDataMode, AudioFmt, ChannelType, RecordCap
from spicepy.wire.msg_other import (
    RecordData,
    RecordMode,
    RecordMute,
    RecordStart,
    RecordStartMark,
    RecordStop,
    RecordVolume,
)

__all__ = [
    "RecordChannel",
    "RecordStarted",
    "RecordStopped",
    "RecordVolumeSet",
    "RecordMuteSet",
]


@dataclass(frozen=True, slots=True)
class RecordStarted(ChannelEvent):
    channels: int
    format: int
    frequency: int


@dataclass(frozen=True, slots=True)
class RecordStopped(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class RecordVolumeSet(ChannelEvent):
    volume: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RecordMuteSet(ChannelEvent):
    mute: bool


def default_record_caps() -> frozenset[int]:
    """VOLUME, and OPUS when an encoder imports."""
    from spicepy.audio import OPUS_AVAILABLE

    return frozenset(
        {RecordCap.VOLUME} | ({RecordCap.OPUS} if OPUS_AVAILABLE else set())
    )


class RecordChannel(Channel):
    """Args: as ``Channel`` (default caps: ``default_record_caps()``)."""

    CHANNEL_TYPE = ChannelType.RECORD
    DEFAULT_CAPS: ClassVar[frozenset[int]] = frozenset({RecordCap.VOLUME})

    def __init__(self, channel_id: int = 0, **kw: Any) -> None:
        if kw.get("channel_caps") is None:
            kw["channel_caps"] = default_record_caps()
        super().__init__(channel_id, **kw)
        self._caps = kw["channel_caps"]
        self.started = False
        self.channels = 0
        self.frequency = 0
        self.volume: tuple[int, ...] = ()
        self.mute = False
        self.mode: int = AudioDataMode.RAW
        self._marked = False
        self._encoder: Any = None

    # -- low-level commands (spice.proto RecordChannel client messages) -------------
    def send_mode(self, time: int, mode: int = AudioDataMode.RAW) -> None:
        self.send_message(RecordMode(time, mode, b""))

    def send_start_mark(self, time: int) -> None:
        self.send_message(RecordStartMark(time))

    def send_data(self, time: int, data: bytes) -> None:
        self.send_message(RecordData(time, bytes(data)))

    # -- samples --------------------------------------------------------------------
    def send_samples(self, samples: npt.NDArray[np.int16], time: int) -> int:
        """Queue ``samples`` ((n, channels) int16 at the server's frequency) from
        mm time ``time``; returns the time just after them.

        Raises:
            ProtocolError: the server has not started recording.
            ValueError: samples of the wrong shape.
        """
        from spicepy.audio import OPUS_FRAME_SAMPLES, pcm_packets

        if not self.started:
            raise ProtocolError("the server has not started recording")
        if samples.ndim != 2 or samples.shape[1] != self.channels:
            raise ValueError(f"expected (n, {self.channels}) int16 samples")
        if not self._marked:
            self.send_mode(time, self.mode)
            self.send_start_mark(time)
            self._marked = True
        step_ms = 1000 * OPUS_FRAME_SAMPLES / self.frequency
        if self._encoder is not None:
            packets = self._encoder.encode(samples)
        else:
            packets = list(pcm_packets(samples))
        for k, packet in enumerate(packets):
            self.send_data((time + round(k * step_ms)) & 0xFFFFFFFF, packet)
        return (time + round(1000 * len(samples) / self.frequency)) & 0xFFFFFFFF

    def _handle(self, msg: Any, serial: int) -> None:
        if isinstance(msg, RecordStart):
            if msg.format != AudioFmt.S16 or not 0 < msg.channels <= 8:
                raise ProtocolError(f"unsupported record format {msg.format}")
            self.started, self._marked = True, False
            self.channels, self.frequency = msg.channels, msg.frequency
            self.mode, self._encoder = AudioDataMode.RAW, None
            # spice-gtk spice_record_desired_mode: OPUS when both sides can (48 kHz)
            if (
                RecordCap.OPUS in self._caps
                and RecordCap.OPUS in self.server_channel_caps
                and msg.frequency == 48000
                and msg.channels in (1, 2)
            ):
                from spicepy.audio import OpusEncoder

                self.mode, self._encoder = AudioDataMode.OPUS, OpusEncoder(msg.channels)
            self._emit(RecordStarted(msg.channels, msg.format, msg.frequency))
        elif isinstance(msg, RecordStop):
            self.started = False
            self._emit(RecordStopped())
        elif isinstance(msg, RecordVolume):
            self.volume = msg.volume
            self._emit(RecordVolumeSet(msg.volume))
        elif isinstance(msg, RecordMute):
            self.mute = bool(msg.mute)
            self._emit(RecordMuteSet(self.mute))
        else:
            self._emit(MessageReceived(self.CHANNEL_TYPE, msg.MSG_TYPE, serial, msg))
