"""The display lane's fresh images (``session/_lane.pyx``): a same-size
DRAW_COPY / DRAW_BLEND of an LZ_RGB, QUIC or LZ4 image that a cache keeps
(CACHE_ME, CACHE_REPLACE_ME) is decoded from the draw's bytes, kept by
``ImageResolver.keep`` and drawn in C.  Lane on must equal lane off: pixels,
the cache (pixels, alpha, lossy), decode counts, message counts, image types,
changes, bytes queued, and for a hostile stream the general path's error (the
lane declines it having changed nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from _canvas_build import NO_MASK, Image, base
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spicepy.codecs import lz, lz4, quic
from test_session_lane import (
    OR,
    PUT,
    Rig,
    _bitmap,
    _cached,
    _copy,
    _create,
    _fill,
    _rect,
    expected_read,
    state,
)

from spicepy.errors import WireError
from spicepy.limits import Limits
from spicepy.session import core as core_mod
from spicepy.session.core import SessionCore
from spicepy.wire import msg_display as md
from spicepy.wire import types as wt
from spicepy.wire.enums import BitmapFmt, DisplayMsg, ImageFlags, ImageType
from spicepy.wire.schema import decode_struct, encode_struct

pytestmark = pytest.mark.skipif(
    core_mod._lane is None, reason="no compiled lane (pure-Python twins)"
)

W, H = 40, 30
CACHE_ME, REPLACE = int(ImageFlags.CACHE_ME), int(ImageFlags.CACHE_REPLACE_ME)
HIGH_BITS = int(ImageFlags.HIGH_BITS_SET)
STREAMS = (ImageType.LZ_RGB, ImageType.QUIC, ImageType.LZ4)
KEPT_FLAGS = (CACHE_ME, REPLACE, CACHE_ME | HIGH_BITS, REPLACE | HIGH_BITS)


# -- images and draws ------------------------------------------------------------------


def encode(kind: int, pixels: np.ndarray, alpha: bool) -> bytes:
    """``pixels`` (h, w, 4) as ``kind``'s stream, with alpha or without."""
    if kind == ImageType.LZ_RGB:
        return lz.encode(pixels, image_type="RGBA" if alpha else "RGB32")
    if kind == ImageType.QUIC:
        return quic.encode(pixels, image_type="RGBA" if alpha else "RGB32")
    fmt = BitmapFmt.FMT_RGBA if alpha else BitmapFmt.FMT_32BIT
    return lz4.encode(pixels, bitmap_format=fmt)


def picture(w: int, h: int, seed: int) -> np.ndarray:
    """Pixels that compress (runs and gradients) and some that do not."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 4), np.uint8)
    out[..., 0] = (np.arange(w)[None, :] * (seed % 7 + 1)) & 0xFF
    out[..., 1] = (np.arange(h)[:, None] * 9 + seed) & 0xFF
    out[..., 2:] = rng.integers(0, 256, (h, w, 2), np.uint8)
    out[: h // 2, : w // 2, :3] = 0x40  # a run
    return out


def stream_image(
    kind: int,
    image_id: int,
    flags: int,
    w: int,
    h: int,
    seed: int = 1,
    alpha: bool = False,
    data: bytes | None = None,
    size: tuple[int, int] | None = None,
) -> wt.Image:
    """A ``kind`` image of w x h (its descriptor says ``size`` if given) whose
    stream is ``data`` or ``picture``'s pixels encoded."""
    if data is None:
        data = encode(kind, picture(w, h, seed), alpha)
    dw, dh = size if size is not None else (w, h)
    return Image(image_id, kind, flags, dw, dh, data=data)


def copy_of(
    image: wt.Image,
    x: int,
    y: int,
    rop: int = PUT,
    clip: list[wt.Rect] | None = None,
    cls: type = md.DrawCopy,
) -> Any:
    w, h = image.descriptor.width, image.descriptor.height
    return cls(
        base(0, _rect(x, y, w, h), clip),
        md.Copy(image, _rect(0, 0, w, h), rop, 0, NO_MASK),
    )


