"""Pixel memory (``canvas.pixelmem``): images dealt out of huge-page regions.

Each array of a ``PixelArena`` is its own bytes (writing one never changes
another), aligned, of the asked shape; a region is given back (kept as a
spare or unmapped) when its last image dies; ``pinned`` is exactly the
bytes of the mappings alive and never exceeds the cap, whatever hypothesis
takes and drops, on one thread or several; past the cap, for small images
and where huge pages are off the caller allocates; and every capture draws
the same surfaces with the arena as without it."""

from __future__ import annotations

import gc
import hashlib
import mmap
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _canvas_build import Image, Rect, copy
from conftest import CAPTURES
from hypothesis import given, settings
from hypothesis import strategies as st
from spicepy.codecs import lz4

from spicepy.canvas import Canvas, images, pixelmem
from spicepy.canvas.pixelmem import (
    ALIGN,
    HUGE_PAGE,
    MIN_BYTES,
    MIN_PIXELS,
    SPARE_BYTES,
    PixelArena,
)
from spicepy.canvas.surface import SurfaceFormat
from spicepy.capture.replay import replay
from spicepy.limits import DEFAULT_LIMITS
from spicepy.session.core import DisplayDriver
from spicepy.wire.enums import ImageFlags, ImageType
from spicepy.wire.enums import RopDescriptor as RopD

MiB = 1 << 20
#: a 440x300 image (gradients-lz's largest): three of them fill a region
H, W = 300, 440


class Mappings:
    """Every mapping ``pixelmem._map`` made, weakly: which are still there."""

    def __init__(self) -> None:
        self.made: list[tuple[weakref.ref[mmap.mmap], int]] = []

    def alive(self) -> list[int]:
        gc.collect()
        return [size for ref, size in self.made if ref() is not None]


@pytest.fixture
def mappings(monkeypatch: pytest.MonkeyPatch) -> Mappings:
    seen = Mappings()
    real = pixelmem._map

    def traced(size: int) -> tuple[mmap.mmap, int] | None:
        made = real(size)
        if made is not None:
            seen.made.append((weakref.ref(made[0]), size))
        return made

    monkeypatch.setattr(pixelmem, "_map", traced)
    return seen


def arena(cap: int = 64 * MiB) -> PixelArena:
    return PixelArena(cap, huge=True)


def test_an_image_is_its_shape_aligned_writable_and_apart() -> None:
    a = arena()
    # (129 x 131 x 4 is no multiple of ALIGN: the next image is rounded up)
    taken = [a.take(129, 131), a.take(H, W), a.take(H, W), a.take(128, 128)]
    for i, pixels in enumerate(taken):
        assert pixels is not None
        assert pixels.dtype == np.uint8 and pixels.flags.c_contiguous
        assert pixels.flags.writeable and pixels.ctypes.data % ALIGN == 0
        pixels[...] = i + 1  # every byte (a view past its end would not be ours)
    shapes = [(129, 131, 4), (H, W, 4), (H, W, 4), (128, 128, 4)]
    assert [p.shape for p in taken if p is not None] == shapes
    for i, pixels in enumerate(taken):
        assert pixels is not None
        assert int(pixels.min()) == int(pixels.max()) == i + 1
    # a region starts on a huge page: the first image of a fresh arena
    first = taken[0]
    assert first is not None and first.ctypes.data % HUGE_PAGE == 0


