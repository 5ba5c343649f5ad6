"""QUIC codec: reference vectors, both twins, round trips and hostile input."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from spicepy.codecs import MAX_IMAGE_PIXELS, CodecError, _quic_ref, decode_image, quic

_quic_fast: ModuleType | None
try:
    from spicepy.codecs import _quic

    _quic_fast = _quic
except ImportError:  # not built: only the reference twin is tested
    _quic_fast = None

TWINS = [pytest.param(_quic_ref, id="reference")]
if _quic_fast is not None:
    TWINS.append(pytest.param(_quic_fast, id="cython"))
TYPES = list(quic.ImageType)


def all_twins() -> list[ModuleType]:
    return [_quic_ref] if _quic_fast is None else [_quic_ref, _quic_fast]


def with_twin(
    mod: ModuleType, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Call fn with quic.py driving ``mod``."""
    saved = quic._impl
    quic._impl = mod
    try:
        return fn(*args, **kwargs)
    finally:
        quic._impl = saved


def header(code: int, width: int, height: int, magic: int = quic.MAGIC) -> bytes:
    return struct.pack("<5I", magic, 0, code, width, height)


def expected(img: np.ndarray, itype: quic.ImageType) -> np.ndarray:
    """What decode(encode(img, itype)) must give, derived from the type's rules."""
    out = img.copy()
    if itype == quic.ImageType.GRAY:
        out[:, :, 1] = out[:, :, 2] = out[:, :, 0]
    elif itype == quic.ImageType.RGB16:
        top = out[:, :, :3] >> 3
        out[:, :, :3] = (top << 3) | (top >> 2)
    if itype != quic.ImageType.RGBA:
        out[:, :, 3] = 0
    return out


def test_fast_path_built() -> None:
    if os.environ.get("SPICEPY_PUREPYTHON", "") not in ("", "0"):
        assert not quic.FAST
    else:
        assert quic.FAST


# ---------------------------------------------------------------- vectors


def _vectors(vectors_dir: Path) -> list[tuple[dict[str, Any], bytes, Path]]:
    found = []
    for meta_path in sorted(vectors_dir.glob("*.quic.json")):
        meta = json.loads(meta_path.read_text())
        stem = meta_path.name[: -len(".quic.json")]
        data = (vectors_dir / f"{stem}.quic.bin").read_bytes()
        found.append((meta, data, vectors_dir / f"{stem}.png"))
    if not found:
        pytest.skip("no QUIC vectors")
    return found


