"""Playback channel: START/DATA/MODE/STOP/VOLUME/MUTE/LATENCY as ``MessageReceived``.

Only RAW (S16LE) audio is advertised by default: OPUS needs a decoder the caller
supplies, so the session passes ``channel_caps={PlaybackCap.OPUS, ...}`` if it has one.
"""

from __future__ import annotations

from spicepy.channels.base import Channel
from spicepy.wire.enums import ChannelType, PlaybackCap

__all__ = ["PlaybackChannel"]


class PlaybackChannel(Channel):
    CHANNEL_TYPE = ChannelType.PLAYBACK
    DEFAULT_CAPS = frozenset({PlaybackCap.VOLUME, PlaybackCap.LATENCY})
