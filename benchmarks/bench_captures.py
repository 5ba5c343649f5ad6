"""Decode speed of each codec over the images the real server sent in the captures.

Run: pytest benchmarks/bench_captures.py -o python_files='bench_*.py' --benchmark-only

One benchmark per (capture, codec): a round decodes every payload of that codec
in the capture, in stream order (GLZ and ZLIB_GLZ together, through a fresh
``glz.Dictionary`` each round, as their references need). Beside them, on the
same decoded pictures, the ``lz4`` and ``jpeg-q85`` baselines decode their own
coding of each image, so report.py can put codec and baseline side by side.

``extra_info``: codec, image (the capture), op=decode, megapixels per round,
images, ratio = raw 24-bit bytes / compressed bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import lz4.block
import numpy as np
import pytest
import simplejpeg
from images import U8, captures_path, fast_paths

from spicepy.capture.images import ImagePayload, decode_payload, extract_images
from spicepy.wire.enums import ImageType

# whole-corpus runs through the pure-Python twins take many minutes
pytestmark = pytest.mark.skipif(
    not fast_paths(), reason="capture decode benchmarks measure the Cython twins"
)

GLZ_TYPES = (ImageType.GLZ_RGB, ImageType.ZLIB_GLZ_RGB)
# payload type -> benchmark codec name (GLZ and its zlib wrap share a dictionary)
CODEC_OF = {ImageType.QUIC: "quic", ImageType.LZ_RGB: "lz", ImageType.LZ_PLT: "lz",
            ImageType.GLZ_RGB: "glz", ImageType.ZLIB_GLZ_RGB: "glz",
            ImageType.LZ4: "lz4-spice", ImageType.JPEG: "jpeg",
            ImageType.JPEG_ALPHA: "jpeg_alpha"}  # fmt: skip


@cache
def _payloads(name: str) -> tuple[ImagePayload, ...]:
    path = captures_path()
    assert path is not None
    return tuple(extract_images(Path(path) / f"{name}.pcap"))


def _cases() -> list[tuple[str, str]]:
    path = captures_path()
    if path is None:
        return []
    cases = []
    for pcap in sorted(path.glob("*.pcap")):
        try:
            found = {
                CODEC_OF[p.type] for p in _payloads(pcap.stem) if p.type in CODEC_OF
            }
        except Exception:  # noqa: BLE001 - an unreadable capture has no cases
            continue
        cases += [(pcap.stem, codec) for codec in sorted(found)]
    return cases


def _group(name: str, codec: str) -> list[ImagePayload]:
    return [p for p in _payloads(name) if CODEC_OF.get(p.type) == codec]


def _decode_round(group: list[ImagePayload]) -> Callable[[], list[U8]]:
    from spicepy.codecs import glz

    def run() -> list[U8]:
        dictionary = glz.Dictionary()
        return [decode_payload(p, dictionary) for p in group]

    return run


def _record(benchmark: Any, codec: str, image: str, pixels: int, images: int,
            compressed: int) -> None:  # fmt: skip
    benchmark.extra_info.update(
        codec=codec,
        image=image,
        op="decode",
        megapixels=round(pixels / 1e6, 4),
        images=images,
        ratio=round(pixels * 3 / max(1, compressed), 3),
    )
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.mean > 0:
        benchmark.extra_info["mpix_per_s"] = round(pixels / 1e6 / stats.stats.mean, 1)


def _skip_unavailable(run: Callable[[], list[U8]]) -> list[U8]:
    try:
        return run()
    except ImportError as exc:
        pytest.skip(f"codec not available: {exc}")


@pytest.mark.parametrize(("capture", "codec"), _cases())
def test_decode(benchmark: Any, capture: str, codec: str) -> None:
    group = _group(capture, codec)
    run = _decode_round(group)
    decoded = _skip_unavailable(run)
    assert all(
        d.shape == (p.height, p.width, 4) for d, p in zip(decoded, group, strict=True)
    )
    benchmark.group = f"capture-decode-{capture}"
    benchmark(run)
    pixels = sum(p.width * p.height for p in group)
    _record(
        benchmark, codec, capture, pixels, len(group), sum(len(p.data) for p in group)
    )


def _baseline_cases() -> list[tuple[str, str]]:
    # one baseline row per capture and codec family found there
    seen = sorted({capture for capture, _ in _cases()})
    return [(c, b) for c in seen for b in ("lz4", "jpeg-q85")]


@pytest.mark.parametrize(("capture", "baseline"), _baseline_cases())
def test_baseline_decode(benchmark: Any, capture: str, baseline: str) -> None:
    """The same capture pictures (every lossless codec payload), coded by a baseline."""
    from spicepy.codecs import glz

    dictionary = glz.Dictionary()
    pictures: list[U8] = []
    for p in _payloads(capture):
        if p.type not in CODEC_OF:
            continue
        try:
            px = decode_payload(p, dictionary)
        except Exception:  # noqa: BLE001 - a codec not built yet, a bad stream
            continue
        if not p.lossy:
            pictures.append(np.ascontiguousarray(px))
    if not pictures:
        pytest.skip("no decodable lossless picture")
    if baseline == "lz4":
        blobs = [lz4.block.compress(np.ascontiguousarray(x[..., :3]).tobytes())
                 for x in pictures]  # fmt: skip

        def run() -> None:
            for b in blobs:
                lz4.block.decompress(b)
    else:
        blobs = [
            simplejpeg.encode_jpeg(
                x, quality=85, colorspace="BGRX", colorsubsampling="420"
            )
            for x in pictures
        ]

        def run() -> None:
            for b in blobs:
                simplejpeg.decode_jpeg(b, colorspace="BGRX")

    benchmark.group = f"capture-decode-{capture}"
    benchmark(run)
    pixels = sum(x.shape[0] * x.shape[1] for x in pictures)
    _record(benchmark, baseline, capture, pixels, len(pictures), sum(map(len, blobs)))
