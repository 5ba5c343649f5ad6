"""Review 8 of the decode look-ahead's unread-bytes path (``scan_unread``:
whole messages a lane left unread, framed and decoded ahead of the reader):
cases the earlier tests let through when a bug was planted in it."""

from __future__ import annotations

import struct
import threading
import time
from collections import deque
from dataclasses import replace

import pytest
from _canvas_build import Image as build_image
from test_lookahead import DISPLAY, LIMITS, SURFACE_HEIGHT, WIDTH, message

from spicepy.canvas.images import CachedImage, ImageResolver
from spicepy.canvas.surface import SurfaceFormat
from spicepy.channels.events import MessageReceived
from spicepy.session import lookahead
from spicepy.session.core import SessionCore
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ImageType
from spicepy.wire.messages import decode_message
from spicepy.wire.schema import encode_struct
from spicepy.wire.types import Image

pytestmark = [
    pytest.mark.skipif(
        not lookahead.available(), reason="no compiled codecs (pure-Python twins)"
    ),
    pytest.mark.timeout(120),  # a job never done leaves ``take`` waiting
]
#: pixels of each image below (QUIC, 96 x 64): 4 bytes each in the budget
ROWS = 64
NBYTES = 4 * WIDTH * ROWS


class Source:
    """A channel machine's ``unread`` side: ``bodies[read:]`` framed with mini
    headers (``Channel.unread``'s view starts at message ``read + 1``)."""

    mini_header = True
    max_message_size = 1 << 20

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = bodies
        self.messages_received = 0

    def unread(self) -> memoryview | None:
        rest = self.bodies[self.messages_received :]
        if not rest:
            return None
        mt = md.DrawCopy.MSG_TYPE
        return memoryview(b"".join(struct.pack("<HI", mt, len(b)) + b for b in rest))

    def event(self, n: int) -> MessageReceived:
        """The reader's event of message ``n`` (1-based): decoded from its own
        bytes, as the machine would."""
        msg = decode_message(DISPLAY, md.DrawCopy.MSG_TYPE, self.bodies[n - 1])
        return MessageReceived(DISPLAY, md.DrawCopy.MSG_TYPE, n, msg)


def setup(
    count: int, budget: int
) -> tuple[ImageResolver, Source, lookahead.DecodeAhead]:
    core = SessionCore()
    driver = core.add_display(0)
    driver.canvas.create_surface(0, WIDTH, SURFACE_HEIGHT, SurfaceFormat.FMT_32_xRGB)
    resolver = driver.canvas.images
    bodies = [
        encode_struct(message(i, ("draw", ImageType.QUIC, 0, ROWS, "ok", i)))
        for i in range(count)
    ]
    source = Source(bodies)
    ahead = lookahead.DecodeAhead(
        lambda: resolver,
        deque(),
        budget,
        LIMITS.inline_decode_pixels,
        {int(ImageType.QUIC): 1},
        source=source,
    )
    return resolver, source, ahead


def settle(ahead: lookahead.DecodeAhead) -> None:
    """Every job submitted is decoded (bounded: fails, never hangs)."""
    for job in list(ahead._unread_jobs):
        if job.state != lookahead._WAITING:
            assert job.done.wait(30), "the worker never decoded an unread job"


def test_a_message_read_without_its_event_gives_its_budget_back() -> None:
    """The reader went past message 1 (its event never reached the look-ahead):
    the next scan forgets message 1's job and its bytes, and what waited for
    room is submitted; budget for one image at a time."""
    _, source, ahead = setup(3, NBYTES)
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [1, 2, 3]
    assert ahead.pending_bytes == NBYTES  # job 1 submitted, 2 and 3 wait
    settle(ahead)
    source.messages_received = 1
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [2, 3]
    assert ahead.pending_bytes == NBYTES  # job 2's, now submitted
    settle(ahead)
    source.messages_received = 2  # read past job 2 too, which was submitted
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [3]
    assert ahead.pending_bytes == NBYTES  # job 3's, never below 0
    ahead.close()


def test_jobs_dropped_unsubmitted_do_not_free_budget_they_never_held() -> None:
    """Messages 1 and 2 read at once: job 1 (submitted) gives its bytes back,
    job 2 (still waiting for room) has none to give."""
    _, source, ahead = setup(3, NBYTES)
    ahead.scan_unread()
    settle(ahead)
    source.messages_received = 2
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [3]
    assert ahead.pending_bytes == NBYTES
    ahead.close()