# -- a stream through a core, lane on or off -------------------------------------------


def cache_state(core: SessionCore) -> Any:
    """The cache and every resolver's decode counts."""
    shared = core.shared
    assert shared is not None
    entries = {
        image_id: (e.pixels.tobytes(), e.pixels.shape, e.has_alpha, e.lossy)
        for image_id, e in shared.cache.entries.items()
    }
    decoded = [d.canvas.images.decoded_pixels for d in core.drivers.values()]
    return list(entries.items()), shared.cache.bytes, decoded


#: what the canvas resolves before the lane may draw with it: the fill and
#: image ROPs the tests use (from BITMAP images, which the lane leaves alone)
TEACH = [
    _fill(0, 0, 0, 0x123456, PUT, 0),
    _copy(0, 0, 0, _bitmap(1000, 0x010203), PUT, 0),
    _copy(0, 2, 2, _bitmap(1001, 0x040506), OR, 0),
]


def run(
    msgs: list[Any],
    lane: bool,
    cuts: tuple[int, ...] = (),
    limits: Limits | None = None,
    prepare: Callable[[SessionCore], None] | None = None,
) -> tuple[Any, int]:
    """``msgs`` after a SURFACE_CREATE and ``TEACH``, fed in pieces cut at
    ``cuts``: the core's state with the cache's, and the draws of ``msgs`` the
    lane took."""
    core = SessionCore() if limits is None else SessionCore(limits=limits)
    rig = Rig(core, lane)
    rig.feed(b"".join(rig.pack(m) for m in [_create(0), *TEACH]))
    if prepare is not None:
        prepare(core)
    before = rig.lane.taken if rig.lane is not None else 0
    data = b"".join(rig.pack(m) for m in msgs)
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for n, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        rig.feed(data[a:b], now=float(n + 2))
    rig.feed(b"", now=99.0)
    taken = rig.lane.taken - before if rig.lane is not None else 0
    return (state(core, [rig.machine], [bytes(rig.sent)]), cache_state(core)), taken


def alike(msgs: list[Any], **kw: Any) -> int:
    """Lane on == lane off (whole and cut at every 97th byte); the draws the
    lane took in one piece."""
    off, _ = run(msgs, False, **kw)
    on, taken = run(msgs, True, **kw)
    assert on == off
    cuts = tuple(range(0, 1 << 16, 97))
    assert run(msgs, True, cuts, **kw)[0] == run(msgs, False, cuts, **kw)[0]
    return taken


# -- the lane takes them, and draws and keeps what the general path does ---------------


