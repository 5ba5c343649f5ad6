"""Canvas.copy's short branch for fresh images (review 9's plants): every
image that ``touch`` decodes whatever the clip leaves takes it: one a cache
keeps by CACHE_REPLACE_ME as well as CACHE_ME, and a GLZ one without cache
flags (its decode feeds the GLZ window): one ``kernels.copy_clipped`` call,
one decode, exact pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _canvas_build import Image, Rect, copy
from spicepy.codecs import glz
from test_canvas_image_path import PUT, encode, fresh_canvas, rgb32

from spicepy.canvas import kernels
from spicepy.canvas.surface import MAX_SURFACE_DIMENSION, MAX_SURFACE_PIXELS
from spicepy.errors import CanvasError
from spicepy.wire.enums import ImageFlags, ImageType


@pytest.mark.parametrize(
    ("kind", "flags"),
    [
        (ImageType.LZ_RGB, ImageFlags.CACHE_REPLACE_ME),
        (ImageType.LZ_RGB, ImageFlags.CACHE_ME),
        (ImageType.GLZ_RGB, 0),
        (ImageType.GLZ_RGB, ImageFlags.CACHE_ME),
    ],
    ids=["lz-replace", "lz-cache", "glz", "glz-cache"],
)
def test_a_fresh_image_touch_would_decode_is_one_copy_clipped_call(
    kind: int, flags: int, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    img = rgb32(3, 4, 6)
    data = encode(kind, img, False, glz.Encoder())
    image = Image(5, kind, flags, 4, 3, data=data)
    copy(c, 0, Rect(2, 1, 6, 4), None, image, Rect(0, 0, 4, 3), PUT)
    assert calls == ["copy_clipped"] and decodes == [5]
    assert c.primary is not None
    np.testing.assert_array_equal(c.primary.pixels[1:4, 2:6, :3], img[..., :3])
    assert (5 in c.shared.cache.entries) == bool(flags)


def test_an_image_of_exactly_the_most_pixels_is_not_refused_for_its_size() -> None:
    """16384 x 4096 is MAX_SURFACE_PIXELS: its size passes (its stream, of
    another size, is then refused by the codec); one row more is a bad size."""
    w = MAX_SURFACE_DIMENSION
    data = encode(ImageType.LZ_RGB, rgb32(1, 1, 0), False, glz.Encoder())
    most = MAX_SURFACE_PIXELS // w
    for h, bad_size in ((most, False), (most + 1, True)):
        c = fresh_canvas()
        image = Image(9, ImageType.LZ_RGB, ImageFlags.CACHE_ME, w, h, data=data)
        with pytest.raises(CanvasError) as err:
            copy(c, 0, Rect(0, 0, 4, 3), None, image, Rect(0, 0, 4, 3), PUT)
        assert ("bad size" in str(err.value)) == bad_size, str(err.value)


def test_the_resolver_refuses_a_surface_image_whatever_its_cache_holds() -> None:
    """SURFACE images are the canvas's to resolve: ``ImageResolver.get``
    refuses one even where the cache keeps an image under its id (a lookup
    there would hand that unrelated image out)."""
    c = fresh_canvas()
    data = encode(ImageType.LZ4, rgb32(3, 4, 8), False, glz.Encoder())
    kept = Image(3, ImageType.LZ4, ImageFlags.CACHE_ME, 4, 3, data=data)
    copy(c, 0, Rect(0, 0, 4, 3), None, kept, Rect(0, 0, 4, 3), PUT)
    assert 3 in c.shared.cache.entries
    with pytest.raises(CanvasError, match="SURFACE images are resolved by the canvas"):
        c.images.get(Image(3, ImageType.SURFACE, 0, 4, 3, surface_id=0))