def test_an_event_past_older_unread_jobs_frees_theirs_and_takes_its_own() -> None:
    """The event of message 3 comes (1 and 2 went by without one): its job is
    taken (its pixels ready for the event's own image, keyed by it) and the
    older two are dropped; no byte stays counted once all is taken."""
    resolver, source, ahead = setup(3, 3 * NBYTES)
    ahead.scan_unread()
    assert ahead.pending_bytes == 3 * NBYTES
    settle(ahead)
    event = source.event(3)
    ahead.take(event)
    assert not ahead._unread_jobs
    assert ahead.pending_bytes == 0
    assert ahead.taken_images == 1
    image = event.message.data.src_bitmap
    assert image is not None
    assert id(image) in resolver.predecoded  # the event's image, not the job's
    fresh = ImageResolver(resolver.shared, resolver.palettes).decode_alone(image)
    entry = resolver.predecoded[id(image)]
    assert entry[0] is image and (entry[1].pixels == fresh.pixels).all()
    got = resolver.get(image)
    assert (got.pixels == fresh.pixels).all()
    assert not resolver.predecoded  # ``get`` used it
    ahead.close()


def test_the_event_of_an_unread_job_is_taken_through_before() -> None:
    """``before`` (the prepare hook's step) hands a job made from unread bytes
    to the event the reader made of them, also when no queued-event job
    exists; armed first by a QUIC draw."""
    resolver, source, ahead = setup(2, 2 * NBYTES)
    ahead.armed = True
    ahead.scan_unread()
    settle(ahead)
    source.messages_received = 1  # the reader made message 1's event
    event = source.event(1)
    ahead.before(event)
    assert ahead.taken_images == 1
    image = event.message.data.src_bitmap
    assert image is not None and id(image) in resolver.predecoded
    ahead.close()


def test_other_events_pass_while_unread_jobs_wait() -> None:
    """An event that is not a message (a channel event) while unread jobs wait,
    queued or delivered, is neither looked into nor an error."""
    from spicepy.channels.events import ChannelClosed

    resolver, source, ahead = setup(2, 2 * NBYTES)
    queued: deque[object] = deque()
    ahead._queued = queued
    ahead.armed = True
    ahead.scan_unread()
    settle(ahead)
    closed = ChannelClosed(True)
    queued.append(closed)
    ahead.before(closed)  # take, scan and scan_unread: none may raise
    assert [job.seq for job in ahead._unread_jobs] == [1, 2]
    assert not resolver.predecoded
    ahead.close()


def test_a_queued_event_of_unread_bytes_gets_their_job_through_scan() -> None:
    """The reader made message 1's event and queued it: ``scan`` gives it the
    job made from its bytes, keyed by the event (``take`` then claims it)."""
    resolver, source, ahead = setup(2, 2 * NBYTES)
    queued: deque[object] = deque()
    ahead._queued = queued
    ahead.scan_unread()
    settle(ahead)
    event = source.event(1)
    source.messages_received = 1
    queued.append(event)
    ahead.scan()
    assert [job.seq for job in ahead._unread_jobs] == [2]
    assert id(event) in ahead._jobs
    queued.popleft()
    ahead.take(event)
    image = event.message.data.src_bitmap
    assert image is not None and id(image) in resolver.predecoded
    assert ahead.taken_images == 1
    ahead.close()


def gate_worker(resolver: ImageResolver) -> threading.Event:
    """Hold the worker thread's decodes until the returned event is set (or
    30 s: a test never hangs); the loop thread's decodes run at once."""
    gate = threading.Event()
    decode = resolver.decode_alone

    def held(image: Image) -> CachedImage:
        if threading.current_thread() is not threading.main_thread():
            gate.wait(30)
        return decode(image)

    resolver.decode_alone = held  # type: ignore[method-assign]
    return gate


def test_the_loop_decodes_queued_jobs_while_it_waits_for_a_running_one() -> None:
    """``take`` of a job the worker holds: the loop decodes the next queued
    job itself meanwhile (``helped``), and both images come out decoded."""
    resolver, source, ahead = setup(2, 2 * NBYTES)
    gate = gate_worker(resolver)
    ahead.scan_unread()
    first, second = ahead._unread_jobs
    deadline = time.monotonic() + 30
    while first.state != lookahead._RUNNING:  # the worker holds job 1
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.001)
    assert second.state == lookahead._QUEUED
    threading.Timer(0.2, gate.set).start()  # job 1 ends after the help
    source.messages_received = 1
    ahead.take(source.event(1))
    assert ahead.helped == 1 and ahead.waits == 1
    assert second.state == lookahead._DONE and len(second.results) == 1
    source.messages_received = 2
    event = source.event(2)
    ahead.take(event)
    assert ahead.taken_images == 2 and ahead.pending_bytes == 0
    image = event.message.data.src_bitmap
    assert image is not None and id(image) in resolver.predecoded
    ahead.close()