@pytest.mark.parametrize("kind", STREAMS)
@pytest.mark.parametrize("alpha", [False, True])
def test_a_kept_image_is_decoded_kept_and_drawn_in_the_lane(
    kind: int, alpha: bool
) -> None:
    """CACHE_ME images of each codec copied and blended (clipped to one
    rectangle, partly off the surface, fully clipped away: still decoded and
    kept), then drawn again from the cache."""
    msgs: list[Any] = [
        copy_of(stream_image(kind, 1, CACHE_ME, 9, 7, 3, alpha), 2, 3),
        copy_of(stream_image(kind, 2, CACHE_ME, 12, 5, 4, alpha), 30, 27, OR),
        copy_of(
            stream_image(kind, 3, CACHE_ME, 6, 6, 5, alpha),
            10,
            1,
            clip=[_rect(12, 2, 3, 3)],
            cls=md.DrawBlend,
        ),
        copy_of(stream_image(kind, 4, CACHE_ME, 5, 5, 6, alpha), 1, 1, clip=[]),
        copy_of(_cached(3), 20, 20),
        copy_of(_cached(4), 0, 20),
    ]
    assert alike(msgs) == len(msgs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(STREAMS),
            st.integers(0, 3),  # id
            st.sampled_from(
                [CACHE_ME, REPLACE, CACHE_ME | HIGH_BITS, REPLACE | HIGH_BITS]
            ),
            st.integers(1, 14),
            st.integers(1, 10),
            st.integers(-8, W),
            st.integers(-6, H),
            st.sampled_from([PUT, OR]),
            st.booleans(),  # alpha
            st.integers(0, 2),  # clip: none, one rectangle, none left
            st.booleans(),  # then drawn again from the cache
        ),
        min_size=1,
        max_size=8,
    ),
    st.lists(st.integers(0, 1 << 16), max_size=6),
)
def test_lane_on_equals_lane_off_on_random_kept_images(
    ops: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    msgs: list[Any] = []
    for n, op in enumerate(ops):
        kind, image_id, flags, w, h, x, y, rop, alpha, clip, again = op
        rects = [None, [_rect(x + 1, y, 4, 3)], []][clip]
        image = stream_image(kind, image_id, flags, w, h, n, alpha)
        msgs.append(copy_of(image, x, y, rop, rects))
        if again:
            msgs.append(copy_of(_cached(image_id), y, x, rop))
    off, _ = run(msgs, False, tuple(cuts))
    on, taken = run(msgs, True, tuple(cuts))
    assert on == off
    if not cuts:
        assert taken >= len(ops)  # every kept image, and the cached copies found


def test_a_high_bits_image_is_kept_and_drawn_opaque() -> None:
    """HIGH_BITS_SET on an image without alpha: the kept and drawn pixels
    have alpha 0xFF (``keep``'s copy), lane on as off."""
    msgs = [
        copy_of(stream_image(ImageType.LZ_RGB, 7, CACHE_ME | HIGH_BITS, 6, 4), 0, 0)
    ]
    on, taken = run(msgs, True)
    assert taken == 1 and on == run(msgs, False)[0]
    entries, _, decoded = on[1]
    pixels = np.frombuffer(dict(entries)[7][0], np.uint8).reshape(4, 6, 4)
    assert (pixels[..., 3] == 0xFF).all()
    assert decoded == [run([], True)[0][1][2][0] + 6 * 4]  # (TEACH's bitmaps)


def test_an_image_no_cache_keeps_goes_the_general_path() -> None:
    """Without CACHE_ME / CACHE_REPLACE_ME the lane declines (the general path
    may decode it into the surface's rows, or not at all when clipped away)."""
    msgs = [
        copy_of(stream_image(kind, 5, flags, 8, 6), 3, 3, clip=clip)
        for kind in STREAMS
        for flags, clip in ((0, None), (HIGH_BITS, []))
    ]
    assert alike(msgs) == 0


# -- what the lane must leave to the general path --------------------------------------


def _corrupt(data: bytes, at: int, value: int) -> bytes:
    buf = bytearray(data)
    buf[at % len(buf)] = value
    return bytes(buf)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(STREAMS),
    st.integers(1, 12),
    st.integers(1, 9),
    st.booleans(),
    st.data(),
)
def test_a_hostile_stream_ends_as_without_the_lane(
    kind: int, w: int, h: int, alpha: bool, data: Any
) -> None:
    """A kept image's stream corrupted, cut (its size field agreeing), grown,
    or its descriptor's size lying, between good draws: lane on == off (the
    same message dropped with the same error, the same cache)."""
    stream = encode(kind, picture(w, h, 2), alpha)
    how = data.draw(st.sampled_from(["byte", "cut", "grow", "size"]))
    size = None
    if how == "byte":
        for _ in range(data.draw(st.integers(1, 3))):
            at = data.draw(st.integers(0, len(stream) - 1))
            stream = _corrupt(stream, at, data.draw(st.integers(0, 255)))
    elif how == "cut":
        stream = stream[: data.draw(st.integers(0, len(stream) - 1))]
    elif how == "grow":
        stream += data.draw(st.binary(min_size=1, max_size=8))
    else:
        size = (
            data.draw(st.sampled_from([0, w - 1, w, w + 1, 1 << 15])),
            data.draw(st.sampled_from([0, h - 1, h, h + 1, 1 << 14])),
        )
    good = stream_image(kind, 9, CACHE_ME, 4, 3, 8)
    msgs = [
        copy_of(good, 0, 0),
        copy_of(stream_image(kind, 9, CACHE_ME, w, h, data=stream, size=size), 2, 2),
        copy_of(_cached(9), 5, 5),
    ]
    alike(msgs, prepare=None if data.draw(st.booleans()) else no_arena)


