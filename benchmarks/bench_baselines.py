"""Baselines for the codec benchmarks, on the same images in the same run.

Run: pytest benchmarks/bench_baselines.py -o python_files='bench_*.py' --benchmark-only

- ``copy``: ``numpy.copyto`` of the BGRX frame, the memory-bandwidth ceiling
  (no decoder can write its output faster).
- ``zlib-1`` / ``zlib-6``, ``lz4`` (``lz4.block``): general-purpose compressors
  on the packed 24-bit BGR bytes (what a SPICE RGB32 image really carries).
- ``jpeg-q85``: libjpeg-turbo through simplejpeg, quality 85, 4:2:0 (lossy).
- ``png``: Pillow, zlib level 6 with PNG's adaptive filters.

``extra_info``: codec, image, op (``encode``/``decode``), mpix_per_s (from the
mean, as the codec benchmarks do; ``report.py`` recomputes it from the median),
megapixels, and ratio = raw 24-bit bytes / compressed bytes.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from typing import Any

import lz4.block
import numpy as np
import pytest
import simplejpeg
from images import U8, image_names
from PIL import Image

CODECS = ["copy", "zlib-1", "zlib-6", "lz4", "jpeg-q85", "png"]


def _bgr24(img: U8) -> bytes:
    return np.ascontiguousarray(img[..., :3]).tobytes()


def _png_encode(img: U8) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img[..., 2::-1])).save(
        buf, format="PNG", compress_level=6
    )
    return buf.getvalue()


def _png_decode(data: bytes) -> U8:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def pick(images: dict[str, U8], name: str) -> U8:
    """One benchmark image by name; skips when its source is absent."""
    if name not in images:
        pytest.skip(f"image {name} not available")
    return np.ascontiguousarray(images[name])


def _encoder(codec: str, img: U8) -> Callable[[], object]:
    """A no-argument callable doing the codec's encode of ``img``."""
    raw = _bgr24(img)
    if codec == "copy":
        out = np.empty_like(img)
        return lambda: np.copyto(out, img)
    if codec.startswith("zlib-"):
        level = int(codec[5:])
        return lambda: zlib.compress(raw, level)
    if codec == "lz4":
        return lambda: lz4.block.compress(raw)
    if codec == "jpeg-q85":
        return lambda: simplejpeg.encode_jpeg(
            img, quality=85, colorspace="BGRX", colorsubsampling="420"
        )
    if codec == "png":
        return lambda: _png_encode(img)
    raise ValueError(codec)


def _encoded(codec: str, img: U8) -> bytes:
    """The codec's output for ``img`` (copy: the raw 24-bit bytes)."""
    if codec == "copy":
        return _bgr24(img)
    data = _encoder(codec, img)()
    assert isinstance(data, bytes)
    return data


def _decoder(codec: str, img: U8, data: bytes) -> Callable[[], object]:
    if codec == "copy":
        out = np.empty_like(img)
        return lambda: np.copyto(out, img)
    if codec.startswith("zlib-"):
        return lambda: zlib.decompress(data)
    if codec == "lz4":
        return lambda: lz4.block.decompress(data)
    if codec == "jpeg-q85":
        return lambda: simplejpeg.decode_jpeg(data, colorspace="BGRX")
    if codec == "png":
        return lambda: _png_decode(data)
    raise ValueError(codec)


def record(
    benchmark: Any, *, codec: str, image: str, op: str, pixels: int, ratio: float
) -> None:
    """Put the common keys into ``extra_info`` after a benchmark ran."""
    benchmark.extra_info.update(codec=codec, image=image, op=op,
                                megapixels=round(pixels / 1e6, 4),
                                ratio=round(ratio, 3))  # fmt: skip
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.mean > 0:
        benchmark.extra_info["mpix_per_s"] = round(pixels / 1e6 / stats.stats.mean, 1)


@pytest.mark.parametrize("name", image_names())
@pytest.mark.parametrize("codec", CODECS)
def test_encode(
    benchmark: Any, bench_images: dict[str, U8], codec: str, name: str
) -> None:
    img = pick(bench_images, name)
    h, w = img.shape[:2]
    data = _encoded(codec, img)
    benchmark.group = f"encode-{name}"
    benchmark(_encoder(codec, img))
    record(benchmark, codec=codec, image=name, op="encode", pixels=h * w,
           ratio=h * w * 3 / len(data))  # fmt: skip


@pytest.mark.parametrize("name", image_names())
@pytest.mark.parametrize("codec", CODECS)
def test_decode(
    benchmark: Any, bench_images: dict[str, U8], codec: str, name: str
) -> None:
    img = pick(bench_images, name)
    h, w = img.shape[:2]
    data = _encoded(codec, img)
    fn = _decoder(codec, img, data)
    result = fn()
    if codec in ("zlib-1", "zlib-6", "lz4"):
        assert result == _bgr24(img)  # the round trip is lossless
    benchmark.group = f"decode-{name}"
    benchmark(fn)
    record(benchmark, codec=codec, image=name, op="decode", pixels=h * w,
           ratio=h * w * 3 / len(data))  # fmt: skip
