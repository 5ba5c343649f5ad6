"""The decode look-ahead (``session.lookahead``): images of later display
messages decoded on the second core change nothing but where the work runs.

Every capture goes through the connection's own order of work (machine ->
``prepare`` hook -> ``SessionCore.handle_event``, read in 256 KiB chunks like
``ChannelConnection``) with the look-ahead on and off: same primary surface at
every DISPLAY_MARK and at the end, same counts, image types and dropped
messages.  Hypothesis drives made-up sequences of big/small, cached, failing
images split into random chunks, with a small budget, closed mid-way."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _canvas_build import Image, Rect, base
from conftest import CAPTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spicepy.codecs import jpeg, lz, lz4, quic

from spicepy.canvas.surface import SurfaceFormat
from spicepy.capture.replay import server_segments
from spicepy.capture.streams import channel_machine, read_channels
from spicepy.channels.events import MessageReceived
from spicepy.errors import SpiceError
from spicepy.limits import Limits
from spicepy.session import lookahead
from spicepy.session.core import SessionCore
from spicepy.session.offload import DisplayPrepare, display_prepare
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ChannelType, ImageFlags, ImageType
from spicepy.wire.types import QMASK_NONE

pytestmark = [
    pytest.mark.skipif(
        not lookahead.available(),
        reason="pure-Python codecs (SPICEPY_PUREPYTHON=1): the look-ahead is off",
    ),
    # a worker that never finishes a job leaves ``take`` waiting: fail, do not
    # hang (the slowest test here takes ~6 s on the loaded 2-core machine)
    pytest.mark.timeout(120),
]
DISPLAY = int(ChannelType.DISPLAY)
#: ``ChannelConnection.READ_CHUNK``: what one socket read hands the machine
CHUNK = 256 * 1024
LIMITS = Limits()
DATA = Path(__file__).resolve().parent / "data"
#: ../shared/captures or $SPICEPY_CAPTURES (conftest; absent: the tests skip,
#: and fail under SPICEPY_REQUIRE_CORPUS=1)
SHARED = CAPTURES if CAPTURES is not None else DATA / "no-corpus"


def capture_paths() -> list[Path]:
    found = sorted(SHARED.glob("*.pcap")) if SHARED.is_dir() else []
    return found + sorted(DATA.glob("*.pcap*"))


@dataclass
class Outcome:
    """What one play of a capture left."""

    marks: list[str] = field(default_factory=list)  # primary digest per MARK
    final: dict[int, bytes] = field(default_factory=dict)
    counts: dict[int, dict[str, int]] = field(default_factory=dict)
    image_types: dict[int, dict[int, int]] = field(default_factory=dict)
    dropped: Counter[str] = field(default_factory=Counter)
    channel_errors: list[str] = field(default_factory=list)
    taken: int = 0
    #: images a look-ahead can take: eligible, in a message behind another
    #: one of the same read (the first is delivered before any scan)
    behind: int = 0


def _digest(core: SessionCore) -> str:
    driver = core.primary_driver()
    surface = None if driver is None else driver.canvas.surfaces.get(0)
    if surface is None:
        return "-"
    return hashlib.sha1(np.ascontiguousarray(surface.pixels).tobytes()).hexdigest()


def let_worker_start(prepare: DisplayPrepare, event: object) -> None:
    """Wait until the worker started every job submitted: the loop would take
    a queued one back (the worker needs the GIL first), so the tests can see
    the worker's results used, not only the inline path."""
    ahead = prepare.ahead
    deadline = time.monotonic() + 10
    while ahead is not None and ahead._queue:
        assert time.monotonic() < deadline, "the worker never started a job"
        time.sleep(0.0005)


