"""LZ: what mutation testing found unchecked (tests/MUTATION.md, "codecs: LZ, GLZ,
LZ4, ..."): the palette table's input forms, exact refusal texts and the codec
name, through both twins."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from spicepy.codecs import CodecError, _lz_ref, lz

try:
    from spicepy.codecs import _lz as _lz_fast  # type: ignore[attr-defined]
except ImportError:  # not built: only the reference twin is tested
    _lz_fast = None

TWINS = [_lz_ref] if _lz_fast is None else [_lz_ref, _lz_fast]


def with_twin(mod: ModuleType, fn: Callable[[], object]) -> None:
    """Run fn with lz.py driving ``mod``; a loop, not a fixture, so that
    scripts/mutation_check.py runs these tests too."""
    saved = lz._impl
    lz._impl = mod
    try:
        fn()
    finally:
        lz._impl = saved


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
