"""Events the channel machines return from ``next_event()`` (past tense, frozen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spicepy.channels._migration import MigrationTarget


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """Base of every event."""


@dataclass(frozen=True, slots=True)
class LinkCompleted(ChannelEvent):
    """The link handshake succeeded; caps are the server's, mini_header negotiated."""

    channel_type: int
    channel_id: int
    common_caps: frozenset[int]
    channel_caps: frozenset[int]
    mini_header: bool


@dataclass(frozen=True, slots=True)
class MessageReceived(ChannelEvent):
    """A parsed channel message (every display/cursor/playback/record message and
    the main/inputs ones without a dedicated event)."""

    channel_type: int
    msg_type: int
    serial: int
    message: Any


@dataclass(frozen=True, slots=True)
class UnknownMessageSkipped(ChannelEvent):
    msg_type: int
    size: int


@dataclass(frozen=True, slots=True)
class AckWindowSet(ChannelEvent):
    generation: int
    window: int


@dataclass(frozen=True, slots=True)
class PingAnswered(ChannelEvent):
    """A PING arrived and its PONG is queued."""

    id: int
    timestamp: int
    size: int


@dataclass(frozen=True, slots=True)
class NotifyReceived(ChannelEvent):
    severity: int
    visibility: int
    what: int
    text: str


@dataclass(frozen=True, slots=True)
class DisconnectingReceived(ChannelEvent):
    time_stamp: int
    reason: int


@dataclass(frozen=True, slots=True)
class WaitForChannelsReceived(ChannelEvent):
    """((channel_type, channel_id, serial), ...): wait until those are processed."""

    waits: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class ChannelMigrateReceived(ChannelEvent):
    """MIGRATE (+ its MIGRATE_DATA): the source server hands this channel over
    (seamless migration).  Pass ``data`` (None without NEED_DATA_TRANSFER) to
    the channel's target connection as MIGRATE_DATA, then use that connection;
    this machine reads nothing more (a FLUSH_MARK went out for NEED_FLUSH)."""

    flags: int
    data: bytes | None


@dataclass(frozen=True, slots=True)
class ChannelClosed(ChannelEvent):
    """EOF from the server; ``clean`` when no message was cut in half."""

    clean: bool


# --- main -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MigrationStarted(ChannelEvent):
    """MIGRATE_BEGIN[_SEAMLESS]: connect every channel to ``target``, then call
    ``send_migrate_connected`` or ``send_migrate_connect_error``."""

    target: MigrationTarget


@dataclass(frozen=True, slots=True)
class MigrationCancelled(ChannelEvent):
    """MIGRATE_CANCEL during a migration: drop the target connections."""


@dataclass(frozen=True, slots=True)
class MigrationEndReceived(ChannelEvent):
    """MIGRATE_END (semi-seamless): switch to the target connections now; this
    machine reads nothing more."""


@dataclass(frozen=True, slots=True)
class SwitchHostReceived(ChannelEvent):
    """MIGRATE_SWITCH_HOST: reconnect the whole session to ``target``."""

    target: MigrationTarget


@dataclass(frozen=True, slots=True)
class SeamlessHandshakeDone(ChannelEvent):
    """The target's answer to MIGRATE_DST_DO_SEAMLESS (ACK: ``seamless``)."""

    seamless: bool


@dataclass(frozen=True, slots=True)
class MainInitReceived(ChannelEvent):
    session_id: int
    display_channels_hint: int
    supported_mouse_modes: int
    current_mouse_mode: int
    agent_connected: bool
    agent_tokens: int
    multi_media_time: int
    ram_hint: int


@dataclass(frozen=True, slots=True)
class ChannelsListReceived(ChannelEvent):
    """((channel_type, channel_id), ...) the session should link next."""

    channels: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class MouseModeChanged(ChannelEvent):
    supported_modes: int
    current_mode: int


@dataclass(frozen=True, slots=True)
class MultiMediaTimeReceived(ChannelEvent):
    time: int


@dataclass(frozen=True, slots=True)
class AgentConnected(ChannelEvent):
    tokens: int | None


@dataclass(frozen=True, slots=True)
class AgentDisconnected(ChannelEvent):
    error_code: int


@dataclass(frozen=True, slots=True)
class AgentStreamFailed(ChannelEvent):
    """The guest agent sent data that does not parse (``reason``): its stream is
    dropped until the agent connects again; the main channel goes on."""

    reason: str


@dataclass(frozen=True, slots=True)
class AgentDataReceived(ChannelEvent):
    data: bytes


@dataclass(frozen=True, slots=True)
class AgentTokensReceived(ChannelEvent):
    num_tokens: int


# --- inputs -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InputsInitReceived(ChannelEvent):
    modifiers: int


@dataclass(frozen=True, slots=True)
class KeyModifiersChanged(ChannelEvent):
    modifiers: int


@dataclass(frozen=True, slots=True)
class MotionAcked(ChannelEvent):
    """MOUSE_MOTION_ACK; ``unacked`` motion messages remain."""

    unacked: int


# --- cursor -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CursorShape:
    """A pointer image; ``data`` is raw, laid out per ``type`` (0 ALPHA, 1 MONO...)."""

    unique: int
    type: int
    width: int
    height: int
    hot_x: int
    hot_y: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CursorChanged(ChannelEvent):
    """CURSOR_INIT / CURSOR_SET; ``shape`` None: no image (NONE, or a cache miss)."""

    x: int
    y: int
    visible: bool
    shape: CursorShape | None


@dataclass(frozen=True, slots=True)
class CursorMoved(ChannelEvent):
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class CursorHidden(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class CursorReset(ChannelEvent):
    """CURSOR_RESET: hide the pointer and forget every cached shape."""


@dataclass(frozen=True, slots=True)
class CursorTrailSet(ChannelEvent):
    length: int
    frequency: int


@dataclass(frozen=True, slots=True)
class CursorCacheInvalidated(ChannelEvent):
    """INVAL_ONE (``unique``) or INVAL_ALL (``unique`` None)."""

    unique: int | None


__all__ = [
    n
    for n, v in list(globals().items())
    if isinstance(v, type) and issubclass(v, ChannelEvent)
]
