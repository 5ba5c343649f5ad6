"""Canvas core: surfaces, fill, copy, copy_bits, clips, masks, bitmaps, ROPs.

Expected values are derived by hand from the operation definitions
(spice-common canvas_base.c / sw_canvas.c), on tiny surfaces.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _canvas_build import (
    Bitmap,
    Brush,
    Image,
    Palette,
    Point,
    QMask,
    Rect,
    blackness,
    copy,
    copy_bits,
    fill,
    invers,
    opaque,
    whiteness,
)

from spicepy.canvas import (
    Canvas,
    ImageNotReady,
    Rop,
    SharedState,
    SurfaceFormat,
    ropd_to_rop,
)
from spicepy.errors import CanvasError
from spicepy.session.core import DisplayDriver
from spicepy.wire import msg_display as md
from spicepy.wire.enums import (
    BitmapFlags,
    BitmapFmt,
    BrushType,
    ChannelType,
    ImageFlags,
    ImageType,
    MaskFlags,
    ResourceType,
)
from spicepy.wire.enums import ImageScaleMode as ScaleMode
from spicepy.wire.enums import RopDescriptor as RopD
from spicepy.wire.messages import decode_message
from spicepy.wire.types import Rect as WireRect
from spicepy.wire.types import ResourceID

PUT = RopD.OP_PUT
RED = 0x00FF0000  # xRGB -> bytes B=0, G=0, R=255, X=0


def solid(color: int) -> Brush:
    return Brush(BrushType.SOLID, color)


def canvas(w: int = 8, h: int = 6, fmt: int = SurfaceFormat.FMT_32_xRGB) -> Canvas:
    c = Canvas()
    c.create_surface(0, w, h, fmt)
    return c


def bgrx(color: int) -> list[int]:
    return [color & 0xFF, color >> 8 & 0xFF, color >> 16 & 0xFF, color >> 24 & 0xFF]


def bitmap_image(
    pixels: list[list[int]], image_id: int = 1, flags: int = 0, top_down: bool = True
) -> Image:
    """A 32BIT bitmap image from rows of xRGB words."""
    rows = pixels if top_down else pixels[::-1]
    data = b"".join(v.to_bytes(4, "little") for row in rows for v in row)
    h, w = len(pixels), len(pixels[0])
    bm = Bitmap(
        BitmapFmt.FMT_32BIT, BitmapFlags.TOP_DOWN if top_down else 0, w, h, w * 4, data
    )
    return Image(image_id, ImageType.BITMAP, flags, w, h, bitmap=bm)


def test_fill_solid_inside_bbox_only() -> None:
    c = canvas()
    fill(c, 0, Rect(1, 2, 4, 5), None, solid(RED), PUT)
    px = c.primary.pixels
    assert px[2:5, 1:4].reshape(-1, 4).tolist() == [bgrx(RED)] * 9
    assert int(px.sum()) == 9 * 255


def test_fill_clipped_to_surface_and_clip_rects() -> None:
    c = canvas()
    clip = [Rect(0, 0, 2, 2), Rect(6, 4, 20, 20)]
    fill(c, 0, Rect(-5, -5, 100, 100), clip, solid(0xFFFFFF), PUT)
    lit = c.primary.pixels[..., 0] == 255
    expected = np.zeros((6, 8), bool)
    expected[0:2, 0:2] = True
    expected[4:6, 6:8] = True
    assert (lit == expected).all()


def test_fill_rop_xor_twice_restores() -> None:
    c = canvas()
    fill(c, 0, Rect(0, 0, 8, 6), None, solid(0x123456), PUT)
    fill(c, 0, Rect(0, 0, 4, 6), None, solid(0x00FF00FF), RopD.OP_XOR)
    assert c.primary.pixels[0, 0].tolist() == [0x56 ^ 0xFF, 0x34, 0x12 ^ 0xFF, 0]
    fill(c, 0, Rect(0, 0, 4, 6), None, solid(0x00FF00FF), RopD.OP_XOR)
    assert c.primary.pixels[0, 0].tolist() == bgrx(0x123456)


def test_fill_with_mask_and_inverted_mask() -> None:
    # 1BIT_BE row 0b1010_0000 -> pixels 0 and 2 set (MSB is the leftmost pixel)
    bits = Bitmap(BitmapFmt.FMT_1BIT_BE, BitmapFlags.TOP_DOWN, 4, 1, 1, b"\xa0")
    mask_image = Image(9, ImageType.BITMAP, 0, 4, 1, bitmap=bits)
    c = canvas()
    fill(
        c,
        0,
        Rect(2, 1, 6, 2),
        None,
        solid(0xFF),
        PUT,
        QMask(0, Point(0, 0), mask_image),
    )
    assert (c.primary.pixels[1, :, 0] == 255).tolist() == [
        False,
        False,
        True,
        False,
        True,
        False,
        False,
        False,
    ]
    c2 = canvas()
    inv = QMask(MaskFlags.INVERS, Point(0, 0), mask_image)
    fill(c2, 0, Rect(2, 1, 6, 2), None, solid(0xFF), PUT, inv)
    assert (c2.primary.pixels[1, :, 0] == 255).tolist() == [
        False,
        False,
        False,
        True,
        False,
        True,
        False,
        False,
    ]


def test_fill_mask_position_offsets_mask() -> None:
    # 1BIT_LE: bit 0 (LSB) is the leftmost pixel; 0b0000_0001 -> pixel 0 set
    bits = Bitmap(BitmapFmt.FMT_1BIT_LE, BitmapFlags.TOP_DOWN, 3, 1, 1, b"\x01")
    mask = QMask(0, Point(1, 0), Image(9, ImageType.BITMAP, 0, 3, 1, bitmap=bits))
    c = canvas()
    # bbox starts at x=2; mask pixel 0 lands on x = 2 + 0 - 1 = 1 (outside bbox)
    fill(c, 0, Rect(2, 0, 5, 1), None, solid(0xFF), PUT, mask)
    assert int(c.primary.pixels[..., 0].sum()) == 0


def test_copy_blit_with_src_offset() -> None:
    img = bitmap_image([[1, 2, 3], [4, 5, 6]])
    c = canvas()
    # src area column 1..3 -> dest at (5, 3)
    copy(c, 0, Rect(5, 3, 7, 5), None, img, Rect(1, 0, 3, 2), PUT)
    px = c.primary.pixels[..., 0]
    assert px[3:5, 5:7].tolist() == [[2, 3], [5, 6]]
    assert int(px.sum()) == 2 + 3 + 5 + 6


def test_copy_bottom_up_bitmap_is_flipped() -> None:
    img = bitmap_image([[1, 2], [3, 4]], top_down=False)
    c = canvas()
    copy(c, 0, Rect(0, 0, 2, 2), None, img, Rect(0, 0, 2, 2), PUT)
    assert c.primary.pixels[0:2, 0:2, 0].tolist() == [[1, 2], [3, 4]]


def test_copy_rop_and_inverted_source() -> None:
    img = bitmap_image([[0x0F]])
    c = canvas()
    fill(c, 0, Rect(0, 0, 1, 1), None, solid(0xFF), PUT)
    copy(
        c,
        0,
        Rect(0, 0, 1, 1),
        None,
        img,
        Rect(0, 0, 1, 1),
        RopD.OP_AND | RopD.INVERS_SRC,
    )
    assert c.primary.pixels[0, 0, 0] == 0xF0


def test_copy_scaled_nearest_doubles_pixels() -> None:
    img = bitmap_image([[10, 20], [30, 40]])
    c = canvas()
    copy(c, 0, Rect(0, 0, 4, 4), None, img, Rect(0, 0, 2, 2), PUT, ScaleMode.NEAREST)
    assert c.primary.pixels[0:4, 0:4, 0].tolist() == [
        [10, 10, 20, 20],
        [10, 10, 20, 20],
        [30, 30, 40, 40],
        [30, 30, 40, 40],
    ]


def test_copy_scaled_interpolate_midpoint() -> None:
    # 1x2 -> 1x4 bilinear: centres at src x = 0.25, 0.75, 1.25, 1.75 (minus 0.5):
    # -0.25 and 1.25 touch the transparent outside (REPEAT_NONE)
    img = bitmap_image([[0, 200]])
    c = canvas()
    copy(
        c, 0, Rect(0, 0, 4, 1), None, img, Rect(0, 0, 2, 1), PUT, ScaleMode.INTERPOLATE
    )
    row = c.primary.pixels[0, 0:4, 0].tolist()
    assert row == [0, 50, 150, 150]


def test_copy_from_surface_image() -> None:
    c = canvas()
    c.create_surface(5, 2, 2, SurfaceFormat.FMT_32_ARGB)
    fill(c, 5, Rect(0, 0, 2, 2), None, solid(0x80123456), PUT)
    surf_img = Image(0, ImageType.SURFACE, 0, 2, 2, surface_id=5)
    copy(c, 0, Rect(3, 3, 5, 5), None, surf_img, Rect(0, 0, 2, 2), PUT)
    assert c.primary.pixels[3, 3].tolist() == bgrx(0x80123456)


def test_copy_bits_overlapping_move() -> None:
    c = canvas(6, 1)
    for x in range(6):
        fill(c, 0, Rect(x, 0, x + 1, 1), None, solid(x + 1), PUT)
    # move pixels 0..3 one to the right (overlapping)
    copy_bits(c, 0, Rect(1, 0, 5, 1), None, Point(0, 0))
    assert c.primary.pixels[0, :, 0].tolist() == [1, 1, 2, 3, 4, 6]
    copy_bits(c, 0, Rect(0, 0, 4, 1), None, Point(2, 0))
    assert c.primary.pixels[0, :, 0].tolist() == [2, 3, 4, 6, 4, 6]


def test_copy_bits_does_not_read_outside() -> None:
    c = canvas(4, 1)
    fill(c, 0, Rect(0, 0, 4, 1), None, solid(7), PUT)
    copy_bits(c, 0, Rect(0, 0, 4, 1), None, Point(-2, 0))
    # dest x reads src x - 2: only x >= 2 have a source inside the surface
    assert c.primary.pixels[0, :, 0].tolist() == [7, 7, 7, 7]


def test_blackness_whiteness_invers() -> None:
    c = canvas()
    fill(c, 0, Rect(0, 0, 8, 6), None, solid(0x00102030), PUT)
    invers(c, 0, Rect(0, 0, 1, 1), None)
    assert c.primary.pixels[0, 0].tolist() == [0xCF, 0xDF, 0xEF, 0xFF]
    whiteness(c, 0, Rect(1, 0, 2, 1), None)
    assert c.primary.pixels[0, 1].tolist() == [255] * 4
    blackness(c, 0, Rect(2, 0, 3, 1), None)
    assert c.primary.pixels[0, 2].tolist() == [0] * 4


def test_pattern_brush_tiles_from_position() -> None:
    pat = bitmap_image([[1, 2]], image_id=3)
    c = canvas()
    brush = Brush(BrushType.PATTERN, pattern=pat, pos=Point(1, 0))
    fill(c, 0, Rect(0, 0, 5, 1), None, brush, PUT)
    # x maps to tile[(x - 1) mod 2]
    assert c.primary.pixels[0, 0:5, 0].tolist() == [2, 1, 2, 1, 2]


def test_16bit_surface_quantises() -> None:
    c = canvas(fmt=SurfaceFormat.FMT_16_555)
    fill(c, 0, Rect(0, 0, 1, 1), None, solid(0x00FFC107), PUT)
    # 5 bits kept then replicated: 0x07 -> 0x00, 0xC1 -> 0xC0|0x06, 0xFF -> 0xFF
    assert c.primary.pixels[0, 0, :3].tolist() == [0x00, 0xC6, 0xFF]


@pytest.mark.parametrize(
    ("fmt", "data", "stride", "width", "expected"),
    [
        (BitmapFmt.FMT_1BIT_BE, b"\x80", 1, 3, [1, 0, 0]),
        (BitmapFmt.FMT_1BIT_LE, b"\x01", 1, 3, [1, 0, 0]),
        (BitmapFmt.FMT_4BIT_BE, b"\x21", 1, 2, [2, 1]),
        (BitmapFmt.FMT_4BIT_LE, b"\x21", 1, 2, [1, 2]),
        (BitmapFmt.FMT_8BIT, b"\x03\x00\x02", 3, 3, [3, 0, 2]),
    ],
)
def test_palette_bitmaps(
    fmt: BitmapFmt, data: bytes, stride: int, width: int, expected: list[int]
) -> None:
    # palette entry i is the colour 0x10 * (i + 1) in blue
    pal = Palette(77, tuple(0x10 * (i + 1) for i in range(4)))
    bm = Bitmap(fmt, BitmapFlags.TOP_DOWN, width, 1, stride, data, palette=pal)
    c = canvas()
    copy(
        c,
        0,
        Rect(0, 0, width, 1),
        None,
        Image(1, 0, 0, width, 1, bitmap=bm),
        Rect(0, 0, width, 1),
        PUT,
    )
    assert c.primary.pixels[0, :width, 0].tolist() == [0x10 * (i + 1) for i in expected]


def test_24_and_16_bit_bitmaps() -> None:
    bm24 = Bitmap(
        BitmapFmt.FMT_24BIT,
        BitmapFlags.TOP_DOWN,
        2,
        1,
        8,
        b"\x01\x02\x03\x04\x05\x06\0\0",
    )
    c = canvas()
    copy(
        c,
        0,
        Rect(0, 0, 2, 1),
        None,
        Image(1, 0, 0, 2, 1, bitmap=bm24),
        Rect(0, 0, 2, 1),
        PUT,
    )
    assert c.primary.pixels[0, :2, :3].tolist() == [[1, 2, 3], [4, 5, 6]]
    # x555 0x7C00 = pure red (31 -> 0xFF); 0x0001 = blue 1 -> (1 << 3) | (1 >> 2) = 8
    bm16 = Bitmap(
        BitmapFmt.FMT_16BIT, BitmapFlags.TOP_DOWN, 2, 1, 4, b"\x00\x7c\x01\x00"
    )
    copy(
        c,
        0,
        Rect(0, 1, 2, 2),
        None,
        Image(2, 0, 0, 2, 1, bitmap=bm16),
        Rect(0, 0, 2, 1),
        PUT,
    )
    assert c.primary.pixels[1, :2, :3].tolist() == [[0, 0, 255], [8, 0, 0]]


def test_palette_cache_me_and_from_cache() -> None:
    pal = Palette(0xABC, (0x11, 0x22))
    first = Bitmap(
        BitmapFmt.FMT_8BIT,
        BitmapFlags.TOP_DOWN | BitmapFlags.PAL_CACHE_ME,
        1,
        1,
        1,
        b"\x01",
        palette=pal,
    )
    again = Bitmap(
        BitmapFmt.FMT_8BIT,
        BitmapFlags.TOP_DOWN | BitmapFlags.PAL_FROM_CACHE,
        1,
        1,
        1,
        b"\x00",
        palette_id=0xABC,
    )
    c = canvas()
    copy(
        c,
        0,
        Rect(0, 0, 1, 1),
        None,
        Image(1, 0, 0, 1, 1, bitmap=first),
        Rect(0, 0, 1, 1),
        PUT,
    )
    copy(
        c,
        0,
        Rect(1, 0, 2, 1),
        None,
        Image(2, 0, 0, 1, 1, bitmap=again),
        Rect(0, 0, 1, 1),
        PUT,
    )
    assert c.primary.pixels[0, :2, 0].tolist() == [0x22, 0x11]
    c.inval_palette(md.InvalPalette(0xABC))
    with pytest.raises(CanvasError):
        copy(
            c,
            0,
            Rect(1, 0, 2, 1),
            None,
            Image(3, 0, 0, 1, 1, bitmap=again),
            Rect(0, 0, 1, 1),
            PUT,
        )


def test_image_cache_roundtrip_and_invalidation() -> None:
    shared = SharedState()
    c = Canvas(shared)
    c.create_surface(0, 4, 4, SurfaceFormat.FMT_32_xRGB)
    img = bitmap_image([[42]], image_id=0x55, flags=ImageFlags.CACHE_ME)
    copy(c, 0, Rect(0, 0, 1, 1), None, img, Rect(0, 0, 1, 1), PUT)
    # another channel's canvas sharing the cache can draw it
    other = Canvas(shared)
    other.create_surface(0, 4, 4, SurfaceFormat.FMT_32_xRGB)
    ref = Image(0x55, ImageType.FROM_CACHE, 0, 1, 1)
    copy(other, 0, Rect(2, 2, 3, 3), None, ref, Rect(0, 0, 1, 1), PUT)
    assert other.primary.pixels[2, 2, 0] == 42
    other.inval_list(md.InvalList(1, (ResourceID(ResourceType.PIXMAP, 0x55),)))
    with pytest.raises(CanvasError):
        copy(other, 0, Rect(2, 2, 3, 3), None, ref, Rect(0, 0, 1, 1), PUT)


def test_clipped_away_draw_still_caches() -> None:
    c = canvas()
    img = bitmap_image([[9]], image_id=7, flags=ImageFlags.CACHE_ME)
    copy(c, 0, Rect(0, 0, 1, 1), [Rect(5, 5, 6, 6)], img, Rect(0, 0, 1, 1), PUT)
    assert int(c.primary.pixels.sum()) == 0
    assert 7 in c.shared.cache


def test_high_bits_set_forces_x_byte() -> None:
    img = bitmap_image([[0x00010203]], flags=ImageFlags.HIGH_BITS_SET)
    c = canvas()
    copy(c, 0, Rect(0, 0, 1, 1), None, img, Rect(0, 0, 1, 1), PUT)
    assert c.primary.pixels[0, 0].tolist() == [3, 2, 1, 0xFF]


def test_hostile_inputs_raise_canvas_error() -> None:
    c = canvas()
    with pytest.raises(CanvasError):
        fill(c, 3, Rect(0, 0, 1, 1), None, solid(1), PUT)
    with pytest.raises(CanvasError):
        c.create_surface(1, 1 << 20, 1 << 20, SurfaceFormat.FMT_32_xRGB)
    with pytest.raises(CanvasError):
        c.create_surface(1, 4, 4, 12345)
    with pytest.raises(CanvasError):
        c.destroy_surface(99)
    with pytest.raises(CanvasError):
        copy(
            c,
            0,
            Rect(0, 0, 1, 1),
            None,
            Image(0xDEAD, ImageType.FROM_CACHE, 0, 1, 1),
            Rect(0, 0, 1, 1),
            PUT,
        )
    short = Bitmap(BitmapFmt.FMT_32BIT, 0, 4, 4, 16, b"\0" * 10)
    with pytest.raises(CanvasError):
        copy(
            c,
            0,
            Rect(0, 0, 4, 4),
            None,
            Image(1, 0, 0, 4, 4, bitmap=short),
            Rect(0, 0, 4, 4),
            PUT,
        )


@pytest.mark.parametrize(
    ("desc", "expected"),
    [
        (RopD.OP_PUT, Rop.COPY),
        (RopD.OP_PUT | RopD.INVERS_SRC, Rop.COPY_INVERTED),
        (RopD.OP_PUT | RopD.INVERS_SRC | RopD.INVERS_RES, Rop.COPY),
        (RopD.OP_OR | RopD.INVERS_RES, Rop.NOR),
        (RopD.OP_AND | RopD.INVERS_DEST, Rop.AND_REVERSE),
        (RopD.OP_XOR | RopD.INVERS_SRC, Rop.EQUIV),
        (RopD.OP_XOR | RopD.INVERS_SRC | RopD.INVERS_DEST, Rop.XOR),
        (RopD.OP_BLACKNESS, Rop.CLEAR),
        (RopD.OP_WHITENESS, Rop.SET),
        (RopD.OP_INVERS, Rop.INVERT),
    ],
)
def test_ropd_to_rop(desc: int, expected: Rop) -> None:
    assert ropd_to_rop(desc) == expected


def test_ropd_brush_input_uses_brush_bit() -> None:
    assert ropd_to_rop(RopD.OP_PUT | RopD.INVERS_BRUSH, 1) == Rop.COPY_INVERTED
    assert ropd_to_rop(RopD.OP_PUT | RopD.INVERS_BRUSH, 0) == Rop.COPY


def test_missing_cache_entry_is_image_not_ready() -> None:

    c = canvas()
    with pytest.raises(ImageNotReady) as info:
        copy(c, 0, Rect(0, 0, 1, 1), None, Image(0x77, ImageType.FROM_CACHE, 0, 1, 1),
               Rect(0, 0, 1, 1), PUT)  # fmt: skip
    assert info.value.image_id == 0x77


def test_driver_handle_message_fill_body() -> None:
    import struct

    d = DisplayDriver()
    display(d, 314, struct.pack("<IIIII", 0, 4, 3, 32, 1))  # SURFACE_CREATE
    # DRAW_FILL: base (surface 0, rect top=1 left=1 bottom=2 right=3, no clip),
    # solid brush 0x0000FF, rop PUT, no mask
    body = struct.pack("<Iiiii", 0, 1, 1, 2, 3) + b"\0"
    body += b"\x01" + struct.pack("<I", 0xFF) + struct.pack("<H", RopD.OP_PUT)
    body += b"\0" + struct.pack("<iiI", 0, 0, 0)
    assert display(d, 302, body) == WireRect(1, 1, 2, 3)  # the changed rect
    px = d.primary_pixels()
    assert px is not None
    assert (px[..., 0] == 255).astype(int).tolist() == [
        [0, 0, 0, 0],
        [0, 1, 1, 0],
        [0, 0, 0, 0],
    ]
    assert display(d, 4, b"\0" * 12) is None  # PING: not for the canvas


def test_opaque_brush_rop_against_copied_source() -> None:
    # opaque: the image is copied, then brush ROP "dest", where dest is that image
    # and INVERS_SRC inverts it (ROP_INPUT_BRUSH, ROP_INPUT_SRC in canvas_base.c)
    img = bitmap_image([[0x0F]])
    c = canvas()
    desc = RopD.OP_XOR | RopD.INVERS_SRC
    opaque(c, 0, Rect(0, 0, 1, 1), None, img, Rect(0, 0, 1, 1), solid(0x33), desc)
    assert c.primary.pixels[0, 0, 0] == 0x33 ^ (~0x0F & 0xFF)
    c2 = canvas()
    opaque(
        c2, 0, Rect(0, 0, 1, 1), None, img, Rect(0, 0, 1, 1), solid(0x33), RopD.OP_AND
    )
    assert c2.primary.pixels[0, 0, 0] == 0x33 & 0x0F


def test_alpha_byte_of_opaque_sources_on_argb_surface() -> None:
    # same-size blits copy raw bits (spice_pixman_blit is a memcpy): X byte 0 stays;
    # scaled draws go through pixman's x8r8g8b8 -> a8r8g8b8 conversion: alpha 0xFF
    c = Canvas()
    c.create_surface(1, 4, 2, SurfaceFormat.FMT_32_ARGB)
    img = bitmap_image([[0x00102030]])
    copy(c, 1, Rect(0, 0, 1, 1), None, img, Rect(0, 0, 1, 1), PUT)
    copy(c, 1, Rect(1, 0, 3, 2), None, img, Rect(0, 0, 1, 1), PUT, ScaleMode.NEAREST)
    px = c.surfaces[1].pixels
    assert px[0, 0].tolist() == [0x30, 0x20, 0x10, 0x00]
    assert px[1, 2].tolist() == [0x30, 0x20, 0x10, 0xFF]


def display(driver: Any, kind: int, body: bytes) -> Any:
    """Decode one display message body and apply it (what the session core does)."""
    return driver.apply(decode_message(ChannelType.DISPLAY, kind, body))