def _read_as_the_decoder(body: bytes) -> dict[str, Any] | None:
    """``_lane.parse`` of a DRAW_COPY body, checked against the decoder: None
    where it raises, else what the decoded message holds."""
    got = core_mod._lane.parse(DisplayMsg.DRAW_COPY, body)
    try:
        msg = decode_struct(md.DrawCopy, body)
    except WireError:
        assert got is None
        return None
    assert got == expected_read(msg)
    return got


@pytest.mark.parametrize("kind", STREAMS)
def test_a_stream_is_read_only_where_the_body_holds_it(kind: int) -> None:
    """Cut at every byte, or its size field lying by a byte or more: the lane
    takes the stream only where the decoder reads it, as those bytes."""
    image = stream_image(kind, 1, CACHE_ME, 5, 4)
    body = encode_struct(copy_of(image, 0, 0))
    assert image.binary is not None
    size = len(image.binary.data)
    for cut in range(len(body) + 1):
        got = _read_as_the_decoder(body[:cut])
        assert (got is not None) == (cut == len(body))
    at = len(body) - size - 4  # the image comes last: its size field, its bytes
    assert int.from_bytes(body[at : at + 4], "little") == size
    for lie in (0, 1, size - 1, size + 1, size + 2, 1 << 31, (1 << 32) - 1):
        lying = body[:at] + (lie & 0xFFFFFFFF).to_bytes(4, "little") + body[at + 4 :]
        got = _read_as_the_decoder(lying)
        assert (got is not None) == (lie <= size)
        if got is not None:
            assert got["stream"][3] == image.binary.data[:lie]


def test_a_stream_that_fails_is_declined_and_dropped_by_the_general_path() -> None:
    """The lane takes the good draws around a bad one, which the general path
    drops with its codec error (and which leaves the cached id as it was)."""
    bad = stream_image(ImageType.QUIC, 1, CACHE_ME, 5, 5, data=b"\0" * 40)
    msgs = [
        copy_of(stream_image(ImageType.QUIC, 1, CACHE_ME, 5, 5), 0, 0),
        copy_of(bad, 6, 6),
        copy_of(_cached(1), 12, 12),
    ]
    assert alike(msgs) == 2
    on, _ = run(msgs, True)
    assert on[0][3] == {"DrawCopy: CanvasError": 1}


@pytest.mark.parametrize("arena", [True, False])
def test_a_descriptor_size_other_than_the_streams_is_refused(arena: bool) -> None:
    """The stream has another size than its descriptor's (the same pixel
    count too): the general path refuses it, decoded into ``take_pixels``'s
    array or the codec's own, and the lane declines it; an LZ4 stream has no
    size of its own (its pixels fill the descriptor's rows), so both take the
    two of the same pixel count."""
    msgs = [
        copy_of(stream_image(k, 1, CACHE_ME, 6, 4, size=size), 0, 0)
        for k in STREAMS
        for size in ((7, 4), (6, 3), (4, 6), (3, 8))
    ]
    assert alike(msgs, prepare=None if arena else no_arena) == 2
    on, _ = run(msgs, True, prepare=None if arena else no_arena)
    assert on[0][3] == {"DrawCopy: CanvasError": len(msgs) - 2}


def test_a_destination_the_kernels_refuse_is_checked_before_the_decode() -> None:
    """A primary whose pixels the kernels refuse (read-only): the lane
    declines before decoding, so the general path decodes, keeps and then
    drops the draw once (one decode counted, not two)."""

    def read_only(core: SessionCore) -> None:
        primary = core.drivers[0].canvas.primary
        assert primary is not None
        primary.pixels.flags.writeable = False

    msgs = [copy_of(stream_image(k, n, CACHE_ME, 6, 5), n, 0)
            for n, k in enumerate(STREAMS)]  # fmt: skip
    assert alike(msgs, prepare=read_only) == 0
    on, _ = run(msgs, True, prepare=read_only)
    assert on[0][3] == {"DrawCopy: CanvasError": 3}
    assert len(on[1][0]) == 2 + 3  # TEACH's bitmaps and the three kept


