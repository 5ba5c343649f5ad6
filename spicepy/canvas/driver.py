"""Apply parsed display commands to a canvas and its streams.

``DisplayDriver`` is what a display channel (live or replayed) uses to turn each
``demarshal.Command`` into canvas calls. Hostile commands raise ``CanvasError``
from ``apply``; the caller decides whether to drop them (replay logs and counts).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas import draw_blend, draw_lines
from spicepy.canvas.canvas import Canvas
from spicepy.canvas.demarshal import to_command
from spicepy.canvas.images import SharedState
from spicepy.canvas.streams import StreamManager
from spicepy.errors import CanvasError
from spicepy.wire.types import Rect as WireRect

__all__ = ["DisplayDriver"]

log = logging.getLogger(__name__)


class DisplayDriver:
    """One display channel's canvas + streams, driven by ``Command`` objects."""

    def __init__(self, shared: SharedState | None = None) -> None:
        self.canvas = Canvas(shared)
        self.streams = StreamManager(self.canvas)
        self.marks = 0
        self.counts: Counter[str] = Counter()
        #: SpiceImage types referenced by the messages applied (type -> count)
        self.image_types: Counter[int] = Counter()
        #: a stream message ran since the session last collected reports/frames
        self.streams_touched = False
        c, s = self.canvas, self.streams
        self._table: dict[str, Callable[..., Any]] = {
            "fill": c.fill,
            "copy": c.copy,
            "blend": c.blend,
            "opaque": c.opaque,
            "blackness": c.blackness,
            "whiteness": c.whiteness,
            "invers": c.invers,
            "copy_bits": c.copy_bits,
            "rop3": lambda **a: draw_blend.draw_rop3(c, **a),
            "transparent": lambda **a: draw_blend.transparent(c, **a),
            "alpha_blend": lambda **a: draw_blend.alpha_blend(c, **a),
            "composite": lambda **a: draw_blend.composite(c, **a),
            "stroke": lambda **a: draw_lines.stroke(c, **a),
            "text": lambda **a: draw_lines.text(c, **a),
            "surface_create": c.create_surface,
            "surface_destroy": self._surface_destroy,
            "reset": self._reset,
            "inval_list": c.inval_list,
            "inval_all_pixmaps": c.inval_all_pixmaps,
            "inval_palette": c.inval_palette,
            "inval_all_palettes": c.inval_all_palettes,
            "monitors_config": self._monitors,
            "mark": self._mark,
            "stream_create": s.create,
            "stream_data": s.data,
            "stream_clip": s.clip,
            "stream_destroy": s.destroy,
            "stream_destroy_all": s.destroy_all,
            "stream_activate_report": s.activate_report,
        }

    def apply(self, msg: object, mm_time: int | None = None) -> WireRect | None:
        """Apply one display message (a ``spicepy.wire.msg_display`` dataclass).

        ``mm_time`` (the session's multimedia time, None: show frames at once)
        only matters for stream frames.  Returns the primary-surface rectangle
        the message changed, if any (shown video frames: see ``streams.shown``).

        Raises:
            ImageNotReady: a cache/GLZ reference another channel may deliver.
            CanvasError, WireError: the message cannot be applied.
        """
        command = to_command(msg)
        if command is None:
            return None
        name = command.name
        func = self._table.get(name)
        if func is None:
            raise CanvasError(f"no canvas handler for {name}")
        self.counts[name] += 1
        if name.startswith("stream_"):
            self.streams_touched = True
            if name == "stream_data":
                func(now=mm_time, **command.args)
            else:
                func(**command.args)
            self._count_images(command)
            return None
        func(**command.args)
        self._count_images(command)
        args = command.args
        if args.get("surface_id") != 0:
            return None
        if name == "surface_create":
            return WireRect(0, 0, int(args["height"]), int(args["width"]))
        box = args.get("bbox")
        if box is None:
            return None
        return WireRect(box.top, box.left, box.bottom, box.right)

    def _count_images(self, command: Any) -> None:
        for image in command.images:
            self.image_types[image.type] += 1

    def primary_pixels(self) -> npt.NDArray[np.uint8] | None:
        """The primary surface's BGRX pixels (a view), or None before SURFACE_CREATE."""
        surface = self.canvas.primary
        return None if surface is None else surface.pixels

    def _surface_destroy(self, surface_id: int) -> None:
        # streams drawing into a destroyed surface go with it
        for sid, stream in list(self.streams.streams.items()):
            if stream.surface_id == surface_id:
                del self.streams.streams[sid]
        self.canvas.destroy_surface(surface_id)

    def _reset(self) -> None:
        self.streams.destroy_all()
        self.canvas.reset()

    def _monitors(self, heads: list[tuple[int, ...]]) -> None:
        self.canvas.monitors = list(heads)

    def _mark(self) -> None:
        self.marks += 1
