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
from spicepy.canvas.demarshal import Command, parse_display
from spicepy.canvas.images import SharedState
from spicepy.canvas.streams import StreamManager
from spicepy.errors import CanvasError

__all__ = ["DisplayDriver"]

log = logging.getLogger(__name__)


class DisplayDriver:
    """One display channel's canvas + streams, driven by ``Command`` objects."""

    def __init__(self, shared: SharedState | None = None) -> None:
        self.canvas = Canvas(shared)
        self.streams = StreamManager(self.canvas)
        self.marks = 0
        self.counts: Counter[str] = Counter()
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

    def apply(self, command: Command, now: int | None = None) -> None:
        """Apply one command. ``now`` (mm time) only matters for stream frames.

        Raises:
            CanvasError: the command cannot be applied (unknown surface, cache id...).
        """
        self.counts[command.name] += 1
        func = self._table.get(command.name)
        if func is None:
            raise CanvasError(f"no canvas handler for {command.name}")
        if command.name == "stream_data":
            func(now=now, **command.args)
        else:
            func(**command.args)

    def handle_message(
        self, msg_type: int, body: bytes, now: int | None = None
    ) -> Command | None:
        """Parse a display message body and apply it (the live-channel entry point).

        Returns the command, or None for messages the canvas ignores.

        Raises:
            WireError: malformed body.
            ImageNotReady: a cache/GLZ reference another channel may still
                deliver (hold the message and retry).
            CanvasError: anything else the canvas refuses (drop it).
        """
        command = parse_display(msg_type, body)
        if command is not None:
            self.apply(command, now)
        return command

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