def test_the_sessions_image_limit_is_the_general_paths() -> None:
    """An image over ``Limits.image_pixels`` is left to the general path,
    which refuses it; one at the limit is taken."""
    limits = Limits(image_pixels=48)
    msgs = [
        copy_of(stream_image(kind, 1, CACHE_ME, w, h), 0, 0)
        for kind in STREAMS
        for w, h in ((8, 6), (7, 7))
    ]
    assert alike(msgs, limits=limits) == 3
    on, _ = run(msgs, True, limits=limits)
    assert on[0][3] == {"DrawCopy: CanvasError": 3}


def test_what_a_live_session_decodes_off_the_loop_is_left_to_it() -> None:
    """A QUIC image the look-ahead would decode on the second core (at least
    ``lookahead.MIN_PIXELS``) and any image over ``inline_decode_pixels``
    (decoded by a parked connection's worker) take the general path; with the
    look-ahead off (``decode_ahead`` 0) the lane takes the QUIC one."""
    from spicepy.session.lookahead import MIN_PIXELS

    side = 1
    while side * side < MIN_PIXELS[ImageType.QUIC]:
        side += 1
    big = copy_of(stream_image(ImageType.QUIC, 1, CACHE_ME, side, side), 0, 0)
    small = copy_of(stream_image(ImageType.QUIC, 2, CACHE_ME, side, side - 1), 0, 0)
    assert (side - 1) * side < MIN_PIXELS[ImageType.QUIC]
    assert alike([big, small]) == 1
    assert alike([big, small], limits=Limits(decode_ahead=0)) == 2
    parked = Limits(inline_decode_pixels=30)
    msgs = [copy_of(stream_image(k, 3, CACHE_ME, w, 5), 0, 0) for k in STREAMS
            for w in (6, 7)]  # fmt: skip
    assert alike(msgs, limits=parked) == 3


def test_a_decode_hook_sees_every_image_lane_on_or_off() -> None:
    """While ``decoded_hook`` is set the lane leaves fresh images to the
    general path, whose ``get`` calls it with the wire image."""
    seen: dict[bool, list[int]] = {False: [], True: []}
    msgs = [copy_of(stream_image(k, i, CACHE_ME, 5, 4, i), i, i) for i, k in
            enumerate(STREAMS)]  # fmt: skip
    results = []
    for lane in (False, True):

        def hook(core: SessionCore, lane: bool = lane) -> None:
            core.drivers[0].canvas.images.decoded_hook = lambda image, _decoded: seen[
                lane
            ].append(image.descriptor.id)

        results.append(run(msgs, lane, prepare=hook))
    assert results[0][0] == results[1][0] and results[1][1] == 0
    assert seen[False] == seen[True] == [0, 1, 2]


def no_arena(core: SessionCore) -> None:
    """No ``take_pixels``: the codecs allocate (from the stream's header)."""
    assert core.shared is not None
    core.shared.take_pixels = None


def test_without_an_arena_the_codec_allocates_alike() -> None:
    """``take_pixels`` None: the codecs allocate; lane on == off."""
    msgs = [copy_of(stream_image(k, 1, CACHE_ME, 7, 5), 1, 1) for k in STREAMS]
    assert alike(msgs, prepare=no_arena) == 3