def test_a_queued_job_whose_message_went_by_leaves_the_queue() -> None:
    """Messages 1 and 2 read without their events while the worker holds
    job 1: job 2, still queued, is taken off the queue (never decoded) and
    job 3 takes the freed budget."""
    resolver, source, ahead = setup(3, 2 * NBYTES)
    gate = gate_worker(resolver)
    ahead.scan_unread()
    first, second, third = ahead._unread_jobs
    deadline = time.monotonic() + 30
    while first.state != lookahead._RUNNING:
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.001)
    source.messages_received = 2
    ahead.scan_unread()
    assert second.state == lookahead._DROPPED and second not in ahead._queue
    assert list(ahead._unread_jobs) == [third]
    assert ahead.pending_bytes == NBYTES  # job 3's (job 1 finishes unseen)
    gate.set()
    assert third.done.wait(30) and not second.done.is_set()
    ahead.close()


def test_an_image_of_exactly_the_least_pixels_is_decoded_ahead() -> None:
    _, source, ahead = setup(1, NBYTES)
    ahead.min_pixels = {int(ImageType.QUIC): WIDTH * ROWS}
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [1]
    ahead.min_pixels = {int(ImageType.QUIC): WIDTH * ROWS + 1}
    _, source, ahead2 = setup(1, NBYTES)
    ahead2.min_pixels = {int(ImageType.QUIC): WIDTH * ROWS + 1}
    ahead2.scan_unread()
    assert not ahead2._unread_jobs
    ahead.close()
    ahead2.close()


