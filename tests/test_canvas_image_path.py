"""The image draw's path: pixel memory from ``SharedState.take_pixels``, and
the same-size DRAW_COPY of a fresh image that a cache keeps (or a GLZ one),
drawn by one ``kernels.copy_clipped`` call once the image is resolved."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _canvas_build import Bitmap, Image, Point, QMask, Rect, copy
from hypothesis import given, settings
from hypothesis import strategies as st
from spicepy.codecs import glz, lz, lz4, quic

from spicepy.canvas import Canvas, kernels, pixelmem
from spicepy.canvas.surface import SurfaceFormat
from spicepy.errors import SpiceError
from spicepy.wire.enums import BitmapFlags, BitmapFmt, ImageFlags, ImageType
from spicepy.wire.enums import RopDescriptor as RopD

Pixels = np.ndarray[Any, np.dtype[np.uint8]]
PUT = RopD.OP_PUT


def fresh_canvas(width: int = 16, height: int = 12) -> Canvas:
    c = Canvas()
    c.create_surface(0, width, height, SurfaceFormat.FMT_32_xRGB)
    return c


def rgb32(h: int, w: int, seed: int) -> Pixels:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 4), np.uint8)
    img[..., 3] = 0  # an RGB32 stream's X byte
    return img


def lz_image(image_id: int, img: Pixels, flags: int = ImageFlags.CACHE_ME) -> Any:
    h, w = img.shape[:2]
    data = lz.encode(img, image_type="RGB32")
    return Image(image_id, ImageType.LZ_RGB, flags, w, h, data=data)


# -- SharedState.take_pixels: where decoded pixels go ------------------------------


def test_images_under_take_pixels_min_do_not_ask_take_pixels() -> None:
    """The arena refuses small images anyway: they skip the call (and the
    session's default threshold is the arena's own)."""
    c = fresh_canvas()
    assert c.shared.take_pixels_min == pixelmem.MIN_PIXELS
    asked: list[tuple[int, int]] = []
    c.shared.take_pixels = lambda h, w: asked.append((h, w))
    c.shared.take_pixels_min = 36
    img = rgb32(5, 7, 1)
    copy(c, 0, Rect(2, 3, 9, 8), None, lz_image(1, img), Rect(0, 0, 7, 5), PUT)
    assert asked == [] and np.array_equal(c.shared.cache.entries[1].pixels, img)
    c.shared.take_pixels_min = 35  # (at the threshold: asked)
    copy(c, 0, Rect(2, 3, 9, 8), None, lz_image(2, img), Rect(0, 0, 7, 5), PUT)
    assert asked == [(5, 7)]


def test_decoded_pixels_go_into_the_array_take_pixels_gives() -> None:
    c = fresh_canvas()
    asked: list[tuple[int, int]] = []
    given: list[Pixels] = []

    def take(height: int, width: int) -> Pixels:
        asked.append((height, width))
        given.append(np.full((height, width, 4), 0xEE, np.uint8))
        return given[-1]

    c.shared.take_pixels = take
    c.shared.take_pixels_min = 0  # (small images ask too)
    img = rgb32(5, 7, 1)
    copy(c, 0, Rect(2, 3, 9, 8), None, lz_image(1, img), Rect(0, 0, 7, 5), PUT)
    assert asked == [(5, 7)]
    entry = c.shared.cache.entries[1]
    assert entry.pixels is given[0]  # the cache keeps the taken array itself
    np.testing.assert_array_equal(entry.pixels, img)
    assert c.primary is not None
    np.testing.assert_array_equal(c.primary.pixels[3:8, 2:9], img)


def test_take_pixels_returning_none_lets_the_codec_allocate() -> None:
    c = fresh_canvas()
    asked: list[tuple[int, int]] = []
    c.shared.take_pixels = lambda h, w: asked.append((h, w))  # returns None
    c.shared.take_pixels_min = 0  # (small images ask too)
    img = rgb32(4, 6, 2)
    copy(c, 0, Rect(0, 0, 6, 4), None, lz_image(1, img), Rect(0, 0, 6, 4), PUT)
    assert asked == [(4, 6)]
    np.testing.assert_array_equal(c.shared.cache.entries[1].pixels, img)


def test_glz_images_never_take_pixels() -> None:
    """The GLZ dictionary keeps the array a GLZ image decodes to."""
    c = fresh_canvas()
    asked: list[tuple[int, int]] = []
    c.shared.take_pixels = lambda h, w: asked.append((h, w))  # returns None
    c.shared.take_pixels_min = 0  # (small images ask too)
    img = rgb32(4, 6, 3)
    data = glz.encode(img, image_type="RGB32")
    image = Image(5, ImageType.GLZ_RGB, 0, 6, 4, data=data)
    copy(c, 0, Rect(0, 0, 6, 4), None, image, Rect(0, 0, 6, 4), PUT)
    assert asked == []
    assert c.primary is not None
    np.testing.assert_array_equal(c.primary.pixels[0:4, 0:6], img)


# -- DRAW_COPY of a fresh image a cache keeps (or a GLZ one) -----------------------

KINDS = [ImageType.LZ_RGB, ImageType.LZ4, ImageType.QUIC, ImageType.GLZ_RGB]
ROPS = [RopD.OP_PUT, RopD.OP_XOR, RopD.OP_OR | RopD.INVERS_SRC, RopD.OP_AND]
FLAGS = [
    ImageFlags.CACHE_ME,
    ImageFlags.CACHE_REPLACE_ME,
    ImageFlags.CACHE_ME | ImageFlags.HIGH_BITS_SET,
    0,  # a GLZ image is decoded regardless; the others take the old path
]
#: clips: none, one rectangle over part of the bbox, one outside it, no
#: rectangle at all (nothing drawn), two rectangles (the region path)
CLIPS = ["none", "part", "outside", "empty", "two"]

draw_step = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(FLAGS),
    st.sampled_from(ROPS),
    st.integers(1, 6),  # width
    st.integers(1, 6),  # height
    st.integers(-3, 14),  # left
    st.integers(-3, 10),  # top
    st.sampled_from(CLIPS),
    st.sampled_from([(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]),  # area dx, dy, +w
    st.booleans(),  # an alpha image (RGBA where the codec has it)
    st.integers(0, 3),  # image id (ids repeat: CACHE_ME over an entry)
    st.booleans(),  # the stream cut short
    st.integers(0, 2**32 - 1),
)


def encode(kind: int, img: Pixels, alpha: bool, encoder: glz.Encoder) -> bytes:
    if kind == ImageType.LZ_RGB:
        return lz.encode(img, image_type="RGBA" if alpha else "RGB32")
    if kind == ImageType.LZ4:
        return lz4.encode(img, bitmap_format=9 if alpha else 8)
    if kind == ImageType.QUIC:
        return quic.encode(img, image_type="RGBA" if alpha else "RGB32")
    return glz.encode(img, image_type="RGBA" if alpha else "RGB32", encoder=encoder)


def clip_rects(how: str, bbox: Any) -> list[Any] | None:
    left, top, right, bottom = bbox.left, bbox.top, bbox.right, bbox.bottom
    if how == "none":
        return None
    if how == "part":
        return [Rect(left + 1, top, right, bottom)]
    if how == "outside":
        return [Rect(right, bottom, right + 2, bottom + 2)]
    if how == "empty":
        return []
    return [Rect(left, top, left + 1, bottom), Rect(left + 2, top, right, bottom)]


def all_in_mask(w: int, h: int) -> Any:
    """A QMask of ``w`` x ``h`` set bits at the bbox's corner: the numpy region
    path (``Canvas._region``), drawing every pixel the unmasked draw does."""
    stride = (w + 7) // 8
    bits = Bitmap(
        BitmapFmt.FMT_1BIT_BE,
        BitmapFlags.TOP_DOWN,
        w,
        h,
        stride,
        b"\xff" * (stride * h),
    )
    return QMask(0, Point(0, 0), Image(99, ImageType.BITMAP, 0, w, h, bitmap=bits))


def run_draws(
    steps: list[tuple[Any, ...]], fmt: int, masked: bool
) -> tuple[Pixels, dict[int, tuple[Pixels, bool]], list[str], int]:
    """The draws on a fresh 16x12 canvas: the primary, the cache, each
    draw's outcome and how many images were decoded."""
    c = Canvas()
    c.create_surface(0, 16, 12, fmt)
    decodes = [0]
    c.images.decoded_hook = lambda _image, _decoded: decodes.__setitem__(
        0, decodes[0] + 1
    )
    encoder = glz.Encoder()
    outcome: list[str] = []
    for s in steps:
        kind, flags, rop, w, h, left, top, how, (ax, ay, aw), alpha, iid, cut, seed = s
        img = np.random.default_rng(seed).integers(0, 256, (h, w, 4), np.uint8)
        if not alpha:
            img[..., 3] = 0  # an RGB32 stream's X byte
        data = encode(kind, img, alpha, encoder)
        if cut:
            data = data[: len(data) // 2]
        image = Image(100 + iid, kind, flags, w, h, data=data)
        bbox = Rect(left, top, left + w, top + h)
        area = Rect(ax, ay, ax + w + aw, ay + h + aw)  # offset: partly off the image
        mask = all_in_mask(w, h) if masked else None
        try:
            copy(c, 0, bbox, clip_rects(how, bbox), image, area, rop, mask=mask)
            outcome.append("ok")
        except SpiceError as exc:
            outcome.append(type(exc).__name__)
    assert c.primary is not None
    cache = {k: (v.pixels.copy(), v.lossy) for k, v in c.shared.cache.entries.items()}
    return c.primary.pixels.copy(), cache, outcome, decodes[0]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([SurfaceFormat.FMT_32_xRGB, SurfaceFormat.FMT_32_ARGB]),
    st.lists(draw_step, min_size=1, max_size=6),
)
def test_a_fresh_kept_image_draws_as_the_region_path_does(
    fmt: int, steps: list[tuple[Any, ...]]
) -> None:
    """The same pixels, cache entries, errors and number of decodes (each
    image once, even where the draw falls back from ``copy_clipped``) as the
    numpy region path, which an all-set QMask selects."""
    got = run_draws(steps, fmt, masked=False)
    want = run_draws(steps, fmt, masked=True)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1].keys() == want[1].keys()
    for key in got[1]:
        np.testing.assert_array_equal(got[1][key][0], want[1][key][0])
        assert got[1][key][1] == want[1][key][1]
    assert got[2:] == want[2:]


