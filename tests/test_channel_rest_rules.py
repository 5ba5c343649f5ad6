"""Exact rules of the cursor, playback and display machines, written for the
survivors of their mutation run (tests/MUTATION.md): every state attribute after
each message, the cache's byte accounting and eviction at its bounds, the log
texts, each ProtocolError's text, and the display channel's link-time bytes."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from _channel_helpers import events, linked, split_messages

import spicepy.channels.cursor as cursor_mod
from spicepy.channels import CursorChannel, DisplayChannel, PlaybackChannel
from spicepy.channels.cursor import MAX_CACHED
from spicepy.channels.events import (
    CursorCacheInvalidated,
    CursorChanged,
    CursorShape,
    MessageReceived,
)
from spicepy.channels.playback import (
    AudioData,
    AudioLatencySet,
    AudioModeSet,
    AudioMuteSet,
    AudioStarted,
    AudioStopped,
    AudioVolumeSet,
)
from spicepy.errors import ProtocolError
from spicepy.limits import DEFAULT_LIMITS
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.enums import (
    AudioDataMode,
    ChannelType,
    CursorMsg,
    PlaybackCap,
    PlaybackMsg,
)

FLAG_NONE, FLAG_CACHE_ME, FLAG_FROM_CACHE = 1, 2, 4


class _Log:
    """Stands in for a module's logger: records each warning's final text."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, fmt: str, *args: Any) -> None:
        self.lines.append(fmt % args)

    def debug(self, fmt: str, *args: Any) -> None:
        pass


def _cursor(flags: int, unique: int, data: bytes, kind: int = 1) -> bytes:
    """SpiceCursor with a header whose every field differs: type ``kind``,
    width 3, height 5, hot spot (2, 4)."""
    if flags & FLAG_NONE:
        return struct.pack("<H", flags)
    return struct.pack("<HQBHHHH", flags, unique, kind, 3, 5, 2, 4) + data


def _set(srv: FakeServer, flags: int, unique: int, data: bytes = b"") -> bytes:
    head = struct.pack("<hhB", 7, -9, 1)
    return srv.pack_raw(CursorMsg.SET, head + _cursor(flags, unique, data))


# ---- cursor ---------------------------------------------------------------


def test_cursor_fresh_state_and_arguments() -> None:
    ch = CursorChannel()
    assert ch.channel_id == 0
    assert (ch.x, ch.y, ch.visible, ch.shape, ch.trail) == (0, 0, False, None, (0, 0))
    assert (ch.cache_bytes, ch.evicted, ch.cached_shapes) == (0, 0, 0)
    assert ch.max_cache_bytes == DEFAULT_LIMITS.cursor_cache
    assert ch.x == 0 and ch.x is not None and type(ch.visible) is bool
    other = CursorChannel(3, max_cache_bytes=99, max_message_size=1234)
    assert (other.channel_id, other.max_cache_bytes) == (3, 99)
    assert other.max_message_size == 1234


def test_cursor_shape_fields_and_data() -> None:
    ch, srv = linked(CursorChannel)
    data = bytes(range(60))
    ch.receive_data(_set(srv, 0, 0x1234, data))
    shape = CursorShape(0x1234, 1, 3, 5, 2, 4, data)
    assert events(ch) == [CursorChanged(7, -9, True, shape)]
    assert ch.shape == shape and type(ch.shape.data) is bytes
    # not CACHE_ME: nothing cached
    assert (ch.cached_shapes, ch.cache_bytes) == (0, 0)
    ch.receive_data(_set(srv, FLAG_FROM_CACHE, 0x1234))
    assert events(ch) == [CursorChanged(7, -9, True, None)]


