"""LZ_PLT palettes: the C twin reads a tuple or list of ints (a wire Palette's
entries) straight into its table, with no array per image, and must give what
the reference's numpy table gives, or refuse alike, for any palette."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from spicepy.codecs import _lz_ref, lz

try:
    from spicepy.codecs import _lz as _lz_fast
except ImportError:  # pragma: no cover - depends on the build
    _lz_fast = None

needs_fast = pytest.mark.skipif(_lz_fast is None, reason="no compiled _lz")
#: the palette types and their index range (bits per index)
PLT_TYPES = {"PLT1_LE": 1, "PLT1_BE": 1, "PLT4_LE": 4, "PLT4_BE": 4, "PLT8": 8}


def _outcome(twin: Any, data: bytes, palette: Any) -> Any:
    """The pixels, or the refusal's class."""
    try:
        pixels, code = twin.decode(data, palette, None, lz.MAX_IMAGE_PIXELS)
    except (ValueError, TypeError, OverflowError) as exc:
        return type(exc)
    return pixels.tobytes(), int(code)


def _stream(itype: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, 1 << PLT_TYPES[itype], (3, 11), np.uint8)
    return lz.encode(indices, image_type=itype)


entries = st.one_of(
    st.integers(0, (1 << 32) - 1),  # what the wire carries (u32)
    st.integers(-(1 << 63), (1 << 63) - 1),  # any int64
    st.integers(1 << 63, 1 << 70),  # past int64: numpy refuses
    st.integers(-(1 << 70), -(1 << 63) - 1),
)


@needs_fast
@given(
    itype=st.sampled_from(sorted(PLT_TYPES)),
    seed=st.integers(0, 3),
    palette=st.lists(entries, max_size=300),
    kind=st.sampled_from([tuple, list]),
)
def test_a_tuple_or_list_palette_decodes_as_the_reference(
    itype: str, seed: int, palette: list[int], kind: type
) -> None:
    """Short palettes (indices wrap), long ones, negative or huge entries:
    the C table equals numpy's, or both twins refuse with the same class."""
    data = _stream(itype, seed)
    pal = kind(palette)
    assert _outcome(_lz_fast, data, pal) == _outcome(_lz_ref, data, pal)


@needs_fast
@pytest.mark.parametrize(
    "palette",
    [
        (True, False),  # bools are ints to numpy: not read in C, still equal
        (1.5, 2.0),  # floats: numpy truncates them
        np.arange(4, dtype=np.uint32),  # an array: numpy's table
        ["1", "2"],  # strings numpy parses
        (),  # empty: refused
    ],
    ids=["bools", "floats", "array", "strings", "empty"],
)
def test_other_palettes_take_the_reference_path(palette: Any) -> None:
    """Anything but plain ints goes through the reference's table (same pixels
    or the same refusal as the reference twin)."""
    data = _stream("PLT1_LE", 0)
    assert _outcome(_lz_fast, data, palette) == _outcome(_lz_ref, data, palette)


@pytest.mark.parametrize(
    "twin",
    [pytest.param(_lz_ref, id="reference")]
    + ([pytest.param(_lz_fast, id="cython")] if _lz_fast is not None else []),
)
def test_palette_entries_lose_their_top_byte_and_wrap(twin: Any) -> None:
    """0x00RRGGBB: the top byte of an entry is dropped (and of a negative
    entry's two's complement); index i reads entry i modulo the length."""
    indices = np.array([[0, 1, 2, 3, 4, 255]], np.uint8)
    data = lz.encode(indices, image_type="PLT8")
    palette = (0xAB123456, -1, 0x00FEDCBA)
    pixels, _ = twin.decode(data, palette, None, lz.MAX_IMAGE_PIXELS)
    words = pixels.reshape(-1, 4).view("<u4").ravel().tolist()
    # 255 % 3 == 0
    assert words == [0x123456, 0xFFFFFF, 0xFEDCBA, 0x123456, 0xFFFFFF, 0x123456]
