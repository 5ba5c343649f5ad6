"""LZ4 encoder: the payload's framing decisions pinned, not only its round trips.

The server (spice-server ``server/lz4-encoder.c``) writes the top_down byte,
the bitmap format byte, then one big-endian u32 length + raw LZ4 block (no
size prefix) per chunk of rows, every chunk compressed in one LZ4 stream, so
a block may use up to the last 64 KiB (LZ4's window) before it. A mutant that
still decodes (other block sizes, another dictionary, a size prefix the
decoder would choke on only sometimes) is caught here by reading the blocks
back one by one: each must be the LZ4 compression of exactly its rows with the
64 KiB before them as dictionary.
"""

from __future__ import annotations

import lz4.block
import numpy as np
import pytest
from _lz4_frames import lz4_blocks
from spicepy.codecs import lz4 as L


def _noise(h: int, w: int, c: int, seed: int = 0) -> np.ndarray:
    # few values: LZ4 finds matches, in this block and in the ones before
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4, (h, w, c)).astype(np.uint8)


def _check_blocks(data: bytes, raw: bytes, rows: list[int], row_bytes: int) -> None:
    """The blocks of ``data`` hold ``rows[i]`` rows each, and block i is
    liblz4's compression of its rows with the preceding 64 KiB as dictionary
    (what the streaming encoder gives, and what the decoders assume)."""
    blocks = lz4_blocks(data)
    assert len(blocks) == len(rows)
    start = 0
    for block, n in zip(blocks, rows, strict=True):
        chunk = raw[start : start + n * row_bytes]
        prev = raw[max(0, start - L.WINDOW) : start]
        assert block == lz4.block.compress(chunk, store_size=False, dict=prev)
        assert (
            lz4.block.decompress(block, uncompressed_size=len(chunk), dict=prev)
            == chunk
        )
        start += len(chunk)
    assert start == len(raw)


def test_default_framing_is_64_rows_per_block_top_down() -> None:
    img = _noise(130, 9, 4)
    data = L.encode(img)  # 32BIT, top_down, 64 rows a block
    assert data[:2] == bytes([1, 8])
    _check_blocks(data, img.tobytes(), [64, 64, 2], 9 * 4)


@pytest.mark.parametrize("rows_per_block", [-3, 0, 1])
def test_at_least_one_row_per_block(rows_per_block: int) -> None:
    img = _noise(3, 5, 4, seed=1)
    data = L.encode(img, bitmap_format=9, rows_per_block=rows_per_block)
    assert data[:2] == bytes([1, 9])
    _check_blocks(data, img.tobytes(), [1, 1, 1], 5 * 4)


def test_one_row_image_is_one_block_per_row_setting() -> None:
    # row_bytes is the whole payload of a one-row image: a block per
    # rows_per_block rows still means one block here
    img = _noise(1, 70, 4, seed=2)
    for rpb in (1, 2, 64):
        _check_blocks(L.encode(img, rows_per_block=rpb), img.tobytes(), [1], 70 * 4)


def test_dictionary_is_the_last_64_kib() -> None:
    # 1024-byte rows, 16 rows per block: block 5 starts 80 KiB in, so its
    # dictionary is bytes 16..80 KiB; rows repeat every 72 rows, so block 5
    # (rows 80..95 = rows 8..23) refers back 72 KiB: past the window, so it
    # may only use what the window holds
    base = _noise(72, 256, 4, seed=3)
    img = np.concatenate([base, base[:40]])
    data = L.encode(img, bitmap_format=8, rows_per_block=16)
    rows = [16] * 7
    _check_blocks(data, img.tobytes(), rows, 1024)


@pytest.mark.parametrize("fmt", [6, 7, 8, 9])
def test_bottom_up_codes_rows_bottom_first(fmt: int) -> None:
    img4 = _noise(6, 7, 4, seed=fmt)
    if fmt == 6:
        img: np.ndarray = img4.view("<u2")[:, :, 0].copy()  # (6, 7) x555 + top bit
        raw_rows = img[::-1].astype("<u2")
        row_bytes = 14
    elif fmt == 7:
        img = img4
        raw_rows = img4[::-1, :, :3]
        row_bytes = 21
    else:
        img = img4
        raw_rows = img4[::-1]
        row_bytes = 28
    data = L.encode(img, bitmap_format=fmt, top_down=False, rows_per_block=4)
    assert data[:2] == bytes([0, fmt])
    _check_blocks(data, np.ascontiguousarray(raw_rows).tobytes(), [4, 2], row_bytes)


def test_16bit_is_little_endian_and_24bit_drops_byte_3() -> None:
    v = np.array([[0x1234, 0x7FFF, 0x0001]], np.uint16)
    data = L.encode(v, bitmap_format=6)
    assert data[:2] == bytes([1, 6])
    _check_blocks(data, bytes([0x34, 0x12, 0xFF, 0x7F, 0x01, 0x00]), [1], 6)
    img = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    three = np.ascontiguousarray(img[:, :, :3])
    assert L.encode(img, bitmap_format=7) == L.encode(three, bitmap_format=7)
    _check_blocks(L.encode(img, bitmap_format=7), three.tobytes(), [2], 9)


@pytest.mark.parametrize(
    ("image", "fmt", "message"),
    [
        (np.zeros((2, 2), np.uint8), 6, "16BIT needs a (h, w) uint16 array"),
        (np.zeros((2, 2, 1), np.uint16), 6, "16BIT needs a (h, w) uint16 array"),
        (np.zeros((2, 2), np.uint8), 8, "LZ4 needs a uint8 (h, w, c) array"),
        (np.zeros((2, 2, 4), np.uint16), 8, "LZ4 needs a uint8 (h, w, c) array"),
        (np.zeros((2, 2, 3), np.uint8), 8, "BIT32 needs 4 channels"),
        (np.zeros((2, 2, 3), np.uint8), 9, "RGBA needs 4 channels"),
        (np.zeros((2, 2, 2), np.uint8), 7, "BIT24 needs 3 channels"),
    ],
)
def test_input_refusal_texts(image: np.ndarray, fmt: int, message: str) -> None:
    with pytest.raises(ValueError) as err:
        L.encode(image, bitmap_format=fmt)
    assert str(err.value) == message


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a valid BitmapFormat"):
        L.encode(np.zeros((2, 2, 4), np.uint8), bitmap_format=5)
