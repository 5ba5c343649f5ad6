# cython: language_level=3, boundscheck=False, wraparound=False
"""The display lane: the commonest display draws applied in C, before any event.

Theory of operation: one ``DisplayLane`` serves one display channel.  The
channel machine's compiled reader (``wire._decode.MessageReader``) offers it
each decoded DRAW_FILL, DRAW_COPY, DRAW_BLEND and COPY_BITS while no older
event of that channel waits (``wire.stream``); ``offer`` either applies the
message completely and returns 1, or declines (0) having changed nothing, and
the message then takes the general path (``MessageReceived`` ->
``SessionCore.handle_event`` -> ``DisplayDriver.apply`` -> ``Canvas``).

It takes exactly what ``Canvas.fill`` / ``copy`` / ``copy_bits`` send to one
compiled clipped kernel (``canvas/_draw.pxd``, called without Python): a solid
unmasked fill, a same-size unmasked copy from a cache entry that is present or
from an existing surface, a COPY_BITS that moves; never onto a quantised
surface, never with a ROP the canvas has not resolved before (its tables) or a
NOOP, never when the kernel returns -1 (several clip rectangles, a scaled
source) or raises (the canvas then meets the same error and drops the
message).  It then does what the general path does for such a message, in the
same order: ``last_display_activity``, the pixels, ``pixels_drawn``,
``counts``, ``image_types``, and on surface 0 the change (listeners, change
list, ``change_count``).

It declines everything while the general path must see the messages: a
message of any display channel is held (``SessionCore._holding``: the
general path retries held ones after each message), a handler other than the
core's own is routed DISPLAY messages (``SessionCore.on_message``), the
channel's driver is missing or has stream work pending, or the ``observer``
(the live session) has ``events()`` iterators.  Not for its connect backlog:
that keeps connect()'s newest 256 events (links, INITs) for a first iterator,
and ``spicepy screenshot``'s whole display burst arrives while connect() still
gathers the other channels (measured: the lane took 0 of text-lz's 1509
draws), where draws would only push the links out of it.  The
pure-Python twin is the general path itself: no lane is made under
``SPICEPY_PUREPYTHON=1`` (``SessionCore.display_lane``).
"""

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.object cimport PyObject

import time


cdef extern from "<time.h>" nogil:
    cdef struct timespec:
        long tv_sec
        long tv_nsec
    int clock_gettime(int clk_id, timespec* tp)
    int CLOCK_MONOTONIC

from spicepy.canvas._draw cimport blit_clipped_c, copy_clipped_c, fill_clipped_c
from spicepy.wire._decode cimport Lane

from spicepy.canvas import canvas as _canvas
from spicepy.canvas.rop import Rop
from spicepy.errors import CanvasError
from spicepy.wire import msg_display as md
from spicepy.wire.enums import BrushType, DisplayMsg, ImageType

__all__ = ["DisplayLane"]

cdef object _FILL = md.DrawFill
cdef object _COPY = md.DrawCopy
cdef object _BLEND = md.DrawBlend
cdef object _BITS = md.CopyBits
cdef long _FROM_CACHE = ImageType.FROM_CACHE
cdef long _FROM_CACHE_LOSSLESS = ImageType.FROM_CACHE_LOSSLESS
cdef long _SURFACE = ImageType.SURFACE
cdef long _SOLID = BrushType.SOLID
cdef object _ROP_COPY = Rop.COPY
cdef long _COPY_OP = Rop.COPY
cdef long _NOOP = Rop.NOOP
# the canvas's own resolved-ROP tables (a descriptor seen there first)
cdef dict _IMAGE_ROPS = _canvas._IMAGE_ROPS
cdef dict _BRUSH_ROPS = _canvas._BRUSH_ROPS


cdef inline int _bump(object counts, object key) except -1:
    """``counts[key] += 1`` on a dict or defaultdict of ints."""
    cdef PyObject* got = PyDict_GetItem(counts, key)
    PyDict_SetItem(counts, key, 1 if got == NULL else <object>got + 1)
    return 0


