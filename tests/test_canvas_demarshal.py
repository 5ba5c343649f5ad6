"""Display message bodies built by hand from spice.proto, parsed into commands.

Layouts (spice.proto): Rect = top, left, bottom, right (i32); pointers are u32
offsets from the body start; DisplayBase = surface_id u32, Rect, Clip.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from spicepy.canvas import (
    BitmapFmt,
    BrushType,
    DisplayDriver,
    ImageType,
    Point,
    Rect,
    parse_display,
)
from spicepy.canvas.types import PathFlags, StringFlags
from spicepy.errors import WireError
from spicepy.wire.enums import ChannelType
from spicepy.wire.messages import decode_message


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


def test_fill_with_clip_rects() -> None:
    body = base(0, [rect(0, 0, 2, 2), rect(3, 3, 4, 4)])
    body += b"\x01" + struct.pack("<I", 0x00ABCDEF) + struct.pack("<H", 8) + NO_MASK
    cmd = parse_display(302, body)
    assert cmd is not None and cmd.name == "fill"
    assert cmd.args["bbox"] == Rect(1, 2, 5, 6)
    assert cmd.args["clip"] == [Rect(0, 0, 2, 2), Rect(3, 3, 4, 4)]
    assert cmd.args["brush"].type == BrushType.SOLID
    assert cmd.args["brush"].color == 0x00ABCDEF
    assert cmd.args["rop_descriptor"] == 8
    assert cmd.args["mask"].bitmap is None


def test_copy_with_palette_bitmap_and_mask() -> None:
    head = base()
    # Copy: *src_bitmap, src_area, rop u16, scale u8, QMask(flags, pos, *bitmap)
    fixed = len(head) + 4 + 16 + 2 + 1 + 13
    img_at = fixed
    bitmap_body = struct.pack("<BBIII", BitmapFmt.FMT_8BIT, 4, 2, 1, 2)
    pal_ptr_at = img_at + 18 + len(bitmap_body)
    pixels = b"\x01\x00"
    pal_at = pal_ptr_at + 4 + len(pixels)
    image = image_desc(7, ImageType.BITMAP, 1, 2, 1) + bitmap_body
    image += struct.pack("<I", pal_at) + pixels
    palette = struct.pack("<QH", 0x99, 2) + struct.pack("<II", 0x111111, 0x222222)
    mask_at = pal_at + len(palette)
    mask = image_desc(8, ImageType.BITMAP, 0, 8, 1)
    mask += struct.pack("<BBIII", BitmapFmt.FMT_1BIT_BE, 4, 8, 1, 1) + struct.pack(
        "<I", 0
    )
    mask += b"\xf0"
    body = (
        head + struct.pack("<I", img_at) + rect(0, 0, 2, 1) + struct.pack("<HB", 8, 1)
    )
    body += b"\x01" + struct.pack("<iiI", 3, 0, mask_at)
    assert len(body) == fixed
    body += image + palette + mask
    cmd = parse_display(304, body)
    assert cmd is not None and cmd.name == "copy"
    img = cmd.args["image"]
    assert (img.id, img.type, img.flags, img.width, img.height) == (7, 0, 1, 2, 1)
    assert img.bitmap.data == pixels and img.bitmap.palette.unique == 0x99
    assert img.bitmap.palette.ents == (0x111111, 0x222222)
    assert cmd.args["src_area"] == Rect(0, 0, 2, 1) and cmd.args["scale_mode"] == 1
    m = cmd.args["mask"]
    assert m.flags == 1 and m.pos == Point(3, 0) and m.bitmap.bitmap.data == b"\xf0"
    assert [i.id for i in cmd.images] == [7, 8]


def test_compressed_image_bodies() -> None:
    head = base()
    at = len(head) + 4 + 16 + 3 + 13
    lz = image_desc(1, ImageType.LZ_RGB, 0, 4, 4) + struct.pack("<I", 3) + b"abc"
    body = head + struct.pack("<I", at) + rect(0, 0, 4, 4) + struct.pack("<HB", 8, 1)
    body += NO_MASK + lz
    cmd = parse_display(305, body)  # DRAW_BLEND shares Copy's layout
    assert cmd is not None and cmd.name == "blend" and cmd.args["image"].data == b"abc"
    for kind, extra, field, value in [
        (ImageType.ZLIB_GLZ_RGB, struct.pack("<II", 99, 2) + b"zz", "glz_size", 99),
        (ImageType.JPEG_ALPHA, struct.pack("<BII", 1, 5, 2) + b"jj", "jpeg_size", 5),
        (ImageType.SURFACE, struct.pack("<I", 42), "surface_id", 42),
    ]:
        img = image_desc(2, kind, 0, 4, 4) + extra
        b = head + struct.pack("<I", at) + rect(0, 0, 4, 4) + struct.pack("<HB", 8, 1)
        cmd = parse_display(304, b + NO_MASK + img)
        assert cmd is not None and getattr(cmd.args["image"], field) == value


def test_stroke_path_and_style() -> None:
    head = base()
    path_at = len(head) + 4 + 1 + 1 + 4 + 1 + 4 + 4
    style_at = path_at + 4 + 5 + 16
    body = (
        head + struct.pack("<I", path_at) + bytes([8]) + struct.pack("<BI", 1, style_at)
    )
    body += b"\x01" + struct.pack("<I", 0xFF) + struct.pack("<HH", 8, 0)
    assert len(body) == path_at
    body += (
        struct.pack("<I", 1)
        + struct.pack("<BI", 3, 2)
        + struct.pack("<4i", 16, 32, 48, 64)
    )
    body += struct.pack("<i", 0x40)
    cmd = parse_display(310, body)
    assert cmd is not None and cmd.name == "stroke"
    (seg,) = cmd.args["path"]
    assert seg.flags == PathFlags.BEGIN | PathFlags.END
    assert seg.points == ((16, 32), (48, 64))
    assert cmd.args["attr"].style == (0x40,)
    assert cmd.args["fore_mode"] == 8


def test_text_string_glyphs() -> None:
    head = base()
    str_at = len(head) + 4 + 16 + 5 + 1 + 4
    body = head + struct.pack("<I", str_at) + rect(0, 0, 0, 0)
    body += b"\x01" + struct.pack("<I", 0xFFFFFF) + b"\x00" + struct.pack("<HH", 8, 8)
    assert len(body) == str_at
    body += struct.pack("<HB", 2, StringFlags.RASTER_A4)
    body += struct.pack("<iiiiHH", 10, 20, 0, -3, 3, 2) + b"\x12\x30\x45\x60"
    body += struct.pack("<iiiiHH", 14, 20, 0, -3, 1, 1) + b"\xf0"
    cmd = parse_display(311, body)
    assert cmd is not None and cmd.name == "text"
    g1, g2 = cmd.args["string"].glyphs
    assert (g1.render_pos, g1.glyph_origin, g1.width, g1.height) == (
        Point(10, 20),
        Point(0, -3),
        3,
        2,
    )
    assert g1.data == b"\x12\x30\x45\x60" and g2.data == b"\xf0"
    assert cmd.args["back_brush"].type == BrushType.NONE


def test_composite_optional_fields() -> None:
    head = base()
    flags = 3 | (1 << 19) | (1 << 20)
    src_at = len(head) + 4 + 4 + 4 + 24 + 8
    mask_at = src_at + 18 + 4
    body = head + struct.pack("<III", flags, src_at, mask_at)
    body += struct.pack("<6I", 1 << 16, 0, 5 << 16, 0, 1 << 16, 0)
    body += struct.pack("<hhhh", 1, -2, 3, 4)
    body += image_desc(1, ImageType.SURFACE, 0, 1, 1) + struct.pack("<I", 5)
    body += image_desc(2, ImageType.SURFACE, 0, 1, 1) + struct.pack("<I", 6)
    cmd = parse_display(318, body)
    assert cmd is not None and cmd.name == "composite"
    assert (
        cmd.args["src_image"].surface_id == 5 and cmd.args["mask_image"].surface_id == 6
    )
    assert cmd.args["src_transform"].t02 == 5 << 16
    assert cmd.args["src_origin"] == Point(1, -2) and cmd.args["mask_origin"] == Point(
        3, 4
    )


def test_stream_messages() -> None:
    create = struct.pack("<IIBBQIIII", 0, 3, 1, 1, 0, 320, 240, 640, 480)
    create += rect(10, 20, 330, 260) + b"\x00"
    cmd = parse_display(122, create)
    assert cmd is not None and cmd.args["stream_id"] == 3 and cmd.args["flags"] == 1
    assert (cmd.args["stream_width"], cmd.args["src_height"]) == (320, 480)
    assert cmd.args["dest"] == Rect(10, 20, 330, 260) and cmd.args["clip"] is None
    sized = struct.pack("<IIII", 3, 1234, 16, 8) + rect(0, 0, 16, 8)
    sized += struct.pack("<I", 2) + b"\xff\xd8"
    cmd = parse_display(316, sized)
    assert cmd is not None and cmd.args["frame"] == b"\xff\xd8"
    assert (cmd.args["mm_time"], cmd.args["width"], cmd.args["dest"]) == (
        1234,
        16,
        Rect(0, 0, 16, 8),
    )
    report = parse_display(319, struct.pack("<IIII", 3, 9, 20, 1000))
    assert report is not None and report.args["max_window_size"] == 20


def test_cache_and_surface_messages() -> None:
    inval = (
        struct.pack("<H", 2) + struct.pack("<BQ", 1, 0x10) + struct.pack("<BQ", 1, 0x20)
    )
    cmd = parse_display(105, inval)
    assert cmd is not None and cmd.args["image_ids"] == [0x10, 0x20]
    cmd = parse_display(314, struct.pack("<IIIII", 2, 64, 32, 96, 0))
    assert cmd is not None and cmd.args == {
        "surface_id": 2,
        "width": 64,
        "height": 32,
        "fmt": 96,
        "flags": 0,
    }
    heads = struct.pack("<HH", 1, 4) + struct.pack("<7I", 0, 0, 1024, 768, 0, 0, 0)
    cmd = parse_display(317, heads)
    assert cmd is not None and cmd.args["heads"] == [(0, 0, 1024, 768, 0, 0, 0)]


@pytest.mark.parametrize("kind", [302, 304, 310, 311, 318, 122, 105, 317])
def test_truncations_raise_wire_error(kind: int) -> None:
    with pytest.raises(WireError):
        parse_display(kind, b"\x05\x00\x00")  # counts of 5 with nothing after


def test_driver_full_copy_roundtrip() -> None:
    d = DisplayDriver()
    display(d, 314, struct.pack("<IIIII", 0, 8, 8, 32, 1))
    head = struct.pack("<I", 0) + rect(2, 2, 4, 3) + b"\x00"
    at = len(head) + 4 + 16 + 3 + 13
    pixels = struct.pack("<II", 0x00010203, 0x00040506)
    img = image_desc(1, ImageType.BITMAP, 0, 2, 1)
    img += struct.pack("<BBIII", BitmapFmt.FMT_32BIT, 4, 2, 1, 8) + struct.pack("<I", 0)
    body = head + struct.pack("<I", at) + rect(0, 0, 2, 1) + struct.pack("<HB", 8, 1)
    display(d, 304, body + NO_MASK + img + pixels)
    px = d.primary_pixels()
    assert px is not None and px[2, 2:4, :3].tolist() == [[3, 2, 1], [6, 5, 4]]


def display(driver: Any, kind: int, body: bytes) -> Any:
    """Decode one display message body and apply it (what the session core does)."""
    return driver.apply(decode_message(ChannelType.DISPLAY, kind, body))
