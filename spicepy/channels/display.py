"""Display channel: every server message becomes a ``MessageReceived`` carrying the
parsed dataclass (``spicepy.wire.msg_display``), in order, for the canvas.

Theory of operation: right after the link the machine sends DISPLAY INIT (the
server's worker waits up to 30 s for it), then PREFERRED_COMPRESSION if one was
configured and the server advertises PREF_COMPRESSION, and
PREFERRED_VIDEO_CODEC_TYPE if the server advertises PREF_VIDEO_CODEC_TYPE.
"""

from __future__ import annotations

from typing import Any

from spicepy.channels.base import Channel
from spicepy.wire.enums import ChannelType, DisplayCap, VideoCodecType
from spicepy.wire.msg_display import (
    DisplayInit,
    PreferredCompression,
    PreferredVideoCodecType,
    StreamReport,
)

__all__ = ["DisplayChannel", "DEFAULT_DISPLAY_CAPS"]

#: What spicepy's canvas and codecs handle.  COMPOSITE and A8_SURFACE stay off
#: unless the session passes them (only if the canvas implements them).
DEFAULT_DISPLAY_CAPS = frozenset(
    {
        DisplayCap.SIZED_STREAM,
        DisplayCap.MONITORS_CONFIG,
        DisplayCap.STREAM_REPORT,
        DisplayCap.LZ4_COMPRESSION,
        DisplayCap.PREF_COMPRESSION,
        DisplayCap.MULTI_CODEC,
        DisplayCap.CODEC_MJPEG,
    }
)
#: spice-gtk's pixmap cache: 80 MiB of 32-bit pixels.
DEFAULT_CACHE_SIZE = 80 * 1024 * 1024 // 4
#: spice-gtk's smallest GLZ window (12 MiB of pixels / 4).
DEFAULT_GLZ_WINDOW = 12 * 1024 * 1024 // 4


class DisplayChannel(Channel):
    """Args: as ``Channel``, plus
    pixmap_cache_size / glz_window_size: pixels announced in DISPLAY INIT,
    cache_id / glz_dictionary_id: shared ids (1 like spice-gtk),
    preferred_compression: an ImageCompression value or None,
    video_codecs: codecs for PREFERRED_VIDEO_CODEC_TYPE (most preferred first).
    """

    CHANNEL_TYPE = ChannelType.DISPLAY
    DEFAULT_CAPS = DEFAULT_DISPLAY_CAPS

    def __init__(
        self,
        channel_id: int = 0,
        *,
        pixmap_cache_size: int = DEFAULT_CACHE_SIZE,
        glz_window_size: int = DEFAULT_GLZ_WINDOW,
        cache_id: int = 1,
        glz_dictionary_id: int = 1,
        preferred_compression: int | None = None,
        video_codecs: tuple[int, ...] = (VideoCodecType.MJPEG,),
        **kw: Any,
    ) -> None:
        super().__init__(channel_id, **kw)
        self._init = DisplayInit(
            cache_id, pixmap_cache_size, glz_dictionary_id, glz_window_size
        )
        self.preferred_compression = preferred_compression
        self.video_codecs = tuple(video_codecs)

    def _on_linked(self) -> None:
        self.send_message(self._init)
        caps = self.server_channel_caps
        if (
            self.preferred_compression is not None
            and DisplayCap.PREF_COMPRESSION in caps
        ):
            self.send_preferred_compression(self.preferred_compression)
        if self.video_codecs and DisplayCap.PREF_VIDEO_CODEC_TYPE in caps:
            self.send_message(
                PreferredVideoCodecType(len(self.video_codecs), self.video_codecs)
            )

    def send_preferred_compression(self, compression: int) -> None:
        """PREFERRED_COMPRESSION (an ImageCompression value)."""
        self.send_message(PreferredCompression(compression))

    def send_stream_report(
        self,
        stream_id: int,
        unique_id: int,
        start_frame_mm_time: int,
        end_frame_mm_time: int,
        num_frames: int,
        num_drops: int,
        last_frame_delay: int,
        audio_delay: int = 0xFFFFFFFF,
    ) -> None:
        """STREAM_REPORT after STREAM_ACTIVATE_REPORT; num_frames=0 with
        num_drops=0xFFFFFFFF tells the server the stream cannot be decoded."""
        self.send_message(
            StreamReport(
                stream_id,
                unique_id,
                start_frame_mm_time,
                end_frame_mm_time,
                num_frames,
                num_drops,
                last_frame_delay,
                audio_delay,
            )
        )
