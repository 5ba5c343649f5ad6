"""Channel machines fed recorded server bytes (tests/data, see its README): once
whole and once byte by byte, with identical events and output; the messages they
report agree with an independent walk over the mini headers."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from spicepy.channels import CHANNEL_CLASSES, LinkCompleted, MessageReceived
from spicepy.channels.base import Channel
from spicepy.wire import UnknownMessage, decode_message
from spicepy.wire.enums import InputsMsgc

DATA = Path(__file__).parent / "data"
SERVER_FILES = {
    "inputs_server.bin": 3,
    "cursor_server.bin": 4,
    "display_server_head.bin": 2,
    "playback_server_head.bin": 5,
    "main_server_head.bin": 1,
}


def walk(data: bytes) -> list[int]:
    """Message types after the link, read straight from the 6-byte headers."""
    size = struct.unpack_from("<I", data, 12)[0]
    pos, types = 16 + size + 4, []
    while pos < len(data):
        msg_type, body = struct.unpack_from("<HI", data, pos)
        types.append(msg_type)
        pos += 6 + body
    assert pos == len(data)
    return types


def run(
    channel_type: int, data: bytes, step: int | None
) -> tuple[list[object], bytes, Channel]:
    ch = CHANNEL_CLASSES[channel_type]()
    ch.data_to_send()
    events: list[object] = []
    chunks = (
        [data]
        if step is None
        else [data[i : i + step] for i in range(0, len(data), step)]
    )
    for chunk in chunks:
        ch.receive_data(chunk)
        while (ev := ch.next_event()) is not None:
            events.append(ev)
    out = ch.data_to_send()
    # the 128-byte ticket is random (OAEP); compare what follows it
    return events, out[4 + 128 :], ch


@pytest.mark.parametrize("name", sorted(SERVER_FILES))
def test_recorded_stream_whole_and_byte_by_byte(name: str) -> None:
    data = (DATA / name).read_bytes()
    ctype = SERVER_FILES[name]
    whole, out_whole, ch = run(ctype, data, None)
    bytewise, out_bytes, _ = run(ctype, data, 1)
    assert whole == bytewise
    assert out_whole == out_bytes
    assert isinstance(whole[0], LinkCompleted) and whole[0].mini_header
    types = walk(data)
    assert ch.messages_received == len(types)
    assert ch.unknown_messages == 0
    if ctype in (2, 5):  # display and playback report every channel message
        reported = [e.msg_type for e in whole if isinstance(e, MessageReceived)]
        assert reported == [t for t in types if t >= 100]


def test_recorded_client_side_decodes() -> None:
    data = (DATA / "inputs_client.bin").read_bytes()
    assert hashlib.sha256(data).hexdigest().startswith("a013dfa2712f350d")
    size = struct.unpack_from("<I", data, 12)[0]
    pos = 16 + size + 4 + 128  # link message, auth mechanism, ticket
    seen = []
    while pos < len(data):
        msg_type, n = struct.unpack_from("<HI", data, pos)
        msg = decode_message(
            3, msg_type, data[pos + 6 : pos + 6 + n], from_server=False
        )
        assert not isinstance(msg, UnknownMessage)
        seen.append(msg_type)
        pos += 6 + n
    assert pos == len(data)
    assert InputsMsgc.MOUSE_MOTION in seen
