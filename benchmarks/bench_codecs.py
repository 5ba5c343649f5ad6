"""spicepy's codecs on the whole benchmark image set, beside bench_baselines.

Run: pytest benchmarks/bench_codecs.py -o python_files='bench_*.py' --benchmark-only

The codec engineers' own benchmarks (bench_lz.py, bench_glz.py, ...) cover the
vector images with both twins; this file runs the fast path of every codec on
the synthetic frames too (terminal, photo, synth_gradient, noise), and on the
vectors for a codec without a bench file of its own (and, with
$SPICEPY_BENCH_CAPTURES=1, on one picture per capture), so one run of report.py
has a codec x image matrix next to the baselines of bench_baselines.py.

``extra_info``: codec, image, op, megapixels, mpix_per_s (mean), ratio = raw
24-bit bytes / stream bytes. Encoders code RGB32 (B, G, R; X ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from images import SYNTHETIC_NAMES, U8, bench_capture_images, image_names

# codec -> (encode, decode) over a BGRX frame; GLZ gets a fresh window per call
CODECS = ["quic", "lz", "glz", "lz4-spice"]
_OWN_BENCH = {"quic": "bench_quic.py", "lz": "bench_lz.py", "glz": "bench_glz.py",
              "lz4-spice": "bench_lz4.py"}  # fmt: skip


def _cases() -> list[tuple[str, str]]:
    here = Path(__file__).resolve().parent
    vectors = set(image_names()) - set(SYNTHETIC_NAMES) - set(bench_capture_images())
    cases = []
    for codec in CODECS:
        own = (here / _OWN_BENCH[codec]).exists()
        for name in image_names():
            if name not in vectors or not own:
                cases.append((codec, name))
    return cases


def _pair(codec: str, img: U8) -> tuple[Callable[[], bytes], Callable[[bytes], U8]]:
    h, w = img.shape[:2]
    if codec == "quic":
        from spicepy.codecs import quic

        return (lambda: quic.encode(img, image_type="RGB32")), quic.decode
    if codec == "lz":
        from spicepy.codecs import lz

        return (lambda: lz.encode(img, image_type="RGB32")), lz.decode
    if codec == "glz":
        from spicepy.codecs import glz

        def glz_encode() -> bytes:
            return glz.Encoder().encode(img, image_type="RGB32")

        def glz_decode(data: bytes) -> U8:
            return glz.decode(data, dictionary=glz.Dictionary())

        return glz_encode, glz_decode
    if codec == "lz4-spice":
        from spicepy.codecs import lz4

        return (lambda: lz4.encode(img)), (
            lambda data: lz4.decode(data, width=w, height=h)
        )
    raise ValueError(codec)


def _setup(bench_images: dict[str, U8], codec: str, name: str) -> Any:
    if name not in bench_images:
        pytest.skip(f"image {name} not available")
    img = np.ascontiguousarray(bench_images[name])
    try:
        encode, decode = _pair(codec, img)
    except ImportError as exc:
        pytest.skip(f"{codec} not available: {exc}")
    module = {"quic": "quic", "lz": "lz", "glz": "glz"}.get(codec)
    if module is not None:
        import importlib

        if not importlib.import_module(f"spicepy.codecs.{module}").FAST:
            pytest.skip(f"{codec}: the Cython twin is not in use (fast-path benchmark)")
    data = encode()
    assert np.array_equal(decode(data)[..., :3], img[..., :3])  # lossless
    return img, encode, decode, data


def _record(benchmark: Any, codec: str, name: str, op: str, img: U8, size: int) -> None:
    pixels = img.shape[0] * img.shape[1]
    benchmark.extra_info.update(
        codec=codec,
        image=name,
        op=op,
        megapixels=round(pixels / 1e6, 4),
        ratio=round(pixels * 3 / size, 3),
    )
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.mean > 0:
        benchmark.extra_info["mpix_per_s"] = round(pixels / 1e6 / stats.stats.mean, 1)


@pytest.mark.parametrize(("codec", "name"), _cases())
def test_encode(
    benchmark: Any, bench_images: dict[str, U8], codec: str, name: str
) -> None:
    img, encode, _decode, data = _setup(bench_images, codec, name)
    benchmark.group = f"encode-{name}"
    benchmark(encode)
    _record(benchmark, codec, name, "encode", img, len(data))


@pytest.mark.parametrize(("codec", "name"), _cases())
def test_decode(
    benchmark: Any, bench_images: dict[str, U8], codec: str, name: str
) -> None:
    img, _encode, decode, data = _setup(bench_images, codec, name)
    benchmark.group = f"decode-{name}"
    benchmark(decode, data)
    _record(benchmark, codec, name, "decode", img, len(data))
