"""LZ: what mutation testing found unchecked (tests/MUTATION.md, "codecs: LZ, GLZ,
LZ4, ..."): the palette table's input forms, exact refusal texts and the codec
name, through both twins."""

from __future__ import annotations

import struct
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from spicepy.codecs import CodecError, _lz_ref, lz

try:
    from spicepy.codecs import _lz as _lz_fast  # type: ignore[attr-defined]
    from spicepy.codecs import _lz_enc as _lz_enc_fast  # type: ignore[attr-defined]
except ImportError:  # not built: only the reference twin is tested
    _lz_fast = _lz_enc_fast = None

TWINS = [_lz_ref] if _lz_fast is None else [_lz_ref, _lz_fast]


def with_twin(mod: ModuleType, fn: Callable[[], object]) -> None:
    """Run fn with lz.py driving ``mod``; a loop, not a fixture, so that
    scripts/mutation_check.py runs these tests too."""
    saved = lz._impl, lz._enc
    lz._impl, lz._enc = mod, (_lz_ref if mod is _lz_ref else _lz_enc_fast)
    try:
        fn()
    finally:
        lz._impl, lz._enc = saved


def test_palette_lut_takes_any_integer_array_shape_and_dtype() -> None:
    """A palette array of any shape is its entries in C order; any integer dtype
    (uint8 too) keeps the low 24 bits of each entry, wrapping over ``entries``."""
    flat = [0x00FF0000, 0x12345678, 0xFF00FF00, 7]
    want = [(flat[i % 4] & 0x00FFFFFF) for i in range(16)]
    for pal in (flat, np.array(flat, np.uint32).reshape(2, 2)):
        lut = lz.palette_lut(pal, 16)
        assert lut.dtype == np.uint32 and lut.tolist() == want
    small = np.array([[1, 2], [3, 255]], np.uint8)
    assert lz.palette_lut(small, 6).tolist() == [1, 2, 3, 255, 1, 2]


@pytest.mark.parametrize("twin", TWINS)
def test_plt_decode_with_a_2d_uint8_palette(twin: ModuleType) -> None:
    with_twin(twin, _plt_decode_with_a_2d_uint8_palette)


def _plt_decode_with_a_2d_uint8_palette() -> None:
    idx = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8)
    data = lz.encode(idx, image_type="PLT4_BE")
    pal = np.array([[10, 20], [30, 40]], np.uint8)
    got = lz.decode(data, palette=pal)
    want = np.zeros((2, 4, 4), np.uint8)
    want[:, :, 0] = pal.reshape(-1)[idx]  # B = the entry's low byte; G, R, X zero
    assert np.array_equal(got, want)


@pytest.mark.parametrize("twin", TWINS)
def test_refusal_texts(twin: ModuleType) -> None:
    with_twin(twin, _refusal_texts)


def _refusal_texts() -> None:
    plt = lz.encode(np.zeros((2, 3), np.uint8), image_type="PLT8")
    with pytest.raises(CodecError) as err:
        lz.decode(plt, palette=[])
    assert str(err.value) == "LZ palette is empty"
    with pytest.raises(CodecError) as err:
        lz.decode(plt, palette=None)
    assert str(err.value) == "LZ PLT8 stream needs a palette"
    img = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    rgba = lz.encode(img, image_type="RGBA")
    with pytest.raises(ValueError) as verr:
        lz.decode_alpha(rgba, lz.read_header(rgba), into=img.copy())
    assert str(verr.value) == "RGBA is not an alpha-only LZ stream"
    for kind in ("XXXA", "A8"):
        src = img if kind == "XXXA" else np.ascontiguousarray(img[:, :, 3])
        alpha = lz.encode(src, image_type=kind) + b"\0\0\0"
        with pytest.raises(CodecError) as err:
            lz.decode_alpha(alpha, lz.read_header(alpha), into=img.copy())
        assert str(err.value) == "3 bytes of trailing data after the LZ stream"
        with pytest.raises(CodecError) as err:
            lz.decode(alpha)
        assert str(err.value) == "3 bytes of trailing data after the LZ stream"


def test_info_names_the_codec() -> None:
    data = lz.encode(np.zeros((2, 3, 4), np.uint8), image_type="RGB32", top_down=False)
    assert lz.info(data) == lz.ImageInfo("lz", "RGB32", 3, 2, False)


