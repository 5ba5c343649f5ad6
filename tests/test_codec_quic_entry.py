"""QUIC per-image entry points: ``decode_with_type`` (one header parse) and the
fast twin's ``decode_body`` reading its buffers through the buffer protocol."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from spicepy.codecs import CodecError, _quic_ref, quic

_quic_fast: ModuleType | None
try:
    from spicepy.codecs import _quic

    _quic_fast = _quic
except ImportError:  # not built: only the reference twin is tested
    _quic_fast = None

TWINS = [_quic_ref] if _quic_fast is None else [_quic_ref, _quic_fast]
needs_fast = pytest.mark.skipif(_quic_fast is None, reason="fast twin not built")


def _stream(w: int = 5, h: int = 3, itype: str = "RGBA") -> tuple[np.ndarray, bytes]:
    img = np.random.default_rng(7).integers(0, 256, (h, w, 4), dtype=np.uint8)
    return img, quic.encode(img, image_type=itype)


@settings(max_examples=40, deadline=None)
@given(
    img=hnp.arrays(
        np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(4))
    ),
    itype=st.sampled_from(list(quic.ImageType)),
    into=st.booleans(),
)
def test_decode_with_type_is_decode_and_info(
    img: np.ndarray, itype: quic.ImageType, into: bool
) -> None:
    data = quic.encode(img, image_type=itype)
    saved = quic._impl
    try:
        for mod in TWINS:
            quic._impl = mod
            out = np.full(img.shape, 9, np.uint8) if into else None
            pixels, name = quic.decode_with_type(data, out=out)
            assert name == quic.info(data).image_type == itype.name
            np.testing.assert_array_equal(pixels, quic.decode(data))
            if out is not None:
                assert pixels is out
    finally:
        quic._impl = saved


def test_decode_with_type_refuses_like_decode() -> None:
    img, data = _stream()
    with pytest.raises(CodecError, match="too short"):
        quic.decode_with_type(data[:24])
    with pytest.raises(CodecError, match="exceeds"):
        quic.decode_with_type(data, max_pixels=img.shape[0] * img.shape[1] - 1)
    with pytest.raises(ValueError, match="out must be"):
        quic.decode_with_type(data, out=np.empty((1, 1, 4), np.uint8))


@needs_fast
def test_fast_decode_body_writes_through_any_byte_buffer() -> None:
    assert _quic_fast is not None
    img, data = _stream(4, 3, "RGB32")
    want = quic.decode(data)
    for src in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        out = np.zeros((3, 4, 4), np.uint8)
        _quic_fast.decode_body(src, quic.HEADER_SIZE // 4, 4, out)
        np.testing.assert_array_equal(out, want)


@needs_fast
def test_fast_decode_body_refuses_bad_output_arrays() -> None:
    assert _quic_fast is not None
    _, data = _stream(4, 3)
    start = quic.HEADER_SIZE // 4
    good = np.zeros((3, 4, 4), np.uint8)
    _quic_fast.decode_body(data, start, 5, good)  # the control: accepted
    read_only = np.zeros((3, 4, 4), np.uint8)
    read_only.flags.writeable = False
    shaped = {
        "2-d": np.zeros((3, 16), np.uint8),
        "3 bytes a pixel": np.zeros((3, 4, 3), np.uint8),
        "no rows": np.zeros((0, 4, 4), np.uint8),
        "no columns": np.zeros((3, 0, 4), np.uint8),
        "4-d": np.zeros((1, 3, 4, 4), np.uint8),
    }
    for what, out in shaped.items():
        with pytest.raises(ValueError, match="bad QUIC output"):
            _quic_fast.decode_body(data, start, 5, out)
        assert not out.any(), what
    for itype in (0, 6):
        with pytest.raises(ValueError, match="bad QUIC output"):
            _quic_fast.decode_body(data, start, itype, good.copy())
    with pytest.raises(ValueError):  # the buffer protocol refuses it
        _quic_fast.decode_body(data, start, 5, read_only)
    with pytest.raises(ValueError):  # not C-contiguous
        _quic_fast.decode_body(data, start, 5, np.zeros((3, 8, 4), np.uint8)[:, ::2])
    with pytest.raises(ValueError, match="bytes"):
        _quic_fast.decode_body(data, start, 5, np.zeros((3, 4, 4), np.uint16))
    with pytest.raises(ValueError, match="bytes"):
        _quic_fast.decode_body(np.frombuffer(data[:20], np.uint32), start, 5, good)


@needs_fast
def test_fast_decode_body_reads_nothing_past_a_short_stream() -> None:
    assert _quic_fast is not None
    _, data = _stream(6, 4)
    out = np.zeros((4, 6, 4), np.uint8)
    for cut in (0, 4, 20, len(data) // 2):
        with pytest.raises(CodecError, match="truncated"):
            _quic_fast.decode_body(data[:cut], quic.HEADER_SIZE // 4, 5, out)