def test_the_worker_is_a_daemon_that_comes_back_after_idling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker ends when idle and a later job starts it again; it never
    keeps the interpreter from exiting (daemon); its decode seconds are
    within the time the test took."""
    monkeypatch.setattr(lookahead, "IDLE_SECONDS", 0.05)
    started = time.perf_counter()
    _, source, ahead = setup(2, NBYTES)
    ahead.scan_unread()
    thread = ahead._thread
    assert thread is not None and thread.daemon
    # (the name other tests find it by: test_lookahead's close test)
    assert thread.name == "spicepy-decode-ahead"
    settle(ahead)
    thread.join(30)
    assert not thread.is_alive() and ahead._thread is None
    source.messages_received = 1
    ahead.take(source.event(1))  # frees the budget: job 2 is submitted
    second = ahead._unread_jobs[0]
    assert second.done.wait(30), "no worker came back for a later job"
    elapsed = time.perf_counter() - started
    assert 0 < ahead.worker_seconds <= elapsed
    ahead.close()


def test_an_unread_draw_that_does_not_decode_makes_no_job() -> None:
    """A draw among the unread bytes that the decoder refuses: skipped (the
    reader raises at it, in order), the next message still looked into."""
    _, source, ahead = setup(2, 2 * NBYTES)
    source.bodies[0] = source.bodies[0][:200]  # its image data cut off
    assert len(source.bodies[0]) >= lookahead.MIN_BODY
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [2]
    ahead.close()


def _jpeg_alpha(flags: int, size: int, data: bytes) -> Image:
    return build_image(
        1, ImageType.JPEG_ALPHA, 0, 8, 8, data=data, jpeg_size=size, jpeg_flags=flags
    )


def test_jpeg_alpha_images_are_the_same_only_with_the_same_flags_size_and_bytes() -> (
    None
):
    same = lookahead._same
    a = _jpeg_alpha(1, 10, b"x" * 30)
    assert same(a, _jpeg_alpha(1, 10, bytes(b"x" * 30)))
    assert not same(a, _jpeg_alpha(0, 10, b"x" * 30))  # flags
    assert not same(a, _jpeg_alpha(1, 11, b"x" * 30))  # JPEG size
    assert not same(a, _jpeg_alpha(1, 10, b"x" * 29 + b"y"))  # bytes
    # a descriptor saying JPEG_ALPHA over another body: not comparable
    other = build_image(1, ImageType.QUIC, 0, 8, 8, data=b"x" * 30)
    lying = replace(other, descriptor=a.descriptor)
    assert not same(a, lying) and not same(lying, a)


def test_take_of_an_event_that_is_not_a_message_is_nothing() -> None:
    """``take`` (public: the event about to be delivered) of a channel event
    while unread jobs wait: nothing claimed, nothing raised."""
    from spicepy.channels.events import ChannelClosed

    _, _, ahead = setup(1, NBYTES)
    ahead.scan_unread()
    settle(ahead)
    ahead.take(ChannelClosed(True))
    assert [job.seq for job in ahead._unread_jobs] == [1]
    ahead.close()


def test_messages_of_one_size_are_framed_once_each() -> None:
    """Three messages of the same bytes: after the reader took message 1,
    framing goes on past message 3 (where the last scan stopped), not from
    a place inside the view that only lines up by chance."""
    _, source, ahead = setup(1, 3 * NBYTES)
    source.bodies = source.bodies * 3
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [1, 2, 3]
    source.messages_received = 1
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [2, 3]
    source.messages_received = 2
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [3]
    ahead.close()


def test_messages_arriving_later_are_numbered_after_those_framed() -> None:
    """More whole messages arrive behind the unread ones: the next scan frames
    only them, numbered on from the last one framed."""
    _, source, ahead = setup(4, 4 * NBYTES)
    later = source.bodies[2:]
    source.bodies = source.bodies[:2]
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [1, 2]
    source.bodies += later
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [1, 2, 3, 4]
    source.messages_received = 1
    source.bodies.append(later[0])
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [2, 3, 4, 5]
    ahead.close()


def test_a_quic_source_arms_the_look_ahead_beside_a_mask_of_another_type() -> None:
    """Any image of a type decoded ahead arms it, whatever else the draw holds
    (a 1 bpp mask bitmap beside a QUIC source)."""
    from spicepy.wire.types import BitmapData, Point, QMask

    class Counting:
        messages_received = 0
        mini_header = True
        max_message_size = 1 << 20
        calls = 0

        def unread(self) -> None:
            self.calls += 1

    draw = message(1, ("draw", ImageType.QUIC, 0, 8, "ok", 1))
    bits = BitmapData(1, 0, 8, 8, 1, data=b"\xff" * 8)  # (1 bpp: not decoded)
    mask = build_image(9, ImageType.BITMAP, 0, 8, 8, bitmap=bits)
    masked = replace(draw, data=replace(draw.data, mask=QMask(0, Point(0, 0), mask)))
    source = Counting()
    ahead = lookahead.DecodeAhead(
        lambda: None, [], LIMITS.decode_ahead, 1 << 20, source=source
    )
    ahead.before(MessageReceived(DISPLAY, md.DrawCopy.MSG_TYPE, 1, masked))
    assert ahead.armed and source.calls == 1
    ahead.close()


def test_images_of_other_heights_are_not_the_same() -> None:
    """Same type, width and codec bytes, another height: not one image (the
    descriptor's size is what the resolver checks the decode against)."""
    a = build_image(1, ImageType.QUIC, 0, 8, 8, data=b"q" * 40)
    assert lookahead._same(a, build_image(2, ImageType.QUIC, 0, 8, 8, data=b"q" * 40))
    assert not lookahead._same(
        a, build_image(1, ImageType.QUIC, 0, 8, 9, data=b"q" * 40)
    )
    assert not lookahead._same(
        a, build_image(1, ImageType.QUIC, 0, 9, 8, data=b"q" * 40)
    )


def test_nothing_decoded_ahead_is_handed_over_after_close() -> None:
    """``close`` (the connection ended) forgets the unread jobs too: an event
    delivered after it (the reader's last words) takes nothing decoded."""
    resolver, source, ahead = setup(1, NBYTES)
    ahead.scan_unread()
    settle(ahead)
    ahead.close()
    source.messages_received = 1
    ahead.take(source.event(1))
    assert ahead.taken_images == 0 and not resolver.predecoded
    source.messages_received = 0  # and nothing more is looked into
    ahead.scan_unread()
    assert not ahead._unread_jobs and ahead.pending_bytes == 0


def test_the_decode_seconds_of_every_job_taken_add_up() -> None:
    resolver, source, ahead = setup(2, 2 * NBYTES)
    ahead.scan_unread()
    settle(ahead)
    seconds = [job.seconds for job in ahead._unread_jobs]
    assert all(s > 0 for s in seconds)
    before = resolver.decode_seconds
    for n in (1, 2):
        source.messages_received = n
        ahead.take(source.event(n))
    assert ahead.taken_images == 2
    assert ahead.worker_seconds == pytest.approx(sum(seconds))
    assert resolver.decode_seconds - before == pytest.approx(sum(seconds))


def test_a_job_of_a_replaced_resolver_hands_nothing_over() -> None:
    """The channel's resolver changed (a new driver) since the job was made:
    its pixels go to neither resolver; the budget comes back."""
    resolver, source, ahead = setup(1, NBYTES)
    ahead.scan_unread()
    settle(ahead)
    other = ImageResolver(resolver.shared, resolver.palettes)
    ahead._resolver = lambda: other
    source.messages_received = 1
    ahead.take(source.event(1))
    assert not resolver.predecoded and not other.predecoded
    assert ahead.taken_images == 0 and ahead.pending_bytes == 0
    ahead.close()


def test_an_image_of_exactly_the_inline_limit_is_decoded_ahead() -> None:
    """``max_pixels`` (``Limits.inline_decode_pixels``) is the largest image
    decoded inline: one that size is decoded ahead, one pixel over is not."""
    _, _, ahead = setup(1, NBYTES)
    ahead.max_pixels = WIDTH * ROWS
    ahead.scan_unread()
    assert [job.seq for job in ahead._unread_jobs] == [1]
    _, _, over = setup(1, NBYTES)
    over.max_pixels = WIDTH * ROWS - 1
    over.scan_unread()
    assert not over._unread_jobs
    ahead.close()
    over.close()


def test_a_draw_with_two_images_counts_both_in_the_budget() -> None:
    """A QUIC source and a QUIC mask: one job, both images, 4 bytes a pixel
    of each held against the budget."""
    from spicepy.wire.types import Point, QMask

    _, source, ahead = setup(1, 4 * NBYTES)
    draw = message(0, ("draw", ImageType.QUIC, 0, ROWS, "ok", 0))
    mask_image = message(1, ("draw", ImageType.QUIC, 0, ROWS, "ok", 1)).data.src_bitmap
    masked = replace(
        draw, data=replace(draw.data, mask=QMask(0, Point(0, 0), mask_image))
    )
    source.bodies = [encode_struct(masked)]
    ahead.scan_unread()
    (job,) = ahead._unread_jobs
    assert len(job.images) == 2 and job.nbytes == 2 * NBYTES
    assert ahead.pending_bytes == 2 * NBYTES
    ahead.close()


def test_a_message_that_is_not_a_draw_passes_while_unread_jobs_wait() -> None:
    _, _, ahead = setup(1, NBYTES)
    ahead.armed = True
    ahead.scan_unread()
    settle(ahead)
    mark = md.DisplayMark()
    ahead.before(MessageReceived(DISPLAY, mark.MSG_TYPE, 1, mark))
    assert [job.seq for job in ahead._unread_jobs] == [1]
    ahead.close()


def test_a_job_claimed_before_it_was_submitted_never_is() -> None:
    """Room for one image: job 1 submitted, job 2 waits.  Message 1 went by
    without its event and message 2's event claims job 2 still waiting: the
    loop decodes it inline, nothing is submitted for it, no byte stays held."""
    _, source, ahead = setup(2, NBYTES)
    ahead.scan_unread()
    first, second = ahead._unread_jobs
    assert second.state == lookahead._WAITING
    source.messages_received = 2
    ahead.take(source.event(2))
    assert second.state == lookahead._DROPPED and ahead.pending_bytes == 0
    assert not ahead._queue or list(ahead._queue) == [first]
    assert ahead.taken_images == 0
    ahead.close()


def test_scan_of_an_empty_queue_is_nothing() -> None:
    _, _, ahead = setup(0, NBYTES)
    ahead.scan()
    assert not ahead._jobs
    ahead.close()


def test_events_queued_behind_one_already_scanned_get_jobs() -> None:
    """``scan`` looks into the events queued since the last scan: with the
    scanned one still at the head, the new ones behind it get jobs."""
    resolver, source, ahead = setup(2, 2 * NBYTES)
    queued: deque[object] = deque()
    ahead._queued = queued
    first, second = source.event(1), source.event(2)
    queued.append(first)
    ahead.scan()
    assert list(ahead._jobs) == [id(first)]
    queued.append(second)
    ahead.scan()
    assert list(ahead._jobs) == [id(first), id(second)]
    ahead.close()