def play(
    path: Path,
    ahead: bool,
    chunk: int = CHUNK,
    patient: bool = False,
    lane: bool = False,
) -> Outcome:
    """The display channels of ``path`` through prepare + core, in chunks of
    up to ``chunk`` bytes (consecutive segments of one channel joined);
    ``patient``: the loop lets the worker start every job (``let_worker_start``);
    ``lane``: the display lanes take their draws (the reader stops for them)."""
    channels = [
        ch
        for ch in read_channels(path)
        if ch.channel_type == DISPLAY and ch.to_client and not ch.refused
    ]
    core = SessionCore()
    core.channels_list = [(DISPLAY, ch.channel_id) for ch in channels]
    machines = [channel_machine(ch) for ch in channels]
    lanes = [core.display_lane(ch.channel_id) if lane else None for ch in channels]
    for machine, display_lane in zip(machines, lanes, strict=True):
        machine.set_lane(display_lane)
    prepares: list[DisplayPrepare] = [
        display_prepare(
            core,
            ch.channel_id,
            LIMITS.inline_decode_pixels,
            machine if ahead else None,
            LIMITS.decode_ahead,
        )
        for ch, machine in zip(channels, machines, strict=True)
    ]
    assert all((p.ahead is not None) == ahead for p in prepares)
    segments = server_segments(channels)  # replay's order
    reads: list[tuple[float, int, int, int]] = []  # segments joined as one read
    for when, index, start, end in segments:
        if reads and reads[-1][1] == index and reads[-1][3] == start:
            if end - reads[-1][2] <= chunk:
                reads[-1] = (reads[-1][0], index, reads[-1][2], end)
                continue
        reads.append((when, index, start, end))
    out = Outcome()
    failed: set[int] = set()
    armed = [False] * len(channels)  # a QUIC/JPEG image came (``arms``)
    for when, index, start, end in reads:
        if index in failed:
            continue
        machine, prepare = machines[index], prepares[index]
        key = (DISPLAY, channels[index].channel_id)
        if lanes[index] is not None:
            lanes[index].now = when
        data: memoryview | None = memoryview(channels[index].to_client)[start:end]
        first = True
        while True:  # ``ChannelConnection._deliver``'s order, resume included
            try:
                if data is not None:
                    machine.receive_data(data)
                    data = None
                elif index in failed or not machine.resume():
                    break
            except SpiceError as exc:
                out.channel_errors.append(f"{key}: {exc!r}")
                failed.add(index)
            while (event := machine.next_event()) is not None:
                if not first and armed[index]:
                    out.behind += eligible(event)
                first = False
                armed[index] = armed[index] or arms(event)
                if patient:
                    let_worker_start(prepare, event)
                job = prepare(event)  # a big image: the connection parks, goes on
                if job is not None:
                    job()
                core.handle_event(key, event, when)
                if (
                    type(event) is MessageReceived
                    and type(event.message) is md.DisplayMark
                ):
                    out.marks.append(_digest(core))
        machine.data_to_send()
        core.messages_to_send()
    core.drop_held()
    for prepare in prepares:
        if prepare.ahead is not None:
            out.taken += prepare.ahead.taken_images
        prepare.close()
    for cid, driver in core.drivers.items():
        surface = driver.canvas.surfaces.get(0)
        if surface is not None:
            out.final[cid] = np.ascontiguousarray(surface.pixels).tobytes()
        out.counts[cid] = {cls.__name__: n for cls, n in driver.counts.items()}
        out.image_types[cid] = dict(driver.image_types)
    out.dropped = Counter(core.dropped)
    return out


def arms(event: object) -> bool:
    """``event`` arms its channel's look-ahead: a draw with a QUIC, JPEG or
    JPEG_ALPHA image of any size (the module docstring's rule)."""
    if type(event) is not MessageReceived or type(event.message) not in _DRAWS:
        return False
    kinds = (ImageType.QUIC, ImageType.JPEG, ImageType.JPEG_ALPHA)
    return any(i.descriptor.type in kinds for i in md.message_images(event.message))


_DRAWS = (
    md.DrawCopy,
    md.DrawBlend,
    md.DrawOpaque,
    md.DrawRop3,
    md.DrawTransparent,
    md.DrawAlphaBlend,
    md.DrawComposite,
)


def eligible(event: object) -> int:
    """The images of ``event`` a look-ahead decodes, by the module docstring's
    rule (written again here, from the docstring, not from the code)."""
    if type(event) is not MessageReceived or type(event.message) not in _DRAWS:
        return 0
    images = md.message_images(event.message)
    sizes = [i.descriptor.width * i.descriptor.height for i in images]
    if any(n > LIMITS.inline_decode_pixels for n in sizes):
        return 0
    least = {ImageType.QUIC: 64 * 64, ImageType.JPEG: 128 * 128}
    least[ImageType.JPEG_ALPHA] = 128 * 128
    return sum(
        1
        for i, n in zip(images, sizes, strict=True)
        if i.descriptor.type in least and n >= least[i.descriptor.type]
    )


