"""LZ encoder: its compression decisions pinned, not only its round trips.

A mutant of ``_lz_ref.compress`` that still writes a valid stream decodes to
the same pixels, so round trips cannot see it. The encoder is meant to give
spice-common's ``lz_encode`` bytes: the Cython twin ``_lz_enc.compress`` is held to
the server's streams (tests/data/lz_gradient_rgb.bin in test_codec_tables, the
1920x1080 reference vectors in test_codec_lz when the corpus is there), and
here the reference twin is held to the Cython twin byte for byte on crafted
inputs that reach every branch (runs at the length-form limits, matches at the
13-bit / far / too-far distance limits, literal runs at the 32-unit control
limit, hash-bucket collisions, every input size below the match finder's).
A few small streams are also spelled out byte by byte, worked out by hand from
lz_compress_tmpl.c's rules, so the reference twin is pinned without the
Cython one too.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from spicepy.codecs import _lz_ref, lz

try:
    from spicepy.codecs import _lz_enc as _lz_fast  # type: ignore[attr-defined]
except ImportError:  # not built: the hand-made streams still pin the reference
    _lz_fast = None

MODES = {  # mode: (bytes per unit, match length bias), as _lz_ref's tables
    _lz_ref.MODE_RGB32: (3, 1),
    _lz_ref.MODE_RGB16: (2, 2),
    _lz_ref.MODE_BYTES: (1, 3),
}


def _units(mode: int, symbols: np.ndarray, seed: int = 0) -> np.ndarray:
    """One coding unit per symbol; equal symbols give equal units, distinct
    symbols distinct units (a random table, so hashes spread as in images)."""
    k = MODES[mode][0]
    n_sym = int(symbols.max(initial=0)) + 1
    rng = np.random.default_rng(seed)
    if mode == _lz_ref.MODE_BYTES:  # 256 units at most: symbols wrap
        table = rng.permutation(256).astype(np.uint8).reshape(-1, 1)
        return np.ascontiguousarray(table[symbols % 256])
    else:
        space = 1 << (15 if mode == _lz_ref.MODE_RGB16 else 24)
        values = rng.choice(space, size=n_sym, replace=False).astype(np.uint32)
        shifts = (8, 0) if mode == _lz_ref.MODE_RGB16 else (0, 8, 16)
        table = np.stack([(values >> s) & 255 for s in shifts], axis=1)
        table = table.astype(np.uint8)
    assert table.shape[1] == k
    return np.ascontiguousarray(table[symbols])


def _check(mode: int, units: np.ndarray, want: bytes | None = None) -> bytes:
    """The reference stream: equal to the Cython twin's (and to ``want``), and
    decoding back to the units."""
    k, bias = MODES[mode]
    stream = _lz_ref.compress(mode, units)
    if want is not None:
        assert stream == want
    if _lz_fast is not None:
        assert stream == _lz_fast.compress(mode, units)
    coded = units[:, :3] if mode == _lz_ref.MODE_RGB32 else units[:, -1:]
    if mode == _lz_ref.MODE_RGB16:
        coded = units
    got, end = _lz_ref._inflate(stream, 0, units.shape[0], k, bias)
    assert end == len(stream)
    assert bytes(got) == np.ascontiguousarray(coded).tobytes()
    return stream


def _distinct(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int64)


# ---------------------------------------------------------------- hand-made


def test_small_inputs_are_one_literal_run() -> None:
    # below 4 units the match finder is skipped: ctrl n - 1, then the units
    for n in (1, 2, 3):
        u = _units(_lz_ref.MODE_RGB32, np.zeros(n, np.int64))
        _check(_lz_ref.MODE_RGB32, u, bytes([n - 1]) + u.tobytes())
    u = _units(_lz_ref.MODE_BYTES, np.zeros(3, np.int64))
    _check(_lz_ref.MODE_BYTES, u, bytes([2]) + u.tobytes())


def test_rgb32_run_hand_coded() -> None:
    # 10 equal pixels P: two literals (the finder starts at unit 2), then at
    # ip = 2 four equal keys make a run: it extends to ip_bound = n - 2 = 8,
    # backs off 3 (ip = 5): length = 5 - 2 + 2 = 5 (decoded: 5 - 1 + bias 1
    # = 5 units), ctrl (5 << 5) | 0, offset byte 0 (distance 1); units 7..9
    # are the tail's literal run (ctrl 2).
    u = _units(_lz_ref.MODE_RGB32, np.zeros(10, np.int64))
    p = u[0].tobytes()
    _check(_lz_ref.MODE_RGB32, u, bytes([1]) + p * 2 + bytes([5 << 5, 0, 2]) + p * 3)


def test_bytes_run_hand_coded() -> None:
    # 12 equal bytes B: literals 0, 1, then a run from ip = 2 up to
    # ip_bound = 10, back 3: ip = 7, length = 7 - 2 + 0 = 5 (5 - 1 + bias 3 =
    # 7 units), ctrl 5 << 5, offset 0; then ip + 2 = 9 < ip_limit = 6 fails:
    # units 9..11 are literals (ctrl 2).
    u = _units(_lz_ref.MODE_BYTES, np.zeros(12, np.int64))
    b = u[0].tobytes()
    _check(_lz_ref.MODE_BYTES, u, bytes([1]) + b * 2 + bytes([5 << 5, 0, 2]) + b * 3)


def test_distinct_units_hand_coded() -> None:
    # no two units equal: literal runs of 32 (ctrl 31) and the rest
    for n in (4, 31, 32, 33, 64, 65, 70):
        u = _units(_lz_ref.MODE_RGB32, _distinct(n))
        want = bytearray()
        for i in range(0, n, 32):
            chunk = u[i : i + 32]
            want.append(len(chunk) - 1)
            want += chunk.tobytes()
        _check(_lz_ref.MODE_RGB32, u, bytes(want))


def test_rgb16_run_hand_coded() -> None:
    # RGB16: bias 2, len_adjust 1. 10 equal units: run from ip = 2 to 8, back
    # 3: ip = 5, length = 5 - 2 + 1 = 4 (4 - 1 + 2 = 5 units), ctrl 4 << 5;
    # the hash updates need ip > anchor only for RGB32, units 7..9 literals.
    u = _units(_lz_ref.MODE_RGB16, np.zeros(10, np.int64))
    p = u[0].tobytes()
    _check(_lz_ref.MODE_RGB16, u, bytes([1]) + p * 2 + bytes([4 << 5, 0, 2]) + p * 3)


def test_rgb16_top_bit_is_not_compared() -> None:
    # SAME_PIXEL for RGB16 masks bit 15: units differing only there match, and
    # the decoder copies the earlier unit's top bit (the x555 top bit is unused)
    u = _units(_lz_ref.MODE_RGB16, np.zeros(10, np.int64))
    u[5:, 0] |= 0x80
    stream = _lz_ref.compress(_lz_ref.MODE_RGB16, u)
    if _lz_fast is not None:
        assert stream == _lz_fast.compress(_lz_ref.MODE_RGB16, u)
    plain = _units(_lz_ref.MODE_RGB16, np.zeros(10, np.int64))
    p = plain[0].tobytes()
    q = u[9].tobytes()
    assert stream == bytes([1]) + p * 2 + bytes([4 << 5, 0, 2]) + q * 3


# ---------------------------------------------------------------- crafted branches


@pytest.mark.parametrize("mode", list(MODES))
def test_run_lengths_at_the_length_form_limits(mode: int) -> None:
    # a run's coded length crosses 6 (ctrl form) / 7 + 255 n (extension bytes)
    for run in (4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 40, 258, 261, 262, 263, 264, 520):
        sym = np.concatenate(
            [_distinct(5, 1), np.zeros(run, np.int64), _distinct(9, 6)]
        )
        _check(mode, _units(mode, sym, seed=run))


@pytest.mark.parametrize("mode", list(MODES))
def test_repeats_at_every_match_length(mode: int) -> None:
    # a block of m distinct units repeated after a gap: matches of each length,
    # ending on a differing unit (not a run), ending at the image's end too
    rng = np.random.default_rng(mode)
    for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 40, 270):
        block = _distinct(m, 100)
        gap = _distinct(int(rng.integers(1, 40)), 1000)
        for tail in (_distinct(7, 2000), _distinct(0)):
            sym = np.concatenate([block, gap, block, tail])
            _check(mode, _units(mode, sym, seed=m))


@pytest.mark.parametrize("mode", list(MODES))
def test_literal_runs_at_the_control_limit(mode: int) -> None:
    # 31, 32, 33, 63, 64, 65 distinct units before and after a match, and at
    # the end of the image (the count placeholder dropped or patched)
    for lits in (0, 1, 30, 31, 32, 33, 63, 64, 65):
        block = _distinct(12, 1)
        sym = np.concatenate([block, _distinct(lits, 500), block, _distinct(lits, 900)])
        _check(mode, _units(mode, sym, seed=lits))


@pytest.mark.parametrize("mode", list(MODES))
def test_distances_at_the_offset_form_limits(mode: int) -> None:
    # MAX_DISTANCE = 8191 (13-bit form below it), far form up to
    # MAX_FARDISTANCE = 73725 (exclusive), no match beyond; far matches need 1
    # (RGB) or 2 (bytes) more equal units; lengths 3..8 and 300 at each distance
    # (the filler is random: with 2**15 symbols or more a 3-unit key seldom
    # repeats, so the block's own match is the one found; with bytes, some
    # nearer ones are found too)
    n_sym = {_lz_ref.MODE_BYTES: 256, _lz_ref.MODE_RGB16: 1 << 15}.get(mode, 1 << 17)
    near = [(d, m) for d in (8190, 8191, 8192, 8193) for m in (3, 4, 5, 6, 8, 300)]
    far = [(d, m) for d in (73723, 73724, 73725, 73726) for m in (4, 6)]
    for dist, m in near + far:
        top = n_sym - min(400, n_sym // 4)  # the block's symbols: top and up
        block = np.arange(m, dtype=np.int64) + top
        filler = np.random.default_rng(dist + m).integers(0, top, dist - m)
        sym = np.concatenate([block, filler, block, _distinct(5, n_sym - 10)])
        _check(mode, _units(mode, sym % n_sym, seed=dist))


@pytest.mark.parametrize("mode", list(MODES))
def test_hash_bucket_collisions(mode: int) -> None:
    # random data over few symbols: 3-unit keys meet other keys in their hash
    # bucket (2**13 buckets), so candidates that fail SAME_PIXEL are common
    rng = np.random.default_rng(10 + mode)
    for n_sym, n in ((2, 3000), (3, 5000), (5, 20000), (40, 20000), (256, 30000)):
        sym = rng.integers(0, n_sym, n)
        _check(mode, _units(mode, sym, seed=n_sym))


@pytest.mark.parametrize("mode", list(MODES))
def test_every_size_from_4_to_40(mode: int) -> None:
    # the finder's bounds (ip_limit = n - 6, ip_bound = n - 2) at every size,
    # for a run, a repeat and a mix
    for n in range(4, 41):
        for sym in (
            np.zeros(n, np.int64),
            np.arange(n, dtype=np.int64) % 3,
            np.concatenate([_distinct(2), np.zeros(n - 2, np.int64)]),
            np.random.default_rng(n).integers(0, 4, n),
        ):
            _check(mode, _units(mode, sym, seed=n))


def test_pixels_a_shifted_bit_apart_are_different() -> None:
    # SAME_PIXEL compares B, G, R exactly: G = 0x80 and R = 1 (or B = 0x80 and
    # G = 1) are other pixels, however a key packs the bytes; each alternation
    # of the two must stay literals (or far matches of itself), never a run
    for a, b in (((0, 0x80, 0), (0, 0, 1)), ((0x80, 0, 0), (0, 1, 0))):
        u = np.array([a, b] * 20 + [a] * 6 + [b] * 6, np.uint8)
        _check(_lz_ref.MODE_RGB32, u)
    u = np.array([(0x01, 0x00), (0x00, 0x80)] * 20, np.uint8)  # RGB16, hi first
    _check(_lz_ref.MODE_RGB16, u)


def test_rgb32_uses_bytes_0_to_2_and_bytes_the_last() -> None:
    # compress codes B,G,R of 4-byte RGB32 units, and the last byte of 4-byte
    # units in MODE_BYTES (the alpha of B,G,R,A)
    rng = np.random.default_rng(3)
    four = rng.integers(0, 3, (500, 4)).astype(np.uint8)
    three = np.ascontiguousarray(four[:, :3])
    last = np.ascontiguousarray(four[:, 3:])
    for twin in [_lz_ref] + ([] if _lz_fast is None else [_lz_fast]):
        assert twin.compress(_lz_ref.MODE_RGB32, four) == twin.compress(
            _lz_ref.MODE_RGB32, three
        )
        assert twin.compress(_lz_ref.MODE_BYTES, four) == twin.compress(
            _lz_ref.MODE_BYTES, last
        )
    _check(_lz_ref.MODE_RGB32, three)
    _check(_lz_ref.MODE_BYTES, last)


# ---------------------------------------------------------------- lz.encode


def _body(stream: bytes) -> bytes:
    return stream[lz.HEADER_SIZE :]


@pytest.mark.parametrize("twin", [_lz_ref] if _lz_fast is None else [_lz_ref, _lz_fast])
def test_encode_passes_are_compress_calls(twin: ModuleType) -> None:
    """lz.encode = header + the passes' compress output, per type: what goes
    into each pass (bytes, order, bottom-up rows) pinned exactly."""
    rng = np.random.default_rng(4)
    img = rng.integers(0, 3, (5, 9, 4)).astype(np.uint8)
    saved = lz._enc
    lz._enc = twin
    try:
        units = img.reshape(-1, 4)
        flip = img[::-1].reshape(-1, 4)
        c = twin.compress
        cases = {
            ("RGB32", True): c(0, np.ascontiguousarray(units[:, :3])),
            ("RGB32", False): c(0, np.ascontiguousarray(flip[:, :3])),
            ("RGBA", True): c(0, np.ascontiguousarray(units[:, :3]))
            + c(2, np.ascontiguousarray(units[:, 3:])),
            ("XXXA", False): c(2, np.ascontiguousarray(flip[:, 3:])),
            ("A8", True): c(2, np.ascontiguousarray(units[:, 3:])),
            ("RGB24", True): c(0, np.ascontiguousarray(units[:, :3])),
        }
        for (kind, top_down), body in cases.items():
            stream = lz.encode(img, image_type=kind, top_down=top_down)
            assert _body(stream) == body, (kind, top_down)
            hdr = lz.read_header(stream)
            assert (hdr.width, hdr.height, hdr.top_down) == (9, 5, top_down)
            assert hdr.stride == 9 * lz.BYTES_PER_PIXEL[lz.ImageType[kind]]
        a8 = np.ascontiguousarray(img[:, :, 3])
        assert _body(lz.encode(a8, image_type="A8")) == cases[("A8", True)]
        rgb16 = (img.view("<u4")[:, :, 0] & 0x7FFF).astype(np.uint16)
        be = rgb16.astype(">u2").view(np.uint8).reshape(-1, 2)
        got = lz.encode(rgb16, image_type="RGB16", top_down=False)
        assert _body(got) == c(
            1, np.ascontiguousarray(be.reshape(5, 9, 2)[::-1].reshape(-1, 2))
        )
        assert lz.read_header(got).stride == 18
        idx = (img[:, :, 0] % 2).astype(np.uint8)
        for kind, packed in (
            ("PLT8", idx),
            ("PLT1_LE", np.packbits(idx, axis=1, bitorder="little")),
            ("PLT1_BE", np.packbits(idx, axis=1, bitorder="big")),
        ):
            stream = lz.encode(idx, image_type=kind)
            assert _body(stream) == c(2, np.ascontiguousarray(packed).reshape(-1, 1))
            assert lz.read_header(stream).stride == packed.shape[1]
        padded = np.zeros((5, 10), np.uint8)
        padded[:, :9] = idx * 15
        for kind, first, second in (("PLT4_LE", 0, 1), ("PLT4_BE", 1, 0)):
            pairs = padded[:, first::2] | (padded[:, second::2] << 4)
            stream = lz.encode(padded[:, :9], image_type=kind)
            assert _body(stream) == c(2, np.ascontiguousarray(pairs).reshape(-1, 1))
            assert lz.read_header(stream).stride == 5
    finally:
        lz._enc = saved


def test_palette_index_refusal_texts() -> None:
    for kind, bad, limit in (("PLT1_LE", 2, 2), ("PLT1_BE", 3, 2), ("PLT4_BE", 16, 16)):
        idx = np.zeros((2, 3), np.uint8)
        idx[1, 2] = bad
        with pytest.raises(ValueError) as err:
            lz.encode(idx, image_type=kind)
        assert str(err.value) == f"{kind} indices must be < {limit}"
        idx[1, 2] = limit - 1  # the largest index is taken
        assert lz.read_header(lz.encode(idx, image_type=kind)).width == 3


@pytest.mark.parametrize("mode", list(MODES))
def test_far_matches_at_the_length_form_limits(mode: int) -> None:
    # far form (distance 8192 > MAX_DISTANCE) with a coded length around 7
    # (control-byte form / extension bytes) and 7 + 255 (the last extension
    # byte 255 then 0): a block of m units followed by other units codes
    # length m - 2 + len_adjust = m (RGB32), m - 1 (RGB16), m - 2 (bytes)
    n_sym = {_lz_ref.MODE_BYTES: 256, _lz_ref.MODE_RGB16: 1 << 15}.get(mode, 1 << 17)
    for m in [*range(5, 14), *range(259, 268)]:
        rng = np.random.default_rng(m)
        block = rng.integers(0, n_sym, m)
        filler = rng.integers(0, n_sym, 8192 - m)
        sym = np.concatenate([block, filler, block, rng.integers(0, n_sym, 6)])
        _check(mode, _units(mode, sym, seed=m))


def test_encode_type_forms_defaults_and_refusal_texts() -> None:
    img = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    by_name = lz.encode(img, image_type="RGB32")
    assert lz.encode(img) == by_name  # RGB32 and top-down by default
    assert lz.encode(img, image_type=8) == by_name
    assert lz.encode(img, image_type=lz.ImageType.RGB32) == by_name
    assert lz.read_header(by_name).image_type == lz.ImageType.RGB32
    for bad in ("rgb32", "RGB33", 0, 12):
        with pytest.raises(ValueError) as err:
            lz.encode(img, image_type=bad)
        assert str(err.value) == f"unknown LZ image type {bad!r}"
    for empty in (
        np.zeros((0, 3, 4), np.uint8),
        np.zeros((3, 0, 4), np.uint8),
        img[0, 0],
    ):
        with pytest.raises(ValueError) as err:
            lz.encode(empty)
        assert str(err.value) == "image must be at least (1, 1)"


def test_encode_input_refusal_texts() -> None:
    rgba3 = np.zeros((2, 2, 3), np.uint8)
    for image, kind, text in (
        (
            np.zeros((2, 2, 4), np.uint8),
            "PLT8",
            "PLT8 needs a (h, w) uint8 array of indices",
        ),
        (
            np.zeros((2, 2), np.uint16),
            "PLT4_LE",
            "PLT4_LE needs a (h, w) uint8 array of indices",
        ),
        (
            np.zeros((2, 2), np.uint8),
            "RGB16",
            "RGB16 needs a (h, w) uint16 array of x555 pixels",
        ),
        (
            np.zeros((2, 2), np.uint16),
            "A8",
            "A8 needs a uint8 (h, w) or (h, w, 4) array",
        ),
        (
            np.zeros((2, 2, 4, 1), np.uint8),
            "A8",
            "A8 needs a uint8 (h, w) or (h, w, 4) array",
        ),
        (rgba3, "RGBA", "RGBA needs a uint8 (h, w, 4) array"),
        (rgba3, "RGB32", "RGB32 needs a uint8 (h, w, 4) array"),
        (np.zeros((2, 2, 5), np.uint8), "RGBA", "RGBA needs a uint8 (h, w, 4) array"),
        (rgba3, "XXXA", "XXXA needs a uint8 (h, w, 4) array"),
        (np.zeros((2, 2, 2), np.uint8), "RGB24", "RGB24 needs a uint8 (h, w, 3) array"),
        (np.zeros((2, 2), np.uint8), "RGB24", "RGB24 needs a uint8 (h, w, 3) array"),
    ):
        with pytest.raises(ValueError) as err:
            lz.encode(image, image_type=kind)
        assert str(err.value) == text, kind
