"""LZ codec: reference vectors, both twins, round trips and hostile input."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from spicepy.codecs import CodecError, _lz_ref, decode_image, lz

try:
    from spicepy.codecs import _lz as _lz_fast  # type: ignore[attr-defined]
    from spicepy.codecs import _lz_enc as _lz_enc_fast  # type: ignore[attr-defined]
except ImportError:  # not built: only the reference twin is tested
    _lz_fast = _lz_enc_fast = None

TWINS = [pytest.param(_lz_ref, id="reference")]
if _lz_fast is not None:
    TWINS.append(pytest.param(_lz_fast, id="cython"))


@pytest.fixture(params=TWINS)
def twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Run the test with lz.py driving one twin."""
    monkeypatch.setattr(lz, "_impl", request.param)
    monkeypatch.setattr(lz, "_enc", _encoder(request.param))
    return request.param  # type: ignore[no-any-return]


def _encoder(twin: ModuleType) -> ModuleType:
    """The encoder twin that goes with a decoder twin."""
    return _lz_ref if twin is _lz_ref else _lz_enc_fast  # type: ignore[return-value]


def with_twin(mod: ModuleType, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call fn with lz.py driving ``mod`` (for hypothesis tests, no fixtures)."""
    saved = lz._impl, lz._enc
    lz._impl, lz._enc = mod, _encoder(mod)
    try:
        return fn(*args, **kwargs)
    finally:
        lz._impl, lz._enc = saved


def all_twins() -> list[ModuleType]:
    return [_lz_ref] if _lz_fast is None else [_lz_ref, _lz_fast]


def header(code: int, width: int, height: int, stride: int, top_down: int = 1) -> bytes:
    return struct.pack(
        ">7I", 0x20205A4C, 0x00010001, code, width, height, stride, top_down
    )


def test_fast_path_built() -> None:
    """Both compiled twins (decoder ``_lz``, encoder ``_lz_enc``) run unless
    SPICEPY_PUREPYTHON asks for the reference."""
    if os.environ.get("SPICEPY_PUREPYTHON", "") not in ("", "0"):
        assert not lz.FAST and lz._enc is _lz_ref
    else:
        assert lz.FAST and lz._impl is _lz_fast and lz._enc is _lz_enc_fast


# ---------------------------------------------------------------- vectors


def _vectors(vectors_dir: Path) -> list[tuple[dict[str, object], bytes, Path]]:
    found = []
    for meta_path in sorted(vectors_dir.glob("*.lz_*.json")):
        meta = json.loads(meta_path.read_text())
        stem = meta_path.name[: -len(".json")]
        data = (vectors_dir / f"{stem}.bin").read_bytes()
        found.append((meta, data, vectors_dir / stem))
    if not found:
        pytest.skip("no LZ vectors")
    return found


def _palette(stem: Path) -> np.ndarray | None:
    pal = stem.with_name(stem.name + ".palette.bin")
    return np.frombuffer(pal.read_bytes(), dtype="<u4") if pal.exists() else None


def _png_bgrx(path: Path) -> np.ndarray:
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"))
    out = np.zeros(rgb.shape[:2] + (4,), dtype=np.uint8)
    out[:, :, :3] = rgb[:, :, ::-1]
    return out


def test_vectors_decode_exactly(vectors_dir: Path, twin: ModuleType) -> None:
    for meta, data, stem in _vectors(vectors_dir):
        assert hashlib.sha256(data).hexdigest() == meta["stream_sha256"]
        img = lz.decode(data, palette=_palette(stem))
        assert img.shape == (meta["height"], meta["width"], 4)
        assert hashlib.sha256(img.tobytes()).hexdigest() == meta["decoded_sha256"], stem


def test_vectors_info(vectors_dir: Path) -> None:
    for meta, data, _stem in _vectors(vectors_dir):
        info = lz.info(data)
        assert (info.width, info.height, info.top_down) == (
            meta["width"],
            meta["height"],
            True,
        )
        assert info.image_type == str(meta["codec"]).split("_")[-1].upper()


def _encode_vector(meta: dict[str, object], stem: Path) -> bytes:
    img = _png_bgrx(stem.parent / f"{meta['image']}.png")
    kind = str(meta["codec"]).split("_")[-1].upper()
    if kind == "PLT8":
        pal = _palette(stem)
        assert pal is not None
        lookup = {int(v): i for i, v in enumerate(pal)}
        flat = img.reshape(-1, 4).view("<u4").reshape(-1)
        uniq, inverse = np.unique(flat, return_inverse=True)
        idx = np.array([lookup[int(v)] for v in uniq], dtype=np.uint8)[inverse]
        return lz.encode(idx.reshape(img.shape[:2]), image_type="PLT8")
    if kind == "RGB24":
        return lz.encode(np.ascontiguousarray(img[:, :, :3]), image_type="RGB24")
    return lz.encode(img, image_type=kind)


def test_vectors_encode_like_reference(vectors_dir: Path) -> None:
    """Our encoder (fast twin when built) reproduces the reference streams."""
    for meta, data, stem in _vectors(vectors_dir):
        ours = _encode_vector(meta, stem)
        assert ours == data, stem


def test_vector_twins_encode_identically(vectors_dir: Path) -> None:
    if _lz_fast is None:
        pytest.skip("fast twin not built")
    meta, data, stem = next(
        v for v in _vectors(vectors_dir) if "desktop.lz_rgb32" in str(v[2])
    )
    ref = with_twin(_lz_ref, _encode_vector, meta, stem)
    assert ref == data


# ---------------------------------------------------------------- hand-made streams


def test_handmade_literals_and_run(twin: ModuleType) -> None:
    # 1 literal pixel (ctrl 0, B,G,R), then a match of 4 at offset 1 (ctrl 4<<5, 0)
    data = header(8, 5, 1, 20) + bytes([0, 1, 2, 3, 4 << 5, 0])
    img = lz.decode(data)
    assert img.reshape(-1, 4).tolist() == [[1, 2, 3, 0]] * 5


def test_handmade_plt4_and_bottom_up(twin: ModuleType) -> None:
    # 3x2 PLT4_BE, stride 2 (one padding nibble), rows stored bottom first:
    # one literal run of 4 bytes: row "bottom" = 0x12 0x30, row "top" = 0x21 0x00
    data = header(4, 3, 2, 2, top_down=0) + bytes([3, 0x12, 0x30, 0x21, 0x00])
    pal = [0x000000, 0x0000FF, 0x00FF00, 0xFF0000]
    img = lz.decode(data, palette=pal)
    blue, green, red, black = [255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0] * 4
    assert img.tolist() == [[green, blue, black], [blue, green, red]]


def test_handmade_plt1_and_plt4_le_bit_order(twin: ModuleType) -> None:
    # lz_plt1_le_to_rgb32: bit 0 is the first pixel; plt4_le: low nibble first
    pal = [0x000001, 0x000002, 0x000003]
    plt1 = lz.decode(header(1, 8, 1, 1) + bytes([0, 0b00000101]), palette=pal)
    assert plt1[0, :, 0].tolist() == [2, 1, 2, 1, 1, 1, 1, 1]
    plt1_be = lz.decode(header(2, 8, 1, 1) + bytes([0, 0b00000101]), palette=pal)
    assert plt1_be[0, :, 0].tolist() == [1, 1, 1, 1, 1, 2, 1, 2]
    plt4 = lz.decode(header(3, 2, 1, 1) + bytes([0, 0x21]), palette=pal)
    assert plt4[0, :, 0].tolist() == [2, 3]


def test_handmade_rgb16_expansion(twin: ModuleType) -> None:
    # one x555 pixel, hi byte first: r=31, g=0b10101, b=1 -> 0x7EA1
    data = header(6, 1, 1, 2) + bytes([0, 0x7E, 0xA1])
    b, g, r, x = lz.decode(data)[0, 0].tolist()
    assert (r, g, b, x) == ((31 << 3) | 7, (0b10101 << 3) | 0b101, (1 << 3) | 0, 0)


def test_far_offset_form(twin: ModuleType) -> None:
    # 9000 literal bytes of A8 (ctrl 31 blocks), then a far match (offset 8192+...)
    n = 9000
    rng = np.random.default_rng(5)
    body = bytearray()
    lits = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    for i in range(0, n, 32):
        chunk = lits[i : i + 32]
        body.append(len(chunk) - 1)
        body += chunk
    # copy 4 bytes from 8500 back: offset field = 8500 - 1 - 8191 as u16 after 31/255
    dist = 8500
    body += bytes([(2 << 5) | 31, 255]) + struct.pack(">H", dist - 1 - 8191)
    data = header(11, n + 4, 1, n + 4) + bytes(body)
    img = lz.decode(data)
    alpha = img[0, :, 3]
    assert alpha[:n].tobytes() == lits
    assert alpha[n:].tobytes() == lits[n - dist : n - dist + 4]
    assert not img[:, :, :3].any()


# ---------------------------------------------------------------- round trips


def _expected(image: np.ndarray, image_type: str, pal: np.ndarray | None) -> np.ndarray:
    """What decode must give for ``image`` encoded as ``image_type``."""
    h, w = image.shape[:2]
    out = np.zeros((h, w, 4), dtype=np.uint8)
    if image_type.startswith("PLT"):
        assert pal is not None
        rgb = pal[image]
        out[:, :, 0] = rgb & 255
        out[:, :, 1] = (rgb >> 8) & 255
        out[:, :, 2] = (rgb >> 16) & 255
    elif image_type == "RGB16":
        for i, shift in enumerate((0, 5, 10)):
            c = (image.astype(np.uint32) >> shift) & 31
            out[:, :, i] = (c << 3) | (c >> 2)
    elif image_type in ("XXXA", "A8"):
        out[:, :, 3] = image[:, :, 3]
    else:
        out[:, :, :3] = image[:, :, :3]
        if image_type == "RGBA":
            out[:, :, 3] = image[:, :, 3]
    return out


_BITS = {"PLT1_LE": 1, "PLT1_BE": 1, "PLT4_LE": 4, "PLT4_BE": 4, "PLT8": 8}


@st.composite
def images(draw: st.DrawFn) -> tuple[str, np.ndarray, np.ndarray | None, bool]:
    """An image type and a matching image with repeats (so matches occur)."""
    kind = draw(st.sampled_from([t.name for t in lz.ImageType]))
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 40))
    n_colours = draw(st.integers(1, 6))
    idx = draw(hnp.arrays(np.uint8, (h, w), elements=st.integers(0, n_colours - 1)))
    top_down = draw(st.booleans())
    if kind in _BITS:
        limit = 1 << _BITS[kind]
        pal = np.array(
            draw(st.lists(st.integers(0, 0xFFFFFF), min_size=limit, max_size=limit)),
            dtype=np.uint32,
        )
        idx = (idx.astype(np.int64) % limit).astype(np.uint8)
        return kind, idx, pal, top_down
    colours = draw(hnp.arrays(np.uint8, (n_colours, 4), elements=st.integers(0, 255)))
    pixels = colours[idx]
    if kind == "RGB16":
        v = pixels.view("<u4")[:, :, 0]
        return kind, (v & 0xFFFF).astype(np.uint16), None, top_down
    if kind == "RGB24":
        pixels = np.ascontiguousarray(pixels[:, :, :3])
    return kind, pixels, None, top_down


@settings(max_examples=150)
@given(images())
def test_round_trip_every_type_both_twins(
    case: tuple[str, np.ndarray, np.ndarray | None, bool],
) -> None:
    kind, image, pal, top_down = case
    streams = [
        with_twin(m, lz.encode, image, image_type=kind, top_down=top_down)
        for m in all_twins()
    ]
    assert all(s == streams[0] for s in streams)
    info = lz.info(streams[0])
    assert (info.image_type, info.width, info.height, info.top_down) == (
        kind,
        image.shape[1],
        image.shape[0],
        top_down,
    )
    if kind == "RGB24":
        image = np.concatenate([image, np.zeros_like(image[:, :, :1])], axis=2)
    expected = _expected(image, kind, pal)
    for m in all_twins():
        got = with_twin(m, lz.decode, streams[0], palette=pal)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", ["RGB32", "RGBA", "PLT8", "RGB16", "A8"])
def test_round_trip_far_and_too_far_matches(kind: str) -> None:
    """Repeats 9000-16000 units back (far form) and beyond the 73725 limit."""
    rng = np.random.default_rng(7)
    w = 300
    base = rng.integers(0, 256, (300, w, 4), dtype=np.uint8)
    base[40:60] = base[0:20]  # 12000 pixels back: far offsets
    base[290:300] = base[10:20]  # 84000 back: beyond MAX_FARDISTANCE
    base[100:101, :200] = 9  # a long run (length extension bytes)
    if kind == "PLT8":
        image: np.ndarray = np.ascontiguousarray(base[:, :, 0])
        pal: np.ndarray | None = rng.integers(0, 1 << 24, 256).astype(np.uint32)
    elif kind == "RGB16":
        image = (base.view("<u4")[:, :, 0] & 0x7FFF).astype(np.uint16)
        pal = None
    else:
        image, pal = base, None
    streams = [with_twin(m, lz.encode, image, image_type=kind) for m in all_twins()]
    assert all(s == streams[0] for s in streams)
    expected = _expected(image, kind, pal)
    for m in all_twins():
        np.testing.assert_array_equal(
            with_twin(m, lz.decode, streams[0], palette=pal), expected
        )


def test_palette_indices_wrap(twin: ModuleType) -> None:
    image = np.array([[0, 1, 2, 3, 4, 5, 6, 7]], dtype=np.uint8)
    data = lz.encode(image, image_type="PLT8")
    pal = [0x000010, 0x000020, 0x000030]
    got = lz.decode(data, palette=pal)
    assert got[0, :, 0].tolist() == [0x10, 0x20, 0x30] * 2 + [0x10, 0x20]


def test_decode_into_out(twin: ModuleType) -> None:
    image = np.arange(6 * 7 * 4, dtype=np.uint8).reshape(6, 7, 4)
    data = lz.encode(image, image_type="RGBA", top_down=False)
    out = np.full((6, 7, 4), 99, dtype=np.uint8)
    assert lz.decode(data, out=out) is out
    np.testing.assert_array_equal(out, image)
    with pytest.raises(ValueError):
        lz.decode(data, out=np.empty((7, 6, 4), dtype=np.uint8))


# ---------------------------------------------------------------- hostile input


def _sample_stream() -> bytes:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 3, (9, 11, 4), dtype=np.uint8) * 60
    return lz.encode(img, image_type="RGBA")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        header(8, 1, 1, 4)[:27],
        b"XXXX" + header(8, 1, 1, 4)[4:] + b"\0\0\0\0",
        header(8, 1, 1, 4)[:4] + b"\0\1\0\2" + header(8, 1, 1, 4)[8:] + b"\0\0\0\0",
        header(0, 1, 1, 4) + b"\0\0\0\0",
        header(12, 1, 1, 4) + b"\0\0\0\0",
        header(8, 2, 1, 4) + b"\1" + b"\0" * 6,  # stride != width * 4
        header(5, 9, 1, 8) + b"\7" + b"\0" * 8,  # palette stride too short
        header(5, 9, 1, 10) + b"\x09" + b"\0" * 10,  # palette stride too long
        header(8, 0, 1, 0) + b"\0",
        header(8, 1 << 15, 1 << 15, 1 << 17) + b"\0",  # over the pixel limit
        header(8, 2, 1, 8) + bytes([1 << 5, 0]),  # match before any output
        header(8, 2, 1, 8) + bytes([0, 1, 2, 3, 2 << 5, 0]),  # match past the end
        header(8, 2, 1, 8) + bytes([2, 1, 2, 3, 4, 5, 6, 7, 8, 9]),  # literals past end
        header(8, 2, 1, 8) + bytes([1, 1, 2, 3, 4, 5]),  # truncated literals
        header(8, 2, 1, 8) + bytes([0, 1, 2, 3, 7 << 5, 255]),  # truncated length
        header(8, 2, 1, 8) + bytes([0, 1, 2, 3, 31, 255]),  # literal count, no data
        header(8, 2, 1, 8) + bytes([0, 1, 2, 3, (1 << 5) | 31, 255, 0]),  # far, short
        header(8, 2, 1, 8) + bytes([1, 1, 2, 3, 4, 5, 6, 0]),  # trailing byte
        header(9, 2, 1, 8) + bytes([1, 1, 2, 3, 4, 5, 6]),  # RGBA without alpha pass
    ],
)
def test_bad_streams_raise_codec_error(twin: ModuleType, data: bytes) -> None:
    with pytest.raises(CodecError):
        lz.decode(data)


def test_palette_required(twin: ModuleType) -> None:
    data = lz.encode(np.zeros((2, 2), dtype=np.uint8), image_type="PLT8")
    with pytest.raises(CodecError):
        lz.decode(data)
    with pytest.raises(CodecError):
        lz.decode(data, palette=[])


def test_max_pixels(twin: ModuleType) -> None:
    data = lz.encode(np.zeros((10, 10, 4), dtype=np.uint8))
    assert lz.decode(data, max_pixels=100).shape == (10, 10, 4)
    with pytest.raises(CodecError):
        lz.decode(data, max_pixels=99)


def test_every_truncation_fails(twin: ModuleType) -> None:
    data = _sample_stream()
    for cut in range(len(data)):
        with pytest.raises(CodecError):
            lz.decode(data[:cut])


def _outcome(mod: ModuleType, data: bytes, pal: list[int] | None) -> object:
    try:
        return with_twin(mod, lz.decode, data, palette=pal).tobytes()
    except CodecError:
        return CodecError


@settings(max_examples=300)
@given(st.data())
def test_bit_flips_give_result_or_codec_error(data: st.DataObject) -> None:
    stream = bytearray(_sample_stream())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(stream) - 1))
        stream[pos] ^= 1 << data.draw(st.integers(0, 7))
    outcomes = {_outcome(m, bytes(stream), None) for m in all_twins()}
    assert len(outcomes) == 1  # both twins agree: same pixels or CodecError


@settings(max_examples=300)
@given(
    st.sampled_from(list(lz.ImageType)),
    st.integers(1, 20),
    st.integers(1, 8),
    st.binary(max_size=300),
)
def test_garbage_bodies(kind: lz.ImageType, w: int, h: int, body: bytes) -> None:
    ppb = lz.PIXELS_PER_BYTE.get(kind)
    stride = w * lz.BYTES_PER_PIXEL[kind] if ppb is None else -(-w // ppb)
    data = header(int(kind), w, h, stride, top_down=w & 1) + body
    pal = [0x123456, 0xABCDEF]
    outcomes = {_outcome(m, data, pal) for m in all_twins()}
    assert len(outcomes) == 1


def test_rgb24_from_three_or_four_channels(twin: ModuleType) -> None:
    rng = np.random.default_rng(11)
    img = rng.integers(0, 4, (9, 13, 4), dtype=np.uint8) * 50
    three = lz.encode(np.ascontiguousarray(img[:, :, :3]), image_type="RGB24")
    assert lz.encode(img, image_type="RGB24") == three
    # RGB24 and RGB32 differ only in the header's type and stride
    rgb32 = lz.encode(img, image_type="RGB32")
    assert three[28:] == rgb32[28:] and three[:8] == rgb32[:8]
    assert lz.info(three).image_type == "RGB24"


@pytest.mark.parametrize(
    ("image", "image_type"),
    [
        (np.zeros((2, 2, 4), dtype=np.uint8), "PLT8"),
        (np.zeros((2, 2), dtype=np.uint8), "RGB32"),
        (np.zeros((2, 2), dtype=np.uint8), "RGB16"),
        (np.full((2, 2), 16, dtype=np.uint8), "PLT4_LE"),
        (np.zeros((2, 2, 4), dtype=np.uint8), "BOGUS"),
        (np.zeros((2, 2, 4), dtype=np.uint8), 12),
        (np.zeros((0, 2, 4), dtype=np.uint8), "RGB32"),
    ],
)
def test_encode_rejects_bad_arguments(image: np.ndarray, image_type: str | int) -> None:
    with pytest.raises(ValueError):
        lz.encode(image, image_type=image_type)


@settings(max_examples=100)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(4))),
    st.sampled_from(["XXXA", "A8"]),
    st.booleans(),
)
def test_decode_alpha_writes_only_byte_3(
    image: np.ndarray, kind: str, top_down: bool
) -> None:
    # JPEG_ALPHA's alpha plane onto colour pixels: bytes 0-2 stay, byte 3 is
    # what a full decode of the stream gives, in both orientations
    src = image[:, :, 3] if kind == "A8" else image
    data = lz.encode(np.ascontiguousarray(src), image_type=kind, top_down=top_down)
    colour = np.random.default_rng(image.size).integers(0, 256, image.shape, np.uint8)
    for m in all_twins():
        into = colour.copy()
        with_twin(m, lz.decode_alpha, data, lz.read_header(data), into=into)
        np.testing.assert_array_equal(into[:, :, :3], colour[:, :, :3])
        np.testing.assert_array_equal(into[:, :, 3], image[:, :, 3])


def test_decode_alpha_refuses_colour_streams_and_trailing_bytes(
    twin: ModuleType,
) -> None:
    img = np.zeros((3, 4, 4), np.uint8)
    rgba = lz.encode(img, image_type="RGBA")
    with pytest.raises(ValueError):
        lz.decode_alpha(rgba, lz.read_header(rgba), into=img.copy())
    alpha = lz.encode(img, image_type="XXXA") + b"\0"
    with pytest.raises(CodecError):
        lz.decode_alpha(alpha, lz.read_header(alpha), into=img.copy())
    with pytest.raises(ValueError):  # into of another size
        lz.decode_alpha(alpha[:-1], lz.read_header(alpha), into=img[:2].copy())


@settings(max_examples=40)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(4))),
    st.integers(0, 7),
)
def test_decode_reads_views_in_place_like_bytes(img: np.ndarray, before: int) -> None:
    # a wire payload is a view into its message: decode, info and
    # decode_image take it as it is, a word-typed or strided view too
    data = lz.encode(img, image_type="RGBA")
    message = bytes(range(before)) + data + bytes(5)
    view = memoryview(message)[before : before + len(data)]
    spaced = np.zeros(2 * len(data), np.uint8)
    spaced[::2] = np.frombuffer(data, np.uint8)
    views = [view, bytearray(data), memoryview(spaced[::2])]
    if len(data) % 4 == 0:
        views.append(memoryview(data).cast("I"))
    for m in all_twins():
        want = with_twin(m, lz.decode, data)
        for v in views:
            np.testing.assert_array_equal(with_twin(m, lz.decode, v), want)
    assert lz.info(view) == lz.info(data)
    got = decode_image(101, view, width=img.shape[1], height=img.shape[0])
    np.testing.assert_array_equal(got.pixels, want)
    with pytest.raises(CodecError):  # the view cut short is still refused
        lz.decode(view[:-1])
