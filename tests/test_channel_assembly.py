"""Messages cut by the end of a chunk (``Channel``'s assembly buffers): any
split gives the events of the whole stream, the machine keeps no view of the
caller's buffer once its events are taken, a header is believed only as its
bytes come, and a buffer no view holds is reused."""

from __future__ import annotations

import struct
import tracemalloc
from dataclasses import fields, is_dataclass

import pytest
from _channel_helpers import events
from _channel_helpers import linked as helpers_linked
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.channels import ChannelClosed, ChannelState
from spicepy.channels.base import Channel, buffer_unshared
from spicepy.errors import ProtocolError
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.enums import ChannelType, CommonCap, CursorFlags
from spicepy.wire.msg_common import Ping
from spicepy.wire.msg_other import CursorHide, CursorMove, CursorSet
from spicepy.wire.types import Cursor, Point16

#: a server without MINI_HEADER: 18-byte full headers
FULL_CAPS = frozenset({CommonCap.PROTOCOL_AUTH_SELECTION, CommonCap.AUTH_SPICE})


class Bare(Channel):
    """The base machine on a cursor connection: every message an event."""

    CHANNEL_TYPE = ChannelType.CURSOR


def linked(mini: bool, **kw: object) -> tuple[Bare, FakeServer]:
    server = FakeServer() if mini else FakeServer(common_caps=FULL_CAPS)
    ch, srv = helpers_linked(Bare, server, **kw)
    assert ch.mini_header is mini
    return ch, srv


