"""Record channel: START/STOP/VOLUME/MUTE as ``MessageReceived``; the client sends
START_MARK then DATA packets (raw S16LE) once recording starts."""

from __future__ import annotations

from spicepy.channels.base import Channel
from spicepy.wire.enums import AudioDataMode, ChannelType, RecordCap
from spicepy.wire.msg_other import RecordData, RecordMode, RecordStartMark

__all__ = ["RecordChannel"]


class RecordChannel(Channel):
    CHANNEL_TYPE = ChannelType.RECORD
    DEFAULT_CAPS = frozenset({RecordCap.VOLUME})

    def send_mode(self, time: int, mode: int = AudioDataMode.RAW) -> None:
        self.send_message(RecordMode(time, mode, b""))

    def send_start_mark(self, time: int) -> None:
        self.send_message(RecordStartMark(time))

    def send_data(self, time: int, data: bytes) -> None:
        self.send_message(RecordData(time, bytes(data)))
