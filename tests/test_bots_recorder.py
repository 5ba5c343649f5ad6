"""spicepy.bots.recorder: following a proxied link and turning input into a script."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.bots.recorder import ScriptRecorder, scancode
from spicepy.bots.script import dump, parse
from spicepy.bots.sniffer import LinkSniffer
from spicepy.channels.inputs import make_scancode
from spicepy.session.keymap import key_code, wire_bytes
from spicepy.wire.enums import ChannelType, CommonCap
from spicepy.wire.headers import pack_header
from spicepy.wire.link import LinkMess, LinkReply, caps_to_words
from spicepy.wire.messages import encode_message
from spicepy.wire.msg_other import (
    KeyDown,
    KeyScancode,
    KeyUp,
    MouseMotion,
    MousePosition,
    MousePress,
    MouseRelease,
)

CAPS = caps_to_words({CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.MINI_HEADER})


def client_stream(messages: list[object], *, mini: bool = True) -> bytes:
    out = LinkMess(0, ChannelType.INPUTS, 0, CAPS if mini else ()).pack_with_header()
    if mini:
        out += (1).to_bytes(4, "little")  # AuthMechanism.SPICE
    out += bytes(range(128))  # the encrypted ticket
    for msg in messages:
        kind, body = encode_message(msg)
        out += pack_header(kind, len(body), mini=mini) + body
    return out


def server_reply() -> bytes:
    return LinkReply(0, common_caps=CAPS).pack_with_header()


def keys(text_codes: list[tuple[int, bool]]) -> list[object]:
    return [
        KeyUp(make_scancode(c, True)) if up else KeyDown(make_scancode(c, False))
        for c, up in text_codes
    ]


MESSAGES: list[object] = [
    *keys([(key_code("shift"), False), (key_code("h"), False), (key_code("h"), True),
           (key_code("shift"), True), (key_code("i"), False), (key_code("i"), True),
           (key_code("enter"), False), (key_code("enter"), True),
           (key_code("ctrl"), False), (key_code("alt"), False),
           (key_code("delete"), False), (key_code("delete"), True),
           (key_code("alt"), True), (key_code("ctrl"), True)]),
    # spice-gtk sends a quick press + release as one KEY_SCANCODE
    KeyScancode(wire_bytes(key_code("x")) + wire_bytes(key_code("x"), release=True)),
    KeyScancode(wire_bytes(key_code("up")) + wire_bytes(key_code("up"), release=True)),
    MousePosition(300, 400, 0, 0),
    MousePress(1, 1),
    MouseRelease(1, 0),
    MousePress(4, 8), MouseRelease(4, 0), MousePress(4, 8), MouseRelease(4, 0),
    MousePosition(10, 20, 0, 0),
    MousePress(3, 4),
    MousePosition(50, 20, 4, 0),
    MouseRelease(3, 0),
]  # fmt: skip
SCRIPT = """\
type Hi
key enter
key ctrl-alt-delete
type x
key up
move 300 400
click 1
wheel up 2
move 10 20
mousedown 3
move 50 20
mouseup 3
"""


def record(chunks: list[bytes], reply_after: int = 1) -> str:
    sniffer, rec = LinkSniffer(), ScriptRecorder()
    for i, chunk in enumerate(chunks):
        if i == reply_after:
            for msg in sniffer.server_data(server_reply()):
                rec.feed(msg, 0.0)
        for msg in sniffer.client_data(chunk):
            rec.feed(msg, 0.0)
    return dump(rec.finish())


def test_recorded_script() -> None:
    data = client_stream(MESSAGES)
    assert record([data[:30], data[30:]]) == SCRIPT
    assert parse(SCRIPT)  # the recording is a valid script


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 60), max_size=30), st.integers(0, 31))
def test_any_chunking_records_the_same(cuts: list[int], reply_at: int) -> None:
    data = client_stream(MESSAGES)
    chunks, pos = [], 0
    for n in cuts:
        chunks.append(data[pos : pos + n])
        pos += n
    chunks.append(data[pos:])
    # the server's reply may pass the proxy before or after any client chunk
    assert record(chunks, reply_after=min(reply_at, len(chunks) - 1)) == SCRIPT


def test_pauses_and_relative_motion() -> None:
    """Server mouse mode: each relative motion is kept as sent (the guest
    accelerates each one), never turned into a position."""
    rec = ScriptRecorder(pause_after=1.0)
    rec.feed(MouseMotion(5, 7, 0), 0.0)
    rec.feed(MouseMotion(5, -3, 0), 0.1)
    rec.feed(MousePress(1, 1), 2.6)
    rec.feed(MouseRelease(1, 0), 2.7)
    rec.feed(MousePress(1, 1), 2.8)
    rec.feed(MouseMotion(-2, 0, 1), 2.9)  # a drag: no click
    rec.feed(MouseRelease(1, 0), 3.0)
    script = "move-by 5 7\nmove-by 5 -3\npause 2.5\nclick 1\n"
    script += "mousedown 1\nmove-by -2 0\nmouseup 1\n"
    assert dump(rec.finish()) == script
    assert parse(script)  # the recording is a valid script


def test_other_channels_and_garbage_record_nothing() -> None:
    display = LinkMess(0, ChannelType.DISPLAY, 0, CAPS).pack_with_header() + b"x" * 500
    sniffer = LinkSniffer()
    assert (
        sniffer.client_data(display) == []
        and sniffer.channel_type == ChannelType.DISPLAY
    )
    junk = LinkSniffer()
    assert junk.client_data(b"GET / HTTP/1.1\r\n\r\n" * 3) == []
    assert junk.client_data(client_stream(MESSAGES)) == []  # stays off


@pytest.mark.parametrize("code", [0x1E, 0x1C, 0x100 | 0x53, 0x100 | 0x48])
def test_scancode_round_trip(code: int) -> None:
    assert scancode(make_scancode(code, False)) == (code, False)
    assert scancode(make_scancode(code, True)) == (code, True)
