"""An uncached image drawn over whole surface rows decodes straight into them
(``ImageResolver.copy_onto``): the same pixels, caches and errors as decoding
into an array of its own and copying it (``get`` + ``kernels.blit``), and no
image-sized allocation."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from _canvas_build import Image, Rect, copy, fill, solid
from hypothesis import given, settings
from hypothesis import strategies as st
from spicepy.codecs import jpeg, lz, lz4, quic

from spicepy.canvas import Canvas
from spicepy.canvas.images import ImageResolver
from spicepy.canvas.surface import SurfaceFormat
from spicepy.errors import SpiceError
from spicepy.wire.enums import ImageFlags, ImageType
from spicepy.wire.enums import RopDescriptor as RopD

Pixels = np.ndarray[Any, np.dtype[np.uint8]]

ENCODERS: dict[int, Callable[[Pixels], bytes]] = {
    ImageType.LZ4: lambda img: lz4.encode(img),
    ImageType.QUIC: lambda img: quic.encode(img, image_type="RGB32"),
    ImageType.LZ_RGB: lambda img: lz.encode(img, image_type="RGB32"),
    ImageType.JPEG: lambda img: jpeg.encode(img),  # lossy, the same decoder both ways
}
FLAGS = [0, ImageFlags.CACHE_ME, ImageFlags.HIGH_BITS_SET, ImageFlags.CACHE_REPLACE_ME]


def fresh_canvas(width: int, height: int) -> Canvas:
    c = Canvas()
    c.create_surface(0, width, height, SurfaceFormat.FMT_32_xRGB)
    return c


def never_in_place(
    self: ImageResolver, image: Any, dst: Pixels, box: Any, dx: int, dy: int
) -> int:
    return -1  # the fresh-allocation path: get() and a blit


step = st.one_of(
    st.tuples(
        st.just("draw"),
        st.sampled_from(sorted(ENCODERS)),
        st.sampled_from(FLAGS),
        st.booleans(),  # whole rows, else a narrower image at x = 1
        st.integers(0, 12),  # top
        st.integers(1, 12),  # height
        st.booleans(),  # clipped to its bbox's first row
        st.sampled_from([(0, 0), (0, 0), (1, 0), (0, 1)]),  # src_area offset
        st.integers(0, 2**32 - 1),  # pixel seed
    ),
    st.tuples(st.just("cached"), st.integers(0, 7), st.integers(0, 12)),
    st.tuples(st.just("fill"), st.integers(0, 12), st.integers(0, 2**32 - 1)),
)


def run(
    steps: list[tuple[Any, ...]], width: int, height: int
) -> tuple[Pixels, dict[int, Pixels], list[str]]:
    """The steps on a fresh canvas: the primary, the cache and the errors."""
    c = fresh_canvas(width, height)
    outcome: list[str] = []
    for i, s in enumerate(steps):
        try:
            if s[0] == "draw":
                _, kind, flags, whole, top, h, clipped, (sx, sy), seed = s
                w = width if whole else width - 1
                img = np.random.default_rng(seed).integers(0, 256, (h, w, 4), np.uint8)
                img[..., 3] = 0  # an RGB32 stream's X byte
                image = Image(i, kind, flags, w, h, data=ENCODERS[kind](img))
                left = 0 if whole else 1
                bbox = Rect(left, top, left + w, top + h)
                rects = [Rect(left, top, left + w, top + 1)] if clipped else None
                area = Rect(sx, sy, sx + w, sy + h)  # offset: partly off the image
                copy(c, 0, bbox, rects, image, area, RopD.OP_PUT)
            elif s[0] == "cached":
                _, ref, top = s
                entry = c.shared.cache.entries.get(ref)
                w, h = (entry.width, entry.height) if entry is not None else (1, 1)
                image = Image(ref, ImageType.FROM_CACHE, 0, w, h)
                bbox = Rect(0, top, w, top + h)
                copy(c, 0, bbox, None, image, Rect(0, 0, w, h), RopD.OP_PUT)
            else:
                _, top, color = s
                fill(
                    c, 0, Rect(0, top, width, top + 3), None, solid(color), RopD.OP_PUT
                )
            outcome.append("ok")
        except SpiceError as exc:
            outcome.append(type(exc).__name__)
    assert c.primary is not None
    cache = {k: v.pixels.copy() for k, v in c.shared.cache.entries.items()}
    return c.primary.pixels.copy(), cache, outcome


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 20), st.integers(1, 20), st.lists(step, min_size=1, max_size=8))
def test_decoding_into_the_rows_draws_what_a_fresh_array_draws(
    width: int, height: int, steps: list[tuple[Any, ...]]
) -> None:
    """Cached images keep their own pixels (a later draw over the rows, or a
    FROM_CACHE of them, sees what was decoded), HIGH_BITS_SET and clips apply
    alike, the errors are the same."""
    got = run(steps, width, height)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ImageResolver, "copy_onto", never_in_place)
        want = run(steps, width, height)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1].keys() == want[1].keys()
    for key in got[1]:
        np.testing.assert_array_equal(got[1][key], want[1][key])
    assert got[2] == want[2]


def peak_of_draw(in_place: bool) -> tuple[int, Pixels]:
    """Peak traced bytes of a 512x256 LZ4 DRAW_COPY over rows 100..356 of a
    touched 512x400 primary, and the primary after it."""
    img = np.random.default_rng(1).integers(0, 256, (256, 512, 4), np.uint8)
    img[..., 3] = 0
    image = Image(1, ImageType.LZ4, 0, 512, 256, data=lz4.encode(img))
    c = fresh_canvas(512, 400)
    # numpy's memory, which tracemalloc sees (an arena's mapping it does not)
    c.shared.take_pixels = None
    assert c.primary is not None
    c.primary.pixels[...] = 7  # touched: the draw allocates nothing for it
    with pytest.MonkeyPatch.context() as mp:
        if not in_place:
            mp.setattr(ImageResolver, "copy_onto", never_in_place)
        tracemalloc.start()
        try:
            copy(
                c,
                0,
                Rect(0, 100, 512, 356),
                None,
                image,
                Rect(0, 0, 512, 256),
                RopD.OP_PUT,
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    want = np.full((400, 512, 4), 7, np.uint8)
    want[100:356] = img
    np.testing.assert_array_equal(c.primary.pixels, want)
    return peak, img


def test_a_whole_rows_image_needs_no_array_of_its_own() -> None:
    """The in-place draw's peak is at least half the image (512 KiB) below the
    fresh array's, with either codec twin (the pure-Python one has temporaries
    of its own, alike in both draws)."""
    fresh, img = peak_of_draw(False)
    in_place, _ = peak_of_draw(True)
    assert fresh - in_place >= img.nbytes // 2, (fresh, in_place)


def test_a_stream_cut_short_is_refused() -> None:
    img = np.full((8, 16, 4), 0x55, np.uint8)
    img[..., 3] = 0
    payload = lz4.encode(img)[:-5]
    c = fresh_canvas(16, 8)
    image = Image(1, ImageType.LZ4, 0, 16, 8, data=payload)
    with pytest.raises(SpiceError):
        copy(c, 0, Rect(0, 0, 16, 8), None, image, Rect(0, 0, 16, 8), RopD.OP_PUT)
