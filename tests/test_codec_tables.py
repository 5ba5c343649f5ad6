"""Server-made QUIC, LZ and GLZ streams kept in tests/data, so the tables both
twins share (QUIC's families, J table, trigger and chaos tables; LZ's and GLZ's
length and distance coding) are pinned without the shared corpus.

Each vector was coded by spice-server 0.15.1 (spice-common's QUIC and LZ
encoders, the server's GLZ encoder) during a capture of the corpus; its expected
pixels are the SHA-256 of the decoded B, G, R, A frame (tests/data/README.md).
Both twins must decode every vector to those bytes, and our encoders must give
the server's stream back byte for byte from those pixels.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from spicepy.codecs import _glz_ref, _lz_ref, _quic_ref, glz, lz, quic

DATA = Path(__file__).parent / "data"
VECTORS: list[dict[str, Any]] = json.loads((DATA / "codec_vectors.json").read_text())[
    "vectors"
]


def _fast_twins() -> tuple[ModuleType, ModuleType, ModuleType] | None:
    try:
        from spicepy.codecs import _glz, _lz, _quic
    except ImportError:
        return None
    return _quic, _lz, _glz


@contextmanager
def twins(which: str) -> Iterator[ModuleType]:
    """Route QUIC, LZ and GLZ through one twin; yields that twin's GLZ module."""
    if which == "reference":
        chosen = (_quic_ref, _lz_ref, _glz_ref)
    else:
        fast = _fast_twins()
        if fast is None:
            pytest.skip("fast twin not built")
        chosen = fast
    saved = (quic._impl, lz._impl, glz._backend)
    quic._impl, lz._impl, glz._backend = chosen
    try:
        yield chosen[2]
    finally:
        quic._impl, lz._impl, glz._backend = saved


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _stream(v: dict[str, Any]) -> bytes:
    data = (DATA / v["file"]).read_bytes()
    assert len(data) == v["bytes"] < 100_000
    assert hashlib.sha256(data).hexdigest() == v["stream_sha256"]
    return data


SINGLE = [v for v in VECTORS if v["codec"] in ("QUIC", "LZ_RGB")]
TWINS = ["reference", "fast"]


@pytest.mark.parametrize("which", TWINS)
@pytest.mark.parametrize("v", SINGLE, ids=[v["file"] for v in SINGLE])
def test_single_image_vectors(v: dict[str, Any], which: str) -> None:
    data = _stream(v)
    mod = quic if v["codec"] == "QUIC" else lz
    with twins(which):
        hdr = mod.info(data)
        assert (hdr.image_type, hdr.width, hdr.height) == (
            v["image_type"],
            v["width"],
            v["height"],
        )
        pixels = mod.decode(data)
        assert pixels.shape == (v["height"], v["width"], 4)
        assert _sha(pixels) == v["decoded_sha256"]
        assert mod.encode(pixels, image_type=v["image_type"]) == data


def _glz_parts(v: dict[str, Any]) -> list[tuple[dict[str, Any], bytes]]:
    data = _stream(v)
    return [(p, data[p["offset"] : p["offset"] + p["length"]]) for p in v["images"]]


GLZ = [v for v in VECTORS if v["codec"] == "GLZ_RGB"]


@pytest.mark.parametrize("which", TWINS)
@pytest.mark.parametrize("v", GLZ, ids=[v["file"] for v in GLZ])
def test_glz_sequence_vectors(v: dict[str, Any], which: str) -> None:
    """A server's GLZ images in order through one dictionary (most refer back to
    earlier ones); our encoder, fed the same pixels, gives the same streams."""
    parts = _glz_parts(v)
    with twins(which) as backend:
        d = glz.Dictionary()
        enc = glz.Encoder(_backend=backend)
        for p, s in parts:
            hdr = glz.read_header(s)
            assert (hdr.image_id, hdr.width, hdr.height) == (
                p["image_id"],
                p["width"],
                p["height"],
            )
            pixels = glz.decode(s, dictionary=d)
            assert _sha(pixels) == p["decoded_sha256"], p["image_id"]
            assert enc.encode(pixels, p["image_type"], hdr.top_down) == s
    # the sequence does test the dictionary: most images need earlier ones
    alone = 0
    for _, s in parts:
        try:
            glz.decode(s, dictionary=glz.Dictionary())
            alone += 1
        except glz.GlzMissingImage:
            pass
    assert alone < len(parts) // 2
