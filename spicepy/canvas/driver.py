"""One display channel's messages applied to its canvas and video streams.

``DisplayDriver.apply(msg, mm_time)`` takes a decoded ``spicepy.wire.msg_display``
message and looks its class up in one table (``type(msg)`` -> handler): draws go
to ``Canvas`` / ``draw_blend`` / ``draw_lines`` with the message itself,
surface, cache and stream messages to their small handlers.  It returns the
rectangle of the primary surface the message changed, so the session can keep
its change list without looking at the message again.  Messages the canvas has
no use for (e.g. GL_SCANOUT, QUALITY_INDICATOR) are counted and ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas import draw_blend, draw_lines
from spicepy.canvas.canvas import Canvas
from spicepy.canvas.images import SharedState
from spicepy.canvas.streams import StreamManager
from spicepy.wire import msg_display as md
from spicepy.wire.types import Image, Rect

__all__ = ["DisplayDriver", "message_images"]

#: the most frequent draws: images are the source and the mask, no brush
_COPIES = (md.DrawCopy, md.DrawBlend)


def message_images(msg: Any) -> list[Image]:
    """Every SpiceImage a display message references (source, mask, patterns)."""
    d = getattr(msg, "data", None)
    if d is None or not hasattr(msg, "base"):
        return []
    out = []
    for name in ("src_bitmap", "mask_bitmap"):
        image = getattr(d, name, None)
        if image is not None:
            out.append(image)
    mask = getattr(d, "mask", None)
    if mask is not None and mask.bitmap is not None:
        out.append(mask.bitmap)
    for name in ("brush", "fore_brush", "back_brush"):
        brush = getattr(d, name, None)
        if brush is not None and brush.pattern is not None:
            out.append(brush.pattern.pat)
    return out


class DisplayDriver:
    """One display channel's canvas + streams, driven by display messages."""

    def __init__(self, shared: SharedState | None = None) -> None:
        self.canvas = Canvas(shared)
        self.streams = StreamManager(self.canvas)
        self.marks = 0
        # (defaultdicts, not Counters: Counter defines __delitem__ in Python, so
        # each `c[k] += 1` calls back into __setitem__: ~1k instructions a
        # count, two or three counts for every display message)
        #: messages applied, by message class
        self.counts: defaultdict[type, int] = defaultdict(int)
        #: SpiceImage types referenced by the draws applied (type -> count)
        self.image_types: defaultdict[int, int] = defaultdict(int)
        #: a stream message ran since the session last collected reports/frames
        self.streams_touched = False
        #: the previous server's last primary picture (read-only), shown until
        #: this channel's SURFACE_CREATE of surface 0: see ``keep_picture``
        self.kept_picture: npt.NDArray[np.uint8] | None = None
        c = self.canvas
        #: draws: handler(msg); the change is msg.base.box on surface 0
        self._draws: dict[type, Callable[[Any], None]] = {
            md.DrawFill: c.fill,
            md.DrawCopy: c.copy,
            md.DrawBlend: c.blend,
            md.DrawOpaque: c.opaque,
            md.DrawBlackness: c.blackness,
            md.DrawWhiteness: c.whiteness,
            md.DrawInvers: c.invers,
            md.CopyBits: c.copy_bits,
            md.DrawRop3: lambda m: draw_blend.draw_rop3(c, m),
            md.DrawTransparent: lambda m: draw_blend.transparent(c, m),
            md.DrawAlphaBlend: lambda m: draw_blend.alpha_blend(c, m),
            md.DrawComposite: lambda m: draw_blend.composite(c, m),
            md.DrawStroke: lambda m: draw_lines.stroke(c, m),
            md.DrawText: lambda m: draw_lines.text(c, m),
        }
        #: everything else: handler(msg, mm_time) -> changed primary rect or None
        self._others: dict[type, Callable[[Any, int | None], Rect | None]] = {
            md.SurfaceCreate: self._surface_create,
            md.SurfaceDestroy: self._surface_destroy,
            md.DisplayReset: self._reset,
            md.DisplayMark: self._mark,
            md.InvalList: self._simple(c.inval_list),
            md.InvalAllPixmaps: self._simple(c.inval_all_pixmaps),
            md.InvalPalette: self._simple(c.inval_palette),
            md.InvalAllPalettes: self._simple(c.inval_all_palettes),
            md.MonitorsConfig: self._monitors,
            md.StreamCreate: self._stream_create,
            md.StreamData: self._stream_data,
            md.StreamDataSized: self._stream_data_sized,
            md.StreamClip: self._stream(lambda m: self.streams.clip(m.id, m.clip)),
            md.StreamDestroy: self._stream(lambda m: self.streams.destroy(m.id)),
            md.StreamDestroyAll: self._stream(lambda m: self.streams.destroy_all()),
            md.StreamActivateReport: self._stream(
                lambda m: self.streams.activate_report(
                    m.stream_id, m.unique_id, m.max_window_size, m.timeout_ms
                )
            ),
        }

    def apply(self, msg: object, mm_time: int | None = None) -> Rect | None:
        """Apply one display message (a ``spicepy.wire.msg_display`` dataclass).

        ``mm_time`` (the session's multimedia time, None: show frames at once)
        only matters for stream frames.  Returns the primary-surface rectangle
        the message changed, if any (shown video frames: see ``streams.shown``).

        Raises:
            ImageNotReady: a cache/GLZ reference another channel may deliver.
            CanvasError: the message cannot be applied (unknown surface, a
                NULL or undecodable image, an unknown clip or brush type...).
        """
        cls = type(msg)
        draw = self._draws.get(cls)
        if draw is not None:
            draw(msg)
            self.counts[cls] += 1
            base: Any = msg.base  # type: ignore[attr-defined]
            if cls in _COPIES:
                d: Any = msg.data  # type: ignore[attr-defined]
                self.image_types[d.src_bitmap.descriptor.type] += 1
                if d.mask.bitmap is not None:
                    self.image_types[d.mask.bitmap.descriptor.type] += 1
            else:
                for image in message_images(msg):
                    self.image_types[image.descriptor.type] += 1
            return base.box if base.surface_id == 0 else None
        other = self._others.get(cls)
        if other is None:
            return None
        changed = other(msg, mm_time)
        self.counts[cls] += 1
        return changed

    def primary_pixels(self) -> npt.NDArray[np.uint8] | None:
        """The primary surface's BGRX pixels (a view); before SURFACE_CREATE the
        kept picture (read-only) or None."""
        surface = self.canvas.primary
        return self.kept_picture if surface is None else surface.pixels

    def keep_picture(self, pixels: npt.NDArray[np.uint8] | None) -> None:
        """Show ``pixels`` (the old driver's primary, after a migration) until
        this driver's own primary exists, as spice-gtk keeps its primary across
        a reset.  Only reads see it: draws, caches and streams start empty.
        Its bytes count in the surface budget (``Limits.surfaces``) while kept."""
        shared = self.canvas.shared
        if self.kept_picture is not None:
            shared.surface_bytes -= self.kept_picture.nbytes
        if pixels is not None:
            pixels = pixels.view()
            pixels.flags.writeable = False
            shared.surface_bytes += pixels.nbytes
        self.kept_picture = pixels

    # -- handlers of the messages that are not draws ---------------------------------

    @staticmethod
    def _simple(
        func: Callable[[Any], None],
    ) -> Callable[[Any, int | None], Rect | None]:
        def handler(msg: Any, mm_time: int | None) -> None:
            func(msg)

        return handler

    def _stream(
        self, func: Callable[[Any], None]
    ) -> Callable[[Any, int | None], Rect | None]:
        def handler(msg: Any, mm_time: int | None) -> None:
            self.streams_touched = True
            func(msg)

        return handler

    def _surface_create(
        self, msg: md.SurfaceCreate, mm_time: int | None
    ) -> Rect | None:
        kept = self.kept_picture if msg.surface_id == 0 else None
        if kept is None:
            self.canvas.create_surface(
                msg.surface_id, msg.width, msg.height, msg.format, msg.flags
            )
        else:  # the new primary replaces the kept picture in the budget too
            self.keep_picture(None)
            try:
                self.canvas.create_surface(
                    0, msg.width, msg.height, msg.format, msg.flags
                )
            except BaseException:
                self.keep_picture(kept)  # a refused create keeps it
                raise
        if msg.surface_id != 0:
            return None
        return Rect(0, 0, msg.height, msg.width)

    def _surface_destroy(self, msg: md.SurfaceDestroy, mm_time: int | None) -> None:
        self.canvas.surface(msg.surface_id)  # an unknown id is refused first
        # streams drawing into a destroyed surface go with it
        for sid, stream in list(self.streams.streams.items()):
            if stream.surface_id == msg.surface_id:
                del self.streams.streams[sid]
        self.canvas.destroy_surface(msg.surface_id)

    def _reset(self, msg: md.DisplayReset, mm_time: int | None) -> None:
        self.streams.destroy_all()
        self.canvas.reset()

    def _mark(self, msg: md.DisplayMark, mm_time: int | None) -> None:
        # a MARK completes a frame of the primary: none (e.g. its SURFACE_CREATE
        # was refused) means no frame
        if self.canvas.surfaces.get(0) is not None:
            self.marks += 1

    def _monitors(self, msg: md.MonitorsConfig, mm_time: int | None) -> None:
        self.canvas.monitors = [
            (h.monitor_id, h.surface_id, h.width, h.height, h.x, h.y, h.flags)
            for h in msg.heads
        ]

    def _stream_create(self, msg: md.StreamCreate, mm_time: int | None) -> None:
        self.streams_touched = True
        self.streams.create(
            msg.id,
            msg.surface_id,
            msg.flags,
            msg.codec_type,
            msg.stream_width,
            msg.stream_height,
            msg.src_width,
            msg.src_height,
            msg.dest,
            msg.clip,
        )

    def _stream_data(self, msg: md.StreamData, mm_time: int | None) -> None:
        self.streams_touched = True
        header = msg.base
        self.streams.data(header.id, header.multi_media_time, msg.data, mm_time)

    def _stream_data_sized(self, msg: md.StreamDataSized, mm_time: int | None) -> None:
        self.streams_touched = True
        header = msg.base
        self.streams.data(
            header.id,
            header.multi_media_time,
            msg.data,
            mm_time,
            width=msg.width,
            height=msg.height,
            dest=msg.dest,
        )
