"""Cursor channel: INIT/SET/MOVE/HIDE/TRAIL/INVAL_* as ``MessageReceived`` events
(``spicepy.wire.msg_other.CursorInit`` etc.); the client sends nothing."""

from __future__ import annotations

from typing import ClassVar

from spicepy.channels.base import Channel
from spicepy.wire.enums import ChannelType

__all__ = ["CursorChannel"]


class CursorChannel(Channel):
    CHANNEL_TYPE = ChannelType.CURSOR
    DEFAULT_CAPS: ClassVar[frozenset[int]] = frozenset()
