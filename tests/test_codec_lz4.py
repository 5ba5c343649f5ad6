"""LZ4 images: the server's block framing, streaming decode, hostile input."""

from __future__ import annotations

import struct

import lz4.block
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from spicepy.codecs import CodecError
from spicepy.codecs import lz4 as L


def _smooth(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[:, :, 0] = x % 256
    img[:, :, 1] = (y * 3) % 256
    img[:, :, 2] = ((x // 8) * 40) % 256
    img[:, :, 3] = (x + y) % 256
    return img


def _blocks(data: bytes) -> list[bytes]:
    pos, out = 2, []
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


@pytest.mark.parametrize("top_down", [True, False])
@pytest.mark.parametrize("fmt", [7, 8, 9])
def test_round_trip(fmt: int, top_down: bool) -> None:
    img = _smooth(70, 90)
    data = L.encode(img, bitmap_format=fmt, top_down=top_down, rows_per_block=8)
    assert data[0] == int(top_down) and data[1] == fmt
    got = L.decode(data, width=90, height=70)
    expected = img.copy()
    if fmt != 9:
        expected[:, :, 3] = 0
    np.testing.assert_array_equal(got, expected)


def test_round_trip_16bit() -> None:
    v = np.random.default_rng(2).integers(0, 1 << 16, (20, 33)).astype(np.uint16)
    got = L.decode(L.encode(v, bitmap_format=6), width=33, height=20)
    for i, shift in enumerate((0, 5, 10)):  # B, G, R: top bits replicated
        c = (v.astype(np.uint32) >> shift) & 31
        np.testing.assert_array_equal(got[:, :, i], (c << 3) | (c >> 2))
    assert not got[:, :, 3].any()


def test_bottom_up_rows_are_flipped() -> None:
    # a hand-built payload: one block holding row "0" = 1s and row "1" = 2s,
    # stored bottom-up, so the top row of the image is the 2s
    raw = bytes([1] * 8 + [2] * 8)
    block = lz4.block.compress(raw, store_size=False)
    data = bytes([0, 9]) + struct.pack(">I", len(block)) + block
    got = L.decode(data, width=2, height=2)
    assert got[0].reshape(-1).tolist() == [2] * 8
    assert got[1].reshape(-1).tolist() == [1] * 8


def test_blocks_refer_to_earlier_output() -> None:
    img = np.tile(_smooth(4, 64), (16, 1, 1))  # rows repeat every 4
    data = L.encode(img, bitmap_format=8, rows_per_block=4)
    blocks = _blocks(data)
    assert len(blocks) == 16
    # block 2 alone (no dictionary) cannot be decoded: it points back into block 1
    with pytest.raises(lz4.block.LZ4BlockError):
        lz4.block.decompress(blocks[1], uncompressed_size=4 * 64 * 4)
    expected = img.copy()
    expected[:, :, 3] = 0
    np.testing.assert_array_equal(L.decode(data, width=64, height=64), expected)


def test_out_parameter() -> None:
    img = _smooth(5, 6)
    out = np.empty((5, 6, 4), dtype=np.uint8)
    assert L.decode(L.encode(img, bitmap_format=9), width=6, height=5, out=out) is out
    np.testing.assert_array_equal(out, img)


def _payload(fmt: int, raw: bytes) -> bytes:
    block = lz4.block.compress(raw, store_size=False)
    return bytes([1, fmt]) + struct.pack(">I", len(block)) + block


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        b"\x01\x08",  # no block at all
        b"\x01\x05" + b"\0" * 8,  # 8-bit palette format is not LZ4's
        b"\x01\x08\x00\x00\x00\x10abc",  # block longer than the data
        b"\x01\x08\x00\x00",  # truncated length
        _payload(8, bytes(4 * 4 * 3)),  # too few pixels
        _payload(8, bytes(4 * 4 * 5)),  # too many pixels
        _payload(8, bytes(4 * 4 * 4)) + b"\x00\x00\x00\x00",  # empty extra block
        _payload(8, bytes(4 * 4 * 4))[:-1],  # truncated block
        _payload(8, bytes(4 * 4 * 4)) + struct.pack(">I", 1) + b"\x00",  # extra block
    ],
)
def test_bad_payloads(data: bytes) -> None:
    with pytest.raises(CodecError):
        L.decode(data, width=4, height=4)


def test_size_limits() -> None:
    data = _payload(8, bytes(64))
    with pytest.raises(CodecError):
        L.decode(data, width=4, height=4, max_pixels=15)
    with pytest.raises(CodecError):
        L.decode(data, width=0, height=4)


@settings(max_examples=200)
@given(st.binary(max_size=200), st.integers(1, 16), st.integers(1, 16))
def test_garbage_gives_codec_error_or_pixels(body: bytes, w: int, h: int) -> None:
    try:
        got = L.decode(b"\x01\x08" + body, width=w, height=h)
    except CodecError:
        return
    assert got.shape == (h, w, 4)


@settings(max_examples=100)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(4)))
)
def test_round_trip_arbitrary(img: np.ndarray) -> None:
    got = L.decode(
        L.encode(img, bitmap_format=9, rows_per_block=2),
        width=img.shape[1],
        height=img.shape[0],
    )
    np.testing.assert_array_equal(got, img)
