"""VP8 / H.264 frames are decoded only when a frame is shown (the chain before
it first, in order) and converted only when shown: the stream's shared converter
gives exactly PyAV's own per-picture ``to_ndarray``; a frame dropped as late
waits undecoded and is converted only if shown; the undecoded chain is bounded in
frames and bytes; small streams stay on one thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simplejpeg
from test_video import needs_av, stream_of

from spicepy.canvas import Canvas, SurfaceFormat, streams
from spicepy.canvas.images import SharedState
from spicepy.canvas.streams import Stream, StreamManager
from spicepy.canvas.video import THREADED_PIXELS, Pixels, VideoDecoder
from spicepy.limits import Limits
from spicepy.wire.enums import ClipType, VideoCodecType
from spicepy.wire.types import CLIP_NONE, Clip, Rect


@needs_av
@pytest.mark.parametrize("name", ["video-vp8", "video-h264"])
def test_shared_converter_equals_per_picture_conversion(
    name: str, captures_dir: Path
) -> None:
    path = captures_dir / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"{name} capture missing")
    create, frames = stream_of(path)
    dec = VideoDecoder(create.codec_type)  # type: ignore[attr-defined]
    compared = 0
    for f in frames:
        picture = dec.decode_picture(f)
        if picture is None:
            continue
        own = picture.to_ndarray(format="bgra")
        np.testing.assert_array_equal(dec.to_pixels(picture), own)
        compared += 1
    assert compared == len(frames)


def vp8_stream(
    captures_dir: Path,
    limits: Limits | None = None,
    surface: tuple[int, int] | None = None,
) -> tuple[StreamManager, Stream, list[bytes], Canvas]:
    """A StreamManager on a canvas the size of video-vp8's stream (or
    ``surface``, w x h), its stream 1 created at the top left, and the
    capture's payloads."""
    path = captures_dir / "video-vp8.pcap"
    if not path.exists():
        pytest.skip("video-vp8 capture missing")
    create, frames = stream_of(path)
    w, h = create.stream_width, create.stream_height  # type: ignore[attr-defined]
    canvas = Canvas(SharedState(limits=limits or Limits()))
    sw, sh = surface or (w, h)
    canvas.create_surface(0, sw, sh, SurfaceFormat.FMT_32_xRGB)
    # the synchronous path (whose laziness these tests describe); the threaded
    # one is the same frames and pixels: test_video_thread
    m = StreamManager(canvas, threaded=False)
    whole = Rect(0, 0, h, w)  # top, left, bottom, right
    s = m.create(1, 0, 0, VideoCodecType.VP8, w, h, w, h, whole)
    assert s.decoder is not None
    return m, s, frames, canvas


@needs_av
def test_late_frames_wait_undecoded_and_only_shown_ones_are_converted(
    captures_dir: Path,
) -> None:
    path = captures_dir / "video-vp8.pcap"
    if not path.exists():
        pytest.skip("video-vp8 capture missing")
    create, frames = stream_of(path)
    w, h = create.stream_width, create.stream_height  # type: ignore[attr-defined]
    canvas = Canvas()
    canvas.create_surface(0, w, h, SurfaceFormat.FMT_32_xRGB)
    # the synchronous mode decodes only for a shown frame (a threaded one
    # decodes on arrival: test_video_thread)
    m = StreamManager(canvas, threaded=False)
    whole = Rect(0, 0, h, w)  # top, left, bottom, right
    codec = create.codec_type  # type: ignore[attr-defined]
    s = m.create(1, 0, 0, codec, w, h, w, h, whole)
    assert s.decoder is not None
    converted: list[object] = []
    to_pixels = s.decoder.to_pixels

    def counted(picture: Any) -> Pixels:
        converted.append(picture)
        return to_pixels(picture)

    s.decoder.to_pixels = counted  # type: ignore[method-assign]
    late, last = frames[:-1], frames[-1]
    for f in late:  # stamped 1000 ms before now: queued (spice-gtk's GStreamer
        m.data(1, 1000, f, now=2000)  # path keeps late frames), none shown yet
    assert s.decoder.frames_decoded == 0 and converted == []
    assert len(s.pending) == len(late) and s.pending_bytes == sum(map(len, late))
    assert s.frames_dropped == 0 and s.frames_shown == 0
    assert s.scheduler.late_on_arrival == len(late)
    # the first late frame was the last one queued when it came: armed at once
    assert m.next_deadline() == 2000
    m.data(1, 3000, last, now=3000)  # due now: waits for the timer too
    assert s.frames_shown == 0 and s.decoder.frames_decoded == 0
    m.run(3000)  # the armed late frame, then the others dropped, then the last
    assert s.decoder.frames_decoded == len(frames) and not s.pending
    assert len(converted) == 2 and s.frames_shown == 2
    assert s.frames_dropped == len(late) - 1
    # and it is the right picture: the chain of every earlier frame decoded
    ref = VideoDecoder(create.codec_type)  # type: ignore[attr-defined]
    expected = [ref.decode(f) for f in frames][-1]
    assert expected is not None
    np.testing.assert_array_equal(
        canvas.surface(0).pixels[:h, :w, :3], expected[::-1, :, :3]
    )


