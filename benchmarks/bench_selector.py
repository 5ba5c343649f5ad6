"""How good is the heuristic codec selector? Bytes and speed on the captures.

Run: pytest benchmarks/bench_selector.py -o python_files='bench_*.py' --benchmark-only

Per lossless capture, every decodable image the server sent is re-coded:

- ``server_bytes``: what the real server sent (its choice, its encoders).
- ``ours_bytes``: ``selector.compress`` with the capture's mode: our choice,
  coded by spicepy's encoders with the server's fallbacks (GLZ through one
  encoder window per capture and policy, the zlib wrap when the capture had it).
- ``server_choice_bytes``: the server's choice coded by spicepy's encoders
  (separates encoder differences from choice differences).
- ``all_lz_bytes`` / ``all_glz_bytes`` / ``all_quic_bytes``: one codec for all.

The timed part is ``choose_codec`` itself over the capture's images (MPix/s).
``ratio`` is raw 24-bit bytes / ours_bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest
from images import U8, captures_path, fast_paths, image_names
from spicepy.codecs.selector import (
    choose_codec,
    compress,
    graduality,
    graduality_score,
)

from spicepy.capture.images import ImagePayload, decode_payloads, extract_images

# whole-corpus runs through the pure-Python twins take many minutes
pytestmark = pytest.mark.skipif(
    not fast_paths(), reason="selector benchmarks measure the Cython twins"
)

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


# a server choice as the fixed mode that forces it
_FORCE = {"BITMAP": "off", "QUIC": "quic", "LZ_RGB": "lz", "GLZ_RGB": "glz",
          "LZ4": "lz4"}  # fmt: skip


def _totals(entry: dict[str, Any]) -> dict[str, Any]:
    from spicepy.codecs import glz

    mode, wrap = _mode(entry)
    policies = {"ours": mode, "all_lz": "lz", "all_glz": "glz", "all_quic": "quic"}
    windows = {k: glz.Encoder() for k in (*policies, "server_choice")}
    out = dict.fromkeys(("server", "server_choice", *policies), 0)
    agree = pixels = 0
    for p, px in _pictures(entry["name"]):
        img = np.ascontiguousarray(px)
        alpha = p.has_alpha
        drawable = not (p.server_made and p.message == "copy")
        server = _CHOICE.get(p.type_name, p.type_name)
        kw: dict[str, Any] = {"has_alpha": alpha, "drawable": drawable,
                              "zlib_glz": wrap}  # fmt: skip
        ours = compress(img, mode=mode, glz_encoder=windows["ours"], **kw)
        agree += _CHOICE.get(ours.image_type, ours.image_type) == server
        pixels += p.width * p.height
        out["server"] += len(p.data)
        out["ours"] += len(ours.data)
        for name, policy in policies.items():
            if name != "ours":
                out[name] += len(
                    compress(img, mode=policy, glz_encoder=windows[name], **kw).data
                )
        window = windows["server_choice"]
        forced = compress(img, mode=_FORCE[server], glz_encoder=window, **kw)
        out["server_choice"] += len(forced.data)
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


@pytest.mark.parametrize("name", image_names())
def test_graduality(benchmark: Any, bench_images: dict[str, U8], name: str) -> None:
    """The graduality measure alone on a whole frame (the auto modes' cost)."""
    if name not in bench_images:
        pytest.skip(f"image {name} not available")
    img = np.ascontiguousarray(bench_images[name])
    benchmark.group = "graduality"
    level = benchmark(graduality, img)
    pixels = img.shape[0] * img.shape[1]
    benchmark.extra_info.update(codec="selector", image=name, op="graduality",
                                megapixels=round(pixels / 1e6, 4),
                                score=round(graduality_score(img), 4),
                                level=level.value)  # fmt: skip