cdef class DisplayLane(Lane):
    """The lane of display channel ``channel_id`` of ``core`` (module docstring).

    Args:
        core: the ``SessionCore``.
        channel_id: the display channel's id.
        max_changes: ``core.MAX_CHANGES``.
        clock: called for ``now`` at each message taken, or None: ``now`` is
            read (offline replay sets it per segment).
        observer: an object whose ``_readers`` say someone reads the events
            (the live ``Session``), or None.
    """

    cdef object core, drivers, channel_id
    cdef Py_ssize_t max_changes
    # what the driver last seen holds (each made once, in its __init__): read
    # here once per driver instead of once per message
    cdef object _drv, _canvas, _surfaces, _cached, _counts, _image_types
    cdef bint _monotonic  # clock is time.monotonic: read in C
    cdef public object clock
    cdef public double now
    cdef public object observer
    cdef public long long taken

    def __init__(self, core, channel_id, Py_ssize_t max_changes, clock=None,
                 observer=None):
        self.set_wanted((DisplayMsg.DRAW_FILL, DisplayMsg.DRAW_COPY,
                         DisplayMsg.DRAW_BLEND, DisplayMsg.COPY_BITS))
        self.core, self.drivers, self.channel_id = core, core.drivers, channel_id
        self.max_changes = max_changes
        self.clock, self.observer, self.now, self.taken = clock, observer, 0.0, 0
        self._monotonic = clock is time.monotonic

    cdef object _driver(self):
        """The channel's driver when the lane may take messages now, else None."""
        cdef PyObject* got
        if not self.ready():
            return None
        got = PyDict_GetItem(self.drivers, self.channel_id)
        if got == NULL:
            return None
        driver = <object>got
        if driver.streams_touched:
            return None
        if driver is not self._drv:
            canvas = driver.canvas
            self._drv, self._canvas = driver, canvas
            self._surfaces, self._cached = canvas.surfaces, canvas._cached
            self._counts, self._image_types = driver.counts, driver.image_types
        return driver

    cdef int ready(self) except -1:
        # (not the driver: its LinkCompleted may be among the events waiting)
        core, obs = self.core, self.observer
        if core._holding or not core._plain_display:
            return 0
        return obs is None or not obs._readers

    cdef int offer(self, unsigned int msg_type, object msg) except -1:
        cdef PyObject* got
        cdef object core = self.core, kind = None
        cdef timespec ts
        if self._driver() is None:
            return 0
        canvas, surfaces = self._canvas, self._surfaces
        base = msg.base
        got = PyDict_GetItem(surfaces, base.surface_id)
        if got == NULL:
            return 0
        surface = <object>got
        if surface.quantised:
            return 0
        cls = type(msg)
        try:
            if cls is _COPY or cls is _BLEND:
                d = msg.data
                image = d.src_bitmap
                if image is None or d.mask.bitmap is not None:
                    return 0
                descriptor = image.descriptor
                kind = descriptor.type
                if kind == _FROM_CACHE or kind == _FROM_CACHE_LOSSLESS:
                    got = PyDict_GetItem(self._cached, descriptor.id)
                elif kind == _SURFACE and image.surface is not None:
                    got = PyDict_GetItem(surfaces, image.surface.surface_id)
                else:
                    return 0
                if got == NULL:
                    return 0
                src = <object>got
                got = PyDict_GetItem(_IMAGE_ROPS, d.rop_descriptor)
                if got == NULL or <long>(<object>got) == _NOOP:
                    return 0
                rop = <object>got
                drawn = copy_clipped_c(
                    surface.pixels, base.box, base.clip, src.pixels, d.src_area, rop,
                    <long>rop == _COPY_OP and surface.opaque_copy and not src.has_alpha,
                )
            elif cls is _FILL:
                d = msg.data
                brush = d.brush
                if (brush.type != _SOLID or brush.pattern is not None
                        or d.mask.bitmap is not None):
                    return 0
                got = PyDict_GetItem(_BRUSH_ROPS, d.rop_descriptor)
                if got == NULL or <long>(<object>got) == _NOOP:
                    return 0
                drawn = fill_clipped_c(surface.pixels, base.box, base.clip,
                                       <object>got, brush.color or 0)
            elif cls is _BITS:
                box, pos = base.box, msg.src_pos
                dx, dy = box.left - pos.x, box.top - pos.y
                if not dx and not dy:
                    return 0
                pixels = surface.pixels
                drawn = blit_clipped_c(pixels, box, base.clip, pixels, dx, dy,
                                       _ROP_COPY, False)
            else:
                return 0
        except CanvasError:
            return 0  # raised before any pixel: the canvas meets it and drops
        if drawn < 0:
            return 0
        # what SessionCore._on_display_message / _apply / DisplayDriver.apply do
        if self._monotonic:  # what time.monotonic() returns, without the call
            clock_gettime(CLOCK_MONOTONIC, &ts)
            core.last_display_activity = ts.tv_sec + ts.tv_nsec * 1e-9
        elif self.clock is not None:
            core.last_display_activity = self.clock()
        else:
            core.last_display_activity = self.now
        canvas.pixels_drawn += drawn
        _bump(self._counts, cls)
        if kind is not None:
            _bump(self._image_types, kind)
        if base.surface_id == 0:
            box = base.box
            for listener in core._change_listeners:
                listener(self.channel_id, box)
            changes = core._changes
            changes.append(box)
            core.change_count += 1
            if len(changes) > self.max_changes:
                del changes[: self.max_changes // 2]
        self.taken += 1
        return 1
