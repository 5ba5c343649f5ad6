"""Playback channel: the server's audio stream as events (no decoding here).

Theory of operation (spice_protocol.txt "Playback channel", spice-gtk
``channel-playback.c``): MODE names the data mode of the packets to come (RAW
S16LE or OPUS; CELT is gone from spice-server 0.15) with a multimedia time;
START opens a stream (channels, format S16, frequency, time); DATA packets carry
one mm time each and belong to the open stream; STOP closes it.  VOLUME (one u16
per channel), MUTE and LATENCY (the minimum buffering the server wants, ms) are
settings that may arrive at any time.  Each message becomes one event, and the
machine keeps the current settings as attributes.  DATA outside START..STOP and a
START while started break the spec's order and are a ProtocolError.

OPUS is advertised only when a decoder imports (``spicepy.audio.OPUS_AVAILABLE``):
the server then encodes with Opus (48 kHz, 10 ms frames); ``spicepy.audio``
turns DATA events into int16 samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from spicepy.channels.base import Channel
from spicepy.channels.events import ChannelEvent, MessageReceived
from spicepy.errors import ProtocolError
from spicepy.wire.enums import AudioDataMode, AudioFmt, ChannelType, PlaybackCap
from spicepy.wire.msg_other import (
    PlaybackData,
    PlaybackLatency,
    PlaybackMode,
    PlaybackMute,
    PlaybackStart,
    PlaybackStop,
    PlaybackVolume,
)

__all__ = [
    "PlaybackChannel",
    "default_playback_caps",
    "AudioModeSet",
    "AudioStarted",
    "AudioData",
    "AudioStopped",
    "AudioVolumeSet",
    "AudioMuteSet",
    "AudioLatencySet",
]


@dataclass(frozen=True, slots=True)
class AudioModeSet(ChannelEvent):
    time: int
    mode: int  # AudioDataMode


@dataclass(frozen=True, slots=True)
class AudioStarted(ChannelEvent):
    channels: int
    format: int  # AudioFmt
    frequency: int
    time: int


@dataclass(frozen=True, slots=True)
class AudioData(ChannelEvent):
    """One packet: raw S16LE interleaved bytes or one Opus packet (``mode``)."""

    time: int
    mode: int
    data: bytes


@dataclass(frozen=True, slots=True)
class AudioStopped(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class AudioVolumeSet(ChannelEvent):
    volume: tuple[int, ...]  # u16 per channel


@dataclass(frozen=True, slots=True)
class AudioMuteSet(ChannelEvent):
    mute: bool


@dataclass(frozen=True, slots=True)
class AudioLatencySet(ChannelEvent):
    latency_ms: int


def default_playback_caps() -> frozenset[int]:
    """VOLUME + LATENCY, and OPUS when a decoder imports."""
    from spicepy.audio import OPUS_AVAILABLE

    caps = {PlaybackCap.VOLUME, PlaybackCap.LATENCY}
    if OPUS_AVAILABLE:
        caps.add(PlaybackCap.OPUS)
    return frozenset(caps)


class PlaybackChannel(Channel):
    """Args: as ``Channel`` (default caps: ``default_playback_caps()``)."""

    CHANNEL_TYPE = ChannelType.PLAYBACK
    DEFAULT_CAPS: ClassVar[frozenset[int]] = frozenset(
        {PlaybackCap.VOLUME, PlaybackCap.LATENCY}
    )

    def __init__(self, channel_id: int = 0, **kw: Any) -> None:
        if kw.get("channel_caps") is None:
            kw["channel_caps"] = default_playback_caps()
        super().__init__(channel_id, **kw)
        self.mode: int = AudioDataMode.RAW
        self.started = False
        self.channels = 0
        self.frequency = 0
        self.volume: tuple[int, ...] = ()
        self.mute = False
        self.latency_ms = 0
        self.packets = 0

    def _handle(self, msg: Any, serial: int) -> None:
        if isinstance(msg, PlaybackMode):
            self.mode = msg.mode
            self._emit(AudioModeSet(msg.time, msg.mode))
        elif isinstance(msg, PlaybackStart):
            if self.started:
                raise ProtocolError("PLAYBACK_START while a stream is playing")
            if msg.format != AudioFmt.S16 or not 0 < msg.channels <= 8:
                raise ProtocolError(
                    f"unsupported audio format {msg.format} x {msg.channels} channels"
                )
            self.started = True
            self.channels, self.frequency = msg.channels, msg.frequency
            self._emit(AudioStarted(msg.channels, msg.format, msg.frequency, msg.time))
        elif isinstance(msg, PlaybackData):
            if not self.started:
                raise ProtocolError("PLAYBACK_DATA outside START..STOP")
            self.packets += 1
            self._emit(AudioData(msg.time, self.mode, bytes(msg.data)))
        elif isinstance(msg, PlaybackStop):
            self.started = False
            self._emit(AudioStopped())
        elif isinstance(msg, PlaybackVolume):
            self.volume = msg.volume
            self._emit(AudioVolumeSet(msg.volume))
        elif isinstance(msg, PlaybackMute):
            self.mute = bool(msg.mute)
            self._emit(AudioMuteSet(self.mute))
        elif isinstance(msg, PlaybackLatency):
            self.latency_ms = msg.latency_ms
            self._emit(AudioLatencySet(msg.latency_ms))
        else:
            self._emit(MessageReceived(self.CHANNEL_TYPE, msg.MSG_TYPE, serial, msg))
