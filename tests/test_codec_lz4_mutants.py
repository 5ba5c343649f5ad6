"""LZ4 decoding: what mutation testing found unchecked (tests/MUTATION.md,
"codecs: LZ/LZ4, session 7"): the bounds at their exact values and every
refusal's text, through both twins where their texts agree."""

from __future__ import annotations

import struct
from collections.abc import Callable
from types import ModuleType

import lz4.block
import numpy as np
import pytest
from spicepy.codecs import CodecError, _lz4_ref
from spicepy.codecs import lz4 as L

try:
    from spicepy.codecs import _lz4 as _lz4_fast  # type: ignore[attr-defined]
except ImportError:  # not built: only the reference twin is tested
    _lz4_fast = None

TWINS = [_lz4_ref] if _lz4_fast is None else [_lz4_ref, _lz4_fast]


def with_twin(mod: ModuleType, fn: Callable[[], object]) -> None:
    """Run fn with lz4.py driving ``mod`` (a loop, not a fixture, so that
    scripts/mutation_check.py runs these tests too)."""
    saved = L._impl
    L._impl = mod
    try:
        fn()
    finally:
        L._impl = saved


def _refused(data: bytes, width: int, height: int) -> str:
    with pytest.raises(CodecError) as err:
        L.decode(data, width=width, height=height)
    return str(err.value)


def _block(raw: bytes, prev: bytes = b"") -> bytes:
    block = lz4.block.compress(raw, store_size=False, dict=prev)
    return struct.pack(">I", len(block)) + block


@pytest.mark.parametrize("twin", TWINS)
def test_header_and_ratio_texts(twin: ModuleType) -> None:
    with_twin(twin, _header_and_ratio_texts)


def _header_and_ratio_texts() -> None:
    # two bytes are a whole header: what follows is judged by the ratio bound
    # (MAX_RATIO = 255 output bytes per payload byte after the 2 header bytes)
    assert (
        _refused(b"\x01\x08", 1, 1) == "0 bytes of LZ4 data cannot hold a 4-byte image"
    )
    assert _refused(b"\x01", 1, 1) == "LZ4 image header truncated"
    assert _refused(b"\x01\x05\0\0\0\0", 1, 1) == "unsupported bitmap format 5 with LZ4"
    # 4 payload bytes hold at most 1020: 1024 (256x1 32BIT) is refused, in
    # bytes (16BIT 2 per pixel: 1022 = 511x1 too)
    assert (
        _refused(b"\x01\x08\0\0\0\0", 256, 1)
        == "4 bytes of LZ4 data cannot hold a 1024-byte image"
    )
    assert (
        _refused(b"\x01\x06\0\0\0\0", 511, 1)
        == "4 bytes of LZ4 data cannot hold a 1022-byte image"
    )
    # exactly 255 per byte passes the bound (inclusive) and meets the blocks:
    # an empty block is refused by the block reader, not by the bound
    for w, fmt in ((255, 8), (510, 6), (340, 7)):
        text = _refused(bytes([1, fmt, 0, 0, 0, 0]), w, 1)
        assert text == "LZ4 data continues past the end of the image", (w, fmt)


@pytest.mark.parametrize("twin", TWINS)
def test_block_reader_texts(twin: ModuleType) -> None:
    with_twin(twin, _block_reader_texts)


def _block_reader_texts() -> None:
    raw = bytes(range(16))
    ok = b"\x01\x08" + _block(raw)
    assert L.decode(ok, width=4, height=1).tobytes() == bytes(
        b if i % 4 != 3 else 0 for i, b in enumerate(raw)
    )
    # a length word with exactly 4 bytes left is read; its block is missing
    text = _refused(b"\x01\x08" + struct.pack(">I", 5), 4, 1)
    assert text == "LZ4 block runs past the end of the data"
    assert _refused(b"\x01\x08" + struct.pack(">I", 5)[:3], 4, 1) == (
        "LZ4 block length truncated"
    )
    # a 1-byte block (a token with no literals) decodes to nothing
    assert _refused(b"\x01\x08" + struct.pack(">I", 1) + b"\x00", 4, 1) == (
        "empty LZ4 block"
    )


@pytest.mark.parametrize("twin", TWINS)
def test_last_block_may_fill_one_byte(twin: ModuleType) -> None:
    with_twin(twin, _last_block_may_fill_one_byte)


def _last_block_may_fill_one_byte() -> None:
    # blocks need not end on a pixel: the last one may bring the last byte
    img = np.random.default_rng(1).integers(0, 256, (3, 5, 3)).astype(np.uint8)
    raw = img.tobytes()
    data = b"\x01\x07" + _block(raw[:-1]) + _block(raw[-1:], raw[:-1])
    got = L.decode(data, width=5, height=3)
    assert np.array_equal(got[:, :, :3], img) and not got[:, :, 3].any()


def test_reference_twin_texts() -> None:
    # the texts the reference twin alone gives (the Cython one has its own
    # decoder and plainer words: "... fewer bytes than the image")
    out = np.zeros((1, 4, 4), np.uint8)
    with pytest.raises(CodecError) as err:
        _lz4_ref.decode_into(b"\x01\x05" + _block(bytes(16)), 2, 5, True, out)
    assert str(err.value) == "unsupported bitmap format 5 with LZ4"
    with pytest.raises(CodecError) as err:
        _lz4_ref.decode_into(b"\x01\x08" + _block(bytes(12)), 2, 8, True, out)
    assert str(err.value) == "LZ4 data decodes to 12 bytes, expected 16"
    with pytest.raises(CodecError) as err:  # a match before the first byte
        _lz4_ref.decode_into(
            b"\x01\x08" + struct.pack(">I", 4) + bytes([0x0F, 1, 0, 0]), 2, 8, True, out
        )
    assert str(err.value).startswith("bad LZ4 block: ")
    assert len(str(err.value)) > len("bad LZ4 block: ")
