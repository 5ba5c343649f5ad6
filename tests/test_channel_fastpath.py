"""The channel machine's fast path (``Channel._parse`` decoding the channel's own
messages itself) against its general path (``_dispatch``, which every message
took before): the same events, replies, counters and errors.

Every channel of every shared capture and the recordings of tests/data run twice
through fresh machines, once as shipped and once with the fast path's table
emptied (so every message goes through ``_dispatch``/``decode_message``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _channel_helpers import drive, events, linked

from spicepy.capture.streams import read_channels, server_data_start
from spicepy.channels import CHANNEL_CLASSES, ChannelState, DisplayChannel
from spicepy.channels.base import Channel
from spicepy.errors import WireError
from spicepy.wire import decode_message
from spicepy.wire.enums import ChannelType, DisplayMsg
from spicepy.wire.headers import pack_header

DATA = Path(__file__).parent / "data"
RECORDED = {
    "inputs_server.bin": ChannelType.INPUTS,
    "cursor_server.bin": ChannelType.CURSOR,
    "display_server_head.bin": ChannelType.DISPLAY,
    "playback_server_head.bin": ChannelType.PLAYBACK,
    "main_server_head.bin": ChannelType.MAIN,
}


def _run(
    channel_type: int, channel_id: int, link: bytes, data: bytes
) -> tuple[list[object], bytes, tuple[object, ...]]:
    ch = CHANNEL_CLASSES[channel_type](channel_id)
    ch.data_to_send()
    evs = drive(ch, link)
    ch.data_to_send()  # auth mechanism + random ticket
    # in two pieces, so a message completes across reads on both paths
    half = len(data) // 2
    evs += drive(ch, data[:half]) + drive(ch, data[half:]) + drive(ch, b"")
    counters = (
        ch.state,
        ch.messages_received,
        dict(ch.message_counts),
        ch.unknown_messages,
        ch.ack_window,
    )
    return evs, ch.data_to_send(), counters


def _general_path(monkeypatch: pytest.MonkeyPatch, cls: type[Channel]) -> None:
    """Empty the fast path's table of ``cls``: every message goes to _dispatch."""
    monkeypatch.setattr(cls, "_own_messages", classmethod(lambda c: {}))


def _streams() -> list[tuple[str, int, int, bytes, bytes]]:
    from conftest import CAPTURES

    out = []
    for path in sorted(CAPTURES.glob("*.pcap")) if CAPTURES else []:
        for cap in read_channels(path):
            if cap.channel_type in CHANNEL_CLASSES and cap.linked:
                out.append(
                    (
                        f"{path.stem}:{cap.channel_type}:{cap.channel_id}",
                        cap.channel_type,
                        cap.channel_id,
                        cap.server_link,
                        cap.server_data,
                    )
                )
    for name, ctype in sorted(RECORDED.items()):
        raw = (DATA / name).read_bytes()
        start = server_data_start(raw)
        out.append((name, ctype, 0, raw[:start], raw[start:]))
    return out


def test_fast_path_equals_general_path(
    monkeypatch: pytest.MonkeyPatch, captures_dir: Path
) -> None:
    streams = _streams()
    assert len(streams) > len(RECORDED)  # the captures are there
    fast = [_run(*s[1:]) for s in streams]
    for cls in set(CHANNEL_CLASSES.values()):
        _general_path(monkeypatch, cls)
    assert all(not c._own_messages() for c in CHANNEL_CLASSES.values())
    for stream, (evs, out, counters) in zip(streams, fast, strict=True):
        name = stream[0]
        g_evs, g_out, g_counters = _run(*stream[1:])
        assert evs == g_evs, name
        assert out == g_out, name
        assert counters == g_counters, name


def test_the_fast_path_takes_the_display_draws() -> None:
    own = DisplayChannel._own_messages()
    assert own[DisplayMsg.DRAW_COPY].__name__ == "DrawCopy"
    assert all(t >= 101 for t in own)  # common messages keep their handling


@pytest.mark.parametrize("path", ["fast", "general"])
def test_a_bad_message_fails_as_decode_message_says(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "general":
        _general_path(monkeypatch, DisplayChannel)
    ch, _srv = linked(DisplayChannel)
    mark = pack_header(DisplayMsg.MARK, 0, mini=True)
    cut = b"\x00" * 10  # a DRAW_COPY body cut short
    with pytest.raises(WireError) as want:
        decode_message(ChannelType.DISPLAY, DisplayMsg.DRAW_COPY, cut)
    with pytest.raises(WireError) as got:
        ch.receive_data(mark + pack_header(DisplayMsg.DRAW_COPY, 10, mini=True) + cut)
    assert str(got.value) == str(want.value)
    assert str(got.value).startswith("DRAW_COPY: ")
    assert ch.state is ChannelState.ERROR
    # the message before the bad one was delivered, and counted with it
    assert [type(e).__name__ for e in events(ch)] == ["MessageReceived"]
    assert ch.messages_received == 2
