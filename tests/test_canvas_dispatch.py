"""Display message bodies built by hand from spice.proto, decoded by the wire
layer and applied by ``DisplayDriver`` (one table keyed by message class).

Layouts (spice.proto): Rect = top, left, bottom, right (i32); pointers are u32
offsets from the body start; DisplayBase = surface_id u32, Rect, Clip.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest

from spicepy.canvas import CachedImage
from spicepy.errors import CanvasError
from spicepy.session.core import DisplayDriver
from spicepy.wire import msg_display as md
from spicepy.wire.enums import BitmapFmt, ChannelType, DisplayMsg, ImageType
from spicepy.wire.messages import decode_message
from spicepy.wire.registry import all_messages
from spicepy.wire.types import Rect

#: server display messages the canvas has nothing to do with (GL scanouts need a
#: local dma-buf; MODE is the pre-surface legacy; QUALITY_INDICATOR is advisory)
IGNORED = {md.DisplayMode, md.GlScanoutUnix, md.GlDraw, md.DisplayQualityIndicator}


def rect(left: int, top: int, right: int, bottom: int) -> bytes:
    return struct.pack("<iiii", top, left, bottom, right)


def base(surface: int = 0, clip: list[bytes] | None = None) -> bytes:
    out = struct.pack("<I", surface) + rect(1, 2, 5, 6)
    if clip is None:
        return out + b"\x00"
    return out + b"\x01" + struct.pack("<I", len(clip)) + b"".join(clip)


def image_desc(image_id: int, kind: int, flags: int, w: int, h: int) -> bytes:
    return struct.pack("<QBBII", image_id, kind, flags, w, h)


NO_MASK = b"\x00" + struct.pack("<iiI", 0, 0, 0)
CREATE_8X8 = struct.pack("<IIIII", 0, 8, 8, 32, 1)  # surface 0, 8x8, xRGB, primary


def display(driver: DisplayDriver, kind: int, body: bytes) -> Any:
    """Decode one display message body and apply it (what the session core does)."""
    return driver.apply(decode_message(ChannelType.DISPLAY, kind, body))


def driver_8x8() -> DisplayDriver:
    d = DisplayDriver()
    assert display(d, DisplayMsg.SURFACE_CREATE, CREATE_8X8) == Rect(0, 0, 8, 8)
    return d


def red_of(d: DisplayDriver) -> np.ndarray:
    px = d.primary_pixels()
    assert px is not None
    return px[..., 2]


def test_every_server_display_message_has_a_handler_or_is_ignored_on_purpose() -> None:
    d = DisplayDriver()
    server = {
        cls
        for cls in all_messages()
        if cls.CHANNEL == ChannelType.DISPLAY and cls.FROM_SERVER
    }
    handled = set(d._draws) | set(d._others)
    assert server - IGNORED == handled
    assert not IGNORED & handled


def test_fill_with_clip_rects_draws_bbox_and_clip_only() -> None:
    d = driver_8x8()
    body = base(0, [rect(0, 0, 2, 3), rect(3, 3, 4, 4)])  # bbox (1, 2)-(5, 6)
    body += b"\x01" + struct.pack("<I", 0x00ABCDEF) + struct.pack("<H", 8) + NO_MASK
    assert display(d, DisplayMsg.DRAW_FILL, body) == Rect(2, 1, 6, 5)
    lit = red_of(d) == 0xAB
    expected = np.zeros((8, 8), bool)
    expected[2:3, 1:2] = True  # first clip rect inside the bbox
    expected[3:4, 3:4] = True
    assert (lit == expected).all()


def test_copy_with_palette_bitmap_and_mask() -> None:
    d = driver_8x8()
    head = base()  # bbox (1, 2)-(5, 6)
    # Copy: *src_bitmap, src_area, rop u16, scale u8, QMask(flags, pos, *bitmap)
    fixed = len(head) + 4 + 16 + 2 + 1 + 13
    img_at = fixed
    bitmap_body = struct.pack("<BBIII", BitmapFmt.FMT_8BIT, 4, 2, 1, 2)
    pal_ptr_at = img_at + 18 + len(bitmap_body)
    pixels = b"\x01\x00"  # palette entries 1, 0
    pal_at = pal_ptr_at + 4 + len(pixels)
    image = image_desc(7, ImageType.BITMAP, 0, 2, 1) + bitmap_body
    image += struct.pack("<I", pal_at) + pixels
    palette = struct.pack("<QH", 0x99, 2) + struct.pack("<II", 0x111111, 0x222222)
    mask_at = pal_at + len(palette)
    mask = image_desc(8, ImageType.BITMAP, 0, 8, 1)
    mask += struct.pack("<BBIII", BitmapFmt.FMT_1BIT_BE, 4, 8, 1, 1)
    mask += struct.pack("<I", 0) + b"\x40"  # only mask pixel 1 is set
    body = head + struct.pack("<I", img_at) + rect(0, 0, 2, 1)
    body += struct.pack("<HB", 8, 1) + b"\x00" + struct.pack("<iiI", 0, 0, mask_at)
    assert len(body) == fixed
    display(d, DisplayMsg.DRAW_COPY, body + image + palette + mask)
    red = red_of(d)
    # the 2x1 source (palette indices 1, 0 -> 0x222222, 0x111111) is stretched
    # onto the 4x4 bbox at x 1..4; the 8x1 mask keeps only its pixel 1 (x = 2)
    assert red[2].tolist() == [0, 0, 0x22, 0, 0, 0, 0, 0]
    assert int(red.sum()) == 0x22
    assert d.image_types == {ImageType.BITMAP: 2}


def test_driver_full_copy_roundtrip() -> None:
    d = driver_8x8()
    head = struct.pack("<I", 0) + rect(2, 2, 4, 3) + b"\x00"
    at = len(head) + 4 + 16 + 3 + 13
    pixels = struct.pack("<II", 0x00010203, 0x00040506)
    img = image_desc(1, ImageType.BITMAP, 0, 2, 1)
    img += struct.pack("<BBIII", BitmapFmt.FMT_32BIT, 4, 2, 1, 8) + struct.pack("<I", 0)
    body = head + struct.pack("<I", at) + rect(0, 0, 2, 1) + struct.pack("<HB", 8, 1)
    assert display(d, DisplayMsg.DRAW_COPY, body + NO_MASK + img + pixels) == Rect(
        2, 2, 3, 4
    )
    px = d.primary_pixels()
    assert px is not None and px[2, 2:4, :3].tolist() == [[3, 2, 1], [6, 5, 4]]
    assert int(px.sum()) == sum([3, 2, 1, 6, 5, 4])


def test_draws_off_the_primary_change_nothing_on_it() -> None:
    d = driver_8x8()
    create = struct.pack("<IIIII", 3, 4, 4, 32, 0)
    assert display(d, DisplayMsg.SURFACE_CREATE, create) is None
    body = base(3) + b"\x01" + struct.pack("<I", 0xFF0000) + struct.pack("<H", 8)
    assert display(d, DisplayMsg.DRAW_FILL, body + NO_MASK) is None
    assert int(red_of(d).sum()) == 0
    assert d.canvas.surfaces[3].pixels[2:4, 1:4, 2].tolist() == [[255] * 3] * 2


def test_stream_cache_and_monitor_messages() -> None:
    d = driver_8x8()
    create = struct.pack("<IIBBQIIII", 0, 3, 1, 1, 0, 320, 240, 640, 480)
    create += rect(10, 20, 330, 260) + b"\x00"
    assert display(d, DisplayMsg.STREAM_CREATE, create) is None
    stream = d.streams.streams[3]
    assert (stream.stream_width, stream.stream_height, stream.flags) == (320, 240, 1)
    assert stream.dest == Rect(20, 10, 260, 330) and stream.clip.rects is None
    display(d, DisplayMsg.STREAM_ACTIVATE_REPORT, struct.pack("<IIII", 3, 9, 20, 1000))
    assert stream.report_active and stream.report_max_window == 20
    # INVAL_LIST drops the pixmaps it names (resource type 1), and only those
    for image_id in (0x10, 0x20, 0x30):
        d.canvas.shared.cache.put(
            image_id, CachedImage(np.zeros((1, 1, 4), np.uint8), False)
        )
    inval = (
        struct.pack("<H", 2) + struct.pack("<BQ", 1, 0x10) + struct.pack("<BQ", 1, 0x20)
    )
    display(d, DisplayMsg.INVAL_LIST, inval)
    assert [i in d.canvas.shared.cache for i in (0x10, 0x20, 0x30)] == [
        False,
        False,
        True,
    ]
    heads = struct.pack("<HH", 1, 4) + struct.pack("<7I", 0, 0, 1024, 768, 0, 0, 0)
    display(d, DisplayMsg.MONITORS_CONFIG, heads)
    assert d.canvas.monitors == [(0, 0, 1024, 768, 0, 0, 0)]


@pytest.mark.parametrize(
    ("what", "kind", "body"),
    [
        # DRAW_COPY whose source pointer is NULL (the wire layer allows it)
        ("null source", DisplayMsg.DRAW_COPY,
         base() + struct.pack("<I", 0) + rect(0, 0, 1, 1) + b"\x08\x00\x01" + NO_MASK),
        # clip type 2 does not exist (NONE = 0, RECTS = 1)
        ("clip type", DisplayMsg.DRAW_FILL,
         struct.pack("<I", 0) + rect(1, 2, 5, 6) + b"\x02"
         + b"\x01" + struct.pack("<I", 1) + struct.pack("<H", 8) + NO_MASK),
        # brush type 7 does not exist
        ("brush type", DisplayMsg.DRAW_FILL,
         base() + b"\x07" + struct.pack("<H", 8) + NO_MASK),
        # DRAW_STROKE with a NULL path
        ("null path", DisplayMsg.DRAW_STROKE,
         base() + struct.pack("<I", 0) + b"\x00" + b"\x00" + struct.pack("<HH", 8, 0)),
        # DRAW_TEXT with a NULL string
        ("null string", DisplayMsg.DRAW_TEXT,
         base() + struct.pack("<I", 0) + rect(0, 0, 0, 0) + b"\x00\x00"
         + struct.pack("<HH", 8, 8)),
        # an image type the canvas cannot decode (50)
        ("image type", DisplayMsg.DRAW_COPY,
         base() + struct.pack("<I", 57) + rect(0, 0, 1, 1) + b"\x08\x00\x01" + NO_MASK
         + image_desc(1, 50, 0, 1, 1)),
    ],
)  # fmt: skip
def test_what_the_wire_accepts_but_the_canvas_cannot_draw(
    what: str, kind: int, body: bytes
) -> None:
    d = driver_8x8()
    msg = decode_message(ChannelType.DISPLAY, kind, body)  # the wire layer accepts it
    with pytest.raises(CanvasError):
        d.apply(msg)
    assert int(red_of(d).sum()) == 0, what
