"""Session.cursor / .agent / .audio (session/media.py) without sockets: events go
into a real SessionCore, the agent's answers into a real MainChannel machine."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _channel_helpers import linked

from spicepy.audio import read_wav
from spicepy.channels import MainChannel
from spicepy.channels.agent import (
    ClipboardGrabbed,
    ClipboardReceived,
    ClipboardRequested,
)
from spicepy.channels.events import (
    AgentConnected,
    CursorChanged,
    CursorMoved,
    CursorReset,
    CursorShape,
)
from spicepy.channels.playback import AudioData, AudioStarted
from spicepy.session.core import SessionCore
from spicepy.session.media import AgentControl, AudioPlayback, CursorTracker
from spicepy.session.wakeup import Wakeup
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.agent import (
    AGENT_HEADER_SIZE,
    AnnounceCapabilities,
    caps_to_words,
    encode_agent_message,
    parse_agent_header,
)
from spicepy.wire.enums import (
    AgentCap,
    AudioDataMode,
    ClipboardType,
    MainCap,
    MouseMode,
)
from spicepy.wire.msg_common import MainAgentData, MainAgentDataC, MainInit

KEY = (1, 0)


class FakeConn:
    """What AgentControl uses of a ChannelConnection: ``machine`` and ``call``."""

    def __init__(self, machine: Any) -> None:
        self.machine = machine

    def call(self, method: Any, *args: Any) -> Any:
        return method(*args)


class FakeSession:
    def __init__(self, machine: Any = None) -> None:
        self.core = SessionCore()
        self.connections = {KEY: FakeConn(machine)} if machine is not None else {}

    def _wakeup_for(self) -> Wakeup:
        return Wakeup()


def test_cursor_tracker_decodes_and_follows() -> None:
    s = FakeSession()
    tracker = CursorTracker(s)  # type: ignore[arg-type]
    pixels = bytes([10, 20, 30, 255]) * 4  # 2x2 ALPHA, premultiplied B, G, R, A
    shape = CursorShape(7, 0, 2, 2, 1, 1, pixels)
    s.core.handle_event((4, 0), CursorChanged(5, 6, True, shape), 0.0)
    assert tracker.image is not None and tracker.image.rgba[0, 0].tolist() == [
        30,
        20,
        10,
        255,
    ]
    assert (tracker.x, tracker.y, tracker.visible) == (5, 6, True)
    s.core.handle_event((4, 0), CursorMoved(9, 8), 0.0)
    screen = np.zeros((20, 20, 3), np.uint8)
    tracker.composite(screen)
    assert screen[7:9, 8:10].tolist() == [[[30, 20, 10]] * 2] * 2  # hot spot (1, 1)
    assert screen.sum() == 4 * 60
    bad = CursorShape(8, 0, 2, 2, 0, 0, b"short")
    s.core.handle_event((4, 0), CursorChanged(0, 0, True, bad), 0.0)
    assert tracker.image is None and tracker.decode_errors == 1
    s.core.handle_event((4, 0), CursorReset(), 0.0)
    assert not tracker.visible and tracker.shape is None
    # client mouse mode: the session's own moves place the pointer
    tracker.local_move(50, 60)
    assert tracker.position == (0, 0)  # server mode: the server reports moves
    s.core.mouse_mode = MouseMode.CLIENT
    tracker.local_move(50, 60)
    assert tracker.position == (50, 60)


def test_audio_playback_frames_and_bad_packets() -> None:
    s = FakeSession()
    audio = AudioPlayback(s)  # type: ignore[arg-type]
    pcm = np.arange(960, dtype="<i2").reshape(480, 2)
    s.core.handle_event((5, 0), AudioStarted(2, 1, 48000, 0), 0.0)
    s.core.handle_event((5, 0), AudioData(3, AudioDataMode.RAW, pcm.tobytes()), 0.0)
    s.core.handle_event((5, 0), AudioData(4, AudioDataMode.RAW, b"\0\0\0"), 0.0)
    assert audio.started and audio.decode_errors == 1 and audio.frames_received == 1
    (frame,) = audio.take_frames()
    assert frame.time == 3
    np.testing.assert_array_equal(frame.samples, pcm)
    assert audio.take_frames() == []


def test_agent_control_answers_guest_requests_from_its_offer() -> None:
    srv = FakeServer(channel_caps=frozenset({MainCap.AGENT_CONNECTED_TOKENS}))
    main, srv = linked(MainChannel, srv, agent=True)
    main.receive_data(srv.pack(MainInit(1, 1, 3, 2, 1, 10, 0, 0)))
    announce = AnnounceCapabilities(0, caps_to_words({AgentCap.CLIPBOARD_BY_DEMAND}))
    main.receive_data(srv.pack(MainAgentData(encode_agent_message(announce))))
    while main.next_event() is not None:
        pass
    main.data_to_send()
    s = FakeSession(main)
    agent = AgentControl(s)  # type: ignore[arg-type]
    s.core.handle_event(KEY, AgentConnected(10), 0.0)
    agent.our_offers[0] = {ClipboardType.UTF8_TEXT: b"offered"}
    s.core.handle_event(KEY, ClipboardRequested(0, ClipboardType.UTF8_TEXT), 0.0)
    s.core.handle_event(KEY, ClipboardRequested(0, ClipboardType.IMAGE_PNG), 0.0)
    sent = [
        m
        for m in srv.client_messages(main.data_to_send(), 1)
        if isinstance(m, MainAgentDataC)
    ]
    bodies = []
    for m in sent:
        data = bytes(m.data)
        hdr = parse_agent_header(data)
        bodies.append(data[AGENT_HEADER_SIZE : AGENT_HEADER_SIZE + hdr.size])
    # CLIPBOARD replies (no selection prefix: the agent lacks CLIPBOARD_SELECTION)
    assert bodies == [
        struct.pack("<I", ClipboardType.UTF8_TEXT) + b"offered",
        struct.pack("<I", ClipboardType.IMAGE_PNG),  # nothing of that type: empty
    ]
    # the guest's grab and data land in the state get_clipboard waits on
    s.core.handle_event(KEY, ClipboardGrabbed(0, (1, 2)), 0.0)
    assert agent.guest_offers[0] == (1, 2) and 0 not in agent.our_offers
    s.core.handle_event(KEY, ClipboardReceived(0, 1, b"x"), 0.0)
    assert agent.guest_data[(0, 1)] == b"x"


def test_record_wav_takes_the_stream_format(tmp_path: Path) -> None:
    import asyncio

    s = FakeSession()
    audio = AudioPlayback(s)  # type: ignore[arg-type]
    pcm = (np.arange(441, dtype="<i2") * 7).reshape(441, 1)

    async def main() -> int:
        task = asyncio.create_task(audio.record_wav(tmp_path / "a.wav", 0.2))
        await asyncio.sleep(0.05)
        s.core.handle_event((5, 0), AudioStarted(1, 1, 44100, 0), 0.0)
        for k in range(3):
            s.core.handle_event((5, 0), AudioData(k, 1, pcm.tobytes()), 0.0)
        return await task

    assert asyncio.run(main()) == 3 * 441
    samples, rate = read_wav(tmp_path / "a.wav")
    assert rate == 44100
    np.testing.assert_array_equal(samples, np.concatenate([pcm] * 3))

    # nothing arrived: an empty 2 x 48 kHz file
    async def empty() -> int:
        return await audio.record_wav(tmp_path / "b.wav", 0.01)

    assert asyncio.run(empty()) == 0
    assert read_wav(tmp_path / "b.wav")[1] == 48000


def test_decoded_cursor_cache_keeps_the_most_recent_shapes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At most MAX_DECODED_CURSORS decoded shapes are kept, the least recently
    used dropped first (a shape named again by its unique id is not decoded
    again while it is kept; one dropped is)."""
    from spicepy.session import media

    decoded: list[int] = []
    real = media.decode_cursor

    def counting(*args: Any) -> Any:
        decoded.append(args[5][0])  # the shape's first data byte: its number
        return real(*args)

    monkeypatch.setattr(media, "decode_cursor", counting)
    s = FakeSession()
    CursorTracker(s)  # type: ignore[arg-type]
    n = media.MAX_DECODED_CURSORS

    def show(i: int) -> None:
        data = bytes([i % 256, 0, 0, 255]) * 4
        shape = CursorShape(1000 + i, 0, 2, 2, 0, 0, data)
        s.core.handle_event((4, 0), CursorChanged(0, 0, True, shape), 0.0)

    for i in range(n):
        show(i)
    show(0)  # used again: now the most recent
    assert len(decoded) == n
    show(n)  # one more: the least recently used (1) goes
    show(0)
    show(n)
    assert len(decoded) == n + 1
    show(1)
    assert len(decoded) == n + 2 and decoded[-1] == 1


def test_cursor_reset_forgets_the_decoded_shapes() -> None:
    """CURSOR_RESET empties the cursor cache (spice-gtk cursor_handle_reset:
    cache_clear); the decoded shapes and their bytes go with it."""
    s = FakeSession()
    tracker = CursorTracker(s)  # type: ignore[arg-type]
    shapes = [
        CursorShape(10 + i, 0, 2, 2, 0, 0, bytes([i, 0, 0, 255]) * 4) for i in range(3)
    ]
    for shape in shapes:
        s.core.handle_event((4, 0), CursorChanged(0, 0, True, shape), 0.0)
    three = tracker.decoded_bytes
    assert three > 0
    s.core.handle_event((4, 0), CursorReset(), 0.0)
    assert tracker.decoded_bytes == 0 and tracker.image is None
    # the same id after the reset is a new shape: decoded (and counted) again
    s.core.handle_event((4, 0), CursorChanged(0, 0, True, shapes[0]), 0.0)
    assert tracker.decoded_bytes == three // 3 and tracker.image is not None
