"""Pixel memory: fresh bytes for surfaces and decoded images on huge pages.

Theory of operation: the first touch of a fresh 4 KiB page is a minor fault
(~2.7 us here, zeroing included), so a 440x300 image decoded into new memory
costs 129 of them.  A private anonymous mapping that is 2 MiB-aligned and
marked ``MADV_HUGEPAGE`` is faulted in 2 MiB at a time (Linux transparent huge
pages).  ``huge_mapping`` gives such memory; a surface of 1 MiB or more takes
one of its own (``surface.cleared``).  Images are smaller and many, so
``PixelArena`` deals such mappings out to them:

- bump allocation in a *region* (one mapping, 2 MiB or a multiple for a larger
  image); each image is a view whose base is the region's array, so a region
  lives while any of its images does;
- the arena holds only its current region and a few spare ones: when the last
  image of another region dies, a ``weakref.finalize`` on the region's array
  hands the mapping back, kept as a spare up to ``SPARE_BYTES`` (its pages
  are already faulted in: the next images there cost no fault and no
  zeroing, as glibc's heap reuses freed blocks), else dropped, i.e. unmapped;
- ``pinned`` counts the bytes of the regions alive and spare, capped at
  ``cap``: past it, below ``MIN_BYTES`` (numpy's heap reuses small blocks) or
  where huge pages are off, ``take`` returns None and the codec allocates;
- any thread may take (the image look-ahead decodes on a worker): a lock
  guards the bump.  A region dies on whatever thread drops its last image,
  possibly inside the lock's own section (the cyclic GC runs there too), so
  its finalizer only queues it and whoever gets the lock settles the queue.

Zeroing a fresh huge page is the kernel's (~0.5 ms for 2 MiB here): a
1024x768 primary and the arena's first region were ~20 % of photos-lz4's
display window (perf, kernel ``clear_page_erms``).  ``Prefault`` makes such
mappings before they are needed, on a worker thread while the session waits
for its display link (``MADV_POPULATE_WRITE``: faulted in, zero, the GIL
released), and ``_map`` hands them out by size; what nobody took is unmapped
at ``release()``.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from spicepy.limits import Limits

__all__ = [
    "ALIGN",
    "HUGE_PAGE",
    "DISPLAY_START",
    "MIN_BYTES",
    "MIN_PIXELS",
    "PREFAULT_BYTES",
    "SPARE_BYTES",
    "PixelArena",
    "Prefault",
    "huge_mapping",
    "huge_pages_available",
]

Pixels = npt.NDArray[np.uint8]

#: the huge page size of x86-64 and arm64 (4 KiB base pages)
HUGE_PAGE = 2 << 20
#: every image starts on a cache line (numpy's own arrays: 16 bytes)
ALIGN = 64
#: smaller images keep numpy's allocator: glibc's heap reuses their blocks,
#: and they fault a few pages at most (gradients-lz: 73x73 LZ images ~1 fault
#: each, 440x300 ones 129)
MIN_BYTES = 64 * 1024
#: the same in 32-bit pixels: a caller may skip ``take`` below it (the call
#: that refuses costs ~1.2k instructions, the caller's size check ~0.4k)
MIN_PIXELS = MIN_BYTES // 4
#: bytes of dead regions kept for reuse (counted in ``pinned``): two 2 MiB
#: ones, or one that held a full-screen image decoded ahead (1024x768: 4 MiB)
SPARE_BYTES = 2 * HUGE_PAGE
#: what a display's first frame maps (``Prefault``'s default): a primary
#: surface of up to 4 MiB (1280x800; 1024x768's 3 MiB round up to it,
#: ``huge_mapping``) and the image arena's first region
DISPLAY_START = (2 * HUGE_PAGE, HUGE_PAGE)
#: most bytes prefaulted and not yet taken, process-wide (sessions made at
#: once do not stack up)
PREFAULT_BYTES = 3 * HUGE_PAGE
_MADV_HUGEPAGE: int | None = getattr(mmap, "MADV_HUGEPAGE", None)
#: madvise(2): fault a range in, writable, without writing it (Linux 5.14 on;
#: Python's mmap module does not name it)
_MADV_POPULATE_WRITE = 23
_THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


@functools.cache
def huge_pages_available() -> bool:
    """Whether ``MADV_HUGEPAGE`` memory can get transparent huge pages here
    (Linux with THP in ``always`` or ``madvise`` mode).  Read once a process
    (a session's first use was inside its display window)."""
    if _MADV_HUGEPAGE is None:
        return False
    try:
        return "[never]" not in _THP.read_text()
    except OSError:
        return False


def huge_mapping(nbytes: int) -> Pixels | None:
    """``nbytes`` zero bytes, 1-D and writable, at the start of a private
    mapping of their own rounded up to whole 2 MiB pages, 2 MiB-aligned and
    marked for transparent huge pages; None where no mapping could be made.

    The array's base keeps the mapping: it is unmapped with the last view.
    """
    mapped = _map(-(-nbytes // HUGE_PAGE) * HUGE_PAGE)
    if mapped is None:
        return None
    return np.frombuffer(mapped[0], np.uint8, nbytes, mapped[1])


def _map(size: int) -> tuple[mmap.mmap, int] | None:
    """A private mapping with ``size`` bytes (a multiple of ``HUGE_PAGE``)
    marked for huge pages at the returned 2 MiB-aligned offset, or None;
    one ``Prefault`` made ready if there is one of that size."""
    with _ready_lock:
        ready = _ready.get(size)
        if ready:
            return ready.pop()
    return _map_fresh(size)


def _map_fresh(size: int) -> tuple[mmap.mmap, int] | None:
    """``_map`` without the prefaulted ones: a new mapping."""
    if _MADV_HUGEPAGE is None:
        return None
    try:  # private: a shared anonymous mapping never gets huge pages
        area = mmap.mmap(
            -1, size + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        )
    except OSError:
        return None
    start = -_address(area) % HUGE_PAGE
    try:
        area.madvise(_MADV_HUGEPAGE, start, size)
    except OSError:  # a kernel without them: fresh zero pages all the same
        pass
    return area, start


#: a mapping and the aligned offset of its usable bytes
_Mapping = tuple[mmap.mmap, int, int]


class _Region:
    """One mapping being dealt out: ``array`` (its usable bytes: the base of
    every image in it) and the bump offset ``used``."""

    __slots__ = ("array", "used", "size")

    def __init__(self, mapping: _Mapping) -> None:
        area, start, size = mapping
        # an array of its own over the mapping (a memoryview for base): the
        # images' views stop at it and keep it alive, it keeps the mapping
        self.array = np.frombuffer(area, np.uint8, size, start)
        self.size = size
        self.used = 0


class PixelArena:
    """Uninitialised image arrays on huge pages, for decoders' ``out=``.

    Args:
        cap: most bytes of regions alive or spare (``pinned``).  The arena's
            memory beyond what its live images need (region tails, dead
            images' room in regions that a live one keeps) is bounded by it.
        huge: use huge-page mappings; False (default: where THP is off) makes
            ``take`` always return None.
    """

    def __init__(self, cap: int, *, huge: bool | None = None) -> None:
        self.cap = cap
        self.enabled = huge_pages_available() if huge is None else huge
        #: bytes of the regions alive (current, or holding an image) or spare
        self.pinned = 0
        #: images handed out, and takes refused for the cap (stats, tests)
        self.taken = 0
        self.refused = 0
        self._current: _Region | None = None
        self._spares: list[_Mapping] = []
        self._spare_bytes = 0
        self._dead: list[_Mapping] = []
        self._lock = threading.Lock()

    @classmethod
    def for_limits(cls, limits: Limits) -> PixelArena:
        """A session's arena, capped at ``limits.image_arena``: its images are
        what the budgets already count (the pixmap cache, the look-ahead's,
        one being drawn); the bytes it pins beyond them are at most the cap."""
        return cls(limits.image_arena)

    def take(self, height: int, width: int) -> Pixels | None:
        """An uninitialised C-contiguous (height, width, 4) uint8 array of
        its own bytes, ``ALIGN``-aligned on huge-page memory, or None where the
        arena does not serve it (under ``MIN_BYTES``, over the cap, huge
        pages off): the caller allocates as before."""
        nbytes = height * width * 4
        if nbytes < MIN_BYTES or nbytes > self.cap or not self.enabled:
            return None
        step = -(-nbytes // ALIGN) * ALIGN
        with self._lock:
            region = self._current
            if region is None or region.size - region.used < step:
                region = self._region(step)
                if region is None:
                    self.refused += 1
                    return None
            start = region.used
            region.used = start + step
            self.taken += 1
            view = region.array[start : start + nbytes]
        self._settle()
        return view.reshape(height, width, 4)

    def _region(self, step: int) -> _Region | None:
        """(Lock held.)  A region with ``step`` bytes free, or None past the
        cap.  It becomes the current one unless the current one keeps more
        room, or it is larger than a huge page: such an image has its region
        to itself (given back with it; no later image keeps it)."""
        self._settle_locked()  # (spares first)
        size = -(-step // HUGE_PAGE) * HUGE_PAGE
        fits = [m for m in self._spares if m[2] >= size]
        if fits:
            mapping = min(fits, key=lambda m: m[2])  # pinned already
            self._spares.remove(mapping)
            self._spare_bytes -= mapping[2]
        else:
            # spares too small for it give their room back first
            while self._spares and self.pinned + size > self.cap:
                self.pinned -= self._spares.pop()[2]
                self._spare_bytes = sum(m[2] for m in self._spares)
            made = _map(size) if self.pinned + size <= self.cap else None
            if made is None:
                return None
            mapping = (made[0], made[1], size)
            self.pinned += size
        region = _Region(mapping)
        # the mapping comes back when the region's last image dies (the
        # replaced current one: maybe at once, settled after this section)
        weakref.finalize(region.array, _region_died, weakref.ref(self), mapping)
        old = self._current
        if step <= HUGE_PAGE and (
            old is None or old.size - old.used <= region.size - step
        ):
            self._current = region
        return region

    def _settle(self) -> None:
        """Settle dead regions now if no one holds the lock, else its holder
        does at the end of its section."""
        while self._dead and self._lock.acquire(blocking=False):
            try:
                self._settle_locked()
            finally:
                self._lock.release()

    def _settle_locked(self) -> None:
        dead = self._dead
        while dead:
            mapping = dead.pop()
            if self.enabled and self._spare_bytes + mapping[2] <= SPARE_BYTES:
                self._spares.append(mapping)  # faulted in: reused as it is
                self._spare_bytes += mapping[2]
            else:
                self.pinned -= mapping[2]  # unmapped with its last reference

    def release(self) -> None:
        """Drop the spares and the current region and take no more (the
        session ends): what live images hold is unmapped when they die."""
        with self._lock:
            self.enabled = False
            self._current = None
            self._settle_locked()
            self.pinned -= self._spare_bytes
            self._spares.clear()
            self._spare_bytes = 0
        self._settle()


def _address(area: mmap.mmap) -> int:
    """Where ``area``'s bytes start in memory."""
    address: int = np.frombuffer(area, np.uint8, 1).__array_interface__["data"][0]
    return address


#: mappings ``Prefault`` made ready, by size, for ``_map`` (any thread)
_ready: dict[int, list[tuple[mmap.mmap, int]]] = {}
_ready_lock = threading.Lock()


def _ready_bytes() -> int:
    """(``_ready_lock`` held.)  Bytes prefaulted and not yet taken."""
    return sum(size * len(made) for size, made in _ready.items())


@functools.cache
def _populate_call() -> Callable[[int, int, int], int] | None:
    """libc's ``madvise`` through ctypes (which lets go of the GIL while the
    kernel faults the range in), or None where there is no such symbol."""
    try:
        call = ctypes.CDLL(None, use_errno=True).madvise
    except (AttributeError, OSError):
        return None
    call.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    call.restype = ctypes.c_int
    return cast(Callable[[int, int, int], int], call)


def _populate(area: mmap.mmap, start: int, size: int) -> bool:
    """Fault ``size`` bytes of ``area`` from ``start`` in, writable and zero
    (huge pages where the range was marked for them); False if this kernel
    cannot (before 5.14: EINVAL), the range then left as it was."""
    call = _populate_call()
    if call is None:
        return False
    return call(_address(area) + start, size, _MADV_POPULATE_WRITE) == 0


class Prefault:
    """Huge-page mappings of ``sizes`` (multiples of ``HUGE_PAGE``; default
    ``DISPLAY_START``) made and faulted in on a daemon thread, for ``_map``
    to hand out by size; ``release()`` unmaps those nobody took (the session
    ended).  Nothing happens where huge pages are off or the kernel cannot
    populate a range; a mapping asked for before it is ready is made as
    without this (never waited for); at most ``PREFAULT_BYTES`` wait at once,
    process-wide.

    Their bytes are zero, as a fresh mapping's: the kernel's zeroing is done,
    nothing is written.
    """

    def __init__(self, sizes: Sequence[int] = DISPLAY_START) -> None:
        #: the mappings made ready by this one, taken or not
        self._made: list[tuple[mmap.mmap, int]] = []
        self._released = False
        self.thread: threading.Thread | None = None
        if huge_pages_available():
            self.thread = threading.Thread(
                target=self._run,
                args=(tuple(sizes),),
                name="spicepy-prefault",
                daemon=True,
            )
            self.thread.start()

    def _run(self, sizes: tuple[int, ...]) -> None:
        for size in sizes:
            with _ready_lock:
                if self._released or _ready_bytes() + size > PREFAULT_BYTES:
                    return
            made = _map_fresh(size)
            if made is None or not _populate(made[0], made[1], size):
                return
            with _ready_lock:
                if self._released or _ready_bytes() + size > PREFAULT_BYTES:
                    return
                _ready.setdefault(size, []).append(made)
                self._made.append(made)

    def release(self) -> None:
        """Unmap what nobody took; make no more (idempotent)."""
        with _ready_lock:
            self._released = True
            for made in self._made:
                for ready in _ready.values():
                    waiting = [i for i, m in enumerate(ready) if m is made]
                    if waiting:
                        del ready[waiting[0]]
                        made[0].close()
                        break  # (else taken: its images or surface keep it)
            self._made.clear()


def _region_died(arena: weakref.ref[PixelArena], mapping: _Mapping) -> None:
    """A region's last image died (any thread): its arena, if still there,
    keeps the mapping as a spare or lets it go (unmapped with this frame)."""
    owner = arena()
    if owner is not None:
        owner._dead.append(mapping)
        owner._settle()
