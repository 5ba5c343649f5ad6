"""The image draw's path: pixel memory from ``SharedState.take_pixels``, and
the same-size DRAW_COPY of a fresh image that a cache keeps (or a GLZ one),
drawn by one ``kernels.copy_clipped`` call once the image is resolved."""

from __future__ import annotations

from typing import Any

import numpy as np
from _canvas_build import Image, Rect, copy
from spicepy.codecs import glz, lz

from spicepy.canvas import Canvas
from spicepy.canvas.surface import SurfaceFormat
from spicepy.wire.enums import ImageFlags, ImageType
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


def test_decoded_pixels_go_into_the_array_take_pixels_gives() -> None:
    c = fresh_canvas()
    asked: list[tuple[int, int]] = []
    given: list[Pixels] = []

    def take(height: int, width: int) -> Pixels:
        asked.append((height, width))
        given.append(np.full((height, width, 4), 0xEE, np.uint8))
        return given[-1]

    c.shared.take_pixels = take
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
    img = rgb32(4, 6, 2)
    copy(c, 0, Rect(0, 0, 6, 4), None, lz_image(1, img), Rect(0, 0, 6, 4), PUT)
    assert asked == [(4, 6)]
    np.testing.assert_array_equal(c.shared.cache.entries[1].pixels, img)


def test_glz_images_never_take_pixels() -> None:
    """The GLZ dictionary keeps the array a GLZ image decodes to."""
    c = fresh_canvas()
    asked: list[tuple[int, int]] = []
    c.shared.take_pixels = lambda h, w: asked.append((h, w))  # returns None
    img = rgb32(4, 6, 3)
    data = glz.encode(img, image_type="RGB32")
    image = Image(5, ImageType.GLZ_RGB, 0, 6, 4, data=data)
    copy(c, 0, Rect(0, 0, 6, 4), None, image, Rect(0, 0, 6, 4), PUT)
    assert asked == []
    assert c.primary is not None
    np.testing.assert_array_equal(c.primary.pixels[0:4, 0:6], img)
