"""The byte budgets of ``spicepy.limits`` store by store, the checks before
allocation a hostile header cannot get past, and what a refused surface leaves
behind (no frame, one log line)."""

from __future__ import annotations

import ctypes
import logging
import struct
import tracemalloc

import numpy as np
import pytest
import simplejpeg
from spicepy.codecs import glz

from spicepy.canvas import Canvas, SurfaceFormat
from spicepy.canvas.images import CachedImage, ImageCache, SharedState
from spicepy.canvas.streams import StreamManager
from spicepy.channels.cursor import CursorChannel
from spicepy.channels.events import MessageReceived
from spicepy.errors import CanvasError, CodecError, LimitExceededError
from spicepy.limits import Limits, payload_bytes
from spicepy.session.core import DisplayDriver, SessionCore
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.testing.hostile import bitmap_copy, cached_copy
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ChannelType, CursorFlags, CursorType, VideoCodecType
from spicepy.wire.headers import header_size
from spicepy.wire.messages import decode_message
from spicepy.wire.msg_other import CursorSet
from spicepy.wire.types import Cursor, CursorHeader, Point16, Rect

MiB = 1 << 20
DISPLAY = int(ChannelType.DISPLAY)


def image(nbytes: int) -> CachedImage:
    return CachedImage(np.zeros((nbytes // 4096, 1024, 4), np.uint8), False)


def test_image_cache_budget_is_bytes_oldest_out() -> None:
    cache = ImageCache(max_bytes=int(2.5 * MiB))
    for image_id in (1, 2, 3):
        cache.put(image_id, image(MiB))
    assert 1 not in cache and 2 in cache and 3 in cache
    assert cache.bytes == 2 * MiB and cache.evicted == 1
    cache.remove(2)
    assert cache.bytes == MiB


def test_surfaces_of_every_display_channel_share_one_budget() -> None:
    shared = SharedState(limits=Limits(surfaces=3 * MiB))
    one, two = Canvas(shared), Canvas(shared)
    one.create_surface(0, 1024, 256, SurfaceFormat.FMT_32_xRGB)  # 1 MiB
    two.create_surface(0, 1024, 256, SurfaceFormat.FMT_32_xRGB)
    two.create_surface(1, 1024, 256, SurfaceFormat.FMT_32_xRGB)
    with pytest.raises(LimitExceededError, match="Limits.surfaces") as caught:
        one.create_surface(1, 1024, 1, SurfaceFormat.FMT_32_xRGB)
    assert caught.value.limit == "surfaces"
    assert shared.surface_bytes == 3 * MiB and 1 not in one.surfaces
    two.destroy_surface(1)
    one.create_surface(1, 1024, 256, SurfaceFormat.FMT_32_xRGB)  # room again
    one.create_surface(0, 1024, 128, SurfaceFormat.FMT_32_xRGB)  # re-create: smaller
    assert shared.surface_bytes == int(2.5 * MiB)
    two.destroy_all()
    assert shared.surface_bytes == int(1.5 * MiB)


def jpeg(side: int) -> bytes:
    noise = np.random.default_rng(side).integers(0, 256, (side, side, 3), np.uint8)
    return bytes(simplejpeg.encode_jpeg(noise, quality=95, colorspace="RGB"))


def test_video_frames_queued_beyond_the_budget_drop_the_oldest() -> None:
    frame = jpeg(256)  # ~90 KB of noise
    shared = SharedState(limits=Limits(video_queue=10 * len(frame)))
    canvas = Canvas(shared)
    canvas.create_surface(0, 256, 256, SurfaceFormat.FMT_32_xRGB)
    streams = StreamManager(canvas)
    for sid in (1, 2):
        streams.create(
            sid, 0, 0, VideoCodecType.MJPEG, 256, 256, 256, 256, Rect(0, 0, 256, 256)
        )
    for n in range(30):  # all in the future: every frame waits
        streams.data(1 + n % 2, 10_000 + n, frame, now=0)
    queued = [s.scheduler for s in streams.streams.values()]
    assert sum(q.bytes for q in queued) <= 10 * len(frame)
    assert sum(len(q.queue) for q in queued) == 10
    assert streams.over_budget == 20 and sum(q.dropped for q in queued) == 20
    streams.run(20_000)  # every queued frame shown, the bytes forgotten
    assert sum(q.bytes for q in queued) == 0


def test_video_queues_of_every_display_channel_share_one_budget() -> None:
    frame = jpeg(256)
    shared = SharedState(limits=Limits(video_queue=10 * len(frame)))
    managers = []
    for _ in range(2):  # two display channels of one session
        canvas = Canvas(shared)
        canvas.create_surface(0, 256, 256, SurfaceFormat.FMT_32_xRGB)
        managers.append(StreamManager(canvas))
        managers[-1].create(
            1, 0, 0, VideoCodecType.MJPEG, 256, 256, 256, 256, Rect(0, 0, 256, 256)
        )
    for n in range(8):  # channel 0 queues 8 frames, under the budget
        managers[0].data(1, 10_000 + n, frame, now=0)
    for n in range(8):  # channel 1's 8 more make 16: the oldest 6 of all go
        managers[1].data(1, 10_000 + n, frame, now=0)
    queued = [m.streams[1].scheduler for m in managers]
    assert sum(q.bytes for q in queued) <= 10 * len(frame)
    assert sum(len(q.queue) for q in queued) == 10
    assert managers[0].over_budget == 0 and managers[1].over_budget == 6
    assert sum(q.dropped for q in queued) == 6
    # another session's channel has a budget of its own
    other = Canvas(SharedState(limits=shared.limits))
    other.create_surface(0, 256, 256, SurfaceFormat.FMT_32_xRGB)
    alone = StreamManager(other)
    alone.create(
        1, 0, 0, VideoCodecType.MJPEG, 256, 256, 256, 256, Rect(0, 0, 256, 256)
    )
    for n in range(10):
        alone.data(1, 10_000 + n, frame, now=0)
    assert alone.over_budget == 0 and len(alone.streams[1].scheduler.queue) == 10


def test_cursor_channel_cache_is_bounded_in_bytes() -> None:
    server = FakeServer()
    channel = CursorChannel(max_cache_bytes=3 * 64 * 64 * 4)
    link_pair(channel, server)
    shape = bytes(64 * 64 * 4)
    for unique in range(1, 11):
        header = CursorHeader(unique, CursorType.ALPHA, 64, 64, 0, 0)
        cursor = Cursor(CursorFlags.CACHE_ME, header=header, data=shape)
        channel.receive_data(server.pack(CursorSet(Point16(0, 0), 1, cursor)))
    assert channel.cached_shapes == 3 and channel.cache_bytes == 3 * len(shape)
    assert channel.evicted == 7


def display_message(raw: bytes, server: FakeServer) -> object:
    body = raw[header_size(server.mini) :]
    msg_type = struct.unpack_from("<H", raw, 8 if not server.mini else 0)[0]
    return decode_message(DISPLAY, msg_type, body, from_server=True)


def test_held_messages_are_bounded_in_bytes() -> None:
    """Display 1 waits for an image display 0 has not sent: what it holds
    counts against ``Limits.held``."""
    server = FakeServer()
    core = SessionCore(limits=Limits(held=3 * MiB))
    for cid in (0, 1):
        core.add_display(cid)
    feed = [
        md.SurfaceCreate(0, 64, 64, SurfaceFormat.FMT_32_xRGB, 1),
        display_message(cached_copy(server, 0x77, 8, 8), server),
    ]
    for msg in feed:
        core.handle_event((DISPLAY, 1), MessageReceived(DISPLAY, 0, 0, msg), 0.0)
    assert sum(len(q) for q in core.held.values()) == 1
    big = display_message(bitmap_copy(server, 1, 512, 512, area=(64, 64)), server)
    assert payload_bytes(big) > MiB  # 512 x 512 x 4 of bitmap
    core.handle_event((DISPLAY, 1), MessageReceived(DISPLAY, 0, 0, big), 0.1)
    core.handle_event((DISPLAY, 1), MessageReceived(DISPLAY, 0, 0, big), 0.2)
    with pytest.raises(LimitExceededError, match="Limits.held"):
        core.handle_event((DISPLAY, 1), MessageReceived(DISPLAY, 0, 0, big), 0.3)


def test_a_refused_primary_leaves_no_frame_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = SessionCore()
    core.add_display(0)
    caplog.set_level(logging.DEBUG, logger="spicepy")
    for _ in range(40):
        for msg in (
            md.SurfaceCreate(0, 65535, 65535, SurfaceFormat.FMT_32_xRGB, 1),
            md.DisplayMark(),
        ):
            core.handle_event((DISPLAY, 0), MessageReceived(DISPLAY, 0, 0, msg), 0.0)
    assert core.marks == 0 and core.primary_driver() is None
    assert core.dropped_commands == 40
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(loud) == 1 and loud[0].levelno == logging.INFO
    driver = DisplayDriver()
    driver.apply(md.SurfaceCreate(0, 64, 64, SurfaceFormat.FMT_32_xRGB, 1))
    driver.apply(md.DisplayMark())
    assert driver.marks == 1  # with a primary, a MARK is a frame


def glz_header(width: int, height: int, body: int) -> bytes:
    """A GLZ RGB32 header (big-endian, ``glz.HEADER_SIZE`` bytes) + ``body`` bytes."""
    head = struct.pack(
        ">IIBIIIQI", 0x20205A4C, 0x00010001, 8, width, height, width * 4, 1, 0
    )
    assert len(head) == glz.HEADER_SIZE
    return head + bytes(body)


def test_glz_refuses_a_short_stream_before_allocating() -> None:
    """4096 x 4096 pixels (64 MiB out) cannot come from 1000 bytes: at most
    ``glz.MAX_RATIO`` units a byte."""
    data = glz_header(4096, 4096, 1000)
    tracemalloc.start()
    try:
        with pytest.raises(CodecError, match="cannot code"):
            glz.decode(data, dictionary=glz.Dictionary())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MiB
    # the same header with enough bytes for the ratio gets past that check
    enough = glz_header(255, 1, 1)
    with pytest.raises(CodecError) as caught:
        glz.decode(enough, dictionary=glz.Dictionary())
    assert "cannot code" not in str(caught.value)


def test_video_packets_carry_ffmpegs_zeroed_padding() -> None:
    video = pytest.importorskip("spicepy.canvas.video")
    if not video.VIDEO_CODECS:
        pytest.skip("PyAV has no VP8/H.264 decoder here")
    frame = b"\xff" * 1000
    packet = video.padded_packet(memoryview(frame))
    view = np.frombuffer(packet, np.uint8)
    assert view.tobytes() == frame
    address = view.__array_interface__["data"][0]
    padding = ctypes.string_at(address + len(frame), 64)  # AV_INPUT_BUFFER_PADDING_SIZE
    assert padding == bytes(64)


def test_limits_are_one_place() -> None:
    limits = Limits().replace(agent=MiB)
    assert limits.agent == MiB and limits.surfaces == Limits().surfaces
    assert limits.total == (
        limits.surfaces
        + limits.image_cache
        + limits.image_cache // 4  # the image arena's room (canvas.pixelmem)
        + 2 * limits.cursor_cache
        + 2 * limits.video_queue  # queued frames, and pictures decoded ahead
        + limits.held
        + limits.agent
    )
    with pytest.raises(CanvasError):  # beyond Limits.image_pixels: refused
        from spicepy.codecs import quic

        from spicepy.canvas.images import ImageResolver, PaletteCache
        from spicepy.wire.enums import ImageType
        from spicepy.wire.types import BinaryData, Image, ImageDescriptor

        side = 128
        stream = quic.encode(np.zeros((side, side, 4), np.uint8), image_type="RGB32")
        shared = SharedState(limits=Limits(image_pixels=side * side - 1))
        ImageResolver(shared, PaletteCache()).get(
            Image(
                ImageDescriptor(5, ImageType.QUIC, 0, side, side),
                binary=BinaryData(len(stream), stream),
            )
        )


def test_every_buffer_kind_costs_its_bytes_plus_the_same_overhead() -> None:
    """A flood of empty messages must still fill ``Limits.held``: every buffer
    costs one object's overhead on top of its bytes, whatever its kind."""
    empty = payload_bytes(b"")
    assert empty > 0
    for kind in (bytes, bytearray, memoryview):
        assert payload_bytes(kind(b"")) == empty
        assert payload_bytes(kind(b"x" * 10)) == empty + 10
    assert payload_bytes(np.zeros(10, np.uint8)) == empty + 10
    assert payload_bytes((b"x" * 10, b"")) > 2 * empty + 10  # the tuple too


def test_max_surfaces_surfaces_fit_and_one_more_is_refused() -> None:
    from spicepy.canvas.canvas import MAX_SURFACES
    from spicepy.errors import CanvasError

    c = Canvas()
    for sid in range(MAX_SURFACES):
        c.create_surface(sid, 1, 1, SurfaceFormat.FMT_32_xRGB)
    c.create_surface(7, 2, 1, SurfaceFormat.FMT_32_xRGB)  # re-creating one: fine
    with pytest.raises(CanvasError, match="too many surfaces"):
        c.create_surface(MAX_SURFACES, 1, 1, SurfaceFormat.FMT_32_xRGB)
    assert len(c.surfaces) == MAX_SURFACES
    assert c.shared.surface_bytes == 4 * (MAX_SURFACES + 1)
