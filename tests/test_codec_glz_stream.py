"""GLZ's whole-stream decode (``decode``: header, checks and both passes in one
call of each twin): the twins give the same result or the same refusal, word
for word, on hostile headers and bodies; an RGBA image's two passes share the
images they refer to."""

from __future__ import annotations

import struct
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from spicepy.codecs import _glz_ref, glz
from spicepy.codecs._common import CodecError

try:
    from spicepy.codecs import _glz as _glz_fast
except ImportError:  # pragma: no cover - depends on the build
    _glz_fast = None

needs_fast = pytest.mark.skipif(_glz_fast is None, reason="no compiled _glz")
RGBA = 9


def _header(
    code: int, top: int, w: int, h: int, stride: int, iid: int, whd: int
) -> bytes:
    """A GLZ header as the format lays it out (33 bytes, big-endian)."""
    return struct.pack(
        ">IIBIIIQI", glz.MAGIC, glz.VERSION, code | top << 4, w, h, stride, iid, whd
    )


def _outcome(
    backend: ModuleType, data: bytes, lookup: Any, pal: Any, limit: int
) -> Any:
    """The result as plain values, or the refusal's class, and its words where
    the header is refused (the C twin words those by the reference's checks;
    a body's errors are worded per twin)."""
    try:
        buf, *fields = backend.decode(data, lookup, pal, limit)
    except (CodecError, ValueError) as exc:
        try:
            _glz_ref.stream_header(data, limit)
        except CodecError:
            return type(exc), str(exc)
        return type(exc)
    return buf.dtype, buf.tobytes(), fields


def _no_image(_: int) -> None:
    return None


sides = st.one_of(
    st.integers(0, 9),
    st.integers(100, 300),
    st.sampled_from([1 << 15, (1 << 15) + 1, 1 << 31]),
)


@needs_fast
@given(
    code=st.integers(0, 15),
    top=st.integers(0, 15),
    w=sides,
    h=sides,
    stride=st.one_of(st.integers(0, 40), st.just(1 << 31)),
    iid=st.integers(0, 3),
    whd=st.integers(0, 3),
    body=st.binary(max_size=40),
    palette=st.sampled_from([None, [0x123456], [1, 2, 3, 4] * 4, list(range(256))]),
    limit=st.sampled_from([glz.MAX_IMAGE_PIXELS, 12, 40]),
    magic=st.sampled_from([0, 1, 2]),
)
def test_twins_agree_on_any_header(
    code: int,
    top: int,
    w: int,
    h: int,
    stride: int,
    iid: int,
    whd: int,
    body: bytes,
    palette: list[int] | None,
    limit: int,
    magic: int,
) -> None:
    """Header fields around every bound, any body: the C header check and
    the reference's checks refuse the same streams with the same words, and
    what both accept decodes to the same pixels and fields."""
    data = _header(code, top, w, h, stride, iid, whd) + body
    if magic == 1:
        data = b"\0" + data[1:]
    elif magic == 2:
        data = data[:4] + b"\0\0\0\2" + data[8:]
    pal = None if palette is None else np.array(palette, np.uint32)
    ref = _outcome(_glz_ref, data, _no_image, pal, limit)
    assert _outcome(_glz_fast, data, _no_image, pal, limit) == ref


@needs_fast
@given(cut=st.integers(0, 60))
def test_twins_agree_on_a_cut_stream(cut: int) -> None:
    """Every prefix of a real RGBA stream: same refusal or same image."""
    rng = np.random.default_rng(7)
    pic = rng.integers(0, 4, (5, 7, 4), np.uint8)
    data = glz.encode(pic, image_type="RGBA")[:cut]
    ref = _outcome(_glz_ref, data, _no_image, None, glz.MAX_IMAGE_PIXELS)
    assert _outcome(_glz_fast, data, _no_image, None, glz.MAX_IMAGE_PIXELS) == ref


@pytest.mark.parametrize(
    "backend",
    [pytest.param(_glz_ref, id="reference")]
    + ([pytest.param(_glz_fast, id="cython")] if _glz_fast is not None else []),
)
def test_rgba_passes_share_the_images_they_refer_to(backend: ModuleType) -> None:
    """An RGBA image coded against an earlier one refers to it in both passes
    (colour and alpha): one lookup of it serves both, and the pixels are the
    source's exactly."""
    rng = np.random.default_rng(11)
    pic = rng.integers(0, 256, (16, 24, 4), np.uint8)
    enc = glz.Encoder()
    first, second = enc.encode(pic, "RGBA"), enc.encode(pic, "RGBA")
    d = glz.Dictionary()
    glz._decode_impl(backend, first, d, None, None, glz.MAX_IMAGE_PIXELS, 0.0)
    asked: list[int] = []

    def lookup(image_id: int) -> Any:
        asked.append(image_id)
        return d._lookup(image_id)

    buf, code, top, w, h, row, iid, whd = backend.decode(
        second, lookup, None, glz.MAX_IMAGE_PIXELS
    )
    assert (code, top, w, h, row, iid, whd) == (RGBA, 1, 24, 16, 24, 1, 1)
    assert np.array_equal(buf.reshape(16, 24, 4), pic)
    # each pass refers to image 0 (the reference looks it up per pass); the
    # C twin keeps what the colour pass looked up for the alpha pass
    assert asked == ([0, 0] if backend is _glz_ref else [0])
    assert len(second) < len(first) // 4  # (it is coded against image 0)


@needs_fast
@pytest.mark.parametrize("code", [1, 3, 5, 6, 7, 8, 9])
@pytest.mark.parametrize("over", [0, 1])
def test_twins_agree_at_the_length_bound(code: int, over: int) -> None:
    """A stream of n body bytes codes at most ``MAX_RATIO * n`` units (pixels,
    palette row bytes; RGBA's two passes count twice): one unit more is
    refused before any pixel is allocated, in both twins alike."""
    n = 3
    passes = 2 if code == RGBA else 1
    units = glz.MAX_RATIO * n + over
    units += (-units % passes) if over else -(units % passes)  # whole passes
    ppb = _glz_ref.TYPE_PIXELS_PER_BYTE[code]
    row_units = units // passes  # one row holds them all
    w = row_units * ppb if ppb else row_units
    data = _header(code, 1, w, 1, row_units, 0, 0) + b"\0" * n
    pal = np.arange(256, dtype=np.uint32)
    ref = _outcome(_glz_ref, data, _no_image, pal, glz.MAX_IMAGE_PIXELS)
    assert _outcome(_glz_fast, data, _no_image, pal, glz.MAX_IMAGE_PIXELS) == ref
    refused = isinstance(ref, tuple) and "cannot code" in str(ref[1])
    assert refused == bool(over)
