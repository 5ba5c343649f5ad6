"""Recorded server bytes through the channel machines.

Two sources: every channel of every shared capture (split into link and data
phases by ``spicepy.capture.streams``) and the small recordings in tests/data (see
its README). Each stream goes into a fresh machine once whole and once in
odd-sized pieces (the first bytes one at a time): the events and the output must
be identical. The message count must agree with a header walk of the same bytes,
and for the captures the ACKs, ACK_SYNCs and PONGs the machine sends must match
what spice-gtk sent in the same session (same SET_ACK window, same count).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from pathlib import Path

import pytest
from _channel_helpers import drive, drive_pieces

from spicepy.capture.streams import (
    client_data_start,
    iter_data_messages,
    read_channels,
    server_data_start,
)
from spicepy.channels import (
    CHANNEL_CLASSES,
    ChannelClosed,
    ChannelState,
    LinkCompleted,
    MessageReceived,
)
from spicepy.channels.base import Channel
from spicepy.wire import UnknownMessage, decode_message
from spicepy.wire.enums import ChannelType, CommonMsgc, InputsMsgc, PlaybackMsg

#: fed one byte at a time before switching to pieces (keeps the test quick)
BYTEWISE = 4096
PIECES = (1, 3, 17, 1000, 4093, 65536, 7)
REPLIES = (CommonMsgc.ACK_SYNC, CommonMsgc.ACK, CommonMsgc.PONG)
DATA = Path(__file__).parent / "data"
RECORDED = {
    "inputs_server.bin": ChannelType.INPUTS,
    "cursor_server.bin": ChannelType.CURSOR,
    "display_server_head.bin": ChannelType.DISPLAY,
    "playback_server_head.bin": ChannelType.PLAYBACK,
    "main_server_head.bin": ChannelType.MAIN,
}


def run(
    channel_type: int, channel_id: int, link: bytes, data: bytes, mode: str
) -> tuple[Channel, list[object], bytes]:
    """Link with the recorded reply, feed the data phase whole or in pieces, then
    EOF; returns the machine, its events and its output after the ticket (the
    ticket is random OAEP)."""
    ch = CHANNEL_CLASSES[channel_type](channel_id)
    ch.data_to_send()
    if mode == "whole":
        evs = drive(ch, link)
        ch.data_to_send()  # auth mechanism + ticket
        evs += drive(ch, data)
    else:
        evs = drive_pieces(ch, link, (1,))
        ch.data_to_send()
        cut = min(BYTEWISE, len(data))
        evs += drive_pieces(ch, data[:cut], (1,))
        evs += drive_pieces(ch, data[cut:], PIECES)
    evs += drive(ch, b"")
    return ch, evs, ch.data_to_send()


def check_whole_equals_pieces(
    channel_type: int, channel_id: int, link: bytes, data: bytes, mini: bool, name: str
) -> tuple[list[object], bytes]:
    """The common checks; returns the events and the output of the whole run."""
    ch, whole, out = run(channel_type, channel_id, link, data, "whole")
    assert ch.state is ChannelState.CLOSED, name
    assert isinstance(whole[0], LinkCompleted), name
    assert whole[0].mini_header is mini, name
    assert isinstance(whole[-1], ChannelClosed) and whole[-1].clean, name
    assert ch.unknown_messages == 0, name
    walked = list(iter_data_messages(data, mini, strict=False))
    assert ch.messages_received == len(walked), name
    _ch, pieces, out2 = run(channel_type, channel_id, link, data, "pieces")
    assert pieces == whole, name
    assert out2 == out, name
    return whole, out


def _captures() -> list[Path]:
    from conftest import CAPTURES

    return sorted(CAPTURES.glob("*.pcap")) if CAPTURES else []


@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.stem)
def test_capture_channels_through_the_machines(
    path: Path, captures_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="spicepy.channels")
    chans = [c for c in read_channels(path) if c.channel_type in CHANNEL_CLASSES]
    assert all(c.linked for c in chans), path.stem
    assert {c.channel_type for c in chans} >= {1, 2, 3, 4}
    for cap in chans:
        name = f"{path.stem} channel {cap.channel_type}:{cap.channel_id}"
        _evs, out = check_whole_equals_pieces(
            cap.channel_type,
            cap.channel_id,
            cap.server_link,
            cap.server_data,
            cap.mini_header,
            name,
        )
        # what we answered vs what spice-gtk answered in the capture
        mini = cap.mini_header
        ours = list(iter_data_messages(out, mini, strict=False))
        theirs = list(iter_data_messages(cap.client_data, mini, strict=False))
        assert Counter(m.type for m in ours if m.type in REPLIES) == Counter(
            m.type for m in theirs if m.type in REPLIES
        ), name
        no_ack = (CommonMsgc.ACK_SYNC, CommonMsgc.PONG)
        assert [m.body for m in ours if m.type in no_ack] == [
            m.body for m in theirs if m.type in no_ack
        ], name
    # the server mirrors the cursor cache: a FROM_CACHE must always hit
    assert not [r for r in caplog.records if "cache" in r.getMessage()]


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_stream_whole_and_in_pieces(name: str) -> None:
    raw = (DATA / name).read_bytes()
    ctype = RECORDED[name]
    start = server_data_start(raw)
    link, data = raw[:start], raw[start:]
    # the recordings hold whole messages only
    walked = list(iter_data_messages(data, True, strict=True))
    whole, _out = check_whole_equals_pieces(ctype, 0, link, data, True, name)
    if ctype == ChannelType.DISPLAY:
        # these report every channel message
        reported = [e.msg_type for e in whole if isinstance(e, MessageReceived)]
        assert reported == [m.type for m in walked if m.type >= 100]
    elif ctype == ChannelType.PLAYBACK:
        # one audio event per channel message (spicepy.channels.playback)
        from spicepy.channels import playback as pb

        numbers = {
            pb.AudioModeSet: PlaybackMsg.MODE,
            pb.AudioStarted: PlaybackMsg.START,
            pb.AudioData: PlaybackMsg.DATA,
            pb.AudioStopped: PlaybackMsg.STOP,
            pb.AudioVolumeSet: PlaybackMsg.VOLUME,
            pb.AudioMuteSet: PlaybackMsg.MUTE,
            pb.AudioLatencySet: PlaybackMsg.LATENCY,
        }
        reported = [numbers[type(e)] for e in whole if type(e) in numbers]
        assert reported == [m.type for m in walked if m.type >= 100]


def test_recorded_client_side_decodes() -> None:
    raw = (DATA / "inputs_client.bin").read_bytes()
    assert hashlib.sha256(raw).hexdigest().startswith("a013dfa2712f350d")
    data = raw[client_data_start(raw, auth_selection=True) :]
    seen = []
    for m in iter_data_messages(data, True, strict=True):
        msg = decode_message(ChannelType.INPUTS, m.type, m.body, from_server=False)
        assert not isinstance(msg, UnknownMessage)
        seen.append(m.type)
    assert InputsMsgc.MOUSE_MOTION in seen
