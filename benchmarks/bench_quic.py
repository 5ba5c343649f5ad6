"""QUIC decode/encode speed and ratio (1920x1080 RGB32 frames).

Run: pytest benchmarks/bench_quic.py -o python_files='bench_*.py' --benchmark-only
Images: the reference vectors ``desktop`` and ``gradient`` (their PNGs), plus two
frames made here so the file stands alone: ``photo`` (smooth 1/f-style colour
noise with fine grain, photograph-like statistics) and ``noise`` (uniform random
bytes, the incompressible worst case). The "cython" rows use the full frames;
the pure-Python "reference" twin only runs on a 256x256 crop of ``desktop``.
extra_info holds megapixels per second and the compression ratio (raw 24-bit
bytes : stream bytes).

Instructions per pixel (callgrind, repeatable on a loaded machine) of the
Cython decoder on real streams: the vectors' ``.quic.bin`` and every QUIC image
each capture carried (gradients-auto_glz: 159 noisy RGBA images, the
high-entropy case), counted inside ``decode_body`` only::

    .venv/bin/python -P benchmarks/bench_quic.py --instructions \
        vector:desktop capture:gradients-auto_glz capture:photos-quic
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import subprocess
import sys
import tempfile
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


# -- instructions per pixel (run as a script) ----------------------------------


def _streams(spec: str) -> list[bytes]:
    """``vector:NAME`` (NAME.quic.bin) or ``capture:NAME`` (its QUIC images)."""
    kind, _, name = spec.partition(":")
    if kind == "vector":
        return [(VECTORS / f"{name}.quic.bin").read_bytes()]
    if kind == "capture":
        from spicepy.capture.images import extract_images
        from spicepy.wire.enums import ImageType

        env = os.environ.get("SPICEPY_CAPTURES")
        captures = Path(env) if env else VECTORS.parent / "captures"
        images = extract_images(captures / f"{name}.pcap")
        return [bytes(p.data) for p in images if p.type == ImageType.QUIC]
    raise SystemExit(f"bench_quic: {spec!r} is neither vector:NAME nor capture:NAME")


def _child(spec: str) -> None:
    """Decode every stream of ``spec`` once (callgrind counts decode_body)."""
    streams = _streams(spec)
    outs = [np.empty((i.height, i.width, 4), np.uint8)
            for i in map(quic.info, streams)]  # fmt: skip
    for data, out in zip(streams, outs, strict=True):
        quic.decode(data, out=out)
    print(sum(o.shape[0] * o.shape[1] for o in outs), len(streams))


def instructions(spec: str) -> tuple[int, int, int]:
    """(instructions inside decode_body, pixels, images) for one stream set."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             "--collect-atstart=no", "--toggle-collect=*_quic_*decode_body",
             sys.executable, "-P", __file__, "--child", spec],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"bench_quic: {spec} failed:\n{done.stderr[-2000:]}")
        totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
        assert totals is not None, "callgrind wrote no totals"
    pixels, images = map(int, done.stdout.split())
    return int(totals.group(1)), pixels, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instructions", nargs="+", metavar="SET",
                        help="vector:NAME or capture:NAME")  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    if not _quic_fast:
        raise SystemExit("bench_quic: the Cython twin is not built")
    for spec in args.instructions or []:
        ir, pixels, images = instructions(spec)
        print(
            f"{spec}: {images} images, {pixels / 1e6:.2f} Mpx, "
            f"{ir / 1e6:.1f} M instructions, {ir / pixels:.1f} per pixel"
        )


if __name__ == "__main__":
    main()