def test_cursor_cache_byte_accounting() -> None:
    ch, srv = linked(CursorChannel)
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 1, bytes(10)))
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 2, bytes(30)))
    assert (ch.cached_shapes, ch.cache_bytes) == (2, 40)
    # the same id again replaces its entry: its old bytes leave the count
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 1, bytes(4)))
    assert (ch.cached_shapes, ch.cache_bytes) == (2, 34)
    # an unknown id changes nothing
    ch.receive_data(srv.pack_raw(CursorMsg.INVAL_ONE, struct.pack("<Q", 99)))
    assert (ch.cached_shapes, ch.cache_bytes) == (2, 34)
    ch.receive_data(srv.pack_raw(CursorMsg.INVAL_ONE, struct.pack("<Q", 2)))
    assert (ch.cached_shapes, ch.cache_bytes) == (1, 4)
    events(ch)
    ch.receive_data(_set(srv, FLAG_FROM_CACHE, 1))
    assert events(ch) == [
        CursorChanged(7, -9, True, CursorShape(1, 1, 3, 5, 2, 4, bytes(4)))
    ]
    ch.receive_data(srv.pack_raw(CursorMsg.INVAL_ALL, b""))
    assert (ch.cached_shapes, ch.cache_bytes) == (0, 0)
    assert events(ch) == [CursorCacheInvalidated(None)]
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 5, bytes(6)))
    ch.receive_data(srv.pack_raw(CursorMsg.RESET, b""))
    assert (ch.cached_shapes, ch.cache_bytes, ch.evicted) == (0, 0, 0)


def test_cursor_cache_evicts_oldest_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _Log()
    monkeypatch.setattr(cursor_mod, "log", log)
    ch, srv = linked(CursorChannel, max_cache_bytes=20)
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 1, bytes(8)))
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 2, bytes(12)))
    # exactly at the budget: nothing goes
    assert (ch.cached_shapes, ch.cache_bytes, ch.evicted) == (2, 20, 0)
    assert log.lines == []
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 3, bytes(1)))
    assert (ch.cached_shapes, ch.cache_bytes, ch.evicted) == (2, 13, 1)
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 4, bytes(19)))
    assert (ch.cached_shapes, ch.cache_bytes, ch.evicted) == (2, 20, 2)
    # warned once, with the bounds
    assert log.lines == [
        "cursor cache over 1024 shapes or 20 bytes: evicting the oldest"
    ]
    events(ch)
    ch.receive_data(_set(srv, FLAG_FROM_CACHE, 2))
    ch.receive_data(_set(srv, FLAG_FROM_CACHE, 3))
    evs = events(ch)
    assert evs[0] == CursorChanged(7, -9, True, None)
    assert evs[1] == CursorChanged(7, -9, True, CursorShape(3, 1, 3, 5, 2, 4, b"\0"))
    assert log.lines[1:] == ["cursor shape 0x2 is not in the cache"]
    # a third eviction: still no second warning
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 5, bytes(1)))
    assert (ch.cached_shapes, ch.cache_bytes, ch.evicted) == (2, 20, 3)
    assert len(log.lines) == 2


def test_cursor_shape_bigger_than_the_budget_is_not_kept() -> None:
    ch, srv = linked(CursorChannel, max_cache_bytes=5)
    ch.receive_data(_set(srv, FLAG_CACHE_ME, 1, bytes(6)))
    assert (ch.cached_shapes, ch.cache_bytes, ch.evicted) == (0, 0, 1)
    # the shape itself is still shown
    assert ch.shape == CursorShape(1, 1, 3, 5, 2, 4, bytes(6))


def test_cursor_cache_count_bound_exact() -> None:
    ch, srv = linked(CursorChannel)
    ch.receive_data(
        b"".join(_set(srv, FLAG_CACHE_ME, i, bytes(2)) for i in range(MAX_CACHED))
    )
    assert (ch.cached_shapes, ch.evicted, ch.cache_bytes) == (
        MAX_CACHED,
        0,
        2 * MAX_CACHED,
    )
    ch.receive_data(_set(srv, FLAG_CACHE_ME, MAX_CACHED, bytes(2)))
    assert (ch.cached_shapes, ch.evicted, ch.cache_bytes) == (
        MAX_CACHED,
        1,
        2 * MAX_CACHED,
    )
    events(ch)
    ch.receive_data(_set(srv, FLAG_FROM_CACHE, 0) + _set(srv, FLAG_FROM_CACHE, 1))
    shapes = [e.shape for e in events(ch) if isinstance(e, CursorChanged)]
    assert shapes == [None, CursorShape(1, 1, 3, 5, 2, 4, bytes(2))]


