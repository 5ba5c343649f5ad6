"""Images of later display messages decoded on the second core.

Theory of operation: a chunk read from the display socket becomes a row of
events in the channel machine (``Channel.queued_events``) before the
connection delivers the first of them.  ``DecodeAhead`` runs in the
connection's ``prepare`` hook (``offload.display_prepare``), once per event,
just before that event goes to the session core:

- ``take(event)``: if a job was made for this event, claim it.  Not started:
  the worker will skip it and the loop decodes inline as without look-ahead.
  Running: wait for it (the Cython codecs release the GIL; waiting costs less
  than decoding again).  Done: its pixels go to the resolver's
  ``predecoded`` (keyed by ``id(image)``, the images of *this* event object,
  which the job keeps alive: nothing can alias), where ``ImageResolver.get``
  takes them and does the caching and counting, in message order.
- ``scan()``: the events queued since the last scan (an identity test per call
  when none came) are looked into; a DRAW_COPY-like message with an image
  worth a worker and none above ``Limits.inline_decode_pixels`` (those park
  the connection: ``session.offload``) becomes a job for one worker thread,
  in message order.  Worth it: ``ImageResolver.self_contained`` (pixels from
  its own bytes only; never GLZ, whose dictionary is ordered, nor a palette
  type, whose palette cache is) and at least ``MIN_PIXELS`` of its type:
  QUIC and JPEG / JPEG_ALPHA only.  LZ_RGB and LZ4 decode at about memory
  speed (0.5 and 0.3 ns a pixel against QUIC's 14 and JPEG's 3, 256x256
  gradient, thread CPU), so the hand-off and the copy a decoded-ahead image
  needs (it cannot be decoded into the surface rows: ``copy_onto``) would
  cost the loop about what decoding does.

Results are those of the serial path: the same bytes decode to the same
pixels, ``get`` does all the bookkeeping, and an image that fails (or raises
anything) on the worker is simply left out and decoded again inline, in order,
where it raises the same error at the same message.  Bounded: jobs submitted
and not yet taken hold at most ``Limits.decode_ahead`` bytes of pixels (4 a
pixel); later candidates wait, unsubmitted, until a take frees room.  The
worker is a daemon thread that ends when idle for ``IDLE_SECONDS`` or at
``close()`` (connection end), which drops pending work without waiting.

Only where the codecs are compiled: the pure-Python twins hold the GIL, so
under ``SPICEPY_PUREPYTHON=1`` every image decodes in order on the loop
thread (``available()`` is False).  Offline replay stays serial.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from spicepy.canvas.images import CachedImage, ImageResolver
from spicepy.channels.events import MessageReceived
from spicepy.codecs import lz, lz4, quic
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ImageType
from spicepy.wire.msg_display import message_images
from spicepy.wire.types import Image

__all__ = ["DecodeAhead", "IDLE_SECONDS", "MIN_PIXELS", "available"]

#: smallest image worth a worker, by type (module docstring): the hand-off
#: (a job, a lock, a wake-up, tens of us of loop time) stays well below the
#: decode (QUIC 64x64: ~60 us at 14 ns a pixel; JPEG 128x128: ~50 us)
MIN_PIXELS: dict[int, int] = {
    int(ImageType.QUIC): 64 * 64,
    int(ImageType.JPEG): 128 * 128,
    int(ImageType.JPEG_ALPHA): 128 * 128,
}
#: the worker thread ends after this long without work (started again on demand)
IDLE_SECONDS = 1.0
#: the draws whose source image may be worth decoding ahead
_DRAWS = frozenset(
    {
        md.DrawCopy,
        md.DrawBlend,
        md.DrawOpaque,
        md.DrawRop3,
        md.DrawTransparent,
        md.DrawAlphaBlend,
        md.DrawComposite,
    }
)
# job states (changed under the look-ahead's lock)
_WAITING, _QUEUED, _RUNNING, _DONE, _DROPPED = range(5)


def available() -> bool:
    """The codecs a job runs are the compiled twins (they release the GIL)."""
    return bool(quic.FAST and lz.FAST and lz4.FAST)


class _Job:
    """The images of one queued event to decode ahead."""

    __slots__ = (
        "event",
        "resolver",
        "images",
        "nbytes",
        "state",
        "done",
        "results",
        "seconds",
    )

    def __init__(
        self,
        event: object,
        resolver: ImageResolver,
        images: list[Image],
        nbytes: int,
    ) -> None:
        self.event = event  # kept alive: its id (the key) stays its own
        self.resolver = resolver
        self.images = images
        self.nbytes = nbytes
        self.state = _WAITING
        self.done = threading.Event()
        self.results: list[tuple[Image, CachedImage]] = []
        self.seconds = 0.0


class DecodeAhead:
    """The look-ahead of one display connection (module docstring).

    Args:
        resolver: the channel's ``ImageResolver`` now, or None (no driver yet).
        queued: the channel machine's queued events (``Channel.queued_events``).
        budget: ``Limits.decode_ahead``, bytes.
        max_pixels: ``Limits.inline_decode_pixels``: a message with a larger
            image is left to ``session.offload``.
        min_pixels: smallest image decoded ahead, by type (others never).
    """

    def __init__(
        self,
        resolver: Callable[[], ImageResolver | None],
        queued: Sequence[object],
        budget: int,
        max_pixels: int,
        min_pixels: dict[int, int] | None = None,
    ) -> None:
        self._resolver = resolver
        self._queued = queued
        self.budget = budget
        self.max_pixels = max_pixels
        self.min_pixels = MIN_PIXELS if min_pixels is None else min_pixels
        #: jobs by ``id(event)``, made and not yet taken
        self._jobs: dict[int, _Job] = {}
        #: jobs not yet submitted (the budget was full), in message order
        self._waiting: deque[_Job] = deque()
        #: bytes of the submitted jobs not yet taken (<= budget)
        self.pending_bytes = 0
        #: the newest queued event looked into
        self._last: object | None = None
        self._lock = threading.Lock()
        #: submitted jobs no thread has started, in message order
        self._queue: deque[_Job] = deque()
        self._ready = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False
        #: statistics: images taken decoded, their worker seconds, waits
        self.taken_images = 0
        self.worker_seconds = 0.0
        self.waits = 0
        #: jobs the loop thread decoded itself while waiting (``_help``)
        self.helped = 0

    # -- the loop thread ---------------------------------------------------------
    def take(self, event: object) -> None:
        """``event`` is about to be delivered: claim its job, if any."""
        job = self._jobs.pop(id(event), None)
        if job is None:
            return
        with self._lock:
            state = job.state
            if state == _QUEUED:
                self._queue.remove(job)  # (the head, or near it)
            if state != _RUNNING and state != _DONE:
                job.state = _DROPPED  # the loop decodes it inline, in order
        if state == _RUNNING:
            self.waits += 1
            self._help(job)
            job.done.wait()
            state = _DONE
        if state != _WAITING:
            self.pending_bytes -= job.nbytes
        resolver = job.resolver
        if state == _DONE and job.results and resolver is self._resolver():
            ahead = resolver.predecoded
            ahead.clear()  # what an earlier message left unused
            for image, decoded in job.results:
                ahead[id(image)] = (image, decoded, None)
            self.taken_images += len(job.results)
            self.worker_seconds += job.seconds
            resolver.decode_seconds += job.seconds
        job.results = []
        self._submit()

    def _help(self, running: _Job) -> None:
        """While the worker finishes ``running``, decode the next queued jobs
        here (their results wait in the job, taken in order like the
        worker's): both cores stay busy when a chunk holds few images."""
        while not running.done.is_set():
            with self._lock:
                if not self._queue:
                    return
                job = self._queue.popleft()
                job.state = _RUNNING
            _decode_job(job)
            self.helped += 1

    def scan(self) -> None:
        """Make jobs for the events queued since the last scan, submit what
        the budget allows."""
        queued = self._queued
        if not queued or queued[-1] is self._last or self._closed:
            return
        resolver = self._resolver()
        if resolver is None:  # (no surface yet: looked into once there is)
            return
        last = self._last
        fresh: list[object] = []
        for event in reversed(queued):
            if event is last:
                break
            fresh.append(event)
        self._last = queued[-1]
        for event in reversed(fresh):
            if type(event) is MessageReceived and type(event.message) in _DRAWS:
                job = self._job_for(event, resolver)
                if job is not None:
                    self._jobs[id(event)] = job
                    self._waiting.append(job)
        self._submit()

    def _job_for(self, event: MessageReceived, resolver: ImageResolver) -> _Job | None:
        images = []
        nbytes = 0
        for image in message_images(event.message):
            d = image.descriptor
            pixels = d.width * d.height
            if pixels > self.max_pixels:
                return None  # the connection parks this message (offload)
            least = self.min_pixels.get(d.type)
            if (
                least is not None
                and pixels >= least
                and ImageResolver.self_contained(image)
            ):
                images.append(image)
                nbytes += 4 * pixels
        if not images or nbytes > self.budget:
            return None
        return _Job(event, resolver, images, nbytes)

    def _submit(self) -> None:
        waiting = self._waiting
        while waiting:
            job = waiting[0]
            if job.state == _DROPPED:  # taken before it was submitted
                waiting.popleft()
                continue
            if self.pending_bytes + job.nbytes > self.budget:
                return
            waiting.popleft()
            self.pending_bytes += job.nbytes
            with self._lock:
                job.state = _QUEUED
                self._queue.append(job)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="spicepy-decode-ahead", daemon=True
                    )
                    self._thread.start()
                else:
                    self._ready.notify()

    def close(self) -> None:
        """Drop every job without waiting (the connection ended)."""
        self._closed = True
        with self._lock:
            for job in self._jobs.values():
                if job.state != _RUNNING:
                    job.state = _DROPPED
            self._queue.clear()
            self._ready.notify()
        self._jobs.clear()
        self._waiting.clear()
        self._last = None
        self.pending_bytes = 0

    # -- the worker thread ---------------------------------------------------------
    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                while not self._queue:
                    if self._closed or not self._ready.wait(IDLE_SECONDS):
                        if not self._queue:  # idle (or closed): end; started
                            if self._thread is me:  # again on demand
                                self._thread = None
                            return
                job = self._queue.popleft()
                job.state = _RUNNING
            _decode_job(job)


def _decode_job(job: _Job) -> None:
    """Decode a job's images (any thread; its state is RUNNING, set by the
    thread that claimed it) and mark it DONE.  An image that fails is left out:
    ``ImageResolver.get`` decodes it again inline, in order, and raises there."""
    resolver = job.resolver
    results: list[tuple[Image, CachedImage]] = []
    started = time.perf_counter()
    for image in job.images:
        try:
            results.append((image, resolver.decode_alone(image)))
        except Exception:  # noqa: BLE001 - raised again inline, in order
            pass
    job.seconds = time.perf_counter() - started
    job.results = results
    job.state = _DONE  # (read under the lock by a claim: a plain store here)
    job.done.set()
