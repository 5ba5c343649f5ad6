"""VP8 and H.264 stream frames to pixels, through PyAV (FFmpeg's decoders).

Theory of operation: unlike MJPEG (``streams.decode_mjpeg``, one self-contained
JPEG a message), VP8 and H.264 frames depend on the frames before them, so each
stream gets its own ``VideoDecoder`` that lives from STREAM_CREATE to
STREAM_DESTROY.  A STREAM_DATA payload is one VP8 frame, or one H.264 access
unit in Annex-B byte-stream form (spice-server's GStreamer encoders); it goes to
the decoder as one packet and comes out as (h, w, 4) BGRX, the shape
``decode_mjpeg`` returns, top-down as the encoder saw it.  FFmpeg decodes with
slice threads only, so every packet that completes a picture yields it at once
(frame threads would hold pictures back); a packet that yields no picture
returns None.  Below ``THREADED_PIXELS`` a stream is decoded and converted on
the caller's thread alone: a hand-off to FFmpeg's workers costs a wake-up per
picture (VP8 splits every picture into rows for them), more than a small
picture's whole decode when the cores are busy.

PyAV is imported by the first look inside ``VIDEO_CODECS``, not at import: it
costs ~25 MB of RSS and ~0.1 s, which offline tools and MJPEG-only uses never
need.  A live session asks (``video_display_caps``) when it opens a display
channel, before that channel links, so the caps advertise CODEC_VP8 / CODEC_H264
only for decoders FFmpeg has, and the import is not paid inside the display's
data phase (lazily at the first STREAM_CREATE it cost ~90 ms of the measured
window: video-vp8 114 ms against 22 ms, bench_session same run).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Set
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from spicepy.canvas.surface import MAX_SURFACE_DIMENSION
from spicepy.errors import CanvasError
from spicepy.wire.enums import DisplayCap, VideoCodecType

__all__ = [
    "DECODE_AHEAD_FRAMES",
    "THREADED_PIXELS",
    "VIDEO_CODECS",
    "DecodeJob",
    "DecodeWorker",
    "LookAhead",
    "VideoDecoder",
    "check_frame_size",
    "picture_bytes",
    "padded_packet",
    "video_display_caps",
]

log = logging.getLogger(__name__)
Pixels = npt.NDArray[np.uint8]

#: VideoCodecType -> FFmpeg decoder name
_FFMPEG = {VideoCodecType.VP8: "vp8", VideoCodecType.H264: "h264"}
#: an encoded frame larger than this is refused before decoding (a 4K intra
#: frame at high quality stays far below it)
MAX_VIDEO_FRAME = 32 * 1024 * 1024
#: streams and pictures of at least this many pixels use FFmpeg's threads
#: (automatic count); smaller ones one thread (see the module docstring)
THREADED_PIXELS = 1280 * 720
#: frames a ``DecodeWorker`` decodes beyond the last one its caller asked for:
#: enough for pictures to be ready when due in a steady stream (4 frames: 130
#: ms of 30 fps), few enough that a burst of frames the caller never shows
#: (a stream destroyed first, frames dropped as late) is not decoded for nothing
DECODE_AHEAD_FRAMES = 4


def _available() -> frozenset[int]:
    try:
        import av
    except ImportError:
        return frozenset()
    found = set()
    for codec, name in _FFMPEG.items():
        try:
            av.codec.Codec(name, "r")
        except Exception:  # PyAV raises its own UnknownCodecError (a ValueError)
            continue
        found.add(int(codec))
    return frozenset(found)


class _DecodableCodecs(Set[int]):
    """The VideoCodecType values FFmpeg decodes here, probed (PyAV imported) on
    the first question about VP8 or H.264; any other codec is answered ``not
    in`` without the probe, so MJPEG streams never import PyAV."""

    _found: frozenset[int] | None = None

    def _probe(self) -> frozenset[int]:
        if self._found is None:
            self._found = _available()
        return self._found

    def __contains__(self, codec: object) -> bool:
        return codec in _FFMPEG and codec in self._probe()

    def __iter__(self) -> Iterator[int]:
        return iter(self._probe())

    def __len__(self) -> int:
        return len(self._probe())

    def __repr__(self) -> str:
        return f"VIDEO_CODECS({set(self._probe())})"


#: VideoCodecType values we can decode here (MJPEG is always there, not listed)
VIDEO_CODECS: Set[int] = _DecodableCodecs()


def video_display_caps() -> frozenset[int]:
    """Display caps to advertise for streams: MULTI_CODEC + CODEC_MJPEG, and
    CODEC_VP8 / CODEC_H264 for the decoders FFmpeg has (imports PyAV when it
    is installed: see the module docstring)."""
    caps = {DisplayCap.MULTI_CODEC, DisplayCap.CODEC_MJPEG}
    if importlib.util.find_spec("av") is not None:
        if VideoCodecType.VP8 in VIDEO_CODECS:
            caps.add(DisplayCap.CODEC_VP8)
        if VideoCodecType.H264 in VIDEO_CODECS:
            caps.add(DisplayCap.CODEC_H264)
    return frozenset(caps)


class VideoDecoder:
    """One stream's decoder state.

    Args:
        codec: VideoCodecType.VP8 or H264.
        width, height: the stream's size from STREAM_CREATE (0: unknown),
            which chooses single- or multi-threaded decoding.

    Raises:
        CanvasError: a codec this machine cannot decode.
    """

    def __init__(self, codec: int, width: int = 0, height: int = 0) -> None:
        if codec not in VIDEO_CODECS:
            raise CanvasError(f"no decoder for video codec {codec}")
        import av
        from av.video.reformatter import VideoReformatter

        self.codec = codec
        self._av: Any = av
        self._ctx: Any = av.CodecContext.create(_FFMPEG[VideoCodecType(codec)], "r")
        # frame threading would hold each picture back by a frame per thread;
        # slice threads (PyAV's default) give it back with its own packet
        self._ctx.thread_type = "SLICE"
        self._ctx.thread_count = _threads(width * height)
        # one converter for the stream: a picture's own (``to_ndarray``) builds
        # a fresh swscale context per frame, ~10x the cost of the conversion
        self._reformatter: Any = VideoReformatter()
        self.frames_decoded = 0

    def decode(self, frame: bytes | memoryview) -> Pixels | None:
        """One STREAM_DATA payload; the picture it completes as (h, w, 4) BGRX.

        Raises:
            CanvasError: corrupt data, or a picture beyond the surface limits.
        """
        picture = self.decode_picture(frame)
        return None if picture is None else self.to_pixels(picture)

    def decode_picture(self, frame: bytes | memoryview) -> Any:
        """One STREAM_DATA payload through the decoder; the picture it completes
        still in FFmpeg's own format (an ``av.VideoFrame``), or None. Convert it
        with ``to_pixels`` only if it is shown.

        Raises:
            CanvasError: corrupt data, or a picture beyond the surface limits.
        """
        check_frame_size(frame)
        try:
            pictures = self._ctx.decode(padded_packet(frame))
        except (self._av.error.FFmpegError, ValueError) as exc:
            name = VideoCodecType(self.codec).name
            raise CanvasError(f"bad {name} frame: {exc}") from exc
        if not pictures:
            return None
        picture = pictures[-1]
        if not (
            0 < picture.width <= MAX_SURFACE_DIMENSION
            and 0 < picture.height <= MAX_SURFACE_DIMENSION
        ):
            raise CanvasError(f"video picture of {picture.width}x{picture.height}")
        self.frames_decoded += len(pictures)
        return picture

    def to_pixels(self, picture: Any) -> Pixels:
        """A picture from ``decode_picture`` as (h, w, 4) BGRX."""
        threads = _threads(picture.width * picture.height)
        bgra = self._reformatter.reformat(picture, format="bgra", threads=threads)
        return np.ascontiguousarray(bgra.to_ndarray(), dtype=np.uint8)

    def decode_planes(self, frame: bytes) -> list[tuple[str, bytes]]:
        """The pictures a payload completes, undecorated: (pixel format, the raw
        planes as FFmpeg lays them out), for byte-for-byte comparisons with
        other FFmpeg builds (no colour conversion involved)."""
        try:
            pictures = self._ctx.decode(padded_packet(frame))
        except (self._av.error.FFmpegError, ValueError) as exc:
            raise CanvasError(f"bad video frame: {exc}") from exc
        out = []
        for p in pictures:
            planes = b"".join(
                bytes(plane)[: plane.line_size * plane.height]
                if plane.line_size == plane.width
                else _unpad(plane)
                for plane in p.planes
            )
            out.append((str(p.format.name), planes))
        return out


def check_frame_size(frame: bytes | memoryview) -> None:
    """Refuse an empty payload or one over MAX_VIDEO_FRAME (CanvasError)."""
    if not frame or len(frame) > MAX_VIDEO_FRAME:
        raise CanvasError(f"video frame of {len(frame)} bytes")


def _threads(pixels: int) -> int:
    """FFmpeg's thread count for pictures of ``pixels``: 1, or 0 (automatic)."""
    return 0 if pixels >= THREADED_PIXELS else 1