@pytest.mark.parametrize("lane", [False, True], ids=["events", "lane"])
@pytest.mark.parametrize("patient", [False, True], ids=["as-is", "patient"])
@pytest.mark.parametrize("path", capture_paths(), ids=lambda p: p.name)
def test_every_capture_is_the_same_with_the_look_ahead(
    path: Path, patient: bool, lane: bool
) -> None:
    on = play(path, True, patient=patient, lane=lane)
    off = play(path, False, lane=lane)
    assert on.marks == off.marks
    assert on.final.keys() == off.final.keys()
    for cid in off.final:
        assert on.final[cid] == off.final[cid], f"display {cid} differs"
    assert on.counts == off.counts
    assert on.image_types == off.image_types
    assert on.dropped == off.dropped
    assert on.channel_errors == off.channel_errors
    assert off.taken == 0


def test_the_look_ahead_does_take_work_off_the_loop() -> None:
    """Without this the test above could pass with a look-ahead that never
    decodes: a patient loop takes every eligible image behind another message
    of its read decoded (gradients-auto_glz: 159 QUIC images, several a read;
    photos-jpeg: JPEG)."""
    for name in ("gradients-auto_glz", "photos-jpeg", "gradients-jpeg"):
        path = SHARED / f"{name}.pcap"
        if not path.exists():
            pytest.skip("../shared/captures is not here")
        for lane in (False, True):  # queued events; unread bytes (the lane's stops)
            got = play(path, True, patient=True, lane=lane)
            assert got.taken == got.behind, (name, lane)
    assert play(SHARED / "gradients-auto_glz.pcap", True, patient=True).taken > 0


@settings(max_examples=6, deadline=None)
@given(chunk=st.integers(1024, 96 * 1024))
def test_chunk_splits_do_not_matter(chunk: int) -> None:
    path = SHARED / "gradients-auto_glz.pcap"
    if not path.exists():
        pytest.skip("../shared/captures is not here")
    on, off = play(path, True, chunk, patient=True), play(path, False, chunk)
    assert on.marks == off.marks and on.final == off.final
    assert on.dropped == off.dropped and on.counts == off.counts


# -- made-up sequences ---------------------------------------------------------

Pixels = np.ndarray[Any, np.dtype[np.uint8]]
ENCODERS: dict[int, Callable[[Pixels], bytes]] = {
    ImageType.QUIC: lambda img: quic.encode(img, image_type="RGB32"),
    ImageType.LZ_RGB: lambda img: lz.encode(img, image_type="RGB32"),
    ImageType.LZ4: lambda img: lz4.encode(img),
    ImageType.JPEG: lambda img: jpeg.encode(img),  # lossy: one decoder both ways
}
WIDTH = 96
SURFACE_HEIGHT = 96

step = st.one_of(
    st.tuples(
        st.just("draw"),
        st.sampled_from(sorted(ENCODERS)),
        st.sampled_from([0, ImageFlags.CACHE_ME, ImageFlags.HIGH_BITS_SET]),
        st.integers(1, 96),  # height (width 96)
        st.sampled_from(["ok", "ok", "ok", "cut", "lie"]),
        st.integers(0, 2**32 - 1),
    ),
    st.tuples(st.just("cached"), st.integers(0, 7)),  # the id of an earlier step
)


