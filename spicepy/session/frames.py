"""Following the screen as it changes: ``Session.screen``.

Theory of operation: ``FrameTracker`` hangs on a ``SessionCore`` (sans-IO:
``core.on_changes`` gives the changed rectangles with their display channel
id, a lane run at a time)
and keeps, per display channel, a frame counter (changes applied so far) and
the primary surface's size and monitors.  Each consumer is a
``FrameSubscription`` that collects what happened since it last looked:
per display at most one ``SurfaceResized`` (the newest size wins) and at most
``max_rects`` damaged rectangles; one more collapses them into their bounding
box, so a consumer that never reads holds O(displays * max_rects) memory.  A
new size drops that display's older damage: the whole new surface is damage.

The core runs inside the connection's pump, so between two ``await``s the
surface does not change: ``FrameUpdate.pixels`` (a live view) and ``copy``
made without awaiting are consistent.  MONITORS_CONFIG changes no pixel, so
it is noticed on the next change or when a consumer looks (``take``).  While
nobody subscribes only the frame counter runs per change (the session's hot
path); a new consumer or callback first catches up on sizes and monitors.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from spicepy.errors import ConnectionClosedError, SessionError, SpiceTimeoutError
from spicepy.session.core import ChangedRect, SessionCore
from spicepy.session.wakeup import Wakeup
from spicepy.wire.types import Rect

if TYPE_CHECKING:
    from spicepy.session.core import DisplayDriver

__all__ = [
    "FrameEvent",
    "FrameSubscription",
    "FrameTracker",
    "FrameUpdate",
    "Monitor",
    "SurfaceResized",
]

log = logging.getLogger(__name__)

#: damaged rectangles a consumer keeps per display before they collapse
MAX_RECTS = 64


@dataclass(frozen=True, slots=True)
class Monitor:
    """One head of a display channel (MONITORS_CONFIG): its area of the surface."""

    monitor_id: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class SurfaceResized:
    """Display ``display``'s primary surface is new (``width`` x ``height``;
    0 x 0: destroyed) or its monitors changed."""

    display: int
    width: int
    height: int
    monitors: tuple[Monitor, ...]


@dataclass(frozen=True, slots=True)
class FrameUpdate:
    """Damage on display ``display`` since the consumer's previous update.

    ``pixels`` is the live (h, w, 4) BGRX view of the primary surface: it
    changes at the next ``await``; ``copy()`` keeps a region.  ``frame`` counts
    the display's changes so far; ``changes`` how many this update covers
    (more than ``len(rects)`` when they were coalesced).
    """

    display: int
    frame: int
    changes: int
    rects: tuple[ChangedRect, ...]
    pixels: npt.NDArray[np.uint8]

    def copy(self, rect: ChangedRect | None = None) -> npt.NDArray[np.uint8]:
        """An (h, w, 3) RGB copy of ``rect`` (default: the whole surface)."""
        return _rgb_copy(self.pixels, rect)


FrameEvent = FrameUpdate | SurfaceResized


def _rgb_copy(
    bgrx: npt.NDArray[np.uint8], rect: ChangedRect | None
) -> npt.NDArray[np.uint8]:
    if rect is not None:
        h, w = bgrx.shape[:2]
        top, bottom = max(0, rect.top), min(h, rect.bottom)
        left, right = max(0, rect.left), min(w, rect.right)
        if top >= bottom or left >= right:
            raise ValueError(f"{rect} is outside the {w}x{h} surface")
        bgrx = bgrx[top:bottom, left:right]
    return np.ascontiguousarray(bgrx[..., 2::-1])


def _union(rects: list[ChangedRect]) -> ChangedRect:
    return ChangedRect(
        min(r.left for r in rects),
        min(r.top for r in rects),
        max(r.right for r in rects),
        max(r.bottom for r in rects),
    )


class _Pending:
    """One display's news for one consumer."""

    __slots__ = ("changes", "rects", "resized")

    def __init__(self) -> None:
        self.resized: SurfaceResized | None = None
        self.rects: list[ChangedRect] = []
        self.changes = 0


