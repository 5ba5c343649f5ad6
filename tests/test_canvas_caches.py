"""The pixmap and palette caches as the image descriptor flags drive them
(spice-common ``canvas_get_image_internal``; spice-gtk's cache sizes).

Exact state after each step: which ids are cached, the bytes counted, which
palette a later PAL_FROM_CACHE finds, and the pixels drawn.
"""

from __future__ import annotations

import numpy as np
import pytest
from _canvas_build import Bitmap, Image, Palette, Rect, copy
from spicepy.codecs import glz, jpeg, lz

from spicepy.canvas import Canvas
from spicepy.canvas.images import (
    MAX_PALETTES,
    CachedImage,
    ImageCache,
    PaletteCache,
)
from spicepy.canvas.surface import SurfaceFormat
from spicepy.errors import CanvasError
from spicepy.wire import types as wt
from spicepy.wire.enums import BitmapFlags, BitmapFmt, ImageFlags, ImageType
from spicepy.wire.enums import RopDescriptor as RopD

PUT = RopD.OP_PUT


def canvas(w: int = 8, h: int = 8) -> Canvas:
    c = Canvas()
    c.create_surface(0, w, h, SurfaceFormat.FMT_32_xRGB)
    return c


def img32(value: int, image_id: int, flags: int = 0) -> wt.Image:
    bm = Bitmap(
        BitmapFmt.FMT_32BIT, BitmapFlags.TOP_DOWN, 1, 1, 4, value.to_bytes(4, "little")
    )
    return Image(image_id, ImageType.BITMAP, flags, 1, 1, bitmap=bm)


def draw(c: Canvas, image: wt.Image, x: int = 0, y: int = 0) -> None:
    w, h = image.descriptor.width, image.descriptor.height
    copy(c, 0, Rect(x, y, x + w, y + h), None, image, Rect(0, 0, w, h), PUT)


# -- the pixmap cache ---------------------------------------------------------------


