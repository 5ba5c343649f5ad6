"""Cursor channel: INIT/SET/MOVE/HIDE/TRAIL/RESET/INVAL_* become cursor events;
the CACHE_ME shape cache is followed and bounded. Server bodies are built with
``struct`` from the spice.proto layouts (SpiceCursor: flags u16, then a
SpiceCursorHeader unless NONE)."""

from __future__ import annotations

import struct

from _channel_helpers import events, linked

from spicepy.channels import CursorChannel
from spicepy.channels.cursor import MAX_CACHED
from spicepy.channels.events import (
    CursorCacheInvalidated,
    CursorChanged,
    CursorHidden,
    CursorMoved,
    CursorReset,
    CursorShape,
    CursorTrailSet,
)
from spicepy.wire.enums import CursorMsg

FLAG_NONE, FLAG_CACHE_ME, FLAG_FROM_CACHE = 1, 2, 4


def cursor_body(flags: int, unique: int = 0, data: bytes = b"") -> bytes:
    """A SpiceCursor: flags u16, header (unless NONE), then the image bytes; the
    header is unique u64, type u8 (0 = ALPHA), width, height, hot x, hot y u16."""
    if flags & FLAG_NONE:
        return struct.pack("<H", flags)
    return struct.pack("<HQBHHHH", flags, unique, 0, 2, 1, 1, 0) + data


def test_move_and_hide() -> None:
    ch, srv = linked(CursorChannel)
    ch.receive_data(
        srv.pack_raw(CursorMsg.MOVE, struct.pack("<hh", 5, -6))
        + srv.pack_raw(CursorMsg.HIDE, b"")
    )
    assert events(ch) == [CursorMoved(5, -6), CursorHidden()]


def test_cursor_shapes_are_cached_and_invalidated() -> None:
    ch, srv = linked(CursorChannel)
    pixels = bytes(range(8))  # 2x1 ALPHA = 8 bytes
    body = cursor_body(FLAG_CACHE_ME, 0x77, pixels)
    init = struct.pack("<hhHHB", 10, 20, 0, 0, 1) + body
    ch.receive_data(srv.pack_raw(CursorMsg.INIT, init))
    trail, changed = events(ch)
    shape = CursorShape(0x77, 0, 2, 1, 1, 0, pixels)
    assert trail == CursorTrailSet(0, 0)
    assert changed == CursorChanged(10, 20, True, shape)
    from_cache = struct.pack("<hhB", 3, 4, 1) + cursor_body(FLAG_FROM_CACHE, 0x77)
    ch.receive_data(srv.pack_raw(CursorMsg.SET, from_cache))
    assert events(ch) == [CursorChanged(3, 4, True, shape)]
    ch.receive_data(srv.pack_raw(CursorMsg.INVAL_ONE, struct.pack("<Q", 0x77)))
    ch.receive_data(srv.pack_raw(CursorMsg.SET, from_cache))
    assert events(ch) == [
        CursorCacheInvalidated(0x77),
        CursorChanged(3, 4, True, None),  # a miss: no shape
    ]
    hidden = struct.pack("<hhB", 0, 0, 0) + cursor_body(FLAG_NONE)
    ch.receive_data(srv.pack_raw(CursorMsg.SET, hidden))
    ch.receive_data(
        srv.pack_raw(CursorMsg.TRAIL, struct.pack("<HH", 5, 6))
        + srv.pack_raw(CursorMsg.INVAL_ALL, b"")
        + srv.pack_raw(CursorMsg.RESET, b"")
    )
    assert events(ch) == [
        CursorChanged(0, 0, False, None),
        CursorTrailSet(5, 6),
        CursorCacheInvalidated(None),
        CursorReset(),
    ]


def test_cursor_cache_is_bounded() -> None:
    ch, srv = linked(CursorChannel)
    head = struct.pack("<hhB", 0, 0, 1)
    data = b"".join(
        srv.pack_raw(CursorMsg.SET, head + cursor_body(FLAG_CACHE_ME, i, bytes(8)))
        for i in range(MAX_CACHED + 5)
    )
    ch.receive_data(data)
    assert ch.cached_shapes == MAX_CACHED


def test_pointer_state_follows_the_messages() -> None:
    ch, srv = linked(CursorChannel)
    pixels = bytes(range(8))
    init = struct.pack("<hhHHB", 10, 20, 4, 7, 1) + cursor_body(
        FLAG_CACHE_ME, 9, pixels
    )
    ch.receive_data(srv.pack_raw(CursorMsg.INIT, init))
    assert (ch.x, ch.y, ch.visible, ch.trail) == (10, 20, True, (4, 7))
    assert ch.shape is not None and ch.shape.data == pixels
    ch.receive_data(srv.pack_raw(CursorMsg.MOVE, struct.pack("<hh", 30, 40)))
    assert (ch.x, ch.y, ch.visible) == (30, 40, True)
    ch.receive_data(srv.pack_raw(CursorMsg.HIDE, b""))
    assert not ch.visible and ch.shape is not None
    ch.receive_data(srv.pack_raw(CursorMsg.TRAIL, struct.pack("<HH", 1, 2)))
    assert ch.trail == (1, 2)
    ch.receive_data(
        srv.pack_raw(
            CursorMsg.SET, struct.pack("<hhB", 1, 2, 1) + cursor_body(FLAG_NONE)
        )
    )
    assert (ch.x, ch.y, ch.visible, ch.shape) == (1, 2, True, None)
    ch.receive_data(
        srv.pack_raw(
            CursorMsg.SET, struct.pack("<hhB", 1, 2, 1) + cursor_body(0, 5, pixels)
        )
    )
    assert ch.shape is not None
    ch.receive_data(srv.pack_raw(CursorMsg.RESET, b""))
    assert not ch.visible and ch.shape is None and ch.cached_shapes == 0