def message(i: int, s: tuple[Any, ...]) -> md.DrawCopy:
    if s[0] == "cached":
        image = Image(s[1], ImageType.FROM_CACHE, 0, WIDTH, 8)
        h = 8
    else:
        _, kind, flags, h, how, seed = s
        rng = np.random.default_rng(seed)
        pixels = rng.integers(0, 256, (h, WIDTH, 4), np.uint8)
        pixels[..., 3] = 0
        data = ENCODERS[kind](pixels)
        if how == "cut":
            data = data[: len(data) // 2]
        height = h + 1 if how == "lie" else h  # the stream is for h rows
        image = Image(i, kind, flags, WIDTH, height, data=data)
        h = height
    box = Rect(0, 0, WIDTH, min(h, SURFACE_HEIGHT))
    body = md.Copy(image, Rect(0, 0, WIDTH, min(h, SURFACE_HEIGHT)), 8, 0, QMASK_NONE)
    return md.DrawCopy(base(0, box, None), body)


def pump_made_up(
    steps: list[tuple[Any, ...]],
    cuts: list[int],
    ahead_budget: int | None,
    close_at: int | None = None,
    patient: bool = True,
) -> tuple[bytes, list[int], list[int], int, lookahead.DecodeAhead | None]:
    """Events appended to a queue in chunks (``cuts``), delivered one by one
    as ``ChannelConnection`` does: the primary, the dropped count after each
    message, the cache ids, the peak of the budget."""
    core = SessionCore()
    driver = core.add_display(0)
    driver.canvas.create_surface(0, WIDTH, SURFACE_HEIGHT, SurfaceFormat.FMT_32_xRGB)
    queued: deque[object] = deque()
    ahead = None
    if ahead_budget is not None:  # every type from 1 pixel: all through the worker
        ahead = lookahead.DecodeAhead(
            lambda: driver.canvas.images,
            queued,
            ahead_budget,
            LIMITS.inline_decode_pixels,
            {int(kind): 1 for kind in ENCODERS},
        )
    prepare = DisplayPrepare(core, 0, LIMITS.inline_decode_pixels, ahead)
    events = [
        MessageReceived(DISPLAY, md.DrawCopy.MSG_TYPE, i + 1, message(i, s))
        for i, s in enumerate(steps)
    ]
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    dropped: list[int] = []
    peak = 0
    delivered = 0
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        queued.extend(events[lo:hi])
        while queued:
            if close_at is not None and delivered == close_at:
                prepare.close()
                return b"", dropped, [], peak, prepare.ahead
            event = queued.popleft()
            if patient:
                let_worker_start(prepare, event)
            assert prepare(event) is None  # nothing here is above inline pixels
            if prepare.ahead is not None:
                peak = max(peak, prepare.ahead.pending_bytes)
            core.handle_event((DISPLAY, 0), event, 0.0)
            delivered += 1
            dropped.append(sum(core.dropped.values()))
    prepare.close()
    surface = driver.canvas.surfaces[0]
    cache = sorted(driver.canvas.images.shared.cache.entries)
    return surface.pixels.tobytes(), dropped, cache, peak, prepare.ahead


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step, min_size=1, max_size=14),
    cuts=st.lists(st.integers(0, 14), max_size=4),
    budget=st.sampled_from([4 * 4096, 4 * 96 * 96, 3 * 4 * 96 * 96, 32 << 20]),
    patient=st.booleans(),
)
def test_made_up_sequences_are_the_same_and_within_budget(
    steps: list[tuple[Any, ...]], cuts: list[int], budget: int, patient: bool
) -> None:
    on = pump_made_up(steps, cuts, budget, patient=patient)
    off = pump_made_up(steps, cuts, None)
    assert on[0] == off[0]  # the primary
    assert on[1] == off[1]  # dropped messages, message by message
    assert on[2] == off[2]  # what the pixmap cache holds
    assert on[3] <= budget
    ahead = on[4]
    assert ahead is not None and ahead.pending_bytes == 0


def _ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "spicepy-decode-ahead"]


@settings(max_examples=15, deadline=None)
@given(
    steps=st.lists(step, min_size=2, max_size=10),
    close_at=st.integers(0, 9),
)
def test_close_mid_way_leaves_no_thread_behind(
    steps: list[tuple[Any, ...]], close_at: int
) -> None:
    # an idle worker would end by itself after IDLE_SECONDS: here only close() can
    idle = lookahead.IDLE_SECONDS
    lookahead.IDLE_SECONDS = 600.0
    try:
        ahead = pump_made_up(steps, [], 32 << 20, min(close_at, len(steps) - 1))[4]
    finally:
        lookahead.IDLE_SECONDS = idle
    assert ahead is not None and ahead.pending_bytes == 0
    # close() does not wait; the worker ends after the decode in hand
    deadline = time.monotonic() + 10
    while _ahead_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _ahead_threads()


def test_a_running_job_is_waited_for_and_a_queued_one_taken_back() -> None:
    """The claim: the loop waits for the job the worker holds (and meanwhile
    decodes the next queued job itself), takes back one not started."""
    steps = [("draw", ImageType.QUIC, 0, 96, "ok", seed) for seed in range(6)]
    on = pump_made_up(steps, [], 32 << 20)
    ahead = on[4]
    assert ahead is not None
    # the first event is popped before the scan: five decoded ahead, by the
    # worker or by the loop while it waited (``helped``)
    assert ahead.taken_images == 5
    assert on[0] == pump_made_up(steps, [], None)[0]


# -- live: spicepy.connect against replay-server ----------------------------------