def padded_packet(frame: bytes | memoryview) -> Any:
    """An ``av.Packet`` holding a copy of ``frame`` followed by FFmpeg's zeroed
    input padding (AV_INPUT_BUFFER_PADDING_SIZE).

    FFmpeg's bitstream readers may read that many bytes past a packet's end
    (and rely on zeros there to stop): ``av.Packet(bytes)`` references the
    bytes object as it is, without padding, so hostile VP8/H.264 data could
    make the decoder read past it.  ``av.Packet(n)`` allocates with
    ``av_new_packet`` (padded, zeroed); the frame is copied in.
    """
    import av

    packet = av.Packet(len(frame))
    packet.update(frame)  # type: ignore[arg-type]  # any buffer (PyAV's stub: bytes)
    return packet


def _unpad(plane: Any) -> bytes:
    """A plane's rows without FFmpeg's alignment padding."""
    rows = np.frombuffer(bytes(plane), np.uint8).reshape(-1, plane.line_size)
    return rows[: plane.height, : plane.width].tobytes()


class DecodeJob(Protocol):
    """A payload for a ``DecodeWorker`` (``streams._Frame``)."""

    data: bytes | memoryview
    #: set by the caller when the picture will never be shown
    dropped: bool
    #: set by the worker: (picture or None, error or None, seconds, bytes held)
    done: tuple[Any, BaseException | None, float, int] | None
    #: set by ``submit``: the job's place in the worker's arrival order
    seq: int
    #: set by ``want``: the worker calls its ``wakeup`` once this one is done
    wake: bool


