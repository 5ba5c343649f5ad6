"""Decoding ahead on a worker (session.offload, ``ImageResolver.decode_ahead``)
against the palette cache, which the loop thread changes meanwhile when it
replays this channel's held (older) messages.  Each test fixes one order of
hand-off, worker, replay and apply with joins, so it fails deterministically if
the worker reads or writes the cache; the result must be the inline path's."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from spicepy.canvas.bitmap import bitmap_to_pixels
from spicepy.canvas.images import ImageResolver, PaletteCache, SharedState
from spicepy.errors import CanvasError
from spicepy.wire.enums import BitmapFlags, BitmapFmt, ImageType
from spicepy.wire.types import BitmapData, Image, ImageDescriptor, Palette

W, H = 4, 2
UNIQUE = 7
#: the same palette id with other colours (a server that re-sends it)
OLD = Palette(UNIQUE, 2, (0x0000FF, 0x00FF00))
NEW = Palette(UNIQUE, 2, (0xFF0000, 0xFFFFFF))
INDEXES = bytes([0, 1, 1, 0, 1, 0, 0, 1])


def pal8(image_id: int, palette: Palette | None, flags: int) -> Image:
    """A PAL8 BITMAP: the palette inline (``palette``) or by id (None)."""
    bitmap = BitmapData(
        BitmapFmt.FMT_8BIT,
        flags | BitmapFlags.TOP_DOWN,
        W,
        H,
        W,
        palette_id=UNIQUE if palette is None else None,
        palette=palette,
        data=INDEXES,
    )
    return Image(ImageDescriptor(image_id, ImageType.BITMAP, 0, W, H), bitmap=bitmap)


def by_cache(image_id: int) -> Image:
    return pal8(image_id, None, BitmapFlags.PAL_FROM_CACHE)


def sent(image_id: int, palette: Palette) -> Image:
    return pal8(image_id, palette, BitmapFlags.PAL_CACHE_ME)


def painted(palette: Palette) -> np.ndarray:
    return bitmap_to_pixels(by_cache(0).bitmap, palette)[0]  # type: ignore[arg-type]


def resolver_with(palette: Palette) -> ImageResolver:
    palettes = PaletteCache()
    palettes.put(palette)
    return ImageResolver(SharedState(), palettes)


def on_worker(resolver: ImageResolver, image: Image) -> None:
    """Hand-off (loop thread) then the whole job on a worker thread."""
    job = resolver.decode_ahead(image)
    assert job is not None
    worker = threading.Thread(target=job)
    worker.start()
    worker.join(30)
    assert not worker.is_alive()
    assert id(image) in resolver.predecoded  # the decode did run ahead


def test_a_palette_replaced_by_an_older_held_message_is_used() -> None:
    """M takes palette 7 from the cache; held H, older, re-sends palette 7
    while M's decode is ahead: M must be painted with H's palette."""
    r = resolver_with(OLD)
    assert not np.array_equal(painted(OLD), painted(NEW))  # the test can tell
    later = by_cache(2)
    on_worker(r, later)
    r.get(sent(1, NEW))  # the replayed held message caches NEW
    np.testing.assert_array_equal(r.get(later).pixels, painted(NEW))


def test_a_palette_sent_ahead_is_cached_only_when_applied() -> None:
    """M re-sends palette 7 (CACHE_ME) and decodes ahead; held H, older, takes
    palette 7 from the cache: H must get the old one, M the new one."""
    r = resolver_with(OLD)
    later = sent(2, NEW)
    on_worker(r, later)
    assert r.palettes.get(UNIQUE) is OLD  # the worker cached nothing
    np.testing.assert_array_equal(r.get(by_cache(1)).pixels, painted(OLD))
    np.testing.assert_array_equal(r.get(later).pixels, painted(NEW))
    assert r.palettes.get(UNIQUE) is NEW  # cached when M was applied


def test_a_missing_cached_palette_stays_inline_and_fails_in_order() -> None:
    r = ImageResolver(SharedState(), PaletteCache())
    image = by_cache(1)
    assert r.decode_ahead(image) is None
    with pytest.raises(CanvasError, match="not in the cache"):
        r.get(image)
    r.palettes.put(NEW)  # an older held message cached it: then it paints
    np.testing.assert_array_equal(r.get(image).pixels, painted(NEW))
