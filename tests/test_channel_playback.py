"""Playback and record channels: their server messages are recognised (reported
as MessageReceived in order, none counted unknown). Bodies follow spice.proto."""

from __future__ import annotations

import struct

from _channel_helpers import events, linked

from spicepy.channels import MessageReceived, PlaybackChannel, RecordChannel
from spicepy.wire.enums import PlaybackMsg, RecordMsg


def test_playback_messages_are_recognised() -> None:
    ch, srv = linked(PlaybackChannel)
    ch.receive_data(
        # START: channels u32, format u16 (1 = S16), frequency u32, time u32
        srv.pack_raw(PlaybackMsg.START, struct.pack("<IHII", 2, 1, 44100, 9))
        # DATA: time u32, then the samples
        + srv.pack_raw(PlaybackMsg.DATA, struct.pack("<I", 10) + bytes(8))
        + srv.pack_raw(PlaybackMsg.STOP, b"")
    )
    evs = events(ch)
    assert all(isinstance(e, MessageReceived) for e in evs)
    assert [e.msg_type for e in evs] == [  # type: ignore[attr-defined]
        PlaybackMsg.START,
        PlaybackMsg.DATA,
        PlaybackMsg.STOP,
    ]
    assert ch.unknown_messages == 0


def test_record_messages_are_recognised() -> None:
    ch, srv = linked(RecordChannel)
    ch.receive_data(
        # START: channels u32, format u16, frequency u32
        srv.pack_raw(RecordMsg.START, struct.pack("<IHI", 1, 1, 48000))
        + srv.pack_raw(RecordMsg.STOP, b"")
    )
    evs = events(ch)
    assert [e.msg_type for e in evs] == [  # type: ignore[attr-defined]
        RecordMsg.START,
        RecordMsg.STOP,
    ]
    assert ch.unknown_messages == 0
