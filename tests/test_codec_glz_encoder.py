"""The GLZ encoder against spice-server's own encoder, byte for byte.

tests/data/glz_encoder_cases.bin holds inputs made to reach the
encoder's decisions (hash-bucket collisions, runs at the length-byte limits,
literal runs past 32, pixel distances past 2**12 and 2**17, matches to images
1..300 back, short matches whose reference costs more than they save, runs
and matches at the last positions the loop tries, a hashed 4-pixel image, a
window that evicts, bottom-up rows, every encodable type, several types in one
dictionary) and
the streams spice-server's glz_encode gives for them, in order, through one
dictionary (tests/data/README.md says how they were made). The server's choice
among valid codings is what ours must repeat, so only exact bytes can tell a
wrong compression decision from a right one; the streams also decode back to
the input, which ties the server's bytes to the pixels.
"""

from __future__ import annotations

import json
import struct
import zlib
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from spicepy.codecs import _glz_ref, glz

_glz_fast: ModuleType | None
try:
    from spicepy.codecs import _glz as _glz_fast
except ImportError:  # pragma: no cover - depends on the build
    _glz_fast = None

DATA = Path(__file__).parent / "data"
BACKENDS = [pytest.param(_glz_ref, id="reference")]
if _glz_fast is not None:
    BACKENDS.insert(0, pytest.param(_glz_fast, id="cython"))


@cache
def _data() -> tuple[list[dict[str, Any]], bytes]:
    """The cases (a JSON index after its u32 length) and the bytes they point into."""
    raw = zlib.decompress((DATA / "glz_encoder_cases.bin").read_bytes())
    (n,) = struct.unpack_from("<I", raw)
    return json.loads(raw[4 : 4 + n])["cases"], raw[4 + n :]


CASES = _data()[0]


def _inputs(case: dict[str, Any]) -> list[tuple[str, np.ndarray, bytes]]:
    """(image type, encoder input, the server's stream) of each image."""
    blob = _data()[1]
    out = []
    for itype, shape, dtype, ofs, size, sofs, ssize in case["images"]:
        dt = np.dtype(dtype)
        arr = np.frombuffer(blob, dt, size // dt.itemsize, ofs).reshape(shape)
        out.append((itype, arr, blob[sofs : sofs + ssize]))
    return out


def _expected_pixels(itype: str, arr: np.ndarray) -> np.ndarray:
    """What a client decodes for the input: B, G, R, X (X = 0, A for RGBA);
    RGB16 widened as spice-gtk does (top bits replicated); PLT8 through the
    identity palette below."""
    if itype in ("RGB32", "RGB24"):
        want = arr.copy()
        want[..., 3] = 0
        return want
    if itype == "RGBA":
        return arr
    if itype == "RGB16":
        c = [(arr >> s) & 31 for s in (0, 5, 10)]
        chans = [((v << 3) | (v >> 2)).astype(np.uint8) for v in c]
        return np.stack(chans + [np.zeros_like(chans[0])], axis=-1)
    return (
        np.ascontiguousarray(arr.astype(np.uint32))
        .view(np.uint8)
        .reshape(arr.shape + (4,))
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_encoder_gives_the_servers_streams(
    case: dict[str, Any], backend: ModuleType
) -> None:
    enc = glz.Encoder(case["window"], _backend=backend)
    for i, (itype, arr, stream) in enumerate(_inputs(case)):
        ours = enc.encode(arr, itype, case["top_down"])
        if ours != stream:  # say where the codings part
            at = next(
                (
                    k
                    for k, (a, b) in enumerate(zip(ours, stream, strict=False))
                    if a != b
                ),
                min(len(ours), len(stream)),
            )
            pytest.fail(
                f"image {i}: {len(ours)} bytes, the server's {len(stream)}; "
                f"first difference at byte {at}"
            )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_servers_streams_decode_to_the_input(case: dict[str, Any]) -> None:
    d = glz.Dictionary()
    for itype, arr, stream in _inputs(case):
        palette = np.arange(256, dtype=np.uint32) if itype == "PLT8" else None
        got = glz.decode(stream, dictionary=d, palette=palette)
        assert np.array_equal(got, _expected_pixels(itype, arr))


# Values either side of every size class of the match coding (glz-encode-match).
_IMAGE_DISTS = [0, 1, 63, 64, 255, 256, 0x3FFF, 0x4000, 0xFFFF, 0x10000]
_IMAGE_DISTS += [0x3FFFFF, 0x400000, (1 << 24) - 1]
_PIX_DISTS = [1, 15, 16, 0xFFF, 0x1000, 0x1FFFF, 0x20000, (1 << 25) - 1]


def test_ref_size_is_what_a_match_costs_apart_from_its_length() -> None:
    """get_encode_ref_size decides whether a short match is worth its bytes: it
    must be the bytes encode_match writes for a match whose length fits the
    control byte (lengths below 7 add no byte)."""
    for image_dist in _IMAGE_DISTS:
        for pix_dist in _PIX_DISTS:
            out = bytearray()
            _glz_ref._encode_match(out, image_dist, pix_dist, 1)
            assert _glz_ref._ref_size(image_dist, pix_dist) == len(out), (
                image_dist,
                pix_dist,
            )