class _Recording:
    """A reformatter that notes the ``threads`` of each call and delegates."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.threads: list[int] = []

    def reformat(self, picture: Any, **kwargs: Any) -> Any:
        self.threads.append(kwargs["threads"])
        return self.inner.reformat(picture, **kwargs)


@needs_av
@pytest.mark.parametrize("name", ["video-vp8", "video-h264"])
def test_small_streams_stay_on_one_thread(name: str, captures_dir: Path) -> None:
    """The captured streams (320x240, 256x192) are decoded and converted on the
    caller's thread; a stream of THREADED_PIXELS and up gets FFmpeg's threads."""
    path = captures_dir / f"{name}.pcap"
    if not path.exists():
        pytest.skip(f"{name} capture missing")
    create, frames = stream_of(path)
    w, h = create.stream_width, create.stream_height  # type: ignore[attr-defined]
    codec = create.codec_type  # type: ignore[attr-defined]
    assert w * h < THREADED_PIXELS
    dec = VideoDecoder(codec, w, h)
    assert dec._ctx.thread_count == 1
    recording = _Recording(dec._reformatter)
    dec._reformatter = recording
    pictures = [dec.decode(f) for f in frames[:3]]
    assert all(p is not None for p in pictures) and recording.threads == [1, 1, 1]
    assert VideoDecoder(codec, 1280, 720)._ctx.thread_count == 0
    assert VideoDecoder(codec)._ctx.thread_count == 1  # size unknown


def test_stream_create_passes_its_size_to_the_decoder() -> None:
    canvas = Canvas()
    canvas.create_surface(0, 64, 64, SurfaceFormat.FMT_32_xRGB)
    m = StreamManager(canvas)
    for stream_id, (w, h, threads) in enumerate([(64, 48, 1), (1920, 1080, 0)]):
        s = m.create(
            stream_id, 0, 0, VideoCodecType.VP8, w, h, w, h, Rect(0, 0, 48, 64)
        )
        if s.decoder is None:
            pytest.skip("no VP8 decoder")
        assert s.decoder._ctx.thread_count == threads


@needs_av
def test_the_undecoded_chain_is_bounded_in_frames(
    captures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "MAX_PENDING_FRAMES", 4)
    m, s, frames, _ = vp8_stream(captures_dir)
    assert s.decoder is not None
    for n, f in enumerate(frames[:10], 1):
        m.data(1, 1000, f, now=2000)  # late: never shown
        assert len(s.pending) == min(n, 4)
    assert s.decoder.frames_decoded == 6


@needs_av
def test_the_undecoded_chain_counts_against_the_video_budget(
    captures_dir: Path,
) -> None:
    budget = 40_000  # about ten of the capture's first payloads
    m, s, frames, _ = vp8_stream(captures_dir, Limits(video_queue=budget))
    assert s.decoder is not None
    for f in frames[:40]:
        m.data(1, 1000, f, now=2000)
        assert s.pending_bytes + s.scheduler.bytes <= budget
    assert s.decoder.frames_decoded > 0 and s.pending
    # queued frames too: their payload and pending bytes both count
    for n, f in enumerate(frames[40:80]):
        m.data(1, 9000 + n, f, now=2000)
        assert s.pending_bytes + s.scheduler.bytes <= budget


@needs_av
def test_undecoded_chains_of_every_display_channel_share_the_budget(
    captures_dir: Path,
) -> None:
    budget = 40_000  # about ten of the capture's first payloads
    m, s, frames, canvas = vp8_stream(captures_dir, Limits(video_queue=budget))
    other = Canvas(canvas.shared)  # a second display channel of the session
    other.create_surface(
        0,
        canvas.surfaces[0].width,
        canvas.surfaces[0].height,
        SurfaceFormat.FMT_32_xRGB,
    )
    m2 = StreamManager(other)
    w, h = canvas.surfaces[0].width, canvas.surfaces[0].height
    s2 = m2.create(1, 0, 0, VideoCodecType.VP8, w, h, w, h, Rect(0, 0, h, w))
    assert s.decoder is not None and s2.decoder is not None
    for f in frames[:30]:
        m.data(1, 1000, f, now=2000)
        m2.data(1, 1000, f, now=2000)
        held = (
            s.pending_bytes + s.scheduler.bytes + s2.pending_bytes + s2.scheduler.bytes
        )
        assert held <= budget
    assert s.decoder.frames_decoded > 0 and s2.decoder.frames_decoded > 0


@needs_av
def test_a_destroyed_stream_never_decodes_its_unshown_frames(
    captures_dir: Path,
) -> None:
    m, s, frames, _ = vp8_stream(captures_dir)
    assert s.decoder is not None
    for n, f in enumerate(frames[:20]):
        m.data(1, 5000 + n, f, now=2000)  # all ahead
    m.destroy(1)
    m.run(9000)
    assert s.decoder.frames_decoded == 0 and s.frames_shown == 0


@needs_av
def test_a_corrupt_frame_in_the_chain_is_counted_not_raised(
    captures_dir: Path,
) -> None:
    m, s, frames, canvas = vp8_stream(captures_dir)
    assert s.decoder is not None
    # frame 0 due at 3000, then garbage, then frames 1..4: all queued
    payloads = [frames[0], b"\xff" * 64, *frames[1:5]]
    for n, f in enumerate(payloads):
        m.data(1, 3000 + n, f, now=2000)
    shown: list[int] = []
    note = m._shown

    def noting(stream: Any, item: Any) -> None:
        shown.append(item.mm_time)
        note(stream, item)

    m._shown = noting  # type: ignore[method-assign,assignment]
    m.run(3010)  # the armed frame, then the last late one (3001..3004 dropped)
    # the garbage in the last one's chain is counted and skipped, as
    # GStreamer's decoder drops a corrupt buffer and decodes the next: the
    # last frame is still decoded and shown
    assert (s.decode_errors, shown) == (1, [3000, 3005])
    assert not s.pending and canvas.surface(0).pixels.any()


@needs_av
def test_kept_payloads_do_not_pin_the_received_chunk(captures_dir: Path) -> None:
    m, s, frames, _ = vp8_stream(captures_dir)
    chunk = bytes(1000) + frames[0] + bytes(1000)  # as received: one buffer
    m.data(1, 1000, memoryview(chunk)[1000 : 1000 + len(frames[0])], now=2000)
    (item,) = s.pending
    assert type(item.data) is bytes and item.data == frames[0]
    mjpeg = m.create(2, 0, 0, VideoCodecType.MJPEG, 8, 8, 8, 8, Rect(0, 0, 8, 8))
    m.data(2, 5000, memoryview(chunk)[1000:1100], now=2000)  # queued for later
    (queued,) = mjpeg.scheduler.queue
    assert type(queued.data) is bytes and len(queued.data) == 100


def rects_clip(*rects: Rect) -> Clip:
    return Clip(ClipType.RECTS, num_rects=len(rects), rects=rects)


@needs_av
@pytest.mark.parametrize(
    ("clip", "drawn"),
    [
        (rects_clip(), False),  # what the server sends while a window covers it
        (rects_clip(Rect(240, 0, 300, 320)), False),  # below the frame
        (rects_clip(Rect(0, 320, 240, 400)), False),  # right of it (touching)
        (rects_clip(Rect(100, 100, 120, 130)), True),
        (CLIP_NONE, True),
    ],
)
def test_a_hidden_frame_is_counted_but_not_converted(
    clip: Clip, drawn: bool, captures_dir: Path
) -> None:
    m, s, frames, canvas = vp8_stream(captures_dir, surface=(400, 300))
    assert s.decoder is not None
    converted: list[object] = []
    to_pixels = s.decoder.to_pixels

    def counted(picture: Any) -> Pixels:
        converted.append(picture)
        return to_pixels(picture)

    s.decoder.to_pixels = counted  # type: ignore[method-assign]
    m.clip(1, clip)
    m.data(1, 0, frames[0])  # offline: shown at once
    pixels = canvas.surface(0).pixels
    assert s.frames_shown == 1 and s.decoder.frames_decoded == 1
    assert len(converted) == int(drawn)
    assert bool(pixels.any()) == drawn  # the surface starts black


def test_a_hidden_mjpeg_frame_is_not_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[object] = []
    real = streams.decode_mjpeg

    def counted(frame: bytes | memoryview) -> Pixels:
        decoded.append(frame)
        return real(frame)

    monkeypatch.setattr(streams, "decode_mjpeg", counted)
    canvas = Canvas()
    canvas.create_surface(0, 64, 64, SurfaceFormat.FMT_32_xRGB)
    m = StreamManager(canvas)
    m.create(1, 0, 0, VideoCodecType.MJPEG, 16, 16, 16, 16, Rect(0, 0, 16, 16))
    jpeg = bytes(simplejpeg.encode_jpeg(np.full((16, 16, 3), 200, np.uint8)))
    m.clip(1, rects_clip(Rect(20, 20, 30, 30)))
    m.data(1, 0, jpeg)
    assert decoded == [] and m.streams[1].frames_shown == 1
    assert not canvas.surface(0).pixels.any()
    m.clip(1, rects_clip(Rect(0, 0, 8, 8)))
    m.data(1, 0, jpeg)
    assert len(decoded) == 1 and canvas.surface(0).pixels[:8, :8, :3].all()
