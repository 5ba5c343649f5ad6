"""Playback and record machines: events and state for every server message, the
spec's order (DATA only between START and STOP), caps (OPUS only when PyAV
imports), the record packets (MODE + START_MARK + timed DATA), and arbitrary
bodies ending in SpiceError only. Bodies follow spice.proto."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from _channel_helpers import drive_pieces, events, linked, split_messages
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.audio import OPUS_AVAILABLE, OpusDecoder
from spicepy.channels import ChannelState, PlaybackChannel, RecordChannel
from spicepy.channels.playback import (
    AudioData,
    AudioLatencySet,
    AudioModeSet,
    AudioMuteSet,
    AudioStarted,
    AudioStopped,
    AudioVolumeSet,
)
from spicepy.channels.record import RecordMuteSet, RecordStarted, RecordStopped
from spicepy.errors import ProtocolError, SpiceError
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.enums import (
    AudioDataMode,
    PlaybackCap,
    PlaybackMsg,
    RecordCap,
    RecordMsg,
    RecordMsgc,
)
from spicepy.wire.link import words_to_caps

START = struct.pack("<IHII", 2, 1, 48000, 9)  # channels, format S16, freq, time


def session(srv: FakeServer) -> bytes:
    return (
        srv.pack_raw(PlaybackMsg.MODE, struct.pack("<IH", 5, AudioDataMode.RAW))
        + srv.pack_raw(PlaybackMsg.START, START)
        + srv.pack_raw(PlaybackMsg.VOLUME, struct.pack("<BHH", 2, 100, 200))
        + srv.pack_raw(PlaybackMsg.MUTE, b"\1")
        + srv.pack_raw(PlaybackMsg.LATENCY, struct.pack("<I", 120))
        + srv.pack_raw(PlaybackMsg.DATA, struct.pack("<I", 10) + bytes(range(8)))
        + srv.pack_raw(PlaybackMsg.STOP, b"")
    )


EXPECTED = [
    AudioModeSet(5, AudioDataMode.RAW),
    AudioStarted(2, 1, 48000, 9),
    AudioVolumeSet((100, 200)),
    AudioMuteSet(True),
    AudioLatencySet(120),
    AudioData(10, AudioDataMode.RAW, bytes(range(8))),
    AudioStopped(),
]


def test_playback_events_and_state() -> None:
    ch, srv = linked(PlaybackChannel)
    ch.receive_data(session(srv))
    assert events(ch) == EXPECTED
    assert (ch.volume, ch.mute, ch.latency_ms, ch.started) == (
        (100, 200),
        True,
        120,
        False,
    )
    assert (ch.channels, ch.frequency, ch.packets) == (2, 48000, 1)
    assert ch.unknown_messages == 0


@pytest.mark.parametrize("piece", [1, 7])
def test_playback_events_do_not_depend_on_tcp_segmentation(piece: int) -> None:
    ch, srv = linked(PlaybackChannel)
    assert drive_pieces(ch, session(srv), (piece,)) == EXPECTED


def test_data_outside_start_and_double_start_are_protocol_errors() -> None:
    ch, srv = linked(PlaybackChannel)
    with pytest.raises(ProtocolError, match="outside"):
        ch.receive_data(srv.pack_raw(PlaybackMsg.DATA, struct.pack("<I", 1) + b"ab"))
    assert ch.state is ChannelState.ERROR
    ch, srv = linked(PlaybackChannel)
    with pytest.raises(ProtocolError, match="while"):
        ch.receive_data(
            srv.pack_raw(PlaybackMsg.START, START)
            + srv.pack_raw(PlaybackMsg.START, START)
        )
    ch, srv = linked(PlaybackChannel)
    with pytest.raises(ProtocolError, match="format"):  # format 2 does not exist
        ch.receive_data(
            srv.pack_raw(PlaybackMsg.START, struct.pack("<IHII", 2, 2, 1, 1))
        )


def test_opus_is_advertised_only_when_pyav_imports() -> None:
    ch, srv = linked(PlaybackChannel)
    assert srv.link_mess is not None
    caps = words_to_caps(srv.link_mess.channel_caps)
    assert (PlaybackCap.OPUS in caps) == OPUS_AVAILABLE
    assert {PlaybackCap.VOLUME, PlaybackCap.LATENCY} <= caps
    rec, rsrv = linked(RecordChannel)
    assert rsrv.link_mess is not None
    assert (
        RecordCap.OPUS in words_to_caps(rsrv.link_mess.channel_caps)
    ) == OPUS_AVAILABLE
    # an explicit cap set wins
    plain, psrv = linked(PlaybackChannel, channel_caps=frozenset({PlaybackCap.VOLUME}))
    assert psrv.link_mess is not None
    assert words_to_caps(psrv.link_mess.channel_caps) == {PlaybackCap.VOLUME}


@settings(max_examples=150, deadline=None)
@given(
    msgs=st.lists(
        st.tuples(st.sampled_from(list(PlaybackMsg)), st.binary(max_size=24)),
        max_size=8,
    )
)
def test_arbitrary_playback_bodies_end_in_spice_errors_only(
    msgs: list[tuple[int, bytes]],
) -> None:
    ch, srv = linked(PlaybackChannel)
    try:
        ch.receive_data(b"".join(srv.pack_raw(t, b) for t, b in msgs))
    except SpiceError:
        return
    events(ch)


def _record(server_opus: bool, **kw: object) -> tuple[RecordChannel, FakeServer]:
    caps = frozenset({RecordCap.VOLUME} | ({RecordCap.OPUS} if server_opus else set()))
    return linked(RecordChannel, FakeServer(channel_caps=caps), **kw)  # type: ignore[arg-type]


def test_record_raw_packets_carry_the_samples_and_times() -> None:
    ch, srv = _record(False)
    with pytest.raises(ProtocolError, match="not started"):
        ch.send_samples(np.zeros((10, 2), np.int16), 0)
    ch, srv = _record(False)
    ch.receive_data(
        srv.pack_raw(RecordMsg.START, struct.pack("<IHI", 2, 1, 48000))
        + srv.pack_raw(RecordMsg.MUTE, b"\0")
    )
    assert events(ch) == [RecordStarted(2, 1, 48000), RecordMuteSet(False)]
    samples = (np.arange(2000).reshape(1000, 2) - 1000).astype(np.int16)
    assert ch.send_samples(samples, 100) == 121  # 1000 samples at 48 kHz: 20.8 ms
    out = split_messages(ch.data_to_send())
    assert [t for t, _ in out[:2]] == [RecordMsgc.MODE, RecordMsgc.START_MARK]
    assert out[0][1] == struct.pack("<IH", 100, AudioDataMode.RAW)
    assert out[1][1] == struct.pack("<I", 100)
    data = [body for t, body in out[2:] if t == RecordMsgc.DATA]
    assert [struct.unpack_from("<I", d)[0] for d in data] == [100, 110, 120]
    assert b"".join(d[4:] for d in data) == samples.astype("<i2").tobytes()
    ch.send_samples(samples[:10], 121)  # MODE and START_MARK only once
    assert [t for t, _ in split_messages(ch.data_to_send())] == [RecordMsgc.DATA]
    with pytest.raises(ValueError):
        ch.send_samples(np.zeros((4, 1), np.int16), 0)
    ch.receive_data(srv.pack_raw(RecordMsg.STOP, b""))
    assert events(ch) == [RecordStopped()]


@pytest.mark.skipif(not OPUS_AVAILABLE, reason="PyAV (media extra) not installed")
def test_record_uses_opus_when_both_sides_can() -> None:
    ch, srv = _record(True)
    ch.receive_data(srv.pack_raw(RecordMsg.START, struct.pack("<IHI", 2, 1, 48000)))
    events(ch)
    t = np.arange(4800) / 48000
    tone = (np.sin(2 * np.pi * 750 * t) * 8000).astype(np.int16)
    ch.send_samples(np.stack([tone, tone], 1), 0)
    out = split_messages(ch.data_to_send())
    assert out[0][1] == struct.pack("<IH", 0, AudioDataMode.OPUS)
    decoder = OpusDecoder(2)
    pcm = np.concatenate([decoder.decode(b[4:]) for t_, b in out[2:]])
    spectrum = np.abs(np.fft.rfft(pcm[:, 0].astype(float)))
    # one FFT bin is 48000 / len(pcm) Hz wide
    assert abs(np.argmax(spectrum) * 48000 / len(pcm) - 750) <= 48000 / len(pcm)
    ch2, srv2 = _record(False)  # the server lacks OPUS: RAW
    ch2.receive_data(srv2.pack_raw(RecordMsg.START, struct.pack("<IHI", 2, 1, 48000)))
    ch2.send_samples(np.zeros((480, 2), np.int16), 0)
    assert split_messages(ch2.data_to_send())[0][1] == struct.pack("<IH", 0, 1)
