"""Hostile inputs: every decoder's work and memory are bounded by its input.

Each decoder refuses a header whose image its input cannot code (by the
format's largest compression ratio) before it allocates the image, and LZ4's
per-block work does not grow with the number of blocks before it.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import lz4.block
import numpy as np
import pytest
from PIL import Image
from spicepy.codecs import CodecError, _lz4_ref, glz, jpeg, jpeg_alpha, lz, zlib_glz
from spicepy.codecs import lz4 as L

MB = 1 << 20


def _peak(fn: Callable[[], object]) -> int:
    """Peak traced bytes while ``fn`` runs (numpy buffers are traced too)."""
    tracemalloc.start()
    try:
        fn()
    except CodecError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _refused_cheaply(fn: Callable[[], object], limit: int = MB) -> None:
    with pytest.raises(CodecError):
        fn()
    assert _peak(fn) < limit


# --------------------------------------------------------------------- LZ4


def _tiny_blocks(n: int, byte: int = 7) -> bytes:
    block = lz4.block.compress(bytes([byte]), store_size=False)
    return bytes([1, 9]) + (struct.pack(">I", len(block)) + block) * n


@pytest.fixture
def lz4_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int, int]]]:
    """(block size, dict size, scratch size) of every LZ4 block decompression
    of the reference twin (liblz4; the fast twin decodes in place, no scratch)."""
    monkeypatch.setattr(L, "_impl", _lz4_ref)
    calls: list[tuple[int, int, int]] = []
    real = lz4.block.decompress

    def spy(src: Any, *, uncompressed_size: int, dict: Any) -> bytes:  # noqa: A002
        calls.append((len(src), len(dict), uncompressed_size))
        out: bytes = real(src, uncompressed_size=uncompressed_size, dict=dict)
        return out

    monkeypatch.setattr(lz4.block, "decompress", spy)
    yield calls


def test_lz4_many_tiny_blocks_cost_per_block_is_bounded(
    lz4_calls: list[tuple[int, int, int]],
) -> None:
    # 80,000 one-byte blocks: 20,000 RGBA pixels, every byte 7
    got = L.decode(_tiny_blocks(80_000), width=200, height=100)
    assert (got == 7).all()
    assert len(lz4_calls) == 80_000
    for size, dict_size, scratch in lz4_calls:
        assert dict_size <= L.WINDOW
        assert scratch <= L.MAX_RATIO * size
    assert max(d for _, d, _ in lz4_calls) == L.WINDOW  # the window is used


def test_lz4_window_reaches_back_across_many_blocks() -> None:
    # the last block copies 64 bytes from WINDOW bytes back, which lie in the
    # 64 KiB-old output of thousands of tiny earlier blocks
    head = bytes(range(256)) * 256  # 65536 bytes in 4096-byte pieces of 16 blocks
    parts = [bytes([1, 9])]
    for i in range(0, len(head), 16):
        block = lz4.block.compress(head[i : i + 16], store_size=False)
        parts.append(struct.pack(">I", len(block)) + block)
    tail = head[:64]
    last = lz4.block.compress(tail, store_size=False, dict=head)
    parts.append(struct.pack(">I", len(last)) + last)
    got = L.decode(b"".join(parts), width=(len(head) + 64) // 4, height=1)
    assert got.reshape(-1).tobytes() == head + tail


def test_lz4_most_compressible_block_decodes() -> None:
    # lz4's own output for zeros comes close to the 255:1 bound
    img = np.zeros((512, 512, 4), dtype=np.uint8)
    data = L.encode(img, bitmap_format=9, rows_per_block=512)
    assert len(data) * 250 < img.size
    np.testing.assert_array_equal(L.decode(data, width=512, height=512), img)


def test_lz4_small_payload_for_a_huge_image_is_refused_before_allocation() -> None:
    data = _tiny_blocks(10)
    _refused_cheaply(lambda: L.decode(data, width=8192, height=8192))


# --------------------------------------------------------------------- JPEG


def _resized_jpeg(width: int, height: int) -> bytes:
    data = bytearray(jpeg.encode(np.zeros((8, 8, 4), dtype=np.uint8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_jpeg_huge_dimensions_refused_before_allocation() -> None:
    data = _resized_jpeg(8192, 8191)
    assert len(data) < 1024
    assert jpeg.info(data).width == 8192  # the header itself is well formed
    _refused_cheaply(lambda: jpeg.decode(data))


@pytest.mark.parametrize(
    "mode,options",
    [
        ("L", {"optimize": True}),  # ~253.5 pixels a byte, bound 256
        ("L", {"optimize": True, "progressive": True}),
        ("RGB", {"optimize": True, "subsampling": 2}),
        ("RGB", {"optimize": True, "subsampling": 0}),
    ],
)
def test_jpeg_most_compressible_images_are_within_the_bound(
    mode: str, options: dict[str, Any]
) -> None:
    buf = io.BytesIO()
    Image.new(mode, (1024, 1024)).save(buf, "JPEG", quality=50, **options)
    data = buf.getvalue()
    assert 1024 * 1024 <= jpeg.max_pixels_for(data)
    assert not jpeg.decode(data)[:, :, :3].any()


@pytest.mark.parametrize("marker", [0xC3, 0xC9, 0xCA])  # lossless, arithmetic
def test_jpeg_unbounded_frame_types_are_refused(marker: int) -> None:
    data = bytearray(jpeg.encode(np.zeros((8, 8, 4), dtype=np.uint8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 1] = marker
    with pytest.raises(CodecError, match="frame type"):
        jpeg.decode(bytes(data))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8",
        b"\xff\xd8\xff\xda\x00\x02",  # scan before any frame header
        b"\xff\xd8\xff\xc0\x00\x08\x08\x00\x08\x00\x08\x00",  # no components
        b"\xff\xd8\xff\xc0\x00\x0b\x08\x00\x08\x00\x08\x01\x01\x00\x00",  # 0 factor
        b"\xff\xd8\xff\xe0\xff\xff",  # segment longer than the data
        b"\xff\xd8\x00",
    ],
)
def test_jpeg_malformed_frame_headers(data: bytes) -> None:
    with pytest.raises(CodecError):
        jpeg.max_pixels_for(data)


def test_jpeg_alpha_short_alpha_stream_refused_before_the_jpeg(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    colour = _resized_jpeg(4096, 4096)
    alpha = struct.pack(">7I", lz.MAGIC, lz.VERSION, 10, 4096, 4096, 4096 * 4, 1)
    data = colour + alpha + b"\xe0\x00" * 8

    def no_jpeg(*args: object, **kwargs: object) -> None:
        raise AssertionError("the JPEG was decoded before the alpha was checked")

    monkeypatch.setattr(jpeg, "decode", no_jpeg)
    with pytest.raises(CodecError, match="cannot code"):
        jpeg_alpha.decode(data, jpeg_size=len(colour))


# --------------------------------------------------------------------- LZ


@pytest.mark.parametrize("itype", ["RGB32", "RGBA", "A8", "PLT8", "PLT1_LE", "RGB16"])
def test_lz_most_compressible_images_are_within_the_bound(itype: str) -> None:
    shape: tuple[int, ...] = (512, 512, 4)
    dtype: type = np.uint8
    if itype in ("A8", "PLT8", "PLT1_LE"):
        shape = (512, 512)
    if itype == "RGB16":
        shape, dtype = (512, 512), np.uint16
    data = lz.encode(np.zeros(shape, dtype=dtype), image_type=itype)
    hdr = lz.read_header(data)
    lz.check_body_size(hdr, len(data) - lz.HEADER_SIZE)
    # and the encoder really comes close to the bound (it is not loose)
    with pytest.raises(CodecError):
        lz.check_body_size(hdr, (len(data) - lz.HEADER_SIZE) * 9 // 10)
    got = lz.decode(data, palette=[0x102030, 0x405060])
    assert got.shape == (512, 512, 4)


@pytest.mark.parametrize("itype", [8, 9, 10, 5, 1])
def test_lz_huge_header_with_short_body_refused_before_allocation(itype: int) -> None:
    ppb = {5: 1, 1: 8}.get(itype)
    stride = 8192 * 4 if ppb is None else 8192 // ppb
    header = struct.pack(">7I", lz.MAGIC, lz.VERSION, itype, 8192, 8192, stride, 1)
    data = header + b"\xe0\xff" * 100
    _refused_cheaply(lambda: lz.decode(data, palette=[1, 2]))


# --------------------------------------------------------------------- ZLIB_GLZ


def _glz_literal_stream(width: int, height: int) -> bytes:
    """An RGB32 GLZ stream of black pixels coded as literals only (zlib loves it)."""
    header = struct.pack(
        ">IIBIIIQI", glz.MAGIC, glz.VERSION, 0x18, width, height, width * 4, 1, 0
    )
    units = width * height
    body = (bytes([31]) + bytes(96)) * (units // 32)
    if units % 32:
        body += bytes([units % 32 - 1]) + bytes(3 * (units % 32))
    return header + body


@pytest.mark.parametrize("factor", [1.0, 0.01])
def test_zlib_glz_size_the_image_cannot_have_is_refused_before_inflating(
    factor: float,
) -> None:
    raw = _glz_literal_stream(2048, 2048)
    data = zlib.compress(raw, 9)
    # 8 bytes per unit is more than any GLZ op needs; 1% less than 1/255 a unit
    wrong = int(8 * 2048 * 2048 * factor) + glz.HEADER_SIZE
    _refused_cheaply(
        lambda: zlib_glz.decode(data, glz_size=wrong, dictionary=glz.Dictionary())
    )


def test_zlib_glz_size_beyond_deflate_ratio_is_refused() -> None:
    data = zlib.compress(_glz_literal_stream(64, 64))
    with pytest.raises(CodecError, match="cannot inflate"):
        zlib_glz.inflate(data, zlib_glz.DEFLATE_MAX_RATIO * len(data) + 1, 1 << 40)


def test_zlib_bomb_under_a_small_size_stops_early() -> None:
    bomb = zlib.compress(bytes(256 * MB), 9)  # ~250 KB
    _refused_cheaply(lambda: zlib_glz.inflate(bomb, 1000, 1 << 30))
