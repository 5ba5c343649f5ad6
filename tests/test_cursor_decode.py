"""Cursor shapes: every SPICE cursor type against a per-pixel transcription of the
spec (spice_protocol.txt "cursor shape data" + "drawing the cursor shape"),
random shapes through an independent encoder, hostile sizes -> WireError, the
compositing rule, and the real shapes of the cursor capture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.canvas.cursor import (
    MAX_CURSOR_SIDE,
    CursorImage,
    composite_cursor,
    cursor_data_size,
    decode_cursor,
)
from spicepy.errors import WireError
from spicepy.wire.enums import CursorType

COLOR_TYPES = [
    CursorType.COLOR4,
    CursorType.COLOR8,
    CursorType.COLOR16,
    CursorType.COLOR24,
    CursorType.COLOR32,
]


def pack_bits(bits: list[list[int]], width: int) -> bytes:
    """MSB-first rows of ALIGN(width, 8) / 8 bytes."""
    out = bytearray()
    for row in bits:
        padded = row + [0] * (-width % 8)
        for i in range(0, len(padded), 8):
            byte = 0
            for b in padded[i : i + 8]:
                byte = byte << 1 | b
            out.append(byte)
    return bytes(out)


def expand5(v: int) -> int:
    return (v << 3) | (v >> 2)


def reference(
    ctype: int, w: int, h: int, data: bytes
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per pixel, straight from the spec text: (rgba, xor)."""
    mask_row = (w + 7) // 8

    def bit(plane_offset: int, x: int, y: int) -> int:
        return data[plane_offset + y * mask_row + x // 8] >> (7 - x % 8) & 1

    rgba = np.zeros((h, w, 4), np.uint8)
    xor = np.zeros((h, w, 3), np.uint8)
    if ctype == CursorType.ALPHA:
        for y in range(h):
            for x in range(w):
                b, g, r, a = data[(y * w + x) * 4 : (y * w + x) * 4 + 4]
                rgba[y, x] = (r, g, b, a)
        return rgba, None
    if ctype == CursorType.MONO:
        colors = {}
        for y in range(h):
            for x in range(w):
                colors[y, x] = (255,) * 3 if bit(mask_row * h, x, y) else (0, 0, 0)
        mask_at = 0
    else:
        bpp = {2: 4, 3: 8, 4: 16, 5: 24, 6: 32}[ctype]
        row = (w * bpp + 7) // 8
        pal_n = {4: 16, 8: 256}.get(bpp, 0)
        pal = data[row * h : row * h + 4 * pal_n]
        mask_at = row * h + 4 * pal_n
        colors = {}
        for y in range(h):
            for x in range(w):
                if bpp == 4:
                    byte = data[y * row + x // 2]
                    idx = byte >> 4 if x % 2 == 0 else byte & 15
                    b, g, r = pal[idx * 4 : idx * 4 + 3]
                elif bpp == 8:
                    idx = data[y * row + x]
                    b, g, r = pal[idx * 4 : idx * 4 + 3]
                elif bpp == 16:
                    p = int.from_bytes(
                        data[y * row + 2 * x : y * row + 2 * x + 2], "little"
                    )
                    r, g, b = (
                        expand5(p >> 10 & 31),
                        expand5(p >> 5 & 31),
                        expand5(p & 31),
                    )
                else:
                    step = bpp // 8
                    b, g, r = data[y * row + step * x : y * row + step * x + 3]
                colors[y, x] = (r, g, b)
    any_xor = False
    for y in range(h):
        for x in range(w):
            if not bit(mask_at, x, y):  # clear mask bit: put the colour
                rgba[y, x] = (*colors[y, x], 255)
            elif colors[y, x] != (0, 0, 0):  # set bit: screen ^= colour
                xor[y, x] = colors[y, x]
                any_xor = True
    return rgba, (xor if any_xor else None)


@st.composite
def shapes(draw: st.DrawFn, ctype: int) -> tuple[int, int, bytes]:
    w = draw(st.integers(1, 19))
    h = draw(st.integers(1, 9))
    size = cursor_data_size(ctype, w, h)
    data = draw(st.binary(min_size=size, max_size=size))
    # masks of all-ones / all-zeros rows are common in real cursors: mix them in
    if ctype != CursorType.ALPHA and draw(st.booleans()):
        mask_len = ((w + 7) // 8) * h
        fill = draw(st.sampled_from([0x00, 0xFF]))
        data = data[: size - mask_len] + bytes([fill]) * mask_len
    return w, h, data


@pytest.mark.parametrize("ctype", list(CursorType), ids=lambda t: t.name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_decode_equals_the_spec_pixel_by_pixel(ctype: int, data: st.DataObject) -> None:
    w, h, raw = data.draw(shapes(ctype))
    hot = data.draw(st.tuples(st.integers(0, 40), st.integers(0, 40)))
    img = decode_cursor(ctype, w, h, hot[0], hot[1], raw + b"trailing")
    rgba, xor = reference(ctype, w, h, raw)
    assert img.rgba.shape == (h, w, 4) and img.rgba.dtype == np.uint8
    np.testing.assert_array_equal(img.rgba, rgba)
    if xor is None:
        assert img.xor is None
    else:
        assert img.xor is not None
        np.testing.assert_array_equal(img.xor, xor)
    assert (img.hot_x, img.hot_y) == (min(hot[0], w), min(hot[1], h))  # spice-gtk caps


@pytest.mark.parametrize("ctype", list(CursorType), ids=lambda t: t.name)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_truncated_shapes_raise_wire_error(ctype: int, data: st.DataObject) -> None:
    w, h, raw = data.draw(shapes(ctype))
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(WireError):
        decode_cursor(ctype, w, h, 0, 0, raw[:cut])


def test_hostile_headers_raise_wire_error() -> None:
    with pytest.raises(WireError, match="exceeds"):
        decode_cursor(CursorType.ALPHA, MAX_CURSOR_SIDE + 1, 1, 0, 0, b"")
    with pytest.raises(WireError, match="exceeds"):
        decode_cursor(CursorType.MONO, 1, 65535, 0, 0, b"")
    with pytest.raises(WireError, match="unknown cursor type"):
        decode_cursor(7, 2, 2, 0, 0, bytes(100))
    # zero-sized shapes are legal and empty
    assert decode_cursor(CursorType.COLOR4, 0, 0, 0, 0, bytes(64)).rgba.shape == (
        0,
        0,
        4,
    )


def test_mono_truth_table() -> None:
    # one row of 4 pixels: (AND, XOR) = (0,0) black, (0,1) white, (1,0) transparent,
    # (1,1) invert
    data = pack_bits([[0, 0, 1, 1]], 4) + pack_bits([[0, 1, 0, 1]], 4)
    img = decode_cursor(CursorType.MONO, 4, 1, 1, 0, data)
    assert img.rgba[0].tolist() == [
        [0, 0, 0, 255],
        [255, 255, 255, 255],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
    ]
    assert img.xor is not None and img.xor[0].tolist() == [[0] * 3] * 3 + [[255] * 3]


def test_composite_over_and_xor() -> None:
    screen = np.full((3, 4, 3), 100, np.uint8)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (64, 0, 0, 128)  # premultiplied half-transparent
    xor = np.zeros((2, 2, 3), np.uint8)
    xor[1, 1] = (255, 255, 255)  # invert
    composite_cursor(screen, CursorImage(rgba, 1, 1, xor), 2, 2)
    # hot spot (1, 1) at (2, 2): the image's top-left lands on (1, 1)
    assert screen[1, 1].tolist() == [255, 0, 0]
    # 64 + 100 * 127 / 255 = 64 + 49.8 -> 114
    assert screen[1, 2].tolist() == [114, 50, 50]
    assert screen[2, 1].tolist() == [100, 100, 100]
    assert screen[2, 2].tolist() == [155, 155, 155]
    assert screen[0].tolist() == [[100] * 3] * 4
    composite_cursor(screen, CursorImage(rgba, 0, 0), -5, -5)  # fully outside
    composite_cursor(screen, CursorImage(rgba, 0, 0), 3, 2)  # clipped at the edge
    assert screen[2, 3].tolist() == [255, 0, 0]


def test_straight_rgba_divides_alpha_out() -> None:
    rgba = np.array([[[64, 32, 0, 128], [0, 0, 0, 0], [9, 9, 9, 255]]], np.uint8)
    out = CursorImage(rgba, 0, 0).straight_rgba()
    assert out.tolist() == [[[128, 64, 0, 128], [0, 0, 0, 0], [9, 9, 9, 255]]]


def test_capture_cursors_decode(captures_dir: Path) -> None:
    from spicepy.capture.streams import read_channels
    from spicepy.wire import decode_message
    from spicepy.wire.enums import ChannelType, CursorFlags

    path = captures_dir / "cursor-auto_glz.pcap"
    if not path.exists():
        pytest.skip("no cursor capture")
    decoded = 0
    for ch in read_channels(path):
        if ch.channel_type != ChannelType.CURSOR:
            continue
        for m in ch.server_messages():
            msg = decode_message(ch.channel_type, m.type, m.body)
            cursor = getattr(msg, "cursor", None)
            if cursor is None or cursor.header is None:
                continue
            if cursor.flags & (CursorFlags.NONE | CursorFlags.FROM_CACHE):
                continue
            hdr = cursor.header
            img = decode_cursor(
                hdr.type,
                hdr.width,
                hdr.height,
                hdr.hot_spot_x,
                hdr.hot_spot_y,
                cursor.data,
            )
            # Xspice sends premultiplied ARGB: no colour above its alpha
            assert (img.rgba[..., :3] <= img.rgba[..., 3:4]).all()
            assert img.rgba[..., 3].any()
            decoded += 1
    assert decoded > 0
