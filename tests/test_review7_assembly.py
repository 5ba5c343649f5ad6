"""Review 7 of the receive path's assembly buffers (``channels/base.py``):
cases its tests (``test_channel_assembly``) let through when a bug was
planted in it."""

from __future__ import annotations

import gc
import tracemalloc

from _channel_helpers import events
from test_channel_assembly import linked

from spicepy.channels.base import ASSEMBLY_KEEP
from spicepy.channels.events import MessageReceived
from spicepy.wire.enums import CursorFlags
from spicepy.wire.msg_other import CursorSet
from spicepy.wire.types import Cursor, Point16


def _shape(event: object) -> bytes:
    assert isinstance(event, MessageReceived)
    assert isinstance(event.message, CursorSet)
    return bytes(event.message.cursor.data)


def test_a_large_assembly_buffer_is_not_kept_once_its_message_is_read() -> None:
    """A cut message over ASSEMBLY_KEEP is assembled in a buffer of its size;
    once its event is dropped that buffer is freed, not kept for the next cut
    message (a later small one must not pin ~5 MB)."""
    ch, srv = linked(True)
    shape = bytes(range(256)) * ((ASSEMBLY_KEEP + (1 << 20)) // 256)
    big = srv.pack(CursorSet(Point16(1, 2), 1, Cursor(CursorFlags.NONE, data=shape)))
    small = srv.pack(CursorSet(Point16(3, 4), 1, Cursor(CursorFlags.NONE, data=b"ab")))
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        half = len(big) // 2
        ch.receive_data(big[:half])
        ch.receive_data(big[half:] + small[:5])  # the next one cut too
        got = [_shape(e) for e in events(ch)]
        ch.receive_data(small[5:])
        got += [_shape(e) for e in events(ch)]
        assert got == [shape, b"ab"]
        del got
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # 1 MiB: far below the big buffer (ASSEMBLY_KEEP + 1 MiB), far above the
    # machine's own small objects and the small message's buffer
    assert kept < 1 << 20