def cached(nbytes: int) -> CachedImage:
    return CachedImage(np.zeros((nbytes // 16, 4, 4), np.uint8), False)


def test_re_putting_an_id_counts_its_bytes_once_and_makes_it_newest() -> None:
    cache = ImageCache(max_bytes=2500)
    cache.put(1, cached(1024))
    cache.put(2, cached(1024))
    cache.put(1, cached(1024))  # the server re-sent id 1
    assert cache.bytes == 2048 and len(cache) == 2 and cache.evicted == 0
    cache.put(3, cached(1024))  # over budget: the oldest is now 2, not 1
    assert 2 not in cache and 1 in cache and 3 in cache
    assert cache.bytes == 2048 and cache.evicted == 1


def _jpeg_image(image_id: int, flags: int) -> tuple[wt.Image, np.ndarray]:
    rgb = np.full((4, 4, 4), 0x60, np.uint8)
    data = jpeg.encode(rgb)
    return Image(image_id, ImageType.JPEG, flags, 4, 4, data=data), jpeg.decode(data)


def test_cache_replace_me_takes_a_lossless_image_and_ignores_a_lossy_one() -> None:
    c = canvas()
    draw(c, img32(0x11, 5, ImageFlags.CACHE_ME))
    lossy, _ = _jpeg_image(5, ImageFlags.CACHE_REPLACE_ME)
    draw(c, lossy)
    # a lossy image never replaces a cache entry (canvas_base.c: only lossless)
    assert c.shared.cache.get(5).pixels[0, 0, 0] == 0x11
    draw(c, img32(0x22, 5, ImageFlags.CACHE_REPLACE_ME))
    assert c.shared.cache.get(5).pixels[0, 0, 0] == 0x22
    assert c.shared.cache.bytes == 4  # one 1x1 entry


def test_cache_me_caches_lossy_images_as_lossy() -> None:
    c = canvas()
    image, pixels = _jpeg_image(6, ImageFlags.CACHE_ME)
    draw(c, image)
    entry = c.shared.cache.get(6)
    assert entry.lossy and np.array_equal(entry.pixels, pixels)


@pytest.mark.parametrize("flags", [0, ImageFlags.HIGH_BITS_SET])
def test_an_image_without_a_cache_flag_is_not_cached(flags: int) -> None:
    c = canvas()
    draw(c, img32(0x33, 7, flags))
    assert 7 not in c.shared.cache and c.shared.cache.bytes == 0


def test_high_bits_set_leaves_the_glz_window_image_as_decoded() -> None:
    """HIGH_BITS_SET sets the X byte of what is drawn, not of the image the GLZ
    dictionary keeps: a later image copied from it decodes with X = 0."""
    rng = np.random.default_rng(3)
    pic = rng.integers(0, 256, (8, 8, 4), np.uint8)
    pic[..., 3] = 0
    enc = glz.Encoder()
    first, second = enc.encode(pic, "RGB32"), enc.encode(pic, "RGB32")
    c = canvas()
    draw(c, Image(1, ImageType.GLZ_RGB, ImageFlags.HIGH_BITS_SET, 8, 8, data=first))
    assert (c.primary.pixels[..., 3] == 0xFF).all()
    draw(c, Image(2, ImageType.GLZ_RGB, 0, 8, 8, data=second))
    assert np.array_equal(c.primary.pixels, pic)


# -- the palette cache --------------------------------------------------------------


def test_palette_cache_holds_max_palettes_then_drops_the_oldest() -> None:
    cache = PaletteCache()
    for unique in range(MAX_PALETTES):
        cache.put(wt.Palette(unique, 1, (unique,)))
    assert len(cache) == MAX_PALETTES and cache.find(0) is not None
    cache.put(wt.Palette(MAX_PALETTES, 1, (0,)))
    assert len(cache) == MAX_PALETTES
    assert cache.find(0) is None and cache.find(1) is not None


def _plt8(image_id: int, flags: int, palette: wt.Palette | None, uid: int) -> wt.Image:
    bm = Bitmap(
        BitmapFmt.FMT_8BIT, BitmapFlags.TOP_DOWN | flags, 1, 1, 4, b"\x01\0\0\0",
        palette=palette, palette_id=uid,
    )  # fmt: skip
    return Image(image_id, ImageType.BITMAP, 0, 1, 1, bitmap=bm)


def test_reset_forgets_the_palettes() -> None:
    c = canvas()
    pal = Palette(0xABC, [0x000000, 0x0000AA])
    draw(c, _plt8(1, BitmapFlags.PAL_CACHE_ME, pal, 0xABC))
    draw(c, _plt8(2, BitmapFlags.PAL_FROM_CACHE, None, 0xABC), 1)
    assert c.primary.pixels[0, :2, 0].tolist() == [0xAA, 0xAA]
    c.reset()  # spice-gtk display_handle_reset: palettes go with the primary
    with pytest.raises(CanvasError, match="palette"):
        draw(c, _plt8(3, BitmapFlags.PAL_FROM_CACHE, None, 0xABC))


def test_a_clipped_away_lz_plt_still_caches_its_palette() -> None:
    """canvas_touch_image: a draw with nothing to paint still decodes an image
    whose LZ_PLT palette asks to be cached; a later image finds it."""
    c = canvas()
    pal = Palette(0x77, [0x000000, 0x0000CC])
    data = lz.encode(np.ones((1, 1), np.uint8), image_type="PLT8")
    image = Image(
        1, ImageType.LZ_PLT, 0, 1, 1, data=data,
        lz_flags=BitmapFlags.PAL_CACHE_ME | BitmapFlags.TOP_DOWN, lz_palette=pal,
    )  # fmt: skip
    copy(c, 0, Rect(0, 0, 1, 1), [Rect(5, 5, 6, 6)], image, Rect(0, 0, 1, 1), PUT)
    assert int(c.primary.pixels.sum()) == 0 and c.palettes.find(0x77) is pal
    draw(c, _plt8(2, BitmapFlags.PAL_FROM_CACHE, None, 0x77), 3, 3)
    assert c.primary.pixels[3, 3, 0] == 0xCC
