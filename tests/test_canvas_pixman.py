"""The canvas's pixel arithmetic against pixman itself (the library sw_canvas uses).

libpixman is loaded with ctypes as an oracle; the test skips where it is absent.
Each case sets up the same operation sw_canvas performs (common/sw_canvas.c:
``__scale_image``, ``__blend_image``, canvas_base ``canvas_draw_composite``) and
compares the RGB bytes.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import numpy.typing as npt
import pytest
from _canvas_build import (
    Bitmap,
    Image,
    Point,
    Rect,
    alpha_blend,
    composite,
    copy,
)

from spicepy.canvas import Canvas
from spicepy.wire.enums import BitmapFlags, BitmapFmt
from spicepy.wire.enums import ImageScaleMode as ScaleMode
from spicepy.wire.enums import RopDescriptor as RopD

A8R8G8B8 = 0x20028888  # PIXMAN_FORMAT(32, ARGB, 8, 8, 8, 8)
X8R8G8B8 = 0x20020888
FILTER_GOOD, FILTER_NEAREST = 1, 3


def _load() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("pixman-1") or "libpixman-1.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    vp, i32 = ctypes.c_void_p, ctypes.c_int32
    lib.pixman_image_create_bits.restype = vp
    c_int = ctypes.c_int
    lib.pixman_image_create_bits.argtypes = [c_int, c_int, c_int, vp, c_int]
    lib.pixman_image_composite32.argtypes = [ctypes.c_int, vp, vp, vp] + [i32] * 8
    lib.pixman_image_set_transform.argtypes = [vp, vp]
    lib.pixman_image_set_filter.argtypes = [vp, ctypes.c_int, vp, ctypes.c_int]
    lib.pixman_image_create_solid_fill.restype = vp
    lib.pixman_image_create_solid_fill.argtypes = [vp]
    lib.pixman_image_unref.argtypes = [vp]
    return lib


PIXMAN = _load()
pytestmark = pytest.mark.skipif(PIXMAN is None, reason="libpixman-1 not available")
Px = npt.NDArray[np.uint8]


class _Transform(ctypes.Structure):
    _fields_ = [("m", (ctypes.c_int32 * 3) * 3)]


class _Color(ctypes.Structure):
    _fields_ = [(c, ctypes.c_uint16) for c in ("red", "green", "blue", "alpha")]


def _image(arr: Px, fmt: int) -> int:
    assert PIXMAN is not None
    h, w = arr.shape[:2]
    return int(PIXMAN.pixman_image_create_bits(fmt, w, h, arr.ctypes.data, w * 4))


def _bitmap(pixels: Px, fmt: int = BitmapFmt.FMT_32BIT) -> Image:
    h, w = pixels.shape[:2]
    bm = Bitmap(fmt, BitmapFlags.TOP_DOWN, w, h, w * 4, pixels.tobytes())
    return Image(1, 0, 0, w, h, bitmap=bm)


def _canvas(dest: Px) -> Canvas:
    c = Canvas()
    c.create_surface(0, dest.shape[1], dest.shape[0], 32)
    c.primary.pixels[...] = dest  # type: ignore[union-attr]
    return c


@pytest.mark.parametrize("mode", [ScaleMode.NEAREST, ScaleMode.INTERPOLATE])
def test_scaled_copy_matches_pixman(mode: int) -> None:
    assert PIXMAN is not None
    rng = np.random.default_rng(mode)
    for _ in range(60):
        sw, sh, dw, dh = (int(v) for v in rng.integers(1, 24, 4))
        sx, sy = int(rng.integers(0, 3)), int(rng.integers(0, 3))
        src = rng.integers(0, 256, (sh + 3, sw + 3, 4), dtype=np.uint8)
        ref = np.zeros((dh + 4, dw + 4, 4), np.uint8)
        s, d = _image(src, X8R8G8B8), _image(ref, X8R8G8B8)
        t = _Transform()  # scale, then translate by the source origin
        t.m[0][0] = (sw << 16) // dw
        t.m[1][1] = (sh << 16) // dh
        t.m[0][2], t.m[1][2], t.m[2][2] = sx << 16, sy << 16, 1 << 16
        PIXMAN.pixman_image_set_transform(s, ctypes.byref(t))
        filt = FILTER_NEAREST if mode == ScaleMode.NEAREST else FILTER_GOOD
        PIXMAN.pixman_image_set_filter(s, filt, None, 0)
        PIXMAN.pixman_image_composite32(1, s, None, d, 0, 0, 0, 0, 2, 2, dw, dh)
        PIXMAN.pixman_image_unref(s)
        PIXMAN.pixman_image_unref(d)
        c = _canvas(np.zeros_like(ref))
        copy(c, 0, Rect(2, 2, 2 + dw, 2 + dh), None, _bitmap(src),
               Rect(sx, sy, sx + sw, sy + sh), RopD.OP_PUT, mode)  # fmt: skip
        assert (c.primary.pixels[..., :3] == ref[..., :3]).all(), (sw, sh, dw, dh)  # type: ignore[union-attr]


def _premultiplied(rng: np.random.Generator, h: int, w: int) -> Px:
    a = rng.integers(0, 256, (h, w, 1))
    out = (rng.integers(0, 256, (h, w, 4)) * a // 255).astype(np.uint8)
    out[..., 3:] = a
    return out


def test_alpha_blend_matches_pixman_over() -> None:
    assert PIXMAN is not None
    rng = np.random.default_rng(7)
    for _ in range(80):
        h, w = (int(v) for v in rng.integers(1, 12, 2))
        src = _premultiplied(rng, h, w)
        dest = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        alpha = int(rng.integers(1, 256))
        ref = dest.copy()
        s, d = _image(src, A8R8G8B8), _image(ref, X8R8G8B8)
        mask = None
        if alpha != 255:
            color = _Color(0, 0, 0, alpha * 0x101)
            mask = PIXMAN.pixman_image_create_solid_fill(ctypes.byref(color))
        PIXMAN.pixman_image_composite32(3, s, mask, d, 0, 0, 0, 0, 0, 0, w, h)
        c = _canvas(dest)
        alpha_blend(c, 0, Rect(0, 0, w, h), None, 0, alpha,
                    _bitmap(src, BitmapFmt.FMT_RGBA), Rect(0, 0, w, h))  # fmt: skip
        assert (c.primary.pixels[..., :3] == ref[..., :3]).all()  # type: ignore[union-attr]


@pytest.mark.parametrize("op", list(range(13)))
def test_composite_operators_match_pixman(op: int) -> None:
    assert PIXMAN is not None
    rng = np.random.default_rng(100 + op)
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(1, 10, 2))
        src = _premultiplied(rng, h + 2, w + 2)
        msk = _premultiplied(rng, h, w)
        dest = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        ref = dest.copy()
        s, m, d = _image(src, A8R8G8B8), _image(msk, A8R8G8B8), _image(ref, X8R8G8B8)
        PIXMAN.pixman_image_composite32(op, s, m, d, 1, 2, 0, 0, 0, 0, w, h)
        c = _canvas(dest)
        flags = op | (1 << 19)  # HAS_MASK, identity transforms, repeat NONE
        composite(c, 0, Rect(0, 0, w, h), None, flags,
                  _bitmap(src, BitmapFmt.FMT_RGBA), Point(1, 2),
                  _bitmap(msk, BitmapFmt.FMT_RGBA), Point(0, 0))  # fmt: skip
        assert (c.primary.pixels[..., :3] == ref[..., :3]).all(), op  # type: ignore[union-attr]