def test_the_lanes_pixels_come_from_the_arena() -> None:
    """A fresh image kept by the lane is decoded into ``take_pixels``'s
    array, and its decode time counted."""
    given_out: list[np.ndarray] = []

    def taking(h: int, w: int) -> Any:
        given_out.append(np.empty((h, w, 4), np.uint8))
        return given_out[-1]

    for kind in STREAMS:
        core = SessionCore()
        rig = Rig(core, True)
        rig.feed(b"".join(rig.pack(m) for m in [_create(0), *TEACH]))
        assert core.shared is not None and rig.lane is not None
        core.shared.take_pixels = taking
        core.shared.take_pixels_min = 30  # (6x5: asked, at the threshold)
        before = rig.lane.taken
        rig.feed(rig.pack(copy_of(stream_image(kind, 3, CACHE_ME, 6, 5), 0, 0)))
        assert rig.lane.taken == before + 1
        assert core.shared.cache.entries[3].pixels is given_out[-1]
        assert core.drivers[0].canvas.images.decode_seconds > 0
        core.shared.take_pixels_min = 31  # under it: the codec's own array
        asked = len(given_out)
        rig.feed(rig.pack(copy_of(stream_image(kind, 4, CACHE_ME, 6, 5), 0, 0)))
        assert rig.lane.taken == before + 2 and len(given_out) == asked


# -- a change listener that raises part-way through a lane run -------------------------


def _with_raising_listener(lane: bool) -> tuple[Any, list[Any], list[Any]]:
    """Five fills in one chunk; the change listener raises at the second and
    the fourth; the caller reads on after each error (as ``replay`` does)."""
    core = SessionCore()
    rig = Rig(core, lane)
    rig.feed(rig.pack(_create(0)))
    heard: list[Any] = []
    batches: list[Any] = []

    def listener(channel_id: int, rect: Any) -> None:
        heard.append((rect, core.change_count, len(core._changes)))
        if len(heard) in (2, 4):
            raise RuntimeError("listener")

    core.on_change(listener)
    core.on_changes(lambda cid, rects: batches.extend(rects))
    data = b"".join(rig.pack(_fill(0, i, i, 0x10 * i, PUT, 0)) for i in range(5))
    errors = 0
    try:
        rig.feed(data)
    except RuntimeError:
        errors += 1
    while True:
        try:
            rig.drain()
            break
        except RuntimeError:
            errors += 1
    assert errors >= 1
    return state(core, [rig.machine], [bytes(rig.sent)]), heard, batches


def test_a_raising_change_listener_loses_no_other_change_of_the_run() -> None:
    """The lane notes the run's other changes (each with its listeners, in
    order) and raises the first error after: lane on == off, where the
    general path drops only the raising message's change."""
    off = _with_raising_listener(False)
    on = _with_raising_listener(True)
    assert on == off
    assert [r for r, _, _ in on[1]] == [_rect(i, i, 10, 7) for i in range(5)]
    assert on[2] == [_rect(i, i, 10, 7) for i in (0, 2, 4)]


# -- the pure twin (SPICEPY_PUREPYTHON=1: no lane, the reference codecs) ---------------

_TWIN = r"""
import sys, pickle
sys.path.insert(0, sys.argv[1])
import test_lane_images as t
print(pickle.dumps(t.run(t.twin_stream(), lane=False)[0]).hex())
"""


def twin_stream() -> list[Any]:
    """Kept images of every codec (with alpha and without), drawn and redrawn."""
    msgs: list[Any] = []
    for n, kind in enumerate(STREAMS):
        for alpha in (False, True):
            image_id = 2 * n + alpha
            image = stream_image(kind, image_id, CACHE_ME, 7 + n, 5, n, alpha)
            msgs.append(copy_of(image, 3 * n, 4 * alpha, OR if alpha else PUT))
            msgs.append(copy_of(_cached(image_id), 20 - n, 10))
    return msgs


def test_the_lane_equals_the_pure_twin() -> None:
    """The same draws through the lane (compiled codecs and kernels) and in a
    process with SPICEPY_PUREPYTHON=1 (reference twins, no lane): the same
    surfaces, cache, counts and changes."""
    import pickle

    env = dict(os.environ, SPICEPY_PUREPYTHON="1")
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(
        [sys.executable, "-P", "-c", _TWIN, here],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    twin = pickle.loads(bytes.fromhex(out.stdout.strip().splitlines()[-1]))
    on, taken = run(twin_stream(), True)
    assert taken == len(twin_stream())
    assert on == twin