# (body after an A8 1x8 header, the reference twin's text): one case per raise
# site of _lz_ref._inflate (lz_decompress_tmpl.c's asserts)
_BROKEN = [
    (b"\x01ab", "LZ stream truncated"),
    (b"\x00a\xe0", "LZ stream truncated in a match length"),
    (b"\x00a\x20", "LZ stream truncated in a match offset"),
    (b"\x00a\x3f\xff", "LZ stream truncated in a far offset"),
    # offset byte 255 below the far form's high bits: a near offset of 256
    (b"\x00a\x20\xff", "LZ match refers before the start of the image"),
    (b"\x00a\x20\x05", "LZ match refers before the start of the image"),
    (b"\x00a\xe0\xc8\x00", "LZ match runs past the end of the image"),
    (b"\x1f" + bytes(40), "LZ literals run past the end of the image"),
    (b"\x03ab", "LZ stream truncated in literals"),
]


def test_inflate_refusal_texts() -> None:
    """The reference twin names each refusal exactly; the Cython twin gives the
    same texts except that every truncation is plain "LZ stream truncated"."""
    head = lz.encode(np.zeros((1, 8), np.uint8), image_type="A8")[: lz.HEADER_SIZE]
    for twin in TWINS:
        for body, want in _BROKEN:
            saved = lz._impl
            lz._impl = twin
            try:
                with pytest.raises(CodecError) as err:
                    lz.decode(head + body)
            finally:
                lz._impl = saved
            got = str(err.value)
            if twin is _lz_ref or not want.startswith("LZ stream truncated"):
                assert got == want, body
            else:
                assert got == "LZ stream truncated", body


def _hdr(
    code: int,
    w: int,
    h: int,
    stride: int,
    magic: int = 0x20205A4C,
    ver: int = 0x00010001,
) -> bytes:
    return struct.pack(">7I", magic, ver, code, w, h, stride, 1)


def test_header_refusal_texts() -> None:
    good = lz.encode(np.zeros((2, 3, 4), np.uint8), image_type="RGB32")
    cases = [
        (good[: lz.HEADER_SIZE - 1], "LZ stream shorter than its header"),
        # a bare header is a header: the body check refuses it
        (good[: lz.HEADER_SIZE], "0 bytes of LZ data cannot code a 3x2 RGB32 image"),
        (_hdr(8, 3, 2, 12, magic=1), "bad LZ magic 0x00000001"),
        (_hdr(8, 3, 2, 12, ver=2), "unsupported LZ version 0x00000002"),
        (_hdr(99, 3, 2, 12), "invalid LZ image type 99"),
        (_hdr(8, 3, 2, 13), "LZ stride 13 != width 3 x bytes per pixel"),
        (_hdr(5, 3, 2, 2), "LZ palette stride 2 does not fit width 3"),
    ]
    for data, want in cases:
        with pytest.raises(CodecError) as err:
            lz.decode(data, palette=[1])
        assert str(err.value) == want


def test_decode_pass_takes_only_c_contiguous_pixel_arrays() -> None:
    data = lz.encode(np.zeros((2, 3, 4), np.uint8), image_type="RGB32")
    for twin in TWINS:
        for bad in (
            np.zeros((2, 3, 3), np.uint8),
            np.zeros((6, 4), np.uint8),
            np.zeros((2, 6, 4), np.uint8)[:, ::2],
        ):
            with pytest.raises(ValueError) as err:
                twin.decode_pass(data, lz.HEADER_SIZE, _lz_ref.MODE_RGB32, bad, None)
            if twin is _lz_ref:  # Cython's buffer check words its own ValueError
                assert str(err.value) == (
                    "decode_pass needs a C-contiguous (rows, columns, 4) array"
                )


@pytest.mark.parametrize("twin", TWINS)
def test_body_size_bound_is_inclusive(twin: ModuleType) -> None:
    with_twin(twin, _body_size_bound_is_inclusive)


def _body_size_bound_is_inclusive() -> None:
    # MAX_RATIO = 255 units per body byte: a 255x1 A8 image with a 1-byte body
    # passes the bound (and fails in the pass: a 1-unit literal run, cut);
    # 256x1 is refused by the bound, before any pixel is allocated
    def stream(w: int) -> bytes:
        return struct.pack(">7I", lz.MAGIC, lz.VERSION, 11, w, 1, w, 1) + b"\x00"

    with pytest.raises(CodecError) as err:
        lz.decode(stream(255))
    assert "truncated" in str(err.value)
    with pytest.raises(CodecError) as err:
        lz.decode(stream(256))
    assert str(err.value) == "1 bytes of LZ data cannot code a 256x1 A8 image"
