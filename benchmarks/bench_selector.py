"""How good is the heuristic codec selector? Bytes and speed on the captures.

Run: pytest benchmarks/bench_selector.py -o python_files='bench_*.py' --benchmark-only

Per lossless capture, every decodable image the server sent is re-coded:

- ``server_bytes``: what the real server sent (its choice, its encoders).
- ``ours_bytes``: ``choose_codec`` with the capture's mode, coded by spicepy's
  encoders (GLZ through one encoder window per capture, the zlib wrap when the
  capture had it on, raw when the output is not smaller than the bitmap: the
  server's rules).
- ``server_choice_bytes``: the server's choice coded by spicepy's encoders
  (separates encoder differences from choice differences).
- ``all_lz_bytes`` / ``all_glz_bytes`` / ``all_quic_bytes``: one codec for all.

The timed part is ``choose_codec`` itself over the capture's images (MPix/s).
``ratio`` is raw 24-bit bytes / ours_bytes.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest
from images import U8, captures_path
from spicepy.codecs.selector import choose_codec

from spicepy.canvas.types import ImageType
from spicepy.capture.images import ImagePayload, decode_payloads, extract_images

_CHOICE = {"ZLIB_GLZ_RGB": "GLZ_RGB", "JPEG": "QUIC", "JPEG_ALPHA": "QUIC"}


def _entries() -> list[dict[str, Any]]:
    path = captures_path()
    if path is None:
        return []
    entries: list[dict[str, Any]] = json.loads((path / "manifest.json").read_text())[
        "captures"
    ]
    return [e for e in entries if e.get("lossless")]


def _mode(entry: dict[str, Any]) -> tuple[str, bool]:
    """(image compression mode, zlib wrap of GLZ always on)."""
    opts = list(entry["server"].get("xspice_options", []))
    mode = "auto_glz"
    if "--image-compression" in opts:
        mode = str(opts[opts.index("--image-compression") + 1])
    pref = (entry.get("client") or {}).get("preferred_compression")
    wrap = "--zlib-glz-wan-compression" in opts and (
        opts[opts.index("--zlib-glz-wan-compression") + 1] == "always"
    )
    return (str(pref) if pref else mode), wrap


@cache
def _pictures(name: str) -> tuple[tuple[ImagePayload, U8], ...]:
    path = captures_path()
    assert path is not None
    payloads = extract_images(path / f"{name}.pcap")
    return tuple(
        (p, px)
        for p, px in decode_payloads(payloads, skip_undecodable=True)
        if px is not None and not p.lossy
    )


def _has_alpha(p: ImagePayload) -> bool:
    """Does the server's stream code an alpha channel (RGBA) or not (RGB32)?

    The bitmap's format is a property of the source, so our coding keeps it.
    """
    from spicepy.codecs import glz, lz, quic

    data = p.data
    if p.type == ImageType.BITMAP:
        assert p.image.bitmap is not None
        return p.image.bitmap.format == 9  # SPICE_BITMAP_FMT_RGBA
    if p.type == ImageType.LZ4:
        return len(data) > 1 and data[1] == 9
    if p.type == ImageType.ZLIB_GLZ_RGB:
        data = zlib.decompressobj().decompress(data, 64)
    info = {
        ImageType.QUIC: quic.info,
        ImageType.LZ_RGB: lz.info,
        ImageType.GLZ_RGB: glz.info,
        ImageType.ZLIB_GLZ_RGB: glz.info,
    }[p.type]
    return info(data).image_type == "RGBA"


class Coder:
    """spicepy's encoders with the server's after-encoding rules, for one capture."""

    def __init__(self, zlib_wrap: bool) -> None:
        from spicepy.codecs import glz

        self.glz = glz.Encoder()
        self.zlib_wrap = zlib_wrap

    def size(self, choice: str, px: U8, alpha: bool) -> int:
        from spicepy.codecs import lz, lz4

        fmt = "RGBA" if alpha else "RGB32"
        raw = px.shape[0] * px.shape[1] * 4
        if choice == "BITMAP":
            return raw
        if choice == "QUIC":
            from spicepy.codecs import quic

            n = len(quic.encode(px, image_type=fmt))
        elif choice == "LZ_RGB":
            n = len(lz.encode(px, image_type=fmt))
        elif choice == "LZ4":
            n = len(
                lz4.encode(
                    px, bitmap_format=lz4.BitmapFormat[fmt.replace("RGB32", "BIT32")]
                )
            )
        elif choice == "GLZ_RGB":
            data = self.glz.encode(px, image_type=fmt)
            n = len(data)
            if self.zlib_wrap and n >= 100:  # MIN_GLZ_SIZE_FOR_ZLIB
                n = min(n, len(zlib.compress(data, 3)))
        else:
            raise ValueError(choice)
        return n if n < raw else raw  # an encoder that does not shrink -> raw


def _totals(entry: dict[str, Any]) -> dict[str, Any]:
    mode, wrap = _mode(entry)
    coders = {k: Coder(wrap) for k in ("ours", "server", "lz", "glz", "quic")}
    out = dict.fromkeys(("server", "ours", "server_choice", "all_lz", "all_glz",
                         "all_quic"), 0)  # fmt: skip
    agree = pixels = 0
    for p, px in _pictures(entry["name"]):
        img = np.ascontiguousarray(px)
        alpha = _has_alpha(p)
        drawable = not (p.server_made and p.message == "copy")
        ours = choose_codec(img, mode=mode, drawable=drawable)
        server = _CHOICE.get(p.type_name, p.type_name)
        agree += ours == server
        pixels += p.width * p.height
        out["server"] += len(p.data)
        out["ours"] += coders["ours"].size(ours, img, alpha)
        out["server_choice"] += coders["server"].size(server, img, alpha)
        out["all_lz"] += coders["lz"].size("LZ_RGB", img, alpha)
        out["all_glz"] += coders["glz"].size("GLZ_RGB", img, alpha)
        try:
            out["all_quic"] += coders["quic"].size("QUIC", img, alpha)
        except ImportError:
            out["all_quic"] = -1
    res: dict[str, Any] = {f"{k}_bytes": v for k, v in out.items()}
    res.update(mode=mode, images=len(_pictures(entry["name"])), agree=agree,
               megapixels=round(pixels / 1e6, 4),
               ratio=round(pixels * 3 / max(1, out["ours"]), 3))  # fmt: skip
    return res


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e["name"])
def test_choice(benchmark: Any, entry: dict[str, Any]) -> None:
    pictures = _pictures(entry["name"])
    if not pictures:
        pytest.skip("no decodable image")
    mode, _ = _mode(entry)
    imgs = [
        (np.ascontiguousarray(px), not (p.server_made and p.message == "copy"))
        for p, px in pictures
    ]

    def run() -> list[str]:
        return [choose_codec(x, mode=mode, drawable=d) for x, d in imgs]

    choose: Callable[[], list[str]] = run
    benchmark.group = "selector"
    benchmark(choose)
    info = _totals(entry)
    benchmark.extra_info.update(codec="selector", image=entry["name"], op="choose",
                                **info)  # fmt: skip
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.mean > 0:
        benchmark.extra_info["mpix_per_s"] = round(
            info["megapixels"] / stats.stats.mean, 1
        )
    assert info["agree"] <= info["images"]