def test_small_images_over_the_cap_and_without_huge_pages_go_to_the_caller() -> None:
    a = arena(cap=2 * HUGE_PAGE)
    side = int((MIN_BYTES // 4) ** 0.5)
    assert a.take(side - 1, side - 1) is None  # under MIN_BYTES
    assert a.take(side + 1, side + 1) is not None
    assert a.take(1024, 1024 + 1) is None  # more than the cap on its own
    kept = [a.take(H, W) for _ in range(6)]  # 3 a region: 2 regions fill the cap
    assert all(p is not None for p in kept)
    assert a.take(H, W) is None and a.refused == 1
    assert a.pinned == 2 * HUGE_PAGE
    assert PixelArena(64 * MiB, huge=False).take(H, W) is None


def test_min_pixels_is_the_smallest_image_served() -> None:
    """A caller may skip ``take`` under ``MIN_PIXELS`` (images.py, to save the
    call): exactly what the arena refuses for its size, whatever the shape."""
    a = arena()
    for height in (1, 3, 64, 127):
        short = (MIN_PIXELS - 1) // height  # the widest image under it
        assert a.take(height, short) is None
        assert a.take(height, short + 1) is not None  # (at or past it)
    assert a.take(1, MIN_PIXELS) is not None and a.take(1, MIN_PIXELS - 1) is None


def test_a_region_is_unmapped_when_its_last_image_dies(mappings: Mappings) -> None:
    a = arena()
    first = [a.take(H, W) for _ in range(3)]  # region 1 full
    second = a.take(H, W)  # region 2 is current now
    assert mappings.alive() == [HUGE_PAGE, HUGE_PAGE]
    del first[1:]
    assert mappings.alive() == [HUGE_PAGE, HUGE_PAGE]  # one image keeps it
    assert a.pinned == 2 * HUGE_PAGE
    del first[0]
    gc.collect()
    a._settle()
    # dead: a spare (mapped, pinned) for the next region, not a new mapping
    assert len(a._spares) == 1 and a.pinned == 2 * HUGE_PAGE
    more = [a.take(H, W) for _ in range(3)]  # region 2 full: the spare serves
    assert len(mappings.made) == 2 and not a._spares
    assert more[-1] is not None and second is not None
    a.release()  # the session ends: the images still hold theirs
    assert len(mappings.alive()) == 2
    del more, second
    assert mappings.alive() == [] and a.pinned == 0


def test_spares_are_bounded_and_reused_by_size(mappings: Mappings) -> None:
    a = arena()
    big = a.take(1024, 768)  # 3 MiB: a 4 MiB region
    held = [a.take(H, W) for _ in range(12)]  # four 2 MiB regions
    assert big is not None and all(p is not None for p in held)
    del big  # its region: a spare, all of SPARE_BYTES
    assert a._spare_bytes == SPARE_BYTES == 2 * HUGE_PAGE
    del held  # the three full regions go (the current one stays)
    assert sorted(mappings.alive()) == [HUGE_PAGE, 2 * HUGE_PAGE]
    assert a.pinned == sum(mappings.alive())
    again = a.take(1000, 700)  # fits the spare: no new mapping
    assert again is not None and len(mappings.made) == 5 and not a._spares
    assert sorted(mappings.alive()) == [HUGE_PAGE, 2 * HUGE_PAGE]


def test_an_image_larger_than_a_huge_page_has_its_region_to_itself(
    mappings: Mappings,
) -> None:
    """Later images do not go in its region's tail (they would keep 4 MiB
    mapped after a 3 MiB image decoded ahead and drawn once died)."""
    a = arena()
    small = [a.take(H, W) for _ in range(3)]  # its region: ~0.5 MiB left
    big = a.take(1024, 768)  # a 4 MiB region: 1 MiB left
    later = a.take(H, W)  # not in big's tail, in a region of its own
    assert all(p is not None for p in small) and big is not None
    assert later is not None
    assert sorted(mappings.alive()) == [HUGE_PAGE, HUGE_PAGE, 2 * HUGE_PAGE]
    del big  # nothing holds its region: a spare, then gone with the arena
    assert a._spare_bytes == 2 * HUGE_PAGE and a.pinned == 4 * HUGE_PAGE
    a.release()
    assert mappings.alive() == [HUGE_PAGE, HUGE_PAGE]
    assert a.pinned == 2 * HUGE_PAGE


@settings(max_examples=40, deadline=None)
@given(
    cap_pages=st.integers(1, 8),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("take"), st.integers(60, 800), st.integers(60, 800)),
            st.tuples(st.just("drop"), st.integers(0, 63), st.just(0)),
        ),
        max_size=60,
    ),
)
def test_pinned_is_the_mappings_alive_and_within_the_cap(
    cap_pages: int, steps: list[tuple[str, int, int]]
) -> None:
    cap = cap_pages * HUGE_PAGE
    made: list[tuple[weakref.ref[mmap.mmap], int]] = []
    real = pixelmem._map

    def traced(size: int) -> tuple[mmap.mmap, int] | None:
        out = real(size)
        if out is not None:
            made.append((weakref.ref(out[0]), size))
        return out

    pixelmem._map = traced  # (hypothesis runs many examples per fixture)
    try:
        a = arena(cap)
        held: list[tuple[np.ndarray[Any, Any], int]] = []
        for op, x, y in steps:
            if op == "take":
                pixels = a.take(x, y)
                need = -(-x * y * 4 // HUGE_PAGE) * HUGE_PAGE
                if pixels is None:
                    assert x * y * 4 < MIN_BYTES or a.pinned + need > cap
                else:
                    pixels[...] = len(held) % 251
                    held.append((pixels, len(held) % 251))
            elif held:
                held.pop(x % len(held))  # (its region may die here)
            alive = sum(size for ref, size in made if ref() is not None)
            assert a.pinned == alive <= cap
        # nobody wrote over anybody
        assert all(int(p.min()) == int(p.max()) == v for p, v in held)
        held.clear()
        pixels = None
        a.release()
        gc.collect()
        assert a.pinned == 0 and all(ref() is None for ref, _ in made)
    finally:
        pixelmem._map = real


@pytest.mark.timeout(120)
def test_threads_take_and_drop_at_once(mappings: Mappings) -> None:
    """The look-ahead's worker and the loop take from one arena: each array
    stays its own, and the count settles to nothing."""
    a = arena(cap=16 * MiB)
    errors: list[str] = []

    def work(value: int) -> None:
        kept: list[np.ndarray[Any, Any]] = []
        for i in range(400):
            pixels = a.take(100 + i % 50, 200)
            if pixels is None:
                continue
            pixels[...] = value
            kept.append(pixels)
            if len(kept) > 4:
                old = kept.pop(0)
                if int(old.min()) != value or int(old.max()) != value:
                    errors.append(f"thread {value}: an image was overwritten")
                del old

    threads = [threading.Thread(target=work, args=(v,)) for v in (1, 2, 3)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns inside take(), often
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert not errors and a.taken > 0
    assert a.pinned <= a.cap
    assert a.pinned == sum(mappings.alive())
    a.release()
    assert a.pinned == 0 and mappings.alive() == []


# -- every capture, arena on and off ------------------------------------------


def arena_in_sessions(monkeypatch: pytest.MonkeyPatch, on: bool) -> list[PixelArena]:
    """Every SharedState made from now on takes its decoded pixels from an
    arena of its own (listed) through ``take_pixels``, or (``on`` False)
    lets the codecs allocate."""
    made: list[PixelArena] = []
    init = images.SharedState.__init__

    def shared_init(self: images.SharedState, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        if on:
            made.append(PixelArena.for_limits(self.limits))
            self.take_pixels = made[-1].take
        else:
            self.take_pixels = None

    monkeypatch.setattr(images.SharedState, "__init__", shared_init)
    return made


def _capture_paths() -> list[Path]:
    return sorted(CAPTURES.glob("*.pcap")) if CAPTURES is not None else []


def _play(path: Path) -> tuple[list[str], dict[tuple[int, int], bytes]]:
    """Primary digest per batch, and every surface at the end."""
    marks: list[str] = []

    def batch(driver: DisplayDriver, n: int) -> None:
        primary = driver.canvas.surfaces.get(0)
        if primary is not None:
            marks.append(hashlib.sha1(primary.pixels.tobytes()).hexdigest())

    result = replay(path, on_batch=batch)
    final = {
        (cid, sid): s.pixels.tobytes()
        for cid, d in result.drivers.items()
        for sid, s in d.canvas.surfaces.items()
    }
    return marks, final


@pytest.mark.parametrize("path", _capture_paths(), ids=lambda p: p.stem)
def test_every_capture_draws_the_same_with_the_arena(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        arena_in_sessions(m, False)
        off = _play(path)
    with monkeypatch.context() as m:
        made = arena_in_sessions(m, True)
        on = _play(path)
    assert on[0] == off[0]
    assert on[1].keys() == off[1].keys()
    for key in off[1]:
        assert on[1][key] == off[1][key], f"surface {key} differs"
    if pixelmem.huge_pages_available() and path.stem in (
        "gradients-lz",
        "photos-quic",
        "photos-lz4",
        "photos-jpeg",
    ):
        assert sum(a.taken for a in made) >= 3  # their 256x256 .. 440x300 images


def test_a_sessions_cached_images_take_their_pixels_from_its_arena() -> None:
    """A canvas's shared state deals a kept image's pixels out of a huge-page
    arena capped at its share of the image cache (where the kernel offers
    huge pages), and the cache holds exactly those pixels."""
    c = Canvas()
    c.create_surface(0, W, H, SurfaceFormat.FMT_32_xRGB)
    take = c.shared.take_pixels
    assert take is not None
    arena = take.__self__  # type: ignore[attr-defined]
    assert isinstance(arena, PixelArena)
    assert arena.cap == DEFAULT_LIMITS.image_arena == DEFAULT_LIMITS.image_cache // 4
    if not arena.enabled:
        pytest.skip("no transparent huge pages here: the codecs allocate")
    img = np.random.default_rng(3).integers(0, 256, (H, W, 4), np.uint8)
    img[..., 3] = 0
    image = Image(7, ImageType.LZ4, ImageFlags.CACHE_ME, W, H, data=lz4.encode(img))
    box = Rect(0, 0, W, H)
    copy(c, 0, box, None, image, box, RopD.OP_PUT)
    assert arena.taken == 1 and arena.pinned >= H * W * 4
    kept = c.shared.cache.get(7).pixels
    assert kept.ctypes.data % ALIGN == 0
    assert np.array_equal(kept[..., :3], img[..., :3])
