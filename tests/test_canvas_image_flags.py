"""Image descriptor and body flags on their way from the wire to pixels:
JPEG_ALPHA's TOP_DOWN, a bottom-up 1 bpp mask, the alpha of A8 LZ streams.
Exact pixels; each rule is spice-common's (canvas_base.c)."""

from __future__ import annotations

import numpy as np
import pytest
from _canvas_build import Bitmap, Brush, Image, Palette, QMask, Rect, copy, fill
from spicepy.codecs import jpeg_alpha, lz
from spicepy.codecs.image import decode_image

from spicepy.canvas import Canvas
from spicepy.canvas.surface import SurfaceFormat
from spicepy.wire.enums import (
    BitmapFlags,
    BitmapFmt,
    BrushType,
    ImageType,
    JpegAlphaFlags,
)
from spicepy.wire.enums import RopDescriptor as RopD

RAMP = (np.arange(6, dtype=np.uint8) * 40)[:, None]  # alpha by row: 0, 40 .. 200


@pytest.mark.parametrize("top_down", [True, False])
def test_jpeg_alpha_top_down_flag_orients_the_alpha_plane(top_down: bool) -> None:
    img = np.zeros((6, 5, 4), np.uint8)
    img[..., :3] = 0x80
    img[..., 3] = RAMP
    payload, jpeg_size = jpeg_alpha.encode(img, top_down=top_down)
    flags = JpegAlphaFlags.TOP_DOWN if top_down else 0
    image = Image(
        1, ImageType.JPEG_ALPHA, 0, 5, 6, data=payload, jpeg_size=jpeg_size,
        jpeg_flags=flags,
    )  # fmt: skip
    got = Canvas().images.get(image)
    assert got.has_alpha and got.lossy
    np.testing.assert_array_equal(got.pixels[..., 3], img[..., 3])  # lossless


def test_a_bottom_up_mask_selects_the_flipped_rows() -> None:
    # mask rows as stored: first row 1 0 0, second row 0 1 0; without TOP_DOWN
    # the stored first row is the bottom row (canvas_get_mask via the bitmap)
    stored = bytes([0b001, 0b010])
    for flags, expect in (
        (BitmapFlags.TOP_DOWN, [[1, 0, 0], [0, 1, 0]]),
        (0, [[0, 1, 0], [1, 0, 0]]),
    ):
        bits = Bitmap(BitmapFmt.FMT_1BIT_LE, flags, 3, 2, 1, stored)
        mask = QMask(0, None, Image(9, ImageType.BITMAP, 0, 3, 2, bitmap=bits))
        c = Canvas()
        c.create_surface(0, 3, 2, SurfaceFormat.FMT_32_xRGB)
        fill(c, 0, Rect(0, 0, 3, 2), None, Brush(BrushType.SOLID, 1), RopD.OP_PUT, mask)
        assert c.primary.pixels[..., 0].tolist() == expect


def test_an_a8_lz_stream_has_alpha() -> None:
    a8 = np.zeros((3, 4, 4), np.uint8)
    a8[..., 3] = 0x90
    res = decode_image(101, lz.encode(a8, image_type="A8"), width=4, height=3)
    assert res.source_format == "LZ_RGB:A8" and res.has_alpha
    assert (res.pixels[..., 3] == 0x90).all() and not res.pixels[..., :3].any()


@pytest.mark.parametrize("image_type", ["PLT8", "PLT4_LE", "PLT4_BE", "PLT1_BE"])
def test_lz_plt_index_i_takes_palette_entry_i(image_type: str) -> None:
    """The LZ_PLT palette reaches the decoder as sent, entry 0 first, whether
    it comes with the image or from the palette cache."""
    n = 2 if image_type == "PLT1_BE" else 4
    ents = [0x000010 * (i + 1) for i in range(n)]  # blue 0x10, 0x20, ...
    idx = (np.arange(8, dtype=np.uint8) % n).reshape(2, 4)
    data = lz.encode(idx, image_type=image_type)
    pal = Palette(0x51, ents)
    c = Canvas()
    c.create_surface(0, 4, 4, SurfaceFormat.FMT_32_xRGB)
    first = Image(
        1, ImageType.LZ_PLT, 0, 4, 2, data=data, lz_palette=pal,
        lz_flags=BitmapFlags.PAL_CACHE_ME | BitmapFlags.TOP_DOWN,
    )  # fmt: skip
    again = Image(
        2, ImageType.LZ_PLT, 0, 4, 2, data=data, lz_palette_id=0x51,
        lz_flags=BitmapFlags.PAL_FROM_CACHE | BitmapFlags.TOP_DOWN,
    )  # fmt: skip
    copy(c, 0, Rect(0, 0, 4, 2), None, first, Rect(0, 0, 4, 2), RopD.OP_PUT)
    copy(c, 0, Rect(0, 2, 4, 4), None, again, Rect(0, 0, 4, 2), RopD.OP_PUT)
    expect = [[ents[i] & 0xFF for i in row] for row in idx.tolist()]
    assert c.primary.pixels[..., 0].tolist() == expect + expect
