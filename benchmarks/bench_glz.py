"""GLZ decode/encode speed (MPix/s) and ratio on the shared 1920x1080 vectors.

Run: pytest benchmarks/bench_glz.py -o python_files='bench_*.py' --benchmark-only
``extra_info`` carries mpix_per_s and ratio (raw 24-bit bytes / stream bytes).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image
from spicepy.codecs import _glz_ref, glz

try:
    from spicepy.codecs import _glz as _glz_fast
except ImportError:  # pragma: no cover
    _glz_fast = None

IMPLS = [
    pytest.param(
        _glz_fast,
        id="cython",
        marks=pytest.mark.skipif(_glz_fast is None, reason="not built"),
    ),
    pytest.param(_glz_ref, id="reference"),
]
# desktop-like UI images; "gradient" and a generated noisy image stand in for photos
IMAGES = ["desktop", "desktop_plt8", "desktop_scrolled", "gradient", "synthetic_photo"]


def _vectors() -> Path:
    env = os.environ.get("SPICEPY_VECTORS")
    path = (
        Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "vectors"
    )
    if not path.is_dir():
        pytest.skip("codec vectors not present (set SPICEPY_VECTORS)")
    return path


def _synthetic_photo() -> np.ndarray:
    """Smooth shading plus sensor-like noise: almost no LZ matches."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1080, 0:1920]
    base = np.sin(x / 50.0) * 60 + np.cos(y / 37.0) * 60 + 128
    img = np.zeros((1080, 1920, 4), np.uint8)
    for c in range(3):
        noisy = base + rng.normal(0, 6, base.shape) + 10 * c
        img[..., c] = np.clip(noisy, 0, 255).astype(np.uint8)
    return img


def _bgrx(name: str) -> np.ndarray:
    if name == "synthetic_photo":
        return _synthetic_photo()
    rgb = np.asarray(Image.open(_vectors() / f"{name}.png").convert("RGB"))
    out = np.zeros(rgb.shape[:2] + (4,), np.uint8)
    out[..., :3] = rgb[..., ::-1]
    return out


def _stream(name: str) -> bytes:
    path = _vectors() / f"{name}.glz_rgb32.bin"
    if path.exists():
        return path.read_bytes()
    return glz.Encoder(_backend=_glz_fast or _glz_ref).encode(_bgrx(name))


def _report(benchmark: pytest.FixtureDef, pixels: int, stream: int) -> None:  # type: ignore[type-arg]
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.mean:
        benchmark.extra_info["mpix_per_s"] = round(pixels / stats.stats.mean / 1e6, 1)
    benchmark.extra_info["ratio"] = round(pixels * 3 / stream, 2)


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("impl", IMPLS)
def test_decode(benchmark, impl: ModuleType, name: str) -> None:  # type: ignore[no-untyped-def]
    if _glz_fast is None and name in ("gradient", "synthetic_photo"):
        pytest.skip("making this stream needs the fast encoder")
    data = _stream(name)
    hdr = glz.read_header(data)

    def run() -> np.ndarray:
        d = glz.Dictionary()
        return glz._decode_impl(impl, data, d, None, None, glz.MAX_IMAGE_PIXELS, 0.0)

    img = benchmark(run)
    assert img.shape == (hdr.height, hdr.width, 4)
    _report(benchmark, hdr.width * hdr.height, len(data))


@pytest.mark.parametrize("impl", IMPLS)
def test_decode_sequence(benchmark, impl: ModuleType) -> None:  # type: ignore[no-untyped-def]
    """desktop_scrolled coded against desktop: mostly cross-image copies."""
    first = _stream("desktop")
    second = (_vectors() / "desktop_scrolled.glz_seq.bin").read_bytes()
    d = glz.Dictionary()
    glz._decode_impl(impl, first, d, None, None, glz.MAX_IMAGE_PIXELS, 0.0)
    benchmark(glz._decode_impl, impl, second, d, None, None, glz.MAX_IMAGE_PIXELS, 0.0)
    _report(benchmark, 1920 * 1080, len(second))


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("impl", IMPLS)
def test_encode(benchmark, impl: ModuleType, name: str) -> None:  # type: ignore[no-untyped-def]
    if impl is _glz_ref and name in ("gradient", "synthetic_photo"):
        pytest.skip("the pure-Python encoder takes minutes on photo-like images")
    img = _bgrx(name)

    def setup() -> tuple[tuple[glz.Encoder], dict[str, object]]:
        # a fresh window each round, created untimed (the server creates its
        # dictionary once per client)
        return (glz.Encoder(_backend=impl),), {}

    out = benchmark.pedantic(
        lambda enc: enc.encode(img),
        setup=setup,
        rounds=3 if impl is _glz_ref else 10,
    )
    _report(benchmark, img.shape[0] * img.shape[1], len(out))


@pytest.mark.parametrize("impl", IMPLS)
def test_encode_sequence(benchmark, impl: ModuleType) -> None:  # type: ignore[no-untyped-def]
    first, second = _bgrx("desktop"), _bgrx("desktop_scrolled")

    def setup() -> tuple[tuple[glz.Encoder], dict[str, object]]:
        enc = glz.Encoder(_backend=impl)
        enc.encode(first)
        return (enc,), {}

    out = benchmark.pedantic(
        lambda enc: enc.encode(second),
        setup=setup,
        rounds=3 if impl is _glz_ref else 10,
    )
    _report(benchmark, 1920 * 1080, len(out))


@pytest.mark.parametrize("impl", IMPLS)
def test_decode_rgba(benchmark, impl: ModuleType) -> None:  # type: ignore[no-untyped-def]
    """RGBA (what Xspice sends): a colour pass, then an alpha pass (opaque here)."""
    img = _bgrx("desktop")
    img[..., 3] = 255
    data = glz.Encoder(_backend=_glz_fast or _glz_ref).encode(img, "RGBA")

    def run() -> np.ndarray:
        d = glz.Dictionary()
        return glz._decode_impl(impl, data, d, None, None, glz.MAX_IMAGE_PIXELS, 0.0)

    assert np.array_equal(benchmark(run), img)
    _report(benchmark, img.shape[0] * img.shape[1], len(data))


@pytest.mark.parametrize("impl", IMPLS)
def test_encode_rgba(benchmark, impl: ModuleType) -> None:  # type: ignore[no-untyped-def]
    img = _bgrx("desktop")
    img[..., 3] = 255

    def setup() -> tuple[tuple[glz.Encoder], dict[str, object]]:
        return (glz.Encoder(_backend=impl),), {}

    out = benchmark.pedantic(
        lambda enc: enc.encode(img, "RGBA"),
        setup=setup,
        rounds=3 if impl is _glz_ref else 10,
    )
    _report(benchmark, img.shape[0] * img.shape[1], len(out))
