"""ZLIB_GLZ_RGB: GLZ inside a zlib stream of exactly ``glz_size`` bytes."""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from spicepy.codecs import glz, zlib_glz
from spicepy.codecs._common import CodecError


def _image(seed: int, h: int = 16, w: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 4, (h, w, 4), dtype=np.uint8)
    img[..., 3] = 0
    return img


def test_round_trip_sequence_shares_dictionary() -> None:
    enc = glz.Encoder()
    d = glz.Dictionary()
    base = _image(1)
    for i in range(4):
        img = np.ascontiguousarray(np.roll(base, i, axis=1))
        data, glz_size = zlib_glz.encode(img, encoder=enc)
        raw = zlib.decompress(data)
        assert len(raw) == glz_size and glz.read_header(raw).image_id == i
        assert np.array_equal(
            zlib_glz.decode(data, glz_size=glz_size, dictionary=d), img
        )
    assert d.ids() == [0, 1, 2, 3]


@given(
    arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(4))),
    st.integers(0, 9),
)
def test_round_trip_rgba_any_level(img: np.ndarray, level: int) -> None:
    data, glz_size = zlib_glz.encode(
        img, encoder=glz.Encoder(), level=level, image_type="RGBA"
    )
    got = zlib_glz.decode(data, glz_size=glz_size, dictionary=glz.Dictionary())
    assert np.array_equal(got, img)


def test_vector_wrapped(vectors_dir: Path) -> None:
    """The reference GLZ vector inside zlib decodes to the reference pixels
    stored beside it (the source PNG, and the frame's SHA-256 in the JSON)."""
    raw = (vectors_dir / "desktop.glz_rgb32.bin").read_bytes()
    meta = json.loads((vectors_dir / "desktop.glz_rgb32.json").read_text())
    d = glz.Dictionary()
    got = zlib_glz.decode(zlib.compress(raw, 3), glz_size=len(raw), dictionary=d)
    assert hashlib.sha256(got.tobytes()).hexdigest() == meta["decoded_sha256"]
    with Image.open(vectors_dir / "desktop.png") as im:
        rgb = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(got[:, :, 2::-1], rgb)
    assert not got[:, :, 3].any()


def _valid() -> tuple[bytes, int]:
    return zlib_glz.encode(_image(2), encoder=glz.Encoder())


def test_size_field_must_match() -> None:
    data, n = _valid()
    for wrong in (n - 1, n + 1, 0, glz.HEADER_SIZE - 1, 1 << 40):
        with pytest.raises(CodecError):
            zlib_glz.decode(data, glz_size=wrong, dictionary=glz.Dictionary())


def test_bomb_is_refused_without_inflating_it() -> None:
    # 64 MiB of zeros in ~64 KiB: must be refused after glz_size + 1 bytes.
    bomb = zlib.compress(b"\0" * (64 << 20), 9)
    with pytest.raises(CodecError):
        zlib_glz.decode(bomb, glz_size=1000, dictionary=glz.Dictionary())
    with pytest.raises(CodecError):  # glz_size itself beyond what max_pixels allows
        zlib_glz.decode(
            bomb, glz_size=64 << 20, dictionary=glz.Dictionary(), max_pixels=16
        )


def test_truncated_and_corrupt_zlib() -> None:
    data, n = _valid()
    for bad in (data[:-1], data[:-4], data[: len(data) // 2], b"", b"garbage!" * 4):
        with pytest.raises(CodecError):
            zlib_glz.decode(bad, glz_size=n, dictionary=glz.Dictionary())
    # a valid zlib stream of a GLZ stream whose header claims one more row
    raw = zlib.decompress(data)
    taller = raw[:13] + (glz.read_header(raw).height + 1).to_bytes(4, "big") + raw[17:]
    with pytest.raises(CodecError):
        zlib_glz.decode(zlib.compress(taller), glz_size=n, dictionary=glz.Dictionary())


@given(st.binary(max_size=300), st.integers(0, 400))
def test_garbage_raises_codec_error(data: bytes, glz_size: int) -> None:
    with pytest.raises(CodecError):
        zlib_glz.decode(data, glz_size=glz_size, dictionary=glz.Dictionary())


def test_inflate_exact() -> None:
    payload = bytes(range(256)) * 3
    assert zlib_glz.inflate(zlib.compress(payload), len(payload), 10_000) == payload


@pytest.mark.parametrize(
    "size",
    [
        glz.HEADER_SIZE + 1,
        zlib_glz._CHUNK - 1,
        zlib_glz._CHUNK,
        zlib_glz._CHUNK + 1,
        3 * zlib_glz._CHUNK + 5,
    ],  # fmt: skip
)
def test_inflate_in_steps_exact_and_one_byte_off(size: int) -> None:
    """One step or several (``_CHUNK`` bytes each): exactly the bytes, and a
    size one off either way is refused with its own reason."""
    payload = np.random.default_rng(size).integers(0, 4, size, np.uint8).tobytes()
    data = zlib.compress(payload)
    assert zlib_glz.inflate(data, size, 1 << 30) == payload
    with pytest.raises(CodecError, match="more bytes than glz_size"):
        zlib_glz.inflate(data, size - 1, 1 << 30)
    with pytest.raises(CodecError, match="fewer bytes than glz_size"):
        zlib_glz.inflate(data, size + 1, 1 << 30)
    with pytest.raises(CodecError, match="not terminated"):
        zlib_glz.inflate(data[:-1], size, 1 << 30)


class _CountingInflater:
    """zlib's decompressobj, counting the bytes it gives out."""

    made: list[_CountingInflater] = []

    def __init__(self, real: Any) -> None:
        self._z = real()
        self.produced = 0
        _CountingInflater.made.append(self)

    def decompress(self, data: Any, max_length: int = 0) -> bytes:
        out: bytes = self._z.decompress(data, max_length)
        self.produced += len(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._z, name)


def test_image_inflated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ZLIB_GLZ image costs one inflater and glz_size bytes of output, through
    zlib_glz.decode and through decode_image (no second pass, no header peeks)."""
    from spicepy.codecs.image import decode_image

    real = zlib.decompressobj
    img = _image(5, 40, 50)
    data, n = zlib_glz.encode(img, encoder=glz.Encoder())
    monkeypatch.setattr(zlib, "decompressobj", lambda: _CountingInflater(real))
    for run in (
        lambda: zlib_glz.decode(data, glz_size=n, dictionary=glz.Dictionary()),
        lambda: (
            decode_image(
                107, data, width=50, height=40, glz_size=n, dictionary=glz.Dictionary()
            ).pixels
        ),
    ):
        _CountingInflater.made.clear()
        assert np.array_equal(run(), img)
        assert [z.produced for z in _CountingInflater.made] == [n]