def test_a_fresh_kept_image_is_one_copy_clipped_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The branch is taken: no clip box in Python, no ``copy_onto`` try, no
    ``kernels.blit``; a clip of two rectangles falls back (to the numpy
    region) without a second decode."""
    calls: list[str] = []
    for name in ("copy_clipped", "blit"):
        real = getattr(kernels, name)

        def counted(*args: Any, _name: str = name, _real: Any = real) -> Any:
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(kernels, name, counted)
    c = fresh_canvas()
    decodes: list[int] = []
    c.images.decoded_hook = lambda image, _d: decodes.append(image.descriptor.id)
    img = rgb32(3, 4, 4)
    copy(c, 0, Rect(1, 1, 5, 4), None, lz_image(1, img), Rect(0, 0, 4, 3), PUT)
    assert calls == ["copy_clipped"] and decodes == [1]
    two = [Rect(1, 1, 2, 4), Rect(3, 1, 5, 4)]
    copy(c, 0, Rect(1, 1, 5, 4), two, lz_image(2, img), Rect(0, 0, 4, 3), PUT)
    assert calls == ["copy_clipped", "copy_clipped"] and decodes == [1, 2]
    assert c.primary is not None
    np.testing.assert_array_equal(c.primary.pixels[1:4, 1:2], img[:, 0:1])
    np.testing.assert_array_equal(c.primary.pixels[1:4, 3:5], img[:, 2:4])
