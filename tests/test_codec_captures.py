"""Every image payload of every capture decodes, identically on both codec twins.

Payloads come from ``spicepy.capture.images`` in stream order; GLZ and
ZLIB_GLZ images go through one ``glz.Dictionary`` per capture. The pure-Python
QUIC twin runs at about 0.25 MPix/s, so on that twin QUIC images are sampled
(the images that fit in ``SLOW_QUIC_PIXELS`` per capture, in stream order); LZ,
GLZ and everything else is decoded in full on both twins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from spicepy.codecs import CodecError, _glz_ref, _lz_ref, _quic_ref, glz, lz, quic

from spicepy.capture.images import (
    ImagePayload,
    decode_payload,
    decode_payloads,
    extract_images,
)
from spicepy.errors import WireError
from spicepy.wire.enums import ImageType

U8 = np.ndarray
#: QUIC pixels the pure-Python twin decodes per capture (~0.4 s each)
SLOW_QUIC_PIXELS = 100_000


def _entries(captures_dir: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        (captures_dir / "manifest.json").read_text()
    )["captures"]
    return entries


def _all_fast() -> bool:
    return bool(lz.FAST and glz.FAST and quic.FAST)


@contextmanager
def reference_twins() -> Iterator[None]:
    """Route LZ, GLZ (and ZLIB_GLZ, JPEG_ALPHA's alpha) and QUIC to the Python twins."""
    saved = (lz._impl, glz._backend, quic._impl)
    lz._impl, glz._backend, quic._impl = _lz_ref, _glz_ref, _quic_ref
    try:
        yield
    finally:
        lz._impl, glz._backend, quic._impl = saved


def _quic_sampler() -> Any:
    """``want`` for decode_payloads: QUIC images up to SLOW_QUIC_PIXELS per capture
    when the QUIC twin in use is pure Python; everything else always."""
    used: dict[str, int] = {}

    def want(p: ImagePayload) -> bool:
        if p.type != ImageType.QUIC or (quic._impl is not _quic_ref):
            return True
        n = p.width * p.height
        if used.get(p.capture, 0) + n > SLOW_QUIC_PIXELS:
            return False
        used[p.capture] = used.get(p.capture, 0) + n
        return True

    return want


def _decodable(p: ImagePayload) -> bool:
    return p.is_codec or p.type == ImageType.BITMAP


def test_every_payload_decodes_to_its_declared_size(captures_dir: Path) -> None:
    """No payload of any capture fails (QUIC sampled when its twin is pure Python)."""
    want = _quic_sampler()
    decoded = expected = 0
    for entry in _entries(captures_dir):
        payloads = extract_images(captures_dir / entry["files"]["pcap"])
        for p, pixels in decode_payloads(payloads, want=want):
            expected += _decodable(p) and p.type != ImageType.QUIC
            if pixels is None:
                assert not _decodable(p) or p.type == ImageType.QUIC
                continue
            assert pixels.shape == (p.height, p.width, 4), (entry["name"], p.index)
            assert pixels.dtype == np.uint8
            decoded += 1
    assert decoded >= expected > 0


def _outcomes(payloads: list[ImagePayload], want: Any) -> dict[int, np.ndarray | str]:
    """Each decodable payload's pixels, or the name of the error it raised.

    GLZ images are always decoded (later ones refer to them); others only when
    ``want`` takes them.  An error is an outcome, not a skip: the twins must
    agree on it too.
    """
    dictionary = glz.Dictionary()
    out: dict[int, np.ndarray | str] = {}
    for p in payloads:
        glz_type = p.type in (ImageType.GLZ_RGB, ImageType.ZLIB_GLZ_RGB)
        if not _decodable(p) or not (glz_type or want(p)):
            continue
        try:
            out[p.index] = decode_payload(p, dictionary)
        except (CodecError, WireError) as exc:
            out[p.index] = type(exc).__name__
    return out


def _among(indices: set[int]) -> Callable[[ImagePayload], bool]:
    return lambda p: p.index in indices


def test_python_twins_match_cython(captures_dir: Path) -> None:
    """Same outcome from the Cython and the pure-Python paths, payload by payload:
    the same pixels, or both refusing it; a payload one twin alone decodes fails."""
    if not _all_fast():
        pytest.skip("the Cython twins are not built (or SPICEPY_PUREPYTHON is set)")
    want = _quic_sampler()
    compared: dict[str, int] = {}
    for entry in _entries(captures_dir):
        payloads = list(extract_images(captures_dir / entry["files"]["pcap"]))
        with reference_twins():
            slow = _outcomes(payloads, want)
        fast = _outcomes(payloads, _among(set(slow)))
        assert sorted(fast) == sorted(slow), entry["name"]
        for p in payloads:
            if p.index not in slow:
                continue
            where = f"{entry['name']} #{p.index} ({p.type_name})"
            a, b = slow[p.index], fast[p.index]
            if isinstance(a, str) or isinstance(b, str):
                assert isinstance(a, str) and isinstance(b, str), (where, a, b)
                assert a == b, where
                continue
            np.testing.assert_array_equal(a, b, err_msg=where)
            compared[p.type_name] = compared.get(p.type_name, 0) + 1
    # every lossless codec of the corpus was compared at least once
    for t in ("LZ_RGB", "GLZ_RGB", "ZLIB_GLZ_RGB", "QUIC"):
        if any(e["inventory"]["image_types"].get(t) for e in _entries(captures_dir)):
            assert compared.get(t, 0) > 0, (t, compared)
