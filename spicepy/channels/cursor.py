"""Cursor channel: the pointer's shape, position and visibility (the client sends
nothing but the common replies).

Theory of operation: INIT and SET carry a ``Cursor`` (flags; unless NONE a header
with the shape's ``unique`` id, type, size and hot spot; then the image bytes).
A CACHE_ME shape is remembered by ``unique`` and a later FROM_CACHE names it; the
server mirrors this cache and evicts with INVAL_ONE / INVAL_ALL, RESET clears it,
and the machine also bounds it (``MAX_CACHED`` shapes, ``max_cache_bytes`` of
shape data: ``Limits.cursor_cache``; the oldest go first, a FROM_CACHE of an
evicted shape leaves the pointer without shape, as for any unknown id).  Each
message becomes one event (INIT also reports its trail settings); shapes are
passed on undecoded (PROTOCOL.md section 7, spice-gtk ``channel-cursor.c``):
``spicepy.canvas.cursor`` turns them into pixels.  The machine also keeps the
pointer's current state (``x``, ``y``, ``visible``, ``shape``, ``trail``) for
callers that poll: SET and INIT replace it, MOVE moves it, HIDE and RESET hide
it (RESET also drops the shape).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, ClassVar

from spicepy.channels.base import Channel
from spicepy.channels.events import (
    CursorCacheInvalidated,
    CursorChanged,
    CursorHidden,
    CursorMoved,
    CursorReset,
    CursorShape,
    CursorTrailSet,
    MessageReceived,
)
from spicepy.limits import DEFAULT_LIMITS
from spicepy.wire.enums import ChannelType, CursorFlags
from spicepy.wire.msg_other import (
    CursorHide,
    CursorInit,
    CursorInvalAll,
    CursorInvalOne,
    CursorMove,
    CursorSet,
    CursorTrail,
)
from spicepy.wire.msg_other import CursorReset as CursorResetMsg

__all__ = ["CursorChannel", "MAX_CACHED"]

log = logging.getLogger(__name__)

#: the server caches at most 256 shapes per client; keep some slack
MAX_CACHED = 1024


class CursorChannel(Channel):
    """Args: as ``Channel``, plus ``max_cache_bytes``: shape data cached at most."""

    CHANNEL_TYPE = ChannelType.CURSOR
    DEFAULT_CAPS: ClassVar[frozenset[int]] = frozenset()

    def __init__(
        self,
        channel_id: int = 0,
        *,
        max_cache_bytes: int = DEFAULT_LIMITS.cursor_cache,
        **kw: Any,
    ) -> None:
        super().__init__(channel_id, **kw)
        self._cache: OrderedDict[int, CursorShape] = OrderedDict()
        self.max_cache_bytes = max_cache_bytes
        #: shape data bytes in the cache; shapes evicted to stay within budget
        self.cache_bytes = 0
        self.evicted = 0
        self.x = 0
        self.y = 0
        self.visible = False
        self.shape: CursorShape | None = None
        self.trail: tuple[int, int] = (0, 0)  # (length, frequency)

    @property
    def cached_shapes(self) -> int:
        return len(self._cache)

    def _shape(self, cursor: Any) -> CursorShape | None:
        header = cursor.header
        if cursor.flags & CursorFlags.NONE or header is None:
            return None
        if cursor.flags & CursorFlags.FROM_CACHE:
            shape = self._cache.get(header.unique)
            if shape is None:
                log.warning("cursor shape %#x is not in the cache", header.unique)
            return shape
        shape = CursorShape(
            header.unique,
            header.type,
            header.width,
            header.height,
            header.hot_spot_x,
            header.hot_spot_y,
            bytes(cursor.data),
        )
        if cursor.flags & CursorFlags.CACHE_ME:
            self._uncache(header.unique)
            self._cache[header.unique] = shape
            self.cache_bytes += len(shape.data)
            while self._cache and (
                len(self._cache) > MAX_CACHED or self.cache_bytes > self.max_cache_bytes
            ):
                _, old = self._cache.popitem(last=False)
                self.cache_bytes -= len(old.data)
                if not self.evicted:
                    log.warning(
                        "cursor cache over %d shapes or %d bytes: evicting the oldest",
                        MAX_CACHED,
                        self.max_cache_bytes,
                    )
                self.evicted += 1
        return shape

    def _uncache(self, unique: int | None) -> None:
        """Forget one cached shape (None: all of them)."""
        if unique is None:
            self._cache.clear()
            self.cache_bytes = 0
            return
        old = self._cache.pop(unique, None)
        if old is not None:
            self.cache_bytes -= len(old.data)

    def _changed(self, pos: Any, visible: int, cursor: Any) -> None:
        self.x, self.y, self.visible = pos.x, pos.y, bool(visible)
        self.shape = self._shape(cursor)
        self._emit(CursorChanged(pos.x, pos.y, self.visible, self.shape))

    def _handle(self, msg: Any, serial: int) -> None:
        if isinstance(msg, CursorInit):
            self.trail = (msg.trail_length, msg.trail_frequency)
            self._emit(CursorTrailSet(msg.trail_length, msg.trail_frequency))
            self._changed(msg.position, msg.visible, msg.cursor)
        elif isinstance(msg, CursorSet):
            self._changed(msg.position, msg.visible, msg.cursor)
        elif isinstance(msg, CursorMove):
            self.x, self.y = msg.position.x, msg.position.y
            self._emit(CursorMoved(msg.position.x, msg.position.y))
        elif isinstance(msg, CursorHide):
            self.visible = False
            self._emit(CursorHidden())
        elif isinstance(msg, CursorResetMsg):
            self._uncache(None)
            self.visible, self.shape = False, None
            self._emit(CursorReset())
        elif isinstance(msg, CursorTrail):
            self.trail = (msg.length, msg.frequency)
            self._emit(CursorTrailSet(msg.length, msg.frequency))
        elif isinstance(msg, CursorInvalOne):
            self._uncache(msg.id)
            self._emit(CursorCacheInvalidated(msg.id))
        elif isinstance(msg, CursorInvalAll):
            self._uncache(None)
            self._emit(CursorCacheInvalidated(None))
        else:
            self._emit(MessageReceived(self.CHANNEL_TYPE, msg.MSG_TYPE, serial, msg))