class FrameSubscription:
    """What one consumer has not taken yet (bounded; see the module doc)."""

    def __init__(
        self,
        tracker: FrameTracker,
        max_rects: int = MAX_RECTS,
        notify: Callable[[], None] | None = None,
    ) -> None:
        if max_rects < 1:
            raise ValueError("max_rects must be at least 1")
        self.max_rects = max_rects
        self._tracker = tracker
        self._notify = notify
        self._pending: dict[int, _Pending] = {}

    def _add(self, display: int, rect: ChangedRect) -> None:
        pending = self._pending.setdefault(display, _Pending())
        pending.changes += 1
        rects = pending.rects
        rects.append(rect)
        if len(rects) > self.max_rects:
            rects[:] = [_union(rects)]
        if self._notify is not None:
            self._notify()

    def _resized(self, event: SurfaceResized, new_surface: bool) -> None:
        pending = self._pending.setdefault(event.display, _Pending())
        pending.resized = event
        if new_surface:  # damaged as a whole (monitors alone change no pixel)
            pending.rects.clear()
            if event.width and event.height:
                pending.rects.append(ChangedRect(0, 0, event.width, event.height))
        if self._notify is not None:
            self._notify()

    @property
    def pending(self) -> bool:
        """Something to take (after noticing monitor changes)."""
        self._tracker.check_sizes()
        return bool(self._pending)

    def take(self) -> list[FrameEvent]:
        """Everything since the last ``take``: per display, its resize first."""
        self._tracker.check_sizes()
        out: list[FrameEvent] = []
        pending, self._pending = self._pending, {}
        for display in sorted(pending):
            news = pending[display]
            if news.resized is not None:
                out.append(news.resized)
            pixels = self._tracker.pixels(display)
            if news.rects and pixels is not None:
                out.append(
                    FrameUpdate(
                        display,
                        self._tracker.frame(display),
                        news.changes,
                        tuple(news.rects),
                        pixels,
                    )
                )
        return out

    def close(self) -> None:
        """Stop collecting."""
        self._tracker.unsubscribe(self)