def test_cursor_none_flag_and_unknown_message() -> None:
    ch, srv = linked(CursorChannel)
    # NONE with a header's worth of bytes behind it: still no shape
    body = struct.pack("<hhB", 1, 2, 1) + struct.pack("<H", FLAG_NONE | FLAG_CACHE_ME)
    ch.receive_data(srv.pack_raw(CursorMsg.SET, body))
    assert events(ch) == [CursorChanged(1, 2, True, None)]
    assert (ch.cached_shapes, ch.shape) == (0, None)


# ---- playback -------------------------------------------------------------


def _start(
    srv: FakeServer, channels: int = 2, fmt: int = 1, freq: int = 44100
) -> bytes:
    return srv.pack_raw(
        PlaybackMsg.START, struct.pack("<IHII", channels, fmt, freq, 77)
    )


def test_playback_fresh_state_and_arguments() -> None:
    ch = PlaybackChannel()
    assert ch.channel_id == 0
    assert ch.mode == AudioDataMode.RAW and ch.started is False
    assert (ch.channels, ch.frequency, ch.volume, ch.mute, ch.latency_ms) == (
        0,
        0,
        (),
        False,
        0,
    )
    assert ch.packets == 0 and ch.mute is False
    other = PlaybackChannel(2, channel_caps=frozenset({PlaybackCap.VOLUME}))
    assert other.channel_id == 2
    assert other._link.channel_caps == frozenset({PlaybackCap.VOLUME})


class _Unknown:
    """A message class the machine has no branch for (a newer server's)."""

    MSG_TYPE = 250


def test_cursor_hide_state_and_unknown_message() -> None:
    ch, srv = linked(CursorChannel)
    ch.receive_data(_set(srv, 0, 1, bytes(2)))
    ch.receive_data(srv.pack_raw(CursorMsg.HIDE, b""))
    assert ch.visible is False and ch.shape is not None
    events(ch)
    msg = _Unknown()
    ch._handle(msg, 41)
    assert events(ch) == [MessageReceived(ChannelType.CURSOR, 250, 41, msg)]


def test_playback_unknown_message() -> None:
    ch, _ = linked(PlaybackChannel)
    msg = _Unknown()
    ch._handle(msg, 42)
    assert events(ch) == [MessageReceived(ChannelType.PLAYBACK, 250, 42, msg)]


def test_playback_state_after_each_message() -> None:
    ch, srv = linked(PlaybackChannel)
    ch.receive_data(
        srv.pack_raw(PlaybackMsg.MODE, struct.pack("<IH", 3, AudioDataMode.OPUS))
    )
    assert ch.mode == AudioDataMode.OPUS
    assert events(ch) == [AudioModeSet(3, AudioDataMode.OPUS)]
    ch.receive_data(_start(srv, 8, 1, 22050))
    assert (ch.started, ch.channels, ch.frequency) == (True, 8, 22050)
    assert events(ch) == [AudioStarted(8, 1, 22050, 77)]
    data = struct.pack("<I", 5) + b"\1\2\3"
    ch.receive_data(srv.pack_raw(PlaybackMsg.DATA, data) * 2)
    assert ch.packets == 2
    assert events(ch) == [AudioData(5, AudioDataMode.OPUS, b"\1\2\3")] * 2
    ch.receive_data(srv.pack_raw(PlaybackMsg.VOLUME, struct.pack("<BHH", 2, 9, 65535)))
    assert ch.volume == (9, 65535)
    ch.receive_data(srv.pack_raw(PlaybackMsg.MUTE, b"\7"))
    assert ch.mute is True
    ch.receive_data(srv.pack_raw(PlaybackMsg.LATENCY, struct.pack("<I", 333)))
    assert ch.latency_ms == 333
    assert events(ch) == [
        AudioVolumeSet((9, 65535)),
        AudioMuteSet(True),
        AudioLatencySet(333),
    ]
    ch.receive_data(srv.pack_raw(PlaybackMsg.MUTE, b"\0"))
    assert ch.mute is False and events(ch) == [AudioMuteSet(False)]
    ch.receive_data(srv.pack_raw(PlaybackMsg.STOP, b""))
    assert ch.started is False and events(ch) == [AudioStopped()]
    # a new stream may start after STOP
    ch.receive_data(_start(srv, 1, 1, 8000))
    assert (ch.started, ch.channels, ch.frequency) == (True, 1, 8000)


