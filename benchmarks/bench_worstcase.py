"""Worst-case decode cost per codec: crafted hostile inputs beside benign ones.

Run: pytest benchmarks/bench_worstcase.py -o python_files='bench_*.py' --benchmark-only
Each case pairs a hostile input with a benign input of about the same byte size
(same codec); extra_info reports the input bytes, the output pixels and, when
timed, the seconds per input byte and per output pixel. A hostile input that
is refused (CodecError) counts 0 output pixels: what is measured is the time to
refuse it. CI runs this once with --benchmark-disable (seconds in all).
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import lz4.block
import numpy as np
import pytest
from spicepy.codecs import CodecError, glz, jpeg, lz, quic, zlib_glz
from spicepy.codecs import lz4 as L


@dataclass(frozen=True)
class Case:
    data: bytes
    decode: Callable[[bytes], np.ndarray]


def _noise(h: int, w: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)


def _side(nbytes: float, per_pixel: float) -> int:
    """Side of a square image whose stream is about ``nbytes`` at ``per_pixel``."""
    return max(8, int((nbytes / per_pixel) ** 0.5))


# ----------------------------------------------------------------- cases


def _lz4(hostile: bool) -> Case:
    n = 60_000  # one-byte blocks: 15,000 RGBA pixels in 360 KB
    if hostile:
        block = lz4.block.compress(b"\x07", store_size=False)
        data = bytes([1, 9]) + (struct.pack(">I", len(block)) + block) * n
        w, h = 150, 100
    else:
        side = _side(6 * n, 4.0)
        w = h = side
        data = L.encode(_noise(side, side), bitmap_format=9)
    return Case(data, lambda d: L.decode(d, width=w, height=h))


def _lz(hostile: bool) -> Case:
    # hostile: maximal back-references (a flat image, ~254 pixels a byte)
    if hostile:
        data = lz.encode(np.zeros((2048, 2048, 4), np.uint8), image_type="RGB32")
    else:
        side = _side(len(_lz(True).data), 3.1)
        data = lz.encode(_noise(side, side), image_type="RGB32")
    return Case(data, lambda d: lz.decode(d))


def _glz(hostile: bool) -> Case:
    enc = glz.Encoder()
    if hostile:
        data = enc.encode(np.zeros((2048, 2048, 4), np.uint8), "RGB32", True)
    else:
        side = _side(len(_glz(True).data), 3.1)
        data = enc.encode(_noise(side, side), "RGB32", True)
    return Case(data, lambda d: glz.decode(d, dictionary=glz.Dictionary()))


def _quic(hostile: bool) -> Case:
    # hostile: noise keeps every model at its longest codes; benign: a gradient
    size = 256 * 1024
    if hostile:
        side = _side(size, 3.2)
        data = quic.encode(_noise(side, side), image_type="RGBA")
    else:
        y, x = np.mgrid[0:1024, 0:1024]
        img = np.stack([x % 256, y % 256, (x + y) % 256, x * 0], -1).astype(np.uint8)
        data = quic.encode(img, image_type="RGBA")
    return Case(data, lambda d: quic.decode(d))


def _jpeg(hostile: bool) -> Case:
    data = jpeg.encode(_noise(16, 16), quality=85)
    if hostile:  # the same bytes declaring 8192 x 8191
        raw = bytearray(data)
        sof = raw.index(b"\xff\xc0")
        raw[sof + 5 : sof + 9] = struct.pack(">HH", 8191, 8192)
        data = bytes(raw)
    return Case(data, lambda d: jpeg.decode(d))


def _zlib_glz(hostile: bool) -> Case:
    if hostile:  # a literal-only GLZ stream of black: zlib packs it ~290:1
        w, h = 2048, 2048
        header = struct.pack(
            ">IIBIIIQI", glz.MAGIC, glz.VERSION, 0x18, w, h, w * 4, 1, 0
        )
        raw = header + (bytes([31]) + bytes(96)) * (w * h // 32)
        data, size = zlib.compress(raw, 9), len(raw)
    else:
        side = _side(len(_zlib_glz(True).data), 3.1)
        data, size = zlib_glz.encode(_noise(side, side), encoder=glz.Encoder())
    return Case(
        data,
        lambda d: zlib_glz.decode(d, glz_size=size, dictionary=glz.Dictionary()),
    )


CASES = {
    "lz4": _lz4,
    "lz": _lz,
    "glz": _glz,
    "quic": _quic,
    "jpeg": _jpeg,
    "zlib_glz": _zlib_glz,
}


@pytest.mark.parametrize("kind", ["hostile", "benign"])
@pytest.mark.parametrize("codec", sorted(CASES))
def test_worst_case(benchmark: object, codec: str, kind: str) -> None:
    case = CASES[codec](kind == "hostile")
    pixels: list[int] = []

    def run() -> None:
        try:
            out = case.decode(case.data)
            pixels.append(out.shape[0] * out.shape[1])
        except CodecError:
            pixels.append(0)

    start = time.perf_counter()
    benchmark(run)  # type: ignore[operator]
    seconds = time.perf_counter() - start
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        seconds = stats.stats.mean
    else:  # --benchmark-disable: one call, timed above
        seconds /= max(1, len(pixels))
    info = benchmark.extra_info  # type: ignore[attr-defined]
    info["input_bytes"] = len(case.data)
    info["output_pixels"] = pixels[-1]
    info["s_per_input_byte"] = seconds / len(case.data)
    info["s_per_output_pixel"] = seconds / pixels[-1] if pixels[-1] else None
    assert pixels, "the decode never ran"