def snap(obj: object) -> object:
    """An event as plain values: payload views become bytes (a view of a
    buffer overwritten since would show it)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        values = tuple(snap(getattr(obj, f.name)) for f in fields(obj))
        return (type(obj).__name__, *values)
    if isinstance(obj, memoryview):
        return bytes(obj)
    if isinstance(obj, (tuple, list)):
        return tuple(snap(x) for x in obj)
    return obj


def stream(srv: FakeServer, sizes: list[int]) -> bytes:
    """One message per size: cursor shapes of that many distinct-looking bytes
    (0: a bodyless HIDE), a PING and a small MOVE between them."""
    out = bytearray()
    for i, n in enumerate(sizes):
        if n == 0:
            out += srv.pack(CursorHide())
            continue
        shape = bytes((i * 7 + k) % 251 for k in range(n))
        out += srv.pack(
            CursorSet(Point16(i, -i), 1, Cursor(CursorFlags.NONE, data=shape))
        )
        out += srv.pack(Ping(i, i * 3, shape[: n % 97]))
        out += srv.pack(CursorMove(Point16(-i, i)))
    return bytes(out)


#: sizes of messages: small ones, and ones over the 64 KiB a connection's
#: read takes at least (so they arrive over several reads)
SIZES = st.lists(
    st.one_of(st.integers(0, 300), st.integers(60_000, 200_000)), min_size=1, max_size=6
)


@settings(max_examples=40, deadline=None)
@given(
    sizes=SIZES, cuts=st.lists(st.integers(0, 1 << 30), max_size=30), mini=st.booleans()
)
def test_any_split_gives_the_events_of_the_whole_stream(
    sizes: list[int], cuts: list[int], mini: bool
) -> None:
    """Events are kept (not snapped) until the end: a view into an assembly
    buffer that a later message overwrote would differ."""
    whole_ch, srv = linked(mini)
    data = stream(srv, sizes)
    whole_ch.receive_data(data)
    whole = [snap(e) for e in events(whole_ch)]
    ch, _ = linked(mini)
    kept: list[object] = []
    bounds = sorted({0, len(data), *(c % len(data) for c in cuts)})
    for start, end in zip(bounds, bounds[1:], strict=False):
        ch.receive_data(memoryview(data)[start:end])
        kept += events(ch)
    assert [snap(e) for e in kept] == whole
    assert ch.data_to_send() == whole_ch.data_to_send()
    assert events(ch) == []
    ch.receive_data(b"")
    assert events(ch) == [ChannelClosed(clean=True)]


@settings(max_examples=40, deadline=None)
@given(
    sizes=SIZES, reads=st.lists(st.integers(1, 300_000), min_size=1), mini=st.booleans()
)
def test_the_callers_buffer_is_free_once_the_events_are_taken(
    sizes: list[int], reads: list[int], mini: bool
) -> None:
    """As the connection reads: each read overwrites one buffer, handed over
    as a read-only view; once its events are taken the machine holds no view
    of it (so it can be reused), and the events are those of the whole."""
    whole_ch, srv = linked(mini)
    data = stream(srv, sizes)
    whole_ch.receive_data(data)
    whole = [snap(e) for e in events(whole_ch)]
    ch, _ = linked(mini)
    buf = bytearray(max(reads))
    got: list[object] = []
    pos = k = 0
    while pos < len(data):
        n = min(reads[k % len(reads)], len(data) - pos)
        buf[:n] = data[pos : pos + n]
        ch.receive_data(memoryview(buf)[:n].toreadonly())
        got += [snap(e) for e in events(ch)]
        assert buffer_unshared(buf), f"a view of the read at {pos} is kept"
        pos, k = pos + n, k + 1
    assert got == whole


@pytest.mark.parametrize("mini", [True, False], ids=["mini", "full"])
def test_a_lying_length_allocates_only_what_arrived(mini: bool) -> None:
    """A header announcing 60 MB (under the 64 MB limit) with 200 kB sent:
    the machine holds about what arrived (its buffer grows with the bytes,
    never to the header's word), and the connection's end is not clean."""
    ch, srv = linked(mini)
    header = srv.pack_raw(4000, b"")[: 6 if mini else 18]
    announced = bytearray(header)
    size_at = 2 if mini else 10
    struct.pack_into("<I", announced, size_at, 60_000_000)
    sent = 200_000
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        ch.receive_data(bytes(announced) + bytes(1000))
        for _ in range(sent // 1000 - 1):
            ch.receive_data(bytes(1000))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # a bytearray over-allocates by an eighth as it grows; 64 KiB: room for
    # the machine's own small objects beside the buffer
    assert sent < peak < sent + sent // 8 + 64 * 1024
    assert events(ch) == []
    ch.receive_data(b"")
    assert events(ch) == [ChannelClosed(clean=False)]


@pytest.mark.parametrize("mini", [True, False], ids=["mini", "full"])
def test_a_cut_header_over_the_limit_is_refused_once_whole(mini: bool) -> None:
    ch, srv = linked(mini, max_message_size=1000)
    over = bytearray(srv.pack_raw(4000, b"")[: 6 if mini else 18])
    struct.pack_into("<I", over, 2 if mini else 10, 1001)
    for i in range(len(over) - 1):  # one byte at a time: nothing to judge yet
        ch.receive_data(over[i : i + 1])
    with pytest.raises(ProtocolError, match="1001 bytes exceeds the 1000-byte"):
        ch.receive_data(over[-1:])
    assert ch.state is ChannelState.ERROR


def test_a_buffer_no_view_holds_is_reused() -> None:
    """Two 1 MB messages, each over two reads, events dropped between: the
    second is assembled in the first one's buffer (nothing near 1 MB new)."""
    ch, srv = linked(True)
    one = srv.pack(
        CursorSet(Point16(0, 0), 1, Cursor(CursorFlags.NONE, data=bytes(1 << 20)))
    )
    half = len(one) // 2
    ch.receive_data(one[:half])
    ch.receive_data(one[half:])
    assert len(events(ch)) == 1
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        ch.receive_data(memoryview(one)[:half])
        ch.receive_data(memoryview(one)[half:])
        taken = events(ch)
        grown = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(taken) == 1
    assert grown < 64 * 1024  # the machine's small objects, no message buffer
