"""decode_image(out=): the codecs write into the caller's array (a surface's
rows) exactly what they return in an array of their own; wrong arrays and
streams of another size are refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spicepy.codecs import CodecError, glz, jpeg, jpeg_alpha, lz, lz4, quic
from spicepy.codecs.image import SpiceImageType, decode_image

Pixels = np.ndarray[Any, np.dtype[np.uint8]]
T = SpiceImageType


def _jpeg_alpha(img: Pixels) -> tuple[bytes, dict[str, Any]]:
    payload, jpeg_size = jpeg_alpha.encode(img)
    return payload, {"jpeg_size": jpeg_size}


#: type -> (image -> (payload, extra decode_image arguments))
STREAMS: dict[int, Callable[[Pixels], tuple[bytes, dict[str, Any]]]] = {
    T.QUIC: lambda img: (quic.encode(img, image_type="RGBA"), {}),
    T.LZ_RGB: lambda img: (lz.encode(img, image_type="RGBA"), {}),
    T.LZ_PLT: lambda img: (
        lz.encode(img[..., 0] & 7, image_type="PLT8"),
        {"palette": [0x010203 * i for i in range(8)]},
    ),
    T.LZ4: lambda img: (lz4.encode(img, bitmap_format=9), {}),
    T.JPEG: lambda img: (jpeg.encode(img), {}),
    T.JPEG_ALPHA: _jpeg_alpha,
}


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(STREAMS)),
    st.integers(1, 24),
    st.integers(1, 24),
    st.integers(0, 2**32 - 1),
)
def test_out_holds_what_a_fresh_decode_returns(
    kind: int, width: int, height: int, seed: int
) -> None:
    img = np.random.default_rng(seed).integers(0, 256, (height, width, 4), np.uint8)
    payload, extra = STREAMS[kind](img)
    fresh = decode_image(kind, payload, width=width, height=height, **extra)
    # rows of a wider surface whose other bytes must stay as they are
    surface = np.full((height + 2, width, 4), 0xA5, np.uint8)
    rows = surface[1 : height + 1]
    got = decode_image(kind, payload, width=width, height=height, out=rows, **extra)
    assert got.pixels is rows
    assert got[1:] == fresh[1:]  # source_format, has_alpha, lossy
    np.testing.assert_array_equal(rows, fresh.pixels)
    assert (surface[0] == 0xA5).all() and (surface[-1] == 0xA5).all()


def test_out_must_be_a_writable_contiguous_array_of_the_descriptors_size() -> None:
    img = np.zeros((4, 6, 4), np.uint8)
    payload = lz.encode(img)
    wide = np.zeros((4, 8, 4), np.uint8)
    for out in (
        np.zeros((4, 5, 4), np.uint8),  # another size
        np.zeros((4, 6, 4), np.int16),  # another type
        wide[:, :6],  # rows not contiguous
    ):
        with pytest.raises(ValueError, match="out must be") as caught:
            decode_image(T.LZ_RGB, payload, width=6, height=4, out=out)
        assert not isinstance(caught.value, CodecError)  # the caller's mistake
    readonly = np.zeros((4, 6, 4), np.uint8)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="out must be") as caught:
        decode_image(T.LZ_RGB, payload, width=6, height=4, out=readonly)
    assert not isinstance(caught.value, CodecError)


@pytest.mark.parametrize("kind", [T.QUIC, T.LZ_RGB, T.JPEG])
def test_a_stream_of_another_size_is_a_codec_error(kind: int) -> None:
    img = np.zeros((5, 6, 4), np.uint8)  # the descriptor says 6x4
    payload, extra = STREAMS[kind](img)
    out = np.zeros((4, 6, 4), np.uint8)
    with pytest.raises(CodecError, match="does not decode to the descriptor's 6x4"):
        decode_image(kind, payload, width=6, height=4, out=out, **extra)


@pytest.mark.parametrize("kind", [T.GLZ_RGB, T.ZLIB_GLZ_RGB])
def test_glz_types_refuse_out(kind: int) -> None:
    out = np.zeros((4, 6, 4), np.uint8)
    with pytest.raises(ValueError, match="GLZ dictionary"):
        decode_image(
            kind,
            b"",
            width=6,
            height=4,
            dictionary=glz.Dictionary(),
            glz_size=1,
            out=out,
        )
