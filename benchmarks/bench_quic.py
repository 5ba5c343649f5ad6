"""QUIC decode/encode speed and ratio (1920x1080 RGB32 frames).

Run: pytest benchmarks/bench_quic.py -o python_files='bench_*.py' --benchmark-only
Images: the reference vectors ``desktop`` and ``gradient`` (their PNGs), plus two
frames made here so the file stands alone: ``photo`` (smooth 1/f-style colour
noise with fine grain, photograph-like statistics) and ``noise`` (uniform random
bytes, the incompressible worst case). The "cython" rows use the full frames;
the pure-Python "reference" twin only runs on a 256x256 crop of ``desktop``.
extra_info holds megapixels per second and the compression ratio (raw 24-bit
bytes : stream bytes).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image
from spicepy.codecs import _quic_ref, quic

_quic_fast: ModuleType | None
try:
    from spicepy.codecs import _quic

    _quic_fast = _quic
except ImportError:
    _quic_fast = None

_env = os.environ.get("SPICEPY_VECTORS")
VECTORS = (
    Path(_env) if _env else Path(__file__).resolve().parents[2] / "shared" / "vectors"
)
W, H = 1920, 1080
CROP = 256


def _bgrx(rgb: np.ndarray) -> np.ndarray:
    out = np.zeros(rgb.shape[:2] + (4,), dtype=np.uint8)
    out[:, :, :3] = rgb[:, :, ::-1]
    return out


@functools.cache
def image(name: str) -> np.ndarray:
    """A deterministic (H, W, 4) B,G,R,X frame."""
    if name in ("desktop", "gradient"):
        path = VECTORS / f"{name}.png"
        if not path.exists():
            pytest.skip("codec vectors not present (set SPICEPY_VECTORS)")
        return _bgrx(np.asarray(Image.open(path).convert("RGB")))
    rng = np.random.default_rng(2026)
    if name == "noise":
        return _bgrx(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    # photo: white noise shaped to a 1/f amplitude spectrum per channel, plus grain
    fy = np.fft.fftfreq(H)[:, None]
    fx = np.fft.rfftfreq(W)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / W)
    chans = []
    for _ in range(3):
        spec = np.fft.rfft2(rng.standard_normal((H, W))) * amp
        plane = np.fft.irfft2(spec, s=(H, W))
        plane = (plane - plane.mean()) / plane.std() * 40 + 128
        chans.append(plane + rng.normal(0, 2.0, (H, W)))
    return _bgrx(np.clip(np.stack(chans, axis=2), 0, 255).astype(np.uint8))


CASES = ["desktop", "gradient", "photo", "noise"]
IMPLS = [
    pytest.param(
        _quic_fast,
        id="cython",
        marks=pytest.mark.skipif(_quic_fast is None, reason="not built"),
    ),
    pytest.param(_quic_ref, id="reference"),
]


def _inputs(impl: ModuleType, name: str) -> tuple[np.ndarray, bytes]:
    if impl is _quic_ref:
        if name != "desktop":
            pytest.skip("the reference twin runs on the desktop crop only")
        src = np.ascontiguousarray(image(name)[:CROP, :CROP])
    else:
        src = image(name)
    return src, quic.encode(src)


def _run(
    benchmark: Any,
    impl: ModuleType,
    fn: Callable[[], object],
    pixels: int,
    ratio: float,
) -> None:
    saved = quic._impl
    quic._impl = impl
    try:
        benchmark(fn)
    finally:
        quic._impl = saved
    stats = benchmark.stats.stats if benchmark.stats else None
    if stats is not None and stats.mean > 0:
        benchmark.extra_info["megapixels"] = pixels / 1e6
        benchmark.extra_info["mpix_per_s"] = round(pixels / 1e6 / stats.mean, 1)
    benchmark.extra_info["ratio"] = round(ratio, 2)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("impl", IMPLS)
def test_decode(benchmark: Any, impl: ModuleType, name: str) -> None:
    src, data = _inputs(impl, name)
    h, w = src.shape[:2]
    out = np.empty((h, w, 4), dtype=np.uint8)
    benchmark.group = f"quic-decode-{name}"
    _run(
        benchmark,
        impl,
        lambda: quic.decode(data, out=out),
        h * w,
        h * w * 3 / len(data),
    )


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("impl", IMPLS)
def test_encode(benchmark: Any, impl: ModuleType, name: str) -> None:
    src, data = _inputs(impl, name)
    h, w = src.shape[:2]
    benchmark.group = f"quic-encode-{name}"
    _run(benchmark, impl, lambda: quic.encode(src), h * w, h * w * 3 / len(data))