@pytest.mark.live
@pytest.mark.timeout(300)  # two replays of up to 60 s each (the module's is 120)
@pytest.mark.parametrize("name", ["gradients-auto_glz", "photos-quic"])
def test_live_screenshots_are_exact_with_and_without_the_look_ahead(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``spicepy screenshot``'s path against ``../shared/tools/replay-server``
    playing the whole capture: the PNG equals the capture's truth with the
    look-ahead on and off (``available`` False: no look-ahead is made)."""
    import asyncio
    import sys

    from PIL import Image as PILImage

    from spicepy.client import screenshot

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from replay_server import captures_dir, replay_server, tools_dir

    if not (tools_dir() / "replay-server").exists():
        pytest.skip("../shared/tools/replay-server is not here")
    made: list[lookahead.DecodeAhead] = []
    init = lookahead.DecodeAhead.__init__

    def spy(self: lookahead.DecodeAhead, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(lookahead.DecodeAhead, "__init__", spy)

    def shot(arm: str) -> np.ndarray[Any, Any]:
        out = tmp_path / f"{arm}.png"
        with replay_server(name, 60) as uri:
            asyncio.run(screenshot(uri, out, timeout=60))
        return np.asarray(PILImage.open(out).convert("RGB"))

    truth = PILImage.open(captures_dir() / f"{name}.final.png").convert("RGB")
    on = shot("on")
    assert made, "no look-ahead was made"
    taken = sum(a.taken_images for a in made)
    monkeypatch.setattr(lookahead, "available", lambda: False)
    made.clear()
    off = shot("off")
    assert not made
    assert on.shape == off.shape == np.asarray(truth).shape
    assert (on == np.asarray(truth)).all() and (off == np.asarray(truth)).all()
    if name == "gradients-auto_glz":  # several QUIC images a read (see above)
        assert taken > 0


def test_unread_jobs_go_only_to_the_same_image_bytes() -> None:
    """A job made from unread bytes is given to an event only if its image is
    the same bytes: a same-size image of another message is decoded inline."""
    import struct

    from spicepy.canvas.images import ImageResolver
    from spicepy.wire.messages import decode_message
    from spicepy.wire.schema import encode_struct

    core = SessionCore()
    driver = core.add_display(0)
    driver.canvas.create_surface(0, WIDTH, SURFACE_HEIGHT, SurfaceFormat.FMT_32_xRGB)
    resolver = driver.canvas.images
    a, b, c = (message(i, ("draw", ImageType.QUIC, 0, 64, "ok", i)) for i in range(3))
    view = memoryview(
        b"".join(
            struct.pack("<HI", md.DrawCopy.MSG_TYPE, len(body)) + body
            for body in (encode_struct(a), encode_struct(b))
        )
    )

    class Source:
        messages_received = 0
        mini_header = True
        max_message_size = 1 << 20

        def unread(self) -> memoryview:
            return view

    ahead = lookahead.DecodeAhead(
        lambda: resolver,
        deque(),
        32 << 20,
        LIMITS.inline_decode_pixels,
        {int(ImageType.QUIC): 1},
        source=Source(),
    )
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [1, 2]
    for job in ahead._unread_jobs:
        assert job.done.wait(10), "the worker never decoded an unread job"
    other = MessageReceived(DISPLAY, md.DrawCopy.MSG_TYPE, 1, c)
    ahead.take(other)  # same size as a's image, other bytes: not a's job
    image = c.data.src_bitmap
    assert image is not None and id(image) not in resolver.predecoded
    fresh = ImageResolver(resolver.shared, resolver.palettes).decode_alone(image)
    assert (resolver.get(image).pixels == fresh.pixels).all()
    again = decode_message(
        DISPLAY, md.DrawCopy.MSG_TYPE, view[6 : 6 + len(encode_struct(a))]
    )
    ahead.take(MessageReceived(DISPLAY, md.DrawCopy.MSG_TYPE, 1, again))  # a's bytes
    assert ahead.taken_images == 1
    ahead.close()


def test_an_unarmed_look_ahead_looks_at_nothing() -> None:
    """Until a draw with a QUIC/JPEG image came, ``before`` neither frames the
    unread bytes nor scans the queue (a text session pays nothing); the first
    such draw arms it."""

    class Source:
        messages_received = 0
        calls = 0

        def unread(self) -> None:
            self.calls += 1

    source = Source()
    ahead = lookahead.DecodeAhead(
        lambda: None, [], LIMITS.decode_ahead, 1 << 20, source=source
    )
    lz_draw = message(1, ("step", ImageType.LZ_RGB, 0, 8, "ok", 1))
    quic_draw = message(2, ("step", ImageType.QUIC, 0, 8, "ok", 2))
    mark = md.DisplayMark()
    for n, msg in enumerate((mark, lz_draw, lz_draw)):
        ahead.before(MessageReceived(DISPLAY, msg.MSG_TYPE, n + 1, msg))
    assert not ahead.armed and source.calls == 0
    ahead.before(MessageReceived(DISPLAY, md.DrawCopy.MSG_TYPE, 4, quic_draw))
    assert ahead.armed and source.calls == 1
    ahead.close()
