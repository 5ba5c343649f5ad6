"""Video streams: STREAM_CREATE/DATA/DATA_SIZED/CLIP/DESTROY/DESTROY_ALL.

Theory of operation: ``StreamManager`` belongs to one display channel's canvas.
MJPEG frames are decoded to BGRX (libjpeg-turbo through simplejpeg, with the
fast IDCT and plain upsampling spice-gtk's channel-display-mjpeg.c selects);
VP8 and H.264 frames go through the stream's own ``canvas.video.VideoDecoder``
in arrival order (each frame depends on the ones before, so none may be
skipped), but only when a frame is shown: the payloads wait in the stream's
``pending`` chain and a shown frame first decodes every frame before it (as
spice-gtk's GStreamer pipeline decodes apart from the channel, the display
channel does not wait for pictures not yet due; a stream destroyed first never
decodes them).  A threaded manager (``VIDEO_THREADS``, the default) gives
each payload on arrival to the stream's ``DecodeWorker`` thread, which
decodes up to ``DECODE_AHEAD_FRAMES`` past the last frame asked for; ``run``
chooses the frames as the synchronous path does, moves their undecoded chain
out of the budget (``committed``) as its decoding would, and draws each one
once the worker has decoded it, in order, without waiting (``ready``; the
worker calls ``wakeup`` then): the same frames and pixels, later in wall
time, except that a stream's end drops the chosen frames still decoding, as
spice-gtk's does (``_end``; ``threaded=False``: all on the caller's thread).
Pictures the workers decode ahead count in one ``LookAhead`` per session,
capped by ``Limits.video_queue``.  A frame that does not decode is counted
and skipped; the decoder goes on with the next.  The chain is bounded
(``MAX_PENDING_FRAMES``, and its bytes with the queues' by
``Limits.video_queue``, one budget for every display channel of the
session): past that its oldest frames are collected (decoded) at once.
Only a shown picture is converted to BGRX (not one the stream clip hides
entirely; such an MJPEG frame is not even decoded),
flipped unless the stream is TOP_DOWN, scaled NEAREST to the destination rect
and clipped by the stream clip
(sw_canvas ``canvas_put_image``). Timing is sans-IO: the caller passes the
session's multimedia time ``now`` (ms, a wrapping u32 compared as spice-gtk's
``spice_mmtime_diff``), and frames are shown only by ``run(now)``, which the
session calls from its one timer at ``next_deadline`` (spice-gtk arms a GLib
timer even for a frame due now).  ``FrameScheduler`` holds spice-gtk's rules:
channel-display-mjpeg.c for MJPEG (a frame already late on arrival is dropped;
a late frame is dropped when scheduled, except the one whose timer fired; a
frame older than the queue's tail resets the queue) and channel-display-gst.c
for VP8/H.264 (every frame is kept for the decoder; a late frame is dropped
when a newer one follows it, the last one is shown at once; no reset).
``now=None`` shows frames at once (offline replay; threaded, waiting for the
worker: the synchronous result).  ``STREAM_ACTIVATE_REPORT``
turns on the ``StreamReport`` window that the channel sends as STREAM_REPORT;
a stream with a codec spicepy cannot decode gets spice-gtk's "invalid stream"
report.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas.canvas import Canvas
from spicepy.canvas.surface import MAX_SURFACE_DIMENSION
from spicepy.canvas.video import (
    VIDEO_CODECS,
    DecodeWorker,
    LookAhead,
    VideoDecoder,
    check_frame_size,
    picture_bytes,
)
from spicepy.errors import CanvasError
from spicepy.wire.enums import StreamFlags, VideoCodecType
from spicepy.wire.msg_display import StreamReport
from spicepy.wire.types import CLIP_NONE, Clip, Rect

__all__ = [
    "FrameScheduler",
    "MAX_STREAMS",
    "Stream",
    "StreamManager",
    "StreamReport",
    "decode_mjpeg",
    "mm_diff",
]

log = logging.getLogger(__name__)
Pixels = npt.NDArray[np.uint8]

#: Stream ids are below 64 (the server's NUM_STREAMS).
MAX_STREAMS = 64
#: Frames queued per stream before the oldest is dropped.  spice-gtk's queue
#: has no bound (the bytes have ``Limits.video_queue``); this one only keeps
#: tiny frames from piling up objects uncounted (~200 B each: 64 streams
#: ~13 MB): 34 s of 30 fps, while the captures queue up to 69 frames
#: (video-stream_filter; a bound of 64 dropped 5 of them)
MAX_QUEUED_FRAMES = 1024
#: spice-gtk reports at once after this many consecutive drops.
DROP_SEQ_LIMIT = 3
#: Rectangles of shown frames kept for the session (oldest forgotten first).
MAX_SHOWN_RECTS = 1024
#: VP8/H.264 frames a stream keeps undecoded before decoding the oldest (a
#: shown frame decodes the chain before it: bounds that one burst)
MAX_PENDING_FRAMES = 256
#: VP8/H.264 frames are decoded on a worker thread per stream (``DecodeWorker``,
#: ``StreamManager.threaded``), as spice-gtk's GStreamer pipeline decodes off
#: its main loop; SPICEPY_VIDEO_THREADS=0 keeps every decode on the caller's
#: thread.  bench_session, same runs: the window's CPU on video-vp8 ~48 -> ~33
#: ms (the loop no longer decodes the ~60-frame chain of the frame it shows),
#: video-h264 unchanged
VIDEO_THREADS = os.environ.get("SPICEPY_VIDEO_THREADS", "1") != "0"


#: the stream managers of each session, by its ``SharedState`` (weakly: a
#: closed session or channel leaves nothing behind), so that the display
#: channels' video queues share one ``Limits.video_queue`` budget
_SESSION_MANAGERS: weakref.WeakKeyDictionary[Any, set[weakref.ref[StreamManager]]] = (
    weakref.WeakKeyDictionary()
)
#: the one ``LookAhead`` of each session's workers, by its ``SharedState``
_SESSION_LOOK_AHEAD: weakref.WeakKeyDictionary[Any, LookAhead] = (
    weakref.WeakKeyDictionary()
)


def _hidden(clip: Clip, dest: Rect) -> bool:
    """True when no clip rectangle meets ``dest``: the frame would draw
    nothing (the server sends STREAM_CLIP with no rectangles while a window
    covers the stream), so it is neither converted nor, MJPEG, decoded."""
    rects = clip.rects
    if rects is None:  # CLIP_NONE (another type: put_image refuses it)
        return False
    for r in rects:
        if (
            r.left < dest.right
            and dest.left < r.right
            and r.top < dest.bottom
            and dest.top < r.bottom
        ):
            return False
    return True


def mm_diff(a: int, b: int) -> int:
    """``a - b`` for wrapping u32 mm times (spice-gtk ``spice_mmtime_diff``)."""
    return ((a - b + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def decode_mjpeg(frame: bytes | memoryview) -> Pixels:
    """One MJPEG frame to (h, w, 4) BGRX, decoded as spice-gtk does.

    channel-display-mjpeg.c asks libjpeg(-turbo) for the fast integer IDCT and
    no fancy upsampling, so we pass simplejpeg the same options (the lossless
    image codecs' ``spicepy.codecs.jpeg`` keeps libjpeg's defaults, as
    spice-gtk's JPEG image decoder does). The header is checked against the
    surface limits before anything is allocated.

    Raises:
        CanvasError: undecodable or oversized data.
    """
    import simplejpeg

    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(frame)
    except (ValueError, RuntimeError) as exc:
        raise CanvasError(f"bad MJPEG frame: {exc}") from exc
    if not (0 < width <= MAX_SURFACE_DIMENSION and 0 < height <= MAX_SURFACE_DIMENSION):
        raise CanvasError(f"MJPEG frame of {width}x{height}")
    try:
        out = simplejpeg.decode_jpeg(
            frame, colorspace="BGRX", fastdct=True, fastupsample=True
        )
    except (ValueError, RuntimeError) as exc:
        raise CanvasError(f"bad MJPEG frame: {exc}") from exc
    return np.ascontiguousarray(out, dtype=np.uint8)


#: STREAM_REPORT's audio_delay when there is no audio (spice-gtk sends UINT_MAX)
NO_AUDIO_DELAY = 0xFFFFFFFF


def make_report(
    stream_id: int,
    unique_id: int,
    start_mm: int,
    end_mm: int,
    frames: int,
    drops: int,
    delay: int,
) -> StreamReport:
    """A STREAM_REPORT with its fields in their wire ranges (u32 times, i32 delay)."""
    return StreamReport(
        stream_id,
        unique_id,
        start_mm & 0xFFFFFFFF,
        end_mm & 0xFFFFFFFF,
        frames,
        drops,
        max(-(1 << 31), min(delay, (1 << 31) - 1)),
        NO_AUDIO_DELAY,
    )


@dataclass(slots=True)
class _Frame:
    mm_time: int
    data: bytes | memoryview
    width: int
    height: int
    dest: Rect
    #: VP8/H.264: the picture once decoded (an ``av.VideoFrame``, None while
    #: pending or when the packet completed none), converted when shown
    picture: Any = None
    #: bytes this frame holds while queued (payload + decoded picture)
    nbytes: int = 0
    #: VP8/H.264: still in the stream's undecoded chain
    pending: bool = False
    #: waiting in the stream's FrameScheduler
    queued: bool = False
    #: dropped by the scheduler (never shown: a worker need not keep its picture)
    dropped: bool = False
    #: set by a ``DecodeWorker`` once decoded: (picture, error, seconds, bytes)
    done: tuple[Any, BaseException | None, float, int] | None = None
    #: moved to the stream's ``committed`` chain (a chosen frame's, or before it)
    committed: bool = False
    #: the worker's: its place in the stream's arrival order (``submit``)
    seq: int = 0
    #: the worker's: wake the loop once decoded (``DecodeWorker.want``)
    wake: bool = False


class FrameScheduler:
    """One stream's frames on the multimedia clock, as spice-gtk schedules them.

    At most one frame is *armed* (``armed_at``: the mm time its timer fires),
    always the head of ``queue``; the frames behind it wait in arrival order.
    Arming follows spice-gtk's ``mjpeg_decoder_schedule`` (MJPEG) or the
    GStreamer decoder's ``schedule_frame`` (``keep_late``: VP8/H.264), run when
    a frame comes and no timer is armed, after each shown frame and after an
    mm-time reset: a frame due now or later is armed at its own time; a late
    one is dropped, except (``keep_late``) the last one, armed at once ("the
    least out of date frame, so the video is not frozen").  Frames are shown
    only by ``due(now)`` (the timer), never by ``push``: spice-gtk arms a timer
    even for a frame due now, so the frames of one read are all queued first.
    MJPEG frames late on arrival are dropped at once, and one older than the
    last queued frame behind the armed one drops the queue
    (``mjpeg_decoder_queue_frame``); the GStreamer path keeps both.

    ``dropped`` counts every frame never shown: dropped on arrival, past due
    when scheduled (``dropped_on_playback``), flushed by a reset, or pushed out
    of a full queue (by count, or by the byte budget: ``drop_oldest``).
    ``late_on_arrival`` counts frames that came late, dropped or not.
    ``bytes`` is what the queued frames hold.
    """

    def __init__(self, keep_late: bool = False) -> None:
        self.keep_late = keep_late
        self.queue: deque[_Frame] = deque()
        #: mm time the head frame's timer fires at (None: nothing armed)
        self.armed_at: int | None = None
        self.bytes = 0
        self.dropped = 0
        self.late_on_arrival = 0
        self.dropped_on_playback = 0

    def push(self, frame: _Frame, now: int) -> bool:
        """Queue a frame; False when it is dropped on arrival (counted)."""
        if not self.admit(frame.mm_time, mm_diff(frame.mm_time, now) < 0):
            frame.dropped = True
            return False
        self.enqueue(frame, now)
        return True

    def admit(self, mm_time: int, late: bool) -> bool:
        """The arrival rules of a frame stamped ``mm_time`` (``late``: before
        now), which need no frame object: ``StreamManager.data`` builds one
        only for a frame admitted.  Counts it late; MJPEG (not ``keep_late``)
        drops the queue when time went backwards and drops a late frame
        (counted): False."""
        self.late_on_arrival += late
        if self.keep_late:
            return True
        # spice-gtk compares with the tail of its queue, which does not hold
        # the armed frame
        queue = self.queue
        if len(queue) > (self.armed_at is not None) and (
            mm_diff(mm_time, queue[-1].mm_time) < 0
        ):
            # time went backwards: spice-gtk drops the queue and starts over
            self.dropped += len(queue)
            self._clear()
        if late:
            self.dropped += 1
            return False
        return True

    def enqueue(self, frame: _Frame, now: int) -> None:
        """Queue a frame ``admit`` let in (the oldest goes when full)."""
        queue = self.queue
        if len(queue) >= MAX_QUEUED_FRAMES:
            self.drop_oldest()
        frame.queued = True
        queue.append(frame)
        self.bytes += frame.nbytes
        if self.armed_at is None:
            self._schedule(now)

    def _clear(self) -> None:
        for frame in self.queue:
            frame.queued = False
            frame.dropped = True
        self.queue.clear()
        self.bytes = 0
        self.armed_at = None

    def _pop(self) -> _Frame:
        frame = self.queue.popleft()
        frame.queued = False
        self.bytes -= frame.nbytes
        return frame

    def _schedule(self, now: int) -> None:
        """Arm the head frame (see the class docstring), dropping late ones."""
        queue = self.queue
        while queue:
            head = queue[0]
            if mm_diff(head.mm_time, now) >= 0:
                self.armed_at = head.mm_time
                return
            if self.keep_late and len(queue) == 1:
                self.armed_at = now
                return
            self._pop().dropped = True
            self.dropped += 1
            self.dropped_on_playback += 1
        self.armed_at = None

    def drop_oldest(self) -> int:
        """Drop the head frame (counted); returns the bytes it held.  The next
        frame is armed by the next ``due`` (its timer: ``next_time``)."""
        frame = self._pop()
        frame.dropped = True
        self.armed_at = None
        self.dropped += 1
        return frame.nbytes

    def due(self, now: int) -> list[_Frame]:
        """Frames to show now, oldest first: the armed frame once its time
        has come (even if ``now`` is past it: its timer fired late), then
        each frame armed after it that is due by ``now``."""
        if self.armed_at is None:
            self._schedule(now)
        out = []
        while self.armed_at is not None and mm_diff(self.armed_at, now) <= 0:
            out.append(self._pop())
            self._schedule(now)
        return out

    def reschedule(self, now: int) -> None:
        """After an mm-time reset: the armed timer is dropped and the queue
        scheduled again at ``now`` (``mjpeg_decoder_reschedule``,
        ``spice_gst_decoder_reschedule``)."""
        self._schedule(now)

    def next_time(self) -> int | None:
        """When the next frame is due (its timer), None with nothing queued."""
        if self.armed_at is not None:
            return self.armed_at
        return self.queue[0].mm_time if self.queue else None


@dataclass(slots=True)
class Stream:
    """One video stream's state and statistics."""

    stream_id: int
    surface_id: int
    flags: int
    codec: int
    stream_width: int
    stream_height: int
    src_width: int
    src_height: int
    dest: Rect
    clip: Clip
    scheduler: FrameScheduler = field(default_factory=FrameScheduler)
    frames_received: int = 0
    frames_shown: int = 0
    decode_errors: int = 0
    bytes_received: int = 0
    report_active: bool = False
    report_unique_id: int = 0
    report_max_window: int = 0
    report_timeout: int = 0
    report_frames: int = 0
    report_drops: int = 0
    report_drop_seq: int = 0
    report_start_mm: int = 0
    report_start_now: int = 0
    #: the stateful decoder of a VP8/H.264 stream (``canvas.video``)
    decoder: VideoDecoder | None = None
    #: the thread running ``decoder`` (threaded managers): the decoder is its own
    worker: DecodeWorker | None = None
    #: VP8/H.264 frames received, not yet through the decoder (arrival order)
    pending: deque[_Frame] = field(default_factory=deque)
    pending_bytes: int = 0
    #: frames ``run`` chose to show, waiting (threaded) for the worker to
    #: finish their decode, in order
    ready: deque[_Frame] = field(default_factory=deque)
    #: the undecoded chain up to the last ``ready`` frame, older than
    #: ``pending`` and no longer counted in ``pending_bytes``: as the
    #: synchronous path, which has decoded it by then, counts it
    committed: deque[_Frame] = field(default_factory=deque)

    @property
    def frames_dropped(self) -> int:
        return self.scheduler.dropped


def _waker(manager: weakref.ref[StreamManager]) -> Callable[[], None]:
    """A worker's wake-up: the manager's ``wakeup`` at call time (weakly: the
    worker thread must not keep the manager, whose finalizer stops it)."""

    def wake() -> None:
        m = manager()
        wakeup = None if m is None else m.wakeup
        if wakeup is not None:
            wakeup()

    return wake


def _stop_workers(workers: list[DecodeWorker]) -> None:
    for worker in workers:
        worker.stop()
    workers.clear()


class StreamManager:
    """The streams of one display channel, drawing into its canvas.

    ``threaded`` (default ``VIDEO_THREADS``): each VP8/H.264 stream decodes
    on a ``DecodeWorker`` thread, fed every payload on arrival; the frames
    are collected in order where the synchronous path decodes them, so the
    same frames are shown with the same pixels.  A stream's worker stops
    with the stream (destroyed, replaced, or gone from ``streams``: checked
    at each create) or with the manager.
    """

    def __init__(self, canvas: Canvas, threaded: bool | None = None) -> None:
        self.canvas = canvas
        self.threaded = VIDEO_THREADS if threaded is None else threaded
        #: the mm time of the last ``run`` or timed ``data``
        self._now = 0
        #: called from a worker thread once a frame ``run`` chose is decoded:
        #: the owner then calls ``run`` soon on its own thread (the session
        #: core's ``video_wakeup``); None: ``next_deadline`` polls each 1 ms
        self.wakeup: Callable[[], None] | None = None
        #: the workers of streams still here (stopped once garbage)
        self._workers: list[DecodeWorker] = []
        weakref.finalize(self, _stop_workers, self._workers)
        self.streams: dict[int, Stream] = {}
        self.reports: list[StreamReport] = []
        #: every stream ever created (kept after destroy, for inspect/stats)
        self.history: list[Stream] = []
        #: time spent decoding frames (benchmarks)
        self.decode_seconds = 0.0
        #: (surface_id, dest) of every frame shown, for the session's change list
        self.shown: deque[tuple[int, Rect]] = deque(maxlen=MAX_SHOWN_RECTS)
        #: frames dropped because the queues outgrew ``Limits.video_queue``
        self.over_budget = 0
        #: weak references to the managers of the session (this one's set in
        #: _SESSION_MANAGERS, kept at hand); a manager that dies leaves it
        self._peers = _SESSION_MANAGERS.setdefault(canvas.shared, set())
        self._peers.add(weakref.ref(self, self._peers.discard))

    def _look_ahead(self) -> LookAhead:
        """The session's one count of pictures its workers decoded ahead."""
        shared = self.canvas.shared
        ahead = _SESSION_LOOK_AHEAD.get(shared)
        if ahead is None:
            ahead = _SESSION_LOOK_AHEAD[shared] = LookAhead(shared.limits.video_queue)
        return ahead

    def _session_streams(self) -> list[tuple[StreamManager, Stream]]:
        """Every stream of every display channel of the session (the canvases
        sharing this one's ``SharedState``), with its manager."""
        # copied in one C call: a collection cannot change it meanwhile (a
        # WeakSet, iterated through its guard, cost ~10x more a frame)
        managers = [m for ref in tuple(self._peers) if (m := ref()) is not None]
        return [(m, st) for m in managers for st in m.streams.values()]

    def _held_bytes(self, pending: bool) -> int:
        """Bytes the queues of the session's streams hold (``pending``: and
        their undecoded chains): the budget checks' test, made for every
        frame, so summed in place (``_session_streams`` builds lists)."""
        total = 0
        for ref in tuple(self._peers):
            manager = ref()
            if manager is not None:
                for st in manager.streams.values():
                    total += st.scheduler.bytes
                    if pending:
                        total += st.pending_bytes
        return total

    def _get(self, stream_id: int) -> Stream:
        try:
            return self.streams[stream_id]
        except KeyError:
            raise CanvasError(f"unknown stream {stream_id}") from None

    def create(
        self,
        stream_id: int,
        surface_id: int,
        flags: int,
        codec: int,
        stream_width: int,
        stream_height: int,
        src_width: int,
        src_height: int,
        dest: Rect,
        clip: Clip = CLIP_NONE,
    ) -> Stream:
        """STREAM_CREATE. Raises CanvasError for a bad id, surface or size."""
        if not 0 <= stream_id < MAX_STREAMS:
            raise CanvasError(f"stream id {stream_id} out of range")
        self.canvas.surface(surface_id)
        for size in (stream_width, stream_height, src_width, src_height):
            if not 0 <= size <= MAX_SURFACE_DIMENSION:
                raise CanvasError(f"bad stream size {size}")
        if stream_id in self.streams:
            log.info("stream %d re-created", stream_id)
            self._end(self.streams.pop(stream_id))
        self._reap()
        stream = Stream(
            stream_id,
            surface_id,
            flags,
            codec,
            stream_width,
            stream_height,
            src_width,
            src_height,
            dest,
            clip,
        )
        self.streams[stream_id] = stream
        self.history.append(stream)
        if codec in VIDEO_CODECS:
            stream.decoder = VideoDecoder(codec, stream_width, stream_height)
            if self.threaded:
                stream.worker = DecodeWorker(
                    stream.decoder, self._look_ahead(), _waker(weakref.ref(self))
                )
                self._workers.append(stream.worker)
            # spice-gtk's GStreamer path: late frames go on to be scheduled
            stream.scheduler = FrameScheduler(keep_late=True)
        elif codec != VideoCodecType.MJPEG:
            # spice-gtk report_invalid_stream: zero frames, UINT_MAX drops, the
            # rest zeroed; the server then stops streaming that area
            self.reports.append(StreamReport(stream_id, 0, 0, 0, 0, 0xFFFFFFFF, 0, 0))
        return stream

    def clip(self, stream_id: int, clip: Clip) -> None:
        """STREAM_CLIP."""
        self._get(stream_id).clip = clip

    def destroy(self, stream_id: int) -> None:
        """STREAM_DESTROY (see ``_end``)."""
        self._end(self._get(stream_id))
        del self.streams[stream_id]

    def destroy_all(self) -> None:
        for s in self.streams.values():
            self._end(s)
        self.streams.clear()
        _stop_workers(self._workers)

    def _end(self, s: Stream) -> None:
        """The end of ``s``: frames ``run`` chose and has not drawn yet (the
        worker still at their chain, or its wake-up not handled yet) are
        dropped, counted, as spice-gtk frees the frames still in its GStreamer
        pipeline: the loop never waits for a decode, and a frame is never
        drawn over what the server sent after it (spice-server draws the
        stream's area afresh before STREAM_DESTROY); the worker stops at once
        (a decode under way ends unobserved).  A synchronous stream has drawn
        every chosen frame in its ``run``."""
        if s.ready:
            for item in s.ready:
                item.dropped = True
            s.scheduler.dropped += len(s.ready)
            s.ready.clear()
        if s.worker is not None:
            s.worker.stop()
            self._workers.remove(s.worker)

    def _reap(self) -> None:
        """Stop the workers of streams removed from ``streams`` directly (the
        display driver drops those of a destroyed surface)."""
        live = {id(s.worker) for s in self.streams.values()}
        for worker in [w for w in self._workers if id(w) not in live]:
            worker.stop()
            self._workers.remove(worker)

    def activate_report(
        self, stream_id: int, unique_id: int, max_window_size: int, timeout_ms: int
    ) -> None:
        """STREAM_ACTIVATE_REPORT: start collecting STREAM_REPORT windows."""
        s = self._get(stream_id)
        s.report_active = True
        s.report_unique_id = unique_id
        s.report_max_window = max_window_size
        s.report_timeout = timeout_ms
        s.report_frames = s.report_drops = s.report_drop_seq = 0

    def data(
        self,
        stream_id: int,
        mm_time: int,
        frame: bytes | memoryview,
        now: int | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        dest: Rect | None = None,
    ) -> None:
        """STREAM_DATA (or DATA_SIZED with width/height/dest).

        ``now`` is the session mm time; None shows the frame immediately.
        """
        s = self.streams.get(stream_id)
        if s is None:
            raise CanvasError(f"unknown stream {stream_id}")
        size = len(frame)
        s.frames_received += 1
        s.bytes_received += size
        if width is not None and height is not None and dest is not None:
            s.stream_width, s.stream_height, s.dest = width, height, dest
        if mm_time == 0 and now is not None:
            mm_time = (now + 100) & 0xFFFFFFFF  # spice-gtk's workaround for a 0 stamp
        if now is not None and s.decoder is None:
            # MJPEG on the clock (the common case): what is dropped on arrival
            # is decided before any frame object or payload copy is made
            margin = mm_diff(mm_time, now)
            if s.report_active:
                self._report(s, mm_time, margin, now)
            self._now = now
            scheduler = s.scheduler
            if not scheduler.admit(mm_time, margin < 0):
                return
            # a queued payload gets its own bytes: a view would pin the whole
            # received chunk, which the budgets (len(frame)) do not count
            if not isinstance(frame, bytes):
                frame = bytes(frame)
            item = _Frame(
                mm_time, frame, s.stream_width, s.stream_height, s.dest, None, size
            )
            scheduler.enqueue(item, now)
            self._within_budget()
            return  # shown by ``run`` (the session's timer), even when due now
        if s.decoder is not None and not isinstance(frame, bytes):
            frame = bytes(frame)  # a kept payload gets its own bytes (as above)
        item = _Frame(mm_time, frame, s.stream_width, s.stream_height, s.dest)
        if s.decoder is not None:
            # every VP8/H.264 frame goes through the decoder, shown or dropped,
            # when a frame is shown or the chain is full
            check_frame_size(frame)
            item.pending = True
            s.pending.append(item)
            s.pending_bytes += len(frame)
            if s.worker is not None:
                s.worker.submit(item)
        margin = 0 if now is None else mm_diff(mm_time, now)
        self._report(s, mm_time, margin, now if now is not None else mm_time)
        if now is None:
            self._show_ready(s, wait=True)  # frames chosen before this one
            self._show(s, item)
            return
        self._now = now
        item.nbytes = len(frame)
        if s.scheduler.push(item, now):  # (VP8/H.264: always; late ones too)
            self._within_budget()
        self._bound_pending(s)
        # shown by ``run`` (the session's timer at ``next_deadline``), even
        # when due now: spice-gtk arms a timer for it as well

    def _bound_pending(self, s: Stream) -> None:
        """Decode the oldest pending frames of ``s`` past MAX_PENDING_FRAMES,
        then of the session's streams holding the most pending bytes while
        those and the queues together outgrow ``Limits.video_queue``."""
        while len(s.pending) > MAX_PENDING_FRAMES:
            self._decode_oldest(s)
        budget = self.canvas.shared.limits.video_queue
        if self._held_bytes(pending=True) <= budget:  # (nearly always)
            return
        while True:
            streams = self._session_streams()
            held = sum(st.pending_bytes + st.scheduler.bytes for _, st in streams)
            owner, fullest = max(streams, key=lambda pair: pair[1].pending_bytes)
            if held <= budget or not fullest.pending:
                return
            owner._decode_oldest(fullest)

    def _decode_oldest(self, s: Stream) -> None:
        """The oldest pending frame of ``s`` through its decoder; a frame still
        queued keeps its picture (counted in the queue's bytes)."""
        item = s.pending.popleft()
        s.pending_bytes -= len(item.data)
        self._collect(s, item)

    def _decode_chain(self, s: Stream, item: _Frame, wait: bool = True) -> bool:
        """Collect the chain up to ``item`` (``committed`` first); unless
        ``wait``, False at the first frame the worker has not decoded yet."""
        check = not wait and s.worker is not None
        committed = s.committed
        while item.pending:
            if committed:
                if check and committed[0].done is None:
                    return False
                head = committed.popleft()
                head.committed = False
                self._collect(s, head)
            else:
                if check and s.pending[0].done is None:
                    return False
                self._decode_oldest(s)
        return True

    def _collect(self, s: Stream, item: _Frame) -> None:
        """``item`` through the decoder (or its worker's result).  A frame
        that does not decode is counted in ``decode_errors`` and left without
        a picture (never shown); the frames after it go on through the
        decoder, as GStreamer's video decoder drops a corrupt buffer and
        decodes the next (so no error depends on when it is met: the worker's
        comes out where the synchronous decode's would)."""
        assert s.decoder is not None
        item.pending = False
        try:
            if s.worker is not None:
                item.picture, seconds = s.worker.collect(item)
                self.decode_seconds += seconds
            else:
                started = time.perf_counter()
                try:
                    item.picture = s.decoder.decode_picture(item.data)
                finally:
                    self.decode_seconds += time.perf_counter() - started
        except CanvasError as exc:
            self._frame_error(s, exc)
            return
        if item.picture is not None and item.queued:
            extra = picture_bytes(item.picture)
            item.nbytes += extra
            s.scheduler.bytes += extra
            self._within_budget()

    def _within_budget(self) -> None:
        """Drop the oldest frames of the fullest queues until the queues of
        every stream of the session together fit ``Limits.video_queue`` (the
        server's frames may be dropped: they are counted as such, in this
        manager's ``over_budget``, and reported)."""
        budget = self.canvas.shared.limits.video_queue
        total = self._held_bytes(pending=False)
        if total <= budget:  # (nearly always)
            return
        streams = [st for _, st in self._session_streams()]
        while total > budget:
            fullest = max(streams, key=lambda st: st.scheduler.bytes)
            total -= fullest.scheduler.drop_oldest()
            if not self.over_budget:
                log.warning(
                    "video frames over the %d-byte budget: dropping the oldest",
                    budget,
                )
            self.over_budget += 1

    def run(self, now: int) -> None:
        """Show the queued frames whose time has come (a bad frame is logged and
        counted in ``decode_errors``: no message is left to blame).  A frame
        whose decode the stream's worker has not finished waits in its
        ``ready`` queue: the worker calls ``wakeup`` once it is done (without
        one, ``next_deadline`` asks for another run in 1 ms)."""
        self._now = now
        for s in list(self.streams.values()):
            due = s.scheduler.due(now)
            worker = s.worker
            for item in due:
                if worker is not None and item.pending:
                    if not item.committed:
                        self._commit(s, item)
                    worker.want(item)
            s.ready.extend(due)
            if s.ready:
                self._show_ready(s, wait=False)

    @staticmethod
    def _commit(s: Stream, item: _Frame) -> None:
        """Move the pending chain up to ``item`` to ``committed``."""
        while True:
            head = s.pending.popleft()
            s.pending_bytes -= len(head.data)
            head.committed = True
            s.committed.append(head)
            if head is item:
                return

    def _show_ready(self, s: Stream, wait: bool) -> None:
        """Show the frames ``run`` chose for ``s``, in order; unless ``wait``,
        only while their decodes are done (collecting each one finished)."""
        ready = s.ready
        while ready:
            item = ready[0]
            if not wait and not self._decode_chain(s, item, wait=False):
                return  # the worker is at its chain still
            ready.popleft()
            try:
                self._show(s, item)
            except CanvasError as exc:
                self._frame_error(s, exc)

    def finish(self) -> None:
        """Show every frame ``run`` chose, waiting for their decodes."""
        for s in list(self.streams.values()):
            self._show_ready(s, wait=True)

    @staticmethod
    def _frame_error(s: Stream, exc: CanvasError) -> None:
        s.decode_errors += 1
        log.log(  # once a stream; the rest are counted
            logging.WARNING if s.decode_errors == 1 else logging.DEBUG,
            "stream %d: frame not decoded or shown: %s",
            s.stream_id,
            exc,
        )

    def reschedule(self, now: int) -> None:
        """The session's mm time jumped: drop queued frames that are now past."""
        for s in self.streams.values():
            s.scheduler.reschedule(now)

    @property
    def queued_frames(self) -> int:
        """Frames waiting for their time or decode (pending display activity)."""
        return sum(len(s.scheduler.queue) + len(s.ready) for s in self.streams.values())

    def next_deadline(self, now: int | None = None) -> int | None:
        """The earliest mm time a queued frame waits for (for the timer);
        with ``now``, the one nearest after it across the u32 wrap.  A frame
        chosen and decoded since is due at once (the last run's time); one
        still decoding waits for ``wakeup`` or, with none, asks for a run 1 ms
        after the last one (the loop looks again)."""
        # (the session asks after every read: a loop, no lists or lambdas)
        best: int | None = None
        best_key = 0
        polled = self.wakeup is None
        redo = False  # a chosen frame waits: due at once
        for s in self.streams.values():
            t = s.scheduler.next_time()
            if t is not None:
                key = t if now is None else mm_diff(t, now)
                if best is None or key < best_key:
                    best, best_key = t, key
            if s.ready and (polled or s.ready[0].done is not None):
                redo = True
        if redo:
            t = (self._now + polled) & 0xFFFFFFFF
            if best is None or (t if now is None else mm_diff(t, now)) < best_key:
                best = t
        return best

    def _show(self, s: Stream, item: _Frame) -> None:
        # the stream's clip now (a frame drawn after its run, once decoded,
        # must not cover what a STREAM_CLIP since has taken away)
        clip = s.clip
        if s.decoder is not None:
            self._decode_chain(s, item)  # the chain up to this frame
            if item.picture is None:  # no picture completed, or an error
                return
            if _hidden(clip, item.dest):
                self._shown(s, item)
                return
            started = time.perf_counter()
            pixels = s.decoder.to_pixels(item.picture)
            self.decode_seconds += time.perf_counter() - started
        elif s.codec != VideoCodecType.MJPEG:
            log.info("stream %d: codec %d not decoded", s.stream_id, s.codec)
            return
        elif _hidden(clip, item.dest):  # MJPEG frames stand alone: not decoded
            self._shown(s, item)
            return
        else:
            started = time.perf_counter()
            pixels = decode_mjpeg(item.data)
            self.decode_seconds += time.perf_counter() - started
        if not s.flags & StreamFlags.TOP_DOWN:
            pixels = pixels[::-1]
        self.canvas.put_image(s.surface_id, item.dest, pixels, clip)
        self._shown(s, item)

    def _shown(self, s: Stream, item: _Frame) -> None:
        s.frames_shown += 1
        self.shown.append((s.surface_id, item.dest))

    def _report(self, s: Stream, mm_time: int, margin: int, now: int) -> None:
        if not s.report_active:
            return
        if s.report_frames == 0:
            s.report_start_mm = mm_time
            s.report_start_now = now
        s.report_frames += 1
        if margin < 0:
            s.report_drops += 1
            s.report_drop_seq += 1
        else:
            s.report_drop_seq = 0
        if (  # (the clock's test last: most frames end at the first two)
            s.report_frames >= s.report_max_window
            or s.report_drop_seq >= DROP_SEQ_LIMIT
            or mm_diff(now, s.report_start_now) >= s.report_timeout
        ):
            self.reports.append(
                make_report(
                    s.stream_id,
                    s.report_unique_id,
                    s.report_start_mm,
                    mm_time,
                    s.report_frames,
                    s.report_drops,
                    margin,
                )
            )
            s.report_frames = s.report_drops = s.report_drop_seq = 0

    def take_reports(self) -> list[StreamReport]:
        """STREAM_REPORT bodies ready to send (and forget them)."""
        out, self.reports = self.reports, []
        return out