class LookAhead:
    """The pictures that every ``DecodeWorker`` of one session holds decoded
    and not yet collected: one count and one lock for them all, so that
    together they stay within ``cap`` (``Limits.video_queue``) however many
    streams there are.  Each worker checks it before a decode, so the count
    may pass ``cap`` by at most one picture per worker; only the decodes the
    caller waits for or will show (``DecodeWorker.want``) go on past it,
    bounded by the caller's own chains."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.held = 0
        #: the workers' one lock: a collect anywhere wakes them all
        self.cond = threading.Condition()


class DecodeWorker:
    """One stream's ``VideoDecoder`` run on a daemon thread of its own.

    As spice-gtk's GStreamer pipeline decodes on its own streaming threads,
    the loop thread only ``submit``s payloads in arrival order and later
    ``collect``s each one's result in that same order, at the very points the
    synchronous path would have decoded it: what is shown, and every budget
    count, is the same; only the decoding moved (FFmpeg's send/receive run
    without the GIL).  The decoder is the worker's alone once it has one.

    Bounded: the stream's pending chain bounds the payloads (the caller counts
    them); the worker decodes at most ``frames_ahead`` jobs past the last one
    its caller asked for (``want``/``collect``), pictures decoded ahead and not
    collected count in the session's ``LookAhead`` (past its cap the worker
    waits for a ``collect``), and a frame already ``dropped`` does not keep
    its picture.  A job the caller
    waits for in ``collect`` or will show (``want``) is decoded past the cap,
    with the jobs before it (bounded by the caller's pending chain).  A job
    ``want``ed calls ``wakeup`` from the worker's thread once done: the
    caller's loop looks then, not by polling.  ``stop`` forgets the queued
    payloads and lets a decode under way finish unobserved (daemon thread:
    nothing waits for it).  A decode error is kept with its frame and raised
    by ``collect`` on the caller's thread.
    """

    def __init__(
        self,
        decoder: VideoDecoder,
        ahead: LookAhead,
        wakeup: Callable[[], None] | None = None,
        frames_ahead: int = DECODE_AHEAD_FRAMES,
    ) -> None:
        self.decoder = decoder
        self._frames_ahead = frames_ahead
        self._ahead = ahead
        self._cond = ahead.cond
        self._wakeup = wakeup
        self._todo: deque[DecodeJob] = deque()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._submitted = 0
        #: jobs up to this ``seq`` are decoded past the look-ahead cap
        self._wanted = -1
        #: this worker's share of ``ahead.held`` (given back by ``stop``)
        self._held = 0

    def submit(self, job: DecodeJob) -> None:
        """Queue ``job`` behind those submitted before (starts the thread)."""
        with self._cond:
            if self._stopped:
                raise CanvasError("video decoder stopped")
            job.seq = self._submitted
            self._submitted += 1
            self._todo.append(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="spicepy-video", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def want(self, job: DecodeJob) -> bool:
        """The caller will show ``job``: decode up to it past the caps (and
        ``frames_ahead`` beyond it) and call ``wakeup`` once it is done; True
        when it is done already."""
        with self._cond:
            if job.seq > self._wanted:  # (the look-ahead goes on from it)
                self._wanted = job.seq
                self._cond.notify_all()
            if job.done is not None:
                return True
            job.wake = True
            return False

    def collect(self, job: DecodeJob) -> tuple[Any, float]:
        """Wait for ``job`` (any not collected yet); its picture (None: the
        packet completed none) and decode seconds.

        Raises:
            CanvasError: the decode's own error, or the worker stopped first.
        """
        with self._cond:
            if job.seq > self._wanted:
                self._wanted = job.seq
                self._cond.notify_all()
            while job.done is None:
                if self._stopped:
                    raise CanvasError("video decoder stopped")
                self._cond.wait()
            picture, error, seconds, held = job.done
            if held and not self._stopped:
                self._held -= held
                self._ahead.held -= held
                self._cond.notify_all()
        if error is not None:
            raise error
        return picture, seconds

    def stop(self) -> None:
        """Forget the queued payloads; the thread ends after its current one.
        What it holds decoded goes back to the session's ``LookAhead``."""
        with self._cond:
            self._stopped = True
            self._todo.clear()
            self._ahead.held -= self._held
            self._held = 0
            self._cond.notify_all()

    @property
    def alive(self) -> bool:
        """The thread is running (started and not yet ended)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _run(self) -> None:
        cond, ahead, todo = self._cond, self._ahead, self._todo
        while True:
            with cond:
                while not self._stopped and (
                    not todo
                    or todo[0].seq > self._wanted
                    and (
                        ahead.held > ahead.cap
                        or todo[0].seq > self._wanted + self._frames_ahead
                    )
                ):
                    cond.wait()
                if self._stopped:
                    return
                job = todo.popleft()
            started = time.perf_counter()
            picture: Any = None
            error: BaseException | None = None
            try:
                picture = self.decoder.decode_picture(job.data)
            except BaseException as exc:  # raised on the caller's thread
                error = exc
            seconds = time.perf_counter() - started
            with cond:
                if job.dropped or self._stopped:  # never collected for its picture
                    picture = None
                held = picture_bytes(picture)
                job.done = (picture, error, seconds, held)
                self._held += held
                ahead.held += held
                wake = job.wake and not self._stopped
                cond.notify_all()
            if wake and self._wakeup is not None:
                try:
                    self._wakeup()
                except Exception:  # e.g. the loop closed: nobody to wake
                    log.debug("video wake-up failed", exc_info=True)


def picture_bytes(picture: Any) -> int:
    """Bytes of a decoded ``av.VideoFrame`` (0 for None)."""
    if picture is None:
        return 0
    return sum(int(plane.buffer_size) for plane in picture.planes)
