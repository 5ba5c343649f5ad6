"""LZ decode/encode speed and ratio on the reference vectors (1920x1080).

Run: pytest benchmarks/bench_lz.py -o python_files='bench_*.py' --benchmark-only
The "cython" rows use the full frames; the pure-Python "reference" twin gets a
256x256 crop (re-encoded) so a round stays short. extra_info carries the
megapixels per second and the compression ratio (raw 24-bit bytes : stream bytes).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from spicepy.codecs import _lz_ref, lz

try:
    from spicepy.codecs import _lz as _lz_fast  # type: ignore[attr-defined]
except ImportError:
    _lz_fast = None

_env = os.environ.get("SPICEPY_VECTORS")
VECTORS = (
    Path(_env) if _env else Path(__file__).resolve().parents[2] / "shared" / "vectors"
)
# (vector stem, image type); gradient stands in for photos
CASES = [
    ("desktop.lz_rgb32", "RGB32"),
    ("gradient.lz_rgb32", "RGB32"),
    ("desktop_plt8.lz_plt8", "PLT8"),
]
IMPLS = [
    pytest.param(
        _lz_fast,
        id="cython",
        marks=pytest.mark.skipif(_lz_fast is None, reason="not built"),
    ),
    pytest.param(_lz_ref, id="reference"),
]
CROP = 256


def _load(stem: str, image_type: str) -> tuple[bytes, np.ndarray, np.ndarray | None]:
    path = VECTORS / f"{stem}.bin"
    if not path.exists():
        pytest.skip("codec vectors not present (set SPICEPY_VECTORS)")
    data = path.read_bytes()
    pal_path = VECTORS / f"{stem}.palette.bin"
    pal = (
        np.frombuffer(pal_path.read_bytes(), dtype="<u4") if pal_path.exists() else None
    )
    pixels = lz.decode(data, palette=pal)
    if image_type != "PLT8":
        return data, pixels, pal
    assert pal is not None
    flat = pixels.reshape(-1, 4).view("<u4").reshape(-1)
    uniq, inverse = np.unique(flat, return_inverse=True)
    lookup = {int(v): i for i, v in enumerate(pal)}
    idx = np.array([lookup[int(v)] for v in uniq], dtype=np.uint8)[inverse]
    return data, idx.reshape(pixels.shape[:2]), pal


def _run(
    benchmark: Any,
    impl: ModuleType,
    fn: Callable[[], object],
    pixels: int,
    ratio: float,
) -> None:
    saved = lz._impl
    lz._impl = impl
    try:
        benchmark(fn)
    finally:
        lz._impl = saved
    stats = benchmark.stats.stats if benchmark.stats else None
    if stats is not None and stats.mean > 0:
        benchmark.extra_info["megapixels"] = pixels / 1e6
        benchmark.extra_info["mpix_per_s"] = round(pixels / 1e6 / stats.mean, 1)
    benchmark.extra_info["ratio"] = round(ratio, 2)


def _inputs(
    impl: ModuleType, stem: str, image_type: str
) -> tuple[bytes, np.ndarray, np.ndarray | None]:
    data, source, pal = _load(stem, image_type)
    if impl is _lz_ref:  # the pure-Python twin gets a crop
        source = np.ascontiguousarray(source[:CROP, :CROP])
        data = lz.encode(source, image_type=image_type)
    return data, source, pal


@pytest.mark.parametrize(("stem", "image_type"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("impl", IMPLS)
def test_decode(benchmark: Any, impl: ModuleType, stem: str, image_type: str) -> None:
    data, source, pal = _inputs(impl, stem, image_type)
    h, w = source.shape[:2]
    out = np.empty((h, w, 4), dtype=np.uint8)
    benchmark.group = f"lz-decode-{stem}"
    _run(
        benchmark,
        impl,
        lambda: lz.decode(data, palette=pal, out=out),
        h * w,
        h * w * 3 / len(data),
    )


@pytest.mark.parametrize(("stem", "image_type"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("impl", IMPLS)
def test_encode(benchmark: Any, impl: ModuleType, stem: str, image_type: str) -> None:
    data, source, _pal = _inputs(impl, stem, image_type)
    h, w = source.shape[:2]
    benchmark.group = f"lz-encode-{stem}"
    _run(
        benchmark,
        impl,
        lambda: lz.encode(source, image_type=image_type),
        h * w,
        h * w * 3 / len(data),
    )