class FrameTracker:
    """Frame counters, sizes and monitors of every display channel; the
    consumers' subscriptions.

    Args:
        core: the session's (or an offline replay's) ``SessionCore``.
        wait_for: ``Session.wait_for`` (for the async iterator); None offline.
        wakeup_for: ``Session._wakeup_for`` with ``wait_for`` taking its
            ``wakeup=``: ``updates()`` is then woken by display changes only.
    """

    def __init__(
        self,
        core: SessionCore,
        wait_for: Callable[..., Awaitable[None]] | None = None,
        wakeup_for: Callable[[], Wakeup] | None = None,
    ) -> None:
        self._core = core
        self._wait_for = wait_for
        self._wakeup_for = wakeup_for
        self._frames: dict[int, int] = {}
        #: display -> (width, height, monitors) last announced
        self._sizes: dict[int, tuple[int, int, tuple[Monitor, ...]]] = {}
        #: display -> canvas.monitors as last seen (cheap to compare)
        self._raw: dict[int, list[tuple[int, ...]]] = {}
        self._subscriptions: list[FrameSubscription] = []
        self._callbacks: list[Callable[[FrameEvent], None]] = []
        # one call per lane run (not per draw: ~1.5k Ir each on text captures)
        core.on_changes(self._on_changes)

    # -- what an application reads -----------------------------------------------

    @property
    def displays(self) -> list[int]:
        """Display channel ids with a picture: a primary surface, or the old
        primary kept across a semi-seamless migration (what ``pixels`` returns)."""
        return sorted(
            cid
            for cid, d in self._core.drivers.items()
            if d.primary_pixels() is not None
        )

    def frame(self, display: int = 0) -> int:
        """Changes applied to ``display``'s primary surface so far."""
        return self._frames.get(display, 0)

    def size(self, display: int = 0) -> tuple[int, int] | None:
        """(width, height) of ``display``'s primary surface, None without one."""
        pixels = self.pixels(display)
        return None if pixels is None else (pixels.shape[1], pixels.shape[0])

    def monitors(self, display: int = 0) -> tuple[Monitor, ...]:
        """The heads MONITORS_CONFIG put on ``display`` (empty before one)."""
        driver = self._core.drivers.get(display)
        return () if driver is None else _monitors(driver)

    def pixels(self, display: int = 0) -> npt.NDArray[np.uint8] | None:
        """The live (h, w, 4) BGRX view of ``display``'s primary surface."""
        driver = self._core.drivers.get(display)
        return None if driver is None else driver.primary_pixels()

    def copy(
        self, rect: ChangedRect | None = None, display: int = 0
    ) -> npt.NDArray[np.uint8]:
        """An (h, w, 3) RGB copy of ``rect`` of ``display`` (default: all of it).

        Raises:
            SessionError: ``display`` has no primary surface.
            ValueError: ``rect`` does not meet the surface.
        """
        pixels = self.pixels(display)
        if pixels is None:
            raise SessionError(f"display {display} has no primary surface")
        return _rgb_copy(pixels, rect)

    def copy_monitor(self, monitor_id: int, display: int = 0) -> npt.NDArray[np.uint8]:
        """An RGB copy of one monitor's area of ``display``."""
        for m in self.monitors(display):
            if m.monitor_id == monitor_id:
                rect = ChangedRect(m.x, m.y, m.x + m.width, m.y + m.height)
                return self.copy(rect, display)
        raise SessionError(f"display {display} has no monitor {monitor_id}")

    # -- consumers ----------------------------------------------------------------

    def subscribe(
        self, max_rects: int = MAX_RECTS, *, notify: Callable[[], None] | None = None
    ) -> FrameSubscription:
        """A new consumer; it sees changes made from now on.  ``notify()`` is
        called whenever it gets news (inside the pump: e.g. an
        ``asyncio.Event``'s ``set``)."""
        self.check_sizes()  # older news (e.g. a MONITORS_CONFIG) is not its
        sub = FrameSubscription(self, max_rects, notify)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: FrameSubscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    def on_update(self, callback: Callable[[FrameEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every change and resize as it is applied
        (inside the pump: keep it short, do not await); returns the remover.

        Each update's ``pixels`` show the surface right after its change, so
        while a callback is set every draw takes the general path (the display
        lane draws a run before its changes are heard).  To be woken without
        that cost, give ``subscribe`` a ``notify``.
        """
        self.check_sizes()  # older news is not the callback's
        self._callbacks.append(callback)
        self._core.exact_changes += 1

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)
                self._core.exact_changes -= 1

        return remove

    async def updates(
        self,
        *,
        timeout: float | None = None,
        max_rects: int = MAX_RECTS,
    ) -> AsyncGenerator[FrameEvent, None]:
        """``SurfaceResized`` and ``FrameUpdate`` events from now on, coalesced
        while the caller is busy; ends when the session does.

        Raises:
            SpiceTimeoutError: nothing happened for ``timeout`` seconds.
        """
        if self._wait_for is None:
            raise SessionError("updates() needs a live session")
        sub = self.subscribe(max_rects)
        kw: dict[str, Wakeup] = {}
        if self._wakeup_for is not None:  # woken by display changes, not pumps
            kw["wakeup"] = wakeup = self._wakeup_for()

            def fire(event: FrameEvent) -> None:
                wakeup.fire()

            self._callbacks.append(fire)
        try:
            while True:
                for event in sub.take():
                    yield event
                try:
                    await self._wait_for(
                        lambda: sub.pending, timeout, "a frame update", **kw
                    )
                except SpiceTimeoutError:
                    raise
                except (ConnectionClosedError, SessionError):
                    return  # the session ended
        finally:
            sub.close()
            if kw:
                self._callbacks.remove(fire)

    # -- the core's hook ----------------------------------------------------------

    def check_sizes(self) -> None:
        """Announce the displays whose primary size or monitors changed."""
        for display in set(self._core.drivers) | set(self._sizes):
            self._check_size(display)

    def _check_size(self, display: int) -> bool:
        driver = self._core.drivers.get(display)
        pixels = None if driver is None else driver.primary_pixels()
        h, w = (0, 0) if pixels is None else pixels.shape[:2]
        raw = [] if driver is None else driver.canvas.monitors
        old = self._sizes.get(display, (0, 0, ()))
        if old[0] == w and old[1] == h and self._raw.get(display, []) == raw:
            return False  # the common case, per change: no tuples built
        self._raw[display] = list(raw)
        now = (w, h, () if driver is None else _monitors(driver))
        if old == now:
            return False
        self._sizes[display] = now
        event = SurfaceResized(display, *now)
        new_surface = old[:2] != now[:2]
        for sub in self._subscriptions:
            sub._resized(event, new_surface)
        self._call_back(event)
        return new_surface

    def _on_changes(self, display: int, rects: list[Rect]) -> None:
        if not self._subscriptions and not self._callbacks:
            # nobody listens (sizes are caught up on subscribe)
            self._frames[display] = self._frames.get(display, 0) + len(rects)
            return
        for rect in rects:
            self._on_change(display, rect)

    def _on_change(self, display: int, rect: Rect) -> None:
        self._frames[display] = self._frames.get(display, 0) + 1
        if not self._subscriptions and not self._callbacks:
            return  # nobody listens (sizes are caught up on subscribe)
        pixels = self.pixels(display)
        if pixels is None:
            self._check_size(display)
            return
        h, w = pixels.shape[:2]
        if self._check_size(display):
            # the resize already damaged the whole surface for the subscriptions
            changed = ChangedRect(0, 0, w, h)
        else:
            # the server's box, clipped to the surface (the canvas clips its draw)
            changed = ChangedRect(
                max(0, rect.left),
                max(0, rect.top),
                min(w, rect.right),
                min(h, rect.bottom),
            )
            if changed.left >= changed.right or changed.top >= changed.bottom:
                return  # nothing of the surface changed
            for sub in self._subscriptions:
                sub._add(display, changed)
        if self._callbacks:
            self._call_back(
                FrameUpdate(display, self._frames[display], 1, (changed,), pixels)
            )

    def _call_back(self, event: FrameEvent) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:  # an application's bug must not stop the session
                log.exception("frame callback %r failed", callback)


def _monitors(driver: DisplayDriver) -> tuple[Monitor, ...]:
    # canvas.monitors: (monitor_id, surface_id, width, height, x, y, flags)
    return tuple(
        Monitor(m[0], m[4], m[5], m[2], m[3])
        for m in driver.canvas.monitors
        if m[1] == 0
    )
