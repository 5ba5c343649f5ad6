"""The two message readers of a channel's stream are twins:
``stream.MessageReaderRef`` (Python, on ``schema.decode_struct``) and the compiled
``_decode.MessageReader`` return the same stops, serials, counts, frames left to
the caller, and events (message values, payload views and their read-only flag
included), on every channel stream of every capture and the recorded streams, in
one piece and cut into chunks, and on hypothesis input: random bytes, captured
streams cut short or with a byte changed, any start, any ``most``, both header
kinds, a tight ``max_size``."""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_wire_twins import shape

from spicepy.capture.streams import read_channels, server_data_start
from spicepy.channels import CHANNEL_CLASSES
from spicepy.channels.events import MessageReceived
from spicepy.wire.enums import ChannelType, DisplayMsg
from spicepy.wire.headers import pack_header
from spicepy.wire.stream import MessageReaderRef

fast = pytest.importorskip("spicepy.wire._decode")

DATA = Path(__file__).parent / "data"
RECORDED = {
    "inputs_server.bin": ChannelType.INPUTS,
    "cursor_server.bin": ChannelType.CURSOR,
    "display_server_head.bin": ChannelType.DISPLAY,
    "playback_server_head.bin": ChannelType.PLAYBACK,
    "main_server_head.bin": ChannelType.MAIN,
}
BIG = 1 << 62


def table(channel_type: int) -> dict[int, type[Any]]:
    return CHANNEL_CLASSES[channel_type]._own_messages()


def run(
    twin: type[Any],
    channel_type: int,
    chunks: list[bytes],
    mini: bool,
    most: int = BIG,
    max_size: int = BIG,
    start: int = 0,
) -> Any:
    """Everything a caller sees, driving ``twin`` as ``Channel._parse`` does:
    a frame left over is skipped (serial + 1); a stop at ``most`` goes on."""
    events: deque[Any] = deque()
    counts: defaultdict[int, int] = defaultdict(int)
    reader = twin(table(channel_type), channel_type, MessageReceived, events, counts)
    seen: list[Any] = []
    serial, rest = 0, b""
    for chunk in chunks:
        view = memoryview(rest + chunk)
        pos = start if not seen else 0
        while True:
            try:
                pos, serial, taken, frame = reader.read(
                    view, pos, mini, max_size, serial, most
                )
            except ValueError as exc:
                seen.append(("ValueError", str(exc)))
                return seen, [], {}
            if frame is not None:
                msg_type, body, hserial, sub_list, fstart, end = frame
                frame = (msg_type, shape(body), hserial, sub_list, fstart, end)
            seen.append((pos, serial, taken, frame))
            if frame is not None:
                pos, serial = frame[5], serial + 1
            elif taken != most:
                break
        rest = bytes(view[pos:])
    return seen, [shape(e) for e in events], dict(counts)


def assert_twins(channel_type: int, chunks: list[bytes], mini: bool, **kw: Any) -> Any:
    ref = run(MessageReaderRef, channel_type, chunks, mini, **kw)
    assert run(fast.MessageReader, channel_type, chunks, mini, **kw) == ref
    return ref


def _streams() -> list[tuple[str, int, bool, bytes]]:
    from conftest import CAPTURES

    out = []
    for path in sorted(CAPTURES.glob("*.pcap")) if CAPTURES else []:
        for cap in read_channels(path):
            if cap.channel_type in CHANNEL_CLASSES and cap.linked:
                name = f"{path.stem}:{cap.channel_type}:{cap.channel_id}"
                out.append((name, cap.channel_type, cap.mini_header, cap.server_data))
    for name, ctype in sorted(RECORDED.items()):
        raw = (DATA / name).read_bytes()
        out.append((name, ctype, True, raw[server_data_start(raw) :]))
    return out


def test_twins_on_every_captured_stream(captures_dir: Path) -> None:
    streams = _streams()
    assert len(streams) > len(RECORDED)
    taken = 0
    for name, ctype, mini, data in streams:
        seen, events, counts = assert_twins(ctype, [data], mini)
        assert sum(counts.values()) == len(events), name
        taken += len(events)
        # in 1000-byte chunks, taking at most 5 at a time (an ACK window)
        chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
        again = assert_twins(ctype, chunks, mini, most=5)
        assert again[1] == events, name  # the same messages, however cut
    assert taken > 10_000  # the captures' draws went through the readers


def _sample() -> tuple[int, bytes]:
    raw = (DATA / "display_server_head.bin").read_bytes()
    return ChannelType.DISPLAY, raw[server_data_start(raw) :]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=400),
    mini=st.booleans(),
    most=st.integers(1, 4),
    max_size=st.integers(0, 300),
    start=st.integers(0, 40),
)
def test_twins_on_random_bytes(
    data: bytes, mini: bool, most: int, max_size: int, start: int
) -> None:
    assert_twins(
        ChannelType.DISPLAY, [data], mini, most=most, max_size=max_size, start=start
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, 6000), at=st.integers(0, 6000), byte=st.integers(0, 255))
def test_twins_on_captured_bytes_cut_or_changed(cut: int, at: int, byte: int) -> None:
    ctype, data = _sample()
    data = data[:6000]
    changed = bytearray(data)
    changed[at % len(data)] = byte
    assert_twins(ctype, [data[:cut]], True)
    assert_twins(ctype, [bytes(changed)], True, most=3)


@settings(max_examples=200)
@given(
    body=st.binary(max_size=120),
    msg_type=st.sampled_from(sorted(table(ChannelType.DISPLAY))),
    serial=st.integers(0, (1 << 64) - 1),
    sub_list=st.integers(0, 3),
)
def test_twins_on_random_bodies_with_full_headers(
    body: bytes, msg_type: int, serial: int, sub_list: int
) -> None:
    head = pack_header(
        msg_type, len(body), mini=False, serial=serial, sub_list=sub_list
    )
    seen, events, _counts = assert_twins(ChannelType.DISPLAY, [head + body], False)
    if events:  # a taken message carries the header's serial
        assert events[0][1][2] == (int, serial)


def test_a_body_that_does_not_decode_is_left_to_the_caller() -> None:
    ctype, data = _sample()
    good_seen, good_events, good_counts = run(MessageReaderRef, ctype, [data], True)
    last = len(good_seen) - 1
    assert good_seen[last][0] == len(data) and good_seen[last][3] is None
    copy = DisplayMsg.DRAW_COPY
    draw = pack_header(copy, 3, mini=True) + b"\x00\x00\x00"  # cut short
    for twin in (MessageReaderRef, fast.MessageReader):
        seen, events, counts = run(twin, ctype, [data + draw], True)
        assert seen[:last] == good_seen[:last]
        assert seen[last][:3] == good_seen[last][:3]  # same stop, serial, count
        frame = seen[last][3]
        assert frame[0] == copy and frame[4:] == (len(data), len(data) + 9)
        assert events == good_events and counts == good_counts  # not counted


def test_a_start_outside_the_view_is_a_value_error() -> None:
    for twin in (MessageReaderRef, fast.MessageReader):
        seen = run(twin, ChannelType.DISPLAY, [b"abc"], True, start=4)[0]
        assert seen == [("ValueError", "start 4 outside 3 bytes")]


def test_a_table_entry_must_be_a_class() -> None:
    for twin in (MessageReaderRef, fast.MessageReader):
        with pytest.raises(TypeError, match="is not a class"):
            twin({304: "DrawCopy"}, 2, MessageReceived, deque(), {})
