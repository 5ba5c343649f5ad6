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
- ``scan_unread()``: with a display lane ready, the reader stops before each
  draw while an event waits (``Channel.set_lane``), so the queue holds one
  event at a time; the whole messages after it wait unread in the machine
  (``Channel.unread``).  They are framed once each (``wire.headers``, their
  lengths kept so that the next call starts where this one stopped, at most
  ``SCAN_FRAMES`` a call), the draws decoded (``decode_message``, ~3 us) and
  jobs made the same way; when the reader makes the event, ``scan`` or
  ``take`` hands the job to it if its images are the same bytes (then it is
  keyed by the event as above), and a job whose message was read without
  one is dropped.

Armed per channel: until an event carries a draw with a QUIC or JPEG image
(of any size; that one decodes inline), ``before`` looks at nothing else, so a
session without such images (text, LZ, GLZ) never pays for framing and
decoding messages ahead (text-glz's window: 71.3M -> 54.0M Ir unarmed).

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
from typing import Protocol

import numpy as np

from spicepy.canvas.images import CachedImage, ImageResolver
from spicepy.channels.events import MessageReceived
from spicepy.codecs import quic
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ChannelType, DisplayMsg, ImageType
from spicepy.wire.headers import frame_at
from spicepy.wire.messages import decode_message
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
#: their numbers (the draws of ``_DRAWS``)
_DRAW_NUMBERS = frozenset(
    int(n)
    for n in (
        DisplayMsg.DRAW_OPAQUE,
        DisplayMsg.DRAW_COPY,
        DisplayMsg.DRAW_BLEND,
        DisplayMsg.DRAW_ROP3,
        DisplayMsg.DRAW_TRANSPARENT,
        DisplayMsg.DRAW_ALPHA_BLEND,
        DisplayMsg.DRAW_COMPOSITE,
    )
)
DISPLAY = int(ChannelType.DISPLAY)
#: unread messages framed at most per ``scan_unread`` call (bounded work per event)
SCAN_FRAMES = 64
#: smallest draw body worth decoding ahead of the reader: a message and a
#: QUIC or JPEG image worth a worker take more (64x64 QUIC of a gradient: ~400)
MIN_BODY = 128
# job states (changed under the look-ahead's lock)
_WAITING, _QUEUED, _RUNNING, _DONE, _DROPPED = range(5)


class UnreadSource(Protocol):
    """What ``scan_unread`` reads of a channel machine (``channels.base``)."""

    messages_received: int
    mini_header: bool
    max_message_size: int

    def unread(self) -> memoryview | None: ...


def _same(a: Image, b: Image) -> bool:
    """``a`` and ``b`` decode to the same pixels: same type, size and codec
    bytes (for JPEG_ALPHA also its flags and JPEG size)."""
    da, db = a.descriptor, b.descriptor
    if (da.type, da.width, da.height) != (db.type, db.width, db.height):
        return False
    if a.binary is not None and b.binary is not None:
        return _same_bytes(a.binary.data, b.binary.data)
    ja, jb = a.jpeg_alpha, b.jpeg_alpha
    if ja is not None and jb is not None:
        same_kind = ja.flags == jb.flags and ja.jpeg_size == jb.jpeg_size
        return same_kind and _same_bytes(ja.data, jb.data)
    return False


def _same_bytes(a: bytes | memoryview, b: bytes | memoryview) -> bool:
    """Equal contents; usually the very same memory (the reader decodes the
    view the job was made from), else compared by numpy (a memoryview's
    ``==`` compares item by item: ~9 ms a MB)."""
    if len(a) != len(b):
        return False
    x = np.frombuffer(a, np.uint8)
    y = np.frombuffer(b, np.uint8)
    if x.__array_interface__["data"][0] == y.__array_interface__["data"][0]:
        return True
    return bool(np.array_equal(x, y))


def available() -> bool:
    """The QUIC codec is the compiled twin (it releases the GIL; JPEG's
    decoder is always compiled)."""
    return bool(quic.FAST)


class _Job:
    """The images of one queued event to decode ahead."""

    __slots__ = (
        "event",
        "resolver",
        "images",
        "targets",
        "seq",
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
        #: the images ``get`` will be asked for (the event's), by position
        self.targets = images
        #: a job made from unread bytes: its message's number; else 0
        self.seq = 0
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
        source: the channel machine, whose ``unread()`` bytes are looked
            into too (``scan_unread``), or None.
    """

    def __init__(
        self,
        resolver: Callable[[], ImageResolver | None],
        queued: Sequence[object],
        budget: int,
        max_pixels: int,
        min_pixels: dict[int, int] | None = None,
        source: UnreadSource | None = None,
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
        #: the channel machine, for its unread bytes (``scan_unread``), or None
        self._source = source
        #: jobs made from unread bytes, not yet given to their event, in order
        self._unread_jobs: deque[_Job] = deque()
        #: (message number, bytes) of each unread message framed, in order,
        #: and their sum: where the next one starts in ``source.unread()``
        self._spans: deque[tuple[int, int]] = deque()
        self._span_bytes = 0
        self._lock = threading.Lock()
        #: submitted jobs no thread has started, in message order
        self._queue: deque[_Job] = deque()
        self._ready = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False
        #: armed once an event of this channel carried an image of a type
        #: ``min_pixels`` names: until then ``before`` looks at nothing else
        #: (a text or LZ session never pays for framing and decoding ahead)
        self.armed = False
        #: statistics: images taken decoded ahead, their decode seconds (on
        #: the worker, or on the loop while it waited: ``helped``), waits
        self.taken_images = 0
        self.worker_seconds = 0.0
        self.waits = 0
        #: jobs the loop thread decoded itself while waiting (``_help``)
        self.helped = 0

    # -- the loop thread ---------------------------------------------------------
    def before(self, event: object) -> None:
        """``take(event)``, ``scan()``, ``scan_unread()``: the ``prepare``
        hook's per-event step, with their nothing-to-do tests inline (most
        events: no job, no new queued event), a call or two less per event."""
        if not self.armed:
            if type(event) is not MessageReceived or not self._arms(event.message):
                return
            self.armed = True
        if id(event) in self._jobs or (
            self._unread_jobs and type(event) is MessageReceived
        ):
            self.take(event)
        queued = self._queued
        if queued and queued[-1] is not self._last and not self._closed:
            self.scan()
        self.scan_unread()

    def _arms(self, msg: object) -> bool:
        """``msg`` is a draw with an image of a type decoded ahead."""
        if type(msg) not in _DRAWS:
            return False
        kinds = self.min_pixels
        return any(image.descriptor.type in kinds for image in message_images(msg))

    def take(self, event: object) -> None:
        """``event`` is about to be delivered: claim its job, if any."""
        job = self._jobs.pop(id(event), None)
        if job is None:
            if not self._unread_jobs or type(event) is not MessageReceived:
                return
            # made from its unread bytes, if the reader made it since ``scan``
            resolver = self._resolver()
            made = None
            if type(event.message) in _DRAWS and resolver is not None:
                made = self._job_for(event.message, event, resolver)
            if made is None or not self._link(event, made):
                return
            job = self._jobs.pop(id(event))
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
            targets = {id(i): t for i, t in zip(job.images, job.targets, strict=True)}
            for image, decoded in job.results:
                target = targets[id(image)]
                ahead[id(target)] = (target, decoded, None)
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
                job = self._job_for(event.message, event, resolver)
                if job is not None and not self._link(event, job):
                    self._jobs[id(event)] = job
                    self._waiting.append(job)
        self._submit()

    def _link(self, event: MessageReceived, made: _Job) -> bool:
        """A job made from ``event``'s unread bytes (``scan_unread``) becomes
        its job if the images are the same bytes (then ``made`` is not
        needed); True if so."""
        unread = self._unread_jobs
        for i, job in enumerate(unread):
            if len(job.images) == len(made.images) and all(
                _same(a, b) for a, b in zip(job.images, made.images, strict=True)
            ):
                for _ in range(i + 1):  # older ones: their messages went by
                    old = unread.popleft()
                    if old is not job:
                        self._drop(old)
                job.event, job.targets = event, made.images
                self._jobs[id(event)] = job
                return True
        return False

    def _drop(self, job: _Job) -> None:
        """Forget a job no event will claim."""
        with self._lock:
            state = job.state
            if state == _QUEUED:
                self._queue.remove(job)
            if state != _RUNNING and state != _DONE:
                job.state = _DROPPED
        if state != _WAITING:
            self.pending_bytes -= job.nbytes  # (a running one finishes unseen)
        job.results = []

    def scan_unread(self) -> None:
        """Make jobs for the messages a lane left unread (``Channel.unread``),
        framed once each, ``SCAN_FRAMES`` at most a call; ``scan`` gives each
        to its event when the reader has made it (same image bytes)."""
        source = self._source
        if source is None or self._closed:
            return
        view = source.unread()
        if view is None:
            return
        resolver = self._resolver()
        if resolver is None:
            return
        base = source.messages_received  # the view starts at message base + 1
        spans = self._spans
        while spans and spans[0][0] <= base:
            self._span_bytes -= spans.popleft()[1]
        unread = self._unread_jobs
        while unread and unread[0].seq <= base:  # read, and ``scan`` saw no
            self._drop(unread.popleft())  # event with its bytes: not to be had
        pos = self._span_bytes
        if pos > len(view):  # (not the stream seen before: start again)
            spans.clear()
            self._span_bytes = pos = 0
        seq = base + 1 + len(spans)
        mini, limit = source.mini_header, source.max_message_size
        for _ in range(SCAN_FRAMES):
            frame = frame_at(view, pos, mini, limit)
            if frame is None:
                break
            msg_type, body, _serial, sub_list, _start, end = frame
            spans.append((seq, end - pos))
            self._span_bytes += end - pos
            if msg_type in _DRAW_NUMBERS and not sub_list and len(body) >= MIN_BODY:
                try:
                    msg = decode_message(DISPLAY, msg_type, body)
                except Exception:  # noqa: BLE001 - the reader meets it again and says why
                    msg = None
                if msg is not None:
                    job = self._job_for(msg, msg, resolver)
                    if job is not None:
                        job.seq = seq
                        unread.append(job)
                        self._waiting.append(job)
            pos = end
            seq += 1
        if self._waiting:  # (appended, or a drop freed budget for the waiting)
            self._submit()

    def _job_for(
        self, msg: object, key: object, resolver: ImageResolver
    ) -> _Job | None:
        """The job for ``msg``'s images worth a worker, kept with ``key``."""
        images = []
        nbytes = 0
        for image in message_images(msg):
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
        return _Job(key, resolver, images, nbytes)

    def start_worker(self) -> None:
        """Start the worker now if it is not running (it idles out after
        ``IDLE_SECONDS`` as ever): the session calls this as the display
        links, so the first job does not wait for a thread to be made inside
        the display's first burst (under load, photos-quic's first ``take``
        waited 5.7 ms for the new thread to run)."""
        with self._lock:
            if self._thread is None and not self._closed:
                self._start_locked()

    def _start_locked(self) -> None:
        """(Lock held.)  A new worker thread."""
        self._thread = threading.Thread(
            target=self._run, name="spicepy-decode-ahead", daemon=True
        )
        self._thread.start()

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
                    self._start_locked()
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
        self._unread_jobs.clear()
        self._spans.clear()
        self._span_bytes = 0
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