@pytest.mark.parametrize(
    ("channels", "fmt", "text"),
    [
        (0, 1, "unsupported audio format 1 x 0 channels"),
        (9, 1, "unsupported audio format 1 x 9 channels"),
        (2, 0, "unsupported audio format 0 x 2 channels"),
        (2, 2, "unsupported audio format 2 x 2 channels"),
    ],
)
def test_playback_start_refusals(channels: int, fmt: int, text: str) -> None:
    ch, srv = linked(PlaybackChannel)
    with pytest.raises(ProtocolError) as info:
        ch._handle(_msg(srv, _start(srv, channels, fmt)), 1)
    assert str(info.value) == text
    assert ch.started is False


def _msg(srv: FakeServer, raw: bytes) -> Any:
    """The parsed message of one framed server message."""
    from spicepy.wire.messages import decode_message

    ((typ, body),) = split_messages(raw)
    return decode_message(ChannelType.PLAYBACK, typ, body)


def test_playback_order_refusals() -> None:
    ch, srv = linked(PlaybackChannel)
    data = srv.pack_raw(PlaybackMsg.DATA, struct.pack("<I", 1) + b"ab")
    with pytest.raises(ProtocolError) as info:
        ch._handle(_msg(srv, data), 1)
    assert str(info.value) == "PLAYBACK_DATA outside START..STOP"
    assert ch.packets == 0
    ch._handle(_msg(srv, _start(srv)), 2)
    with pytest.raises(ProtocolError) as info:
        ch._handle(_msg(srv, _start(srv)), 3)
    assert str(info.value) == "PLAYBACK_START while a stream is playing"


def test_display_defaults() -> None:
    ch = DisplayChannel()
    assert ch.channel_id == 0
    assert DisplayChannel(4).channel_id == 4


def test_playback_default_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    import spicepy.audio

    monkeypatch.setattr(spicepy.audio, "OPUS_AVAILABLE", False)
    ch = PlaybackChannel()
    assert ch._link.channel_caps == {PlaybackCap.VOLUME, PlaybackCap.LATENCY}
    monkeypatch.setattr(spicepy.audio, "OPUS_AVAILABLE", True)
    assert PlaybackChannel()._link.channel_caps == {
        PlaybackCap.VOLUME,
        PlaybackCap.LATENCY,
        PlaybackCap.OPUS,
    }


# ---- _state ---------------------------------------------------------------


def test_next_state_refusal_text_and_table() -> None:
    from spicepy.channels._state import (
        TRANSITIONS,
        ChannelState,
        Trigger,
        next_state,
        transition,
    )

    for state in ChannelState:
        for trigger in Trigger:
            if (state, trigger) in TRANSITIONS:
                assert next_state(state, trigger) is TRANSITIONS[(state, trigger)]
                continue
            with pytest.raises(ProtocolError) as info:
                next_state(state, trigger)
            assert str(info.value) == (
                f"{trigger.value} is not allowed in state {state.value}"
            )
    assert next_state(ChannelState.LINKING, Trigger.LINK_REPLY) is (
        ChannelState.AUTHENTICATING
    )
    with pytest.raises(ProtocolError) as info:
        transition(TRANSITIONS, ChannelState.ERROR, Trigger.SEND, "display: ")
    assert str(info.value) == "display: send is not allowed in state error"