def _png_bgrx(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    out = np.zeros(rgb.shape[:2] + (4,), dtype=np.uint8)
    out[:, :, :3] = rgb[:, :, ::-1]
    return out


def _twins_for(meta: dict[str, Any]) -> list[ModuleType]:
    # the pure-Python twin takes a few seconds on the desktop images; the
    # smooth gradient (no runs) would take ~12 s, so only the fast path does it
    if meta["image"] == "gradient" and _quic_fast is not None:
        return [_quic_fast]
    return all_twins()


def test_vectors_decode(vectors_dir: Path) -> None:
    for meta, data, png in _vectors(vectors_dir):
        pixels = _png_bgrx(png)
        info = quic.info(data)
        assert (info.codec, info.image_type) == ("quic", "RGB32")
        assert (info.width, info.height) == (meta["width"], meta["height"])
        for mod in _twins_for(meta):
            got = with_twin(mod, quic.decode, data)
            assert np.array_equal(got, pixels), (meta["image"], mod.__name__)
            assert hashlib.sha256(got.tobytes()).hexdigest() == meta["decoded_sha256"]


def test_vectors_encode_byte_identical(vectors_dir: Path) -> None:
    """Our encoder re-creates spice-common's streams exactly (so within 2 % too)."""
    for meta, data, png in _vectors(vectors_dir):
        pixels = _png_bgrx(png)
        for mod in _twins_for(meta):
            stream = with_twin(mod, quic.encode, pixels, image_type="RGB32")
            assert len(stream) <= meta["stream_bytes"] * 1.02
            assert hashlib.sha256(stream).hexdigest() == meta["stream_sha256"]
            assert stream == data


def test_decode_into_out(vectors_dir: Path) -> None:
    meta, data, png = _vectors(vectors_dir)[0]
    out = np.full((meta["height"], meta["width"], 4), 7, dtype=np.uint8)
    assert quic.decode(data, out=out) is out
    assert np.array_equal(out, _png_bgrx(png))
    with pytest.raises(ValueError):
        quic.decode(data, out=np.empty((2, 2, 4), dtype=np.uint8))
    with pytest.raises(CodecError):
        quic.decode(data, max_pixels=1000)


# ---------------------------------------------------------------- round trips


def images(max_w: int = 40, max_h: int = 10) -> st.SearchStrategy[np.ndarray]:
    """Small BGRA images, often drawn from a few colours so run mode is exercised."""

    @st.composite
    def build(draw: st.DrawFn) -> np.ndarray:
        h = draw(st.integers(1, max_h))
        w = draw(st.integers(1, max_w))
        if draw(st.booleans()):
            return draw(hnp.arrays(np.uint8, (h, w, 4)))
        colours = draw(hnp.arrays(np.uint8, (draw(st.integers(1, 3)), 4)))
        idx = draw(hnp.arrays(np.uint8, (h, w), elements=st.integers(0, 2)))
        picked: np.ndarray = colours[idx % len(colours)]
        return picked

    return build()


@settings(max_examples=60, deadline=None)
@given(img=images(), itype=st.sampled_from(TYPES))
def test_round_trip_both_twins(img: np.ndarray, itype: quic.ImageType) -> None:
    streams = [with_twin(m, quic.encode, img, image_type=itype) for m in all_twins()]
    assert all(s == streams[0] for s in streams)
    want = expected(img, itype)
    for mod in all_twins():
        got = with_twin(mod, quic.decode, streams[0])
        assert np.array_equal(got, want)
        info = quic.info(streams[0])
        assert (info.image_type, info.width, info.height) == (
            itype.name,
            img.shape[1],
            img.shape[0],
        )


def test_round_trip_wide_rows_cross_wait_mask_steps() -> None:
    """Rows longer than 2048 samples step the wait-mask index mid-row."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 4, (3, 2500, 4), dtype=np.uint8) * 60
    img[1, 100:900] = img[1, 99]  # a long run
    for itype in TYPES:
        streams = [
            with_twin(m, quic.encode, img, image_type=itype) for m in all_twins()
        ]
        assert all(s == streams[0] for s in streams)
        for mod in all_twins():
            got = with_twin(mod, quic.decode, streams[0])
            assert np.array_equal(got, expected(img, itype))


def test_encode_rejects_bad_arguments() -> None:
    img = np.zeros((2, 2, 4), dtype=np.uint8)
    with pytest.raises(ValueError):
        quic.encode(img, image_type="RGB8")
    with pytest.raises(ValueError):
        quic.encode(img[:, :, :3])
    with pytest.raises(ValueError):
        quic.encode(img.astype(np.uint16))
    with pytest.raises(ValueError):
        quic.encode(np.zeros((0, 2, 4), dtype=np.uint8))


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"QUIC",
        header(4, 4, 4)[:19],
        header(4, 4, 4, magic=0x12345678) + bytes(64),
        struct.pack("<5I", quic.MAGIC, 1, 4, 4, 4) + bytes(64),
        header(0, 4, 4) + bytes(64),
        header(6, 4, 4) + bytes(64),
        header(4, 0, 4) + bytes(64),
        header(4, 4, 0) + bytes(64),
        header(4, 0xFFFFFFFF, 1) + bytes(64),
        header(4, 40000, 40000) + bytes(64),
        # far more pixels than 64 bytes can describe
        header(1, 1000, 1000) + bytes(64),
    ],
)
def test_bad_headers(data: bytes) -> None:
    for mod in all_twins():
        with pytest.raises(CodecError):
            with_twin(mod, quic.decode, data)
    with pytest.raises(CodecError):
        quic.info(data)


def test_size_bound_is_sound() -> None:
    """min_stream_bits never exceeds what a real stream spends: solid images
    (one long run per row) are the cheapest there are."""
    for itype in TYPES:
        for w, h in [(1, 1), (3, 5), (4, 7), (200, 50), (2049, 3)]:
            img = np.full((h, w, 4), 9, dtype=np.uint8)
            stream = quic.encode(img, image_type=itype)
            body_bits = 8 * (len(stream) - quic.HEADER_SIZE)
            assert quic.min_stream_bits(itype, w, h) <= body_bits
            assert np.array_equal(quic.decode(stream), expected(img, itype))


def _outcome(mod: ModuleType, data: bytes) -> bytes | str:
    try:
        return bytes(with_twin(mod, quic.decode, data))
    except CodecError as exc:
        return type(exc).__name__


@settings(max_examples=80, deadline=None)
@given(
    itype=st.sampled_from(TYPES),
    w=st.integers(1, 12),
    h=st.integers(1, 6),
    body=st.binary(min_size=0, max_size=200),
)
def test_random_payloads(itype: quic.ImageType, w: int, h: int, body: bytes) -> None:
    data = header(itype, w, h) + body
    outcomes = [_outcome(m, data) for m in all_twins()]
    assert all(o == outcomes[0] for o in outcomes)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=64), magic=st.booleans())
def test_arbitrary_bytes(data: bytes, magic: bool) -> None:
    """Any bytes give a picture or a CodecError from both twins and info()."""
    if magic:
        data = struct.pack("<I", quic.MAGIC) + data
    outcomes = [_outcome(m, data) for m in all_twins()]
    assert all(o == outcomes[0] for o in outcomes)
    try:
        info = quic.info(data)
    except CodecError:
        assert isinstance(outcomes[0], str)
    else:
        assert info.width * info.height <= MAX_IMAGE_PIXELS


@settings(max_examples=60, deadline=None)
@given(img=images(max_w=16, max_h=5), itype=st.sampled_from(TYPES), data=st.data())
def test_truncated_and_flipped(
    img: np.ndarray, itype: quic.ImageType, data: st.DataObject
) -> None:
    stream = quic.encode(img, image_type=itype)
    # the stream ends with one zero word after the last coded bits: losing two
    # words always loses coded bits
    cut = data.draw(st.integers(0, max(0, len(stream) - 8)))
    for mod in all_twins():
        with pytest.raises(CodecError):
            with_twin(mod, quic.decode, stream[:cut])
    bit = data.draw(st.integers(8 * quic.HEADER_SIZE, 8 * len(stream) - 1))
    flipped = bytearray(stream)
    flipped[bit // 8] ^= 1 << (bit % 8)
    outcomes = [_outcome(m, bytes(flipped)) for m in all_twins()]
    assert all(o == outcomes[0] for o in outcomes)


def test_run_past_row_end_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream whose run is longer than what is left of its row (encoded by
    the reference encoder with its run lengths inflated) is rejected."""

    class LongRuns(_quic_ref.Writer):
        def run(self, st: _quic_ref.State, run: int) -> None:
            super().run(st, run + 3)

    img = np.zeros((3, 8, 4), dtype=np.uint8)
    for itype in TYPES:
        stream = header(itype, 8, 3) + _quic_ref.encode_body(int(itype), img)
        with monkeypatch.context() as m:
            m.setattr(_quic_ref, "Writer", LongRuns)
            bad = header(itype, 8, 3) + _quic_ref.encode_body(int(itype), img)
        assert bad != stream
        for mod in all_twins():
            assert np.array_equal(with_twin(mod, quic.decode, stream), img)
            with pytest.raises(CodecError, match="run past the end"):
                with_twin(mod, quic.decode, bad)


# ---------------------------------------------------------------- captures


def test_capture_images_decode_and_reencode(captures_dir: Path) -> None:
    """Every QUIC image spice-server sent in the capture corpus decodes (small
    ones through both twins, identically), and our encoder, fed the decoded
    pixels, gives back the server's stream byte for byte."""
    from spicepy.capture.images import extract_images
    from spicepy.wire.enums import ImageType as SpiceImageType

    entries = json.loads((captures_dir / "manifest.json").read_text())["captures"]
    fast = _quic_fast or _quic_ref  # without the build, only small images
    total = ref_checked = 0
    for entry in entries:
        if "QUIC" not in entry["inventory"]["image_types"]:
            continue
        payloads = extract_images(captures_dir / entry["files"]["pcap"])
        quics = [p for p in payloads if p.type == SpiceImageType.QUIC]
        assert len(quics) == entry["inventory"]["image_types"]["QUIC"], entry["name"]
        for p in quics:
            info = quic.info(p.data)
            assert (info.width, info.height) == (p.width, p.height)
            if fast is _quic_ref and p.width * p.height > 20_000:
                continue
            img = with_twin(fast, quic.decode, p.data)
            if img.size <= 4 * 4096 and ref_checked < 40:
                assert np.array_equal(with_twin(_quic_ref, quic.decode, p.data), img)
                ref_checked += 1
            ours = with_twin(fast, quic.encode, img, image_type=info.image_type)
            assert ours == p.data
            total += 1
    assert total > 0 and ref_checked > 0


@settings(max_examples=40)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(4))),
    st.integers(0, 7),
    st.integers(0, 9),
)
def test_decode_reads_views_in_place_like_bytes(
    img: np.ndarray, before: int, after: int
) -> None:
    # a wire payload is a view into its message: decode and info take it as
    # it is (no copy), a word-typed or strided view too, with bytes' results
    data = quic.encode(img, image_type="RGBA")
    message = bytes(range(before)) + data + bytes(after)
    view = memoryview(message)[before : before + len(data)]
    padded = data + bytes(-len(data) % 4)
    spaced = np.zeros(2 * len(data), np.uint8)
    spaced[::2] = np.frombuffer(data, np.uint8)
    views: list[Any] = [
        view,
        bytearray(data),
        memoryview(padded).cast("I"),
        memoryview(spaced[::2]),  # not contiguous: copied
    ]
    for m in all_twins():
        want = with_twin(m, quic.decode, data)
        for v in views:
            np.testing.assert_array_equal(with_twin(m, quic.decode, v), want)
        assert quic.info(view) == quic.info(data)
    np.testing.assert_array_equal(
        decode_image(1, view, width=img.shape[1], height=img.shape[0]).pixels, want
    )
    with pytest.raises(CodecError):  # a view cut short is still refused
        quic.decode(view[: len(data) // 2])
