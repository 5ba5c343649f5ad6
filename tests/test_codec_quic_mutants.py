"""QUIC: what mutation testing found unchecked (tests/MUTATION.md, "codecs: QUIC").

The code tables of ``_quic_ref.Family`` are built at import, where mutmut's
workers never see a mutant: they are built again here, inside the tests, and
held to the tables the twins use (which tests/test_codec_tables.py pins with
spice-server's streams) and to the properties quic.c's family_init gives them.
The rest pins exact refusal texts and the bounds of the stream reader.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from spicepy.codecs import CodecError, _common, _quic_ref, quic

DATA = Path(__file__).parent / "data"
VECTORS = {
    v["file"]: v
    for v in json.loads((DATA / "codec_vectors.json").read_text())["vectors"]
}


def _twins() -> list[ModuleType]:
    try:
        from spicepy.codecs import _quic
    except ImportError:
        return [_quic_ref]
    return [_quic_ref, _quic]


def with_twin(
    mod: ModuleType, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    saved = quic._impl
    quic._impl = mod
    try:
        return fn(*args, **kwargs)
    finally:
        quic._impl = saved


def header(code: int, width: int, height: int, version: int = 0) -> bytes:
    return struct.pack("<5I", quic.MAGIC, version, code, width, height)


# ---------------------------------------------------------------- the tables


FAMILY_FIELDS = (
    "bpc",
    "mask",
    "ngr",
    "suffix",
    "notgr_len",
    "prefix_mask",
    "code_len",
    "u2l",
    "l2u",
    "bucket_of",
    "nbuckets",
)


@pytest.mark.parametrize("bpc", [8, 5])
def test_family_built_now_is_the_family_the_twins_use(bpc: int) -> None:
    """Family(bpc) is a pure function of bpc: built now it equals the table
    built at import, which both twins use (the Cython twin copies it) and the
    server's streams in tests/data pin."""
    fresh = _quic_ref.Family(bpc)
    pinned = _quic_ref.FAMILY[bpc]
    for field in FAMILY_FIELDS:
        assert getattr(fresh, field) == getattr(pinned, field), field


@pytest.mark.parametrize("bpc", [8, 5])
def test_family_codes_are_length_limited_prefix_codes(bpc: int) -> None:
    """What quic.c's family_init makes: for every code k, values below
    ngr[k] take the Golomb-Rice codeword (n >> k zeros, a one, k low bits),
    the rest an escape of notgr_len[k] bits; none longer than MAXCLEN; every
    value of the depth reads back through Reader.golomb."""
    fam = _quic_ref.Family(bpc)
    levels = 1 << bpc
    assert fam.mask == levels - 1
    for k in range(bpc):
        prefix = fam.ngr[k] >> k
        assert fam.ngr[k] == prefix << k
        # the escape is `prefix` zeros then the offset in just enough bits
        assert 1 << (fam.suffix[k] - 1) < levels - fam.ngr[k] <= 1 << fam.suffix[k]
        assert fam.notgr_len[k] == prefix + fam.suffix[k] <= _quic_ref.MAXCLEN
        assert fam.prefix_mask[k] == (1 << (32 - prefix)) - 1
        w = _quic_ref.Writer()
        for n in range(levels):
            word, length = fam._code(n, k)
            assert length == fam.code_len[n][k] <= _quic_ref.MAXCLEN
            if n < fam.ngr[k]:
                assert length == (n >> k) + 1 + k
                assert word == (1 << k) | (n & ((1 << k) - 1))
            else:
                assert (word, length) == (n - fam.ngr[k], fam.notgr_len[k])
            w.golomb(fam, n, k)
        r = _quic_ref.Reader(w.finish(), 0)
        assert [r.golomb(fam, k) for _ in range(levels)] == list(range(levels))
    # codes for values above the depth (a decoded RGB16 residual can be up to 255)
    assert len(fam.code_len) == 256
    assert fam.code_len[255] == [fam._code(255, k)[1] for k in range(bpc)]


def test_family_limits_match_quic_c() -> None:
    """The codeword limit bites where quic.c's limit of 26 does: the longest
    8-bit escape is 18 zeros + 8 bits; 5-bit code 0 escapes after 21 zeros."""
    f8, f5 = _quic_ref.Family(8), _quic_ref.Family(5)
    assert f8.ngr[:4] == [18, 36, 72, 144]
    assert f8.notgr_len[:4] == [26, 26, 26, 25]
    assert f8.ngr[7] == 128 and f8.notgr_len[7] == 8
    assert f5.ngr[0] == 21 and f5.notgr_len[0] == 21 + 4
    assert f5.ngr[1:] == [30, 28, 24, 16]


@pytest.mark.parametrize("bpc", [8, 5])
def test_family_folding_and_buckets(bpc: int) -> None:
    fam = _quic_ref.Family(bpc)
    levels = 1 << bpc
    # residuals 0, -1, 1, -2, 2, ... fold to 0, 1, 2, 3, 4, ...
    assert fam.u2l[0] == 0 and fam.u2l[levels - 1] == 1 and fam.u2l[1] == 2
    assert sorted(fam.u2l) == list(range(levels))
    assert all(fam.l2u[fam.u2l[s]] == s for s in range(levels))
    assert len(fam.l2u) == 256 and fam.l2u[levels:] == [0] * (256 - levels)
    # buckets of quic.c's evolution 3: widths 1, 2, 4, ... from 0; the last
    # one takes the rest rather than leave a bucket smaller than the one before
    assert len(fam.bucket_of) == levels
    starts = [(1 << b) - 1 for b in range(bpc)]
    assert fam.nbuckets == bpc
    for v in range(levels):
        assert fam.bucket_of[v] == max(b for b in range(bpc) if starts[b] <= v)


def test_ceil_log2() -> None:
    for v in range(0, 600):
        want = 0
        while (1 << want) < v:
            want += 1
        assert _quic_ref._ceil_log2(v) == want, v


# ---------------------------------------------------------------- _common


@pytest.mark.parametrize(
    ("value", "fast"),
    [(None, True), ("", True), ("0", True), ("1", False), ("yes", False)],
)
def test_want_fast(
    monkeypatch: pytest.MonkeyPatch, value: str | None, fast: bool
) -> None:
    if value is None:
        monkeypatch.delenv("SPICEPY_PUREPYTHON", raising=False)
    else:
        monkeypatch.setenv("SPICEPY_PUREPYTHON", value)
    assert _common.want_fast() is fast


def test_byte_view() -> None:
    b = b"QUIC1234"
    assert _common.byte_view(b) is b
    view = _common.byte_view(bytearray(b))
    assert isinstance(view, memoryview) and view.format == "B" and bytes(view) == b
    words = memoryview(b).cast("I")
    view = _common.byte_view(words)
    assert isinstance(view, memoryview) and view.format == "B" and len(view) == 8
    strided = np.frombuffer(b, np.uint8)[::2]
    copied = _common.byte_view(strided)
    assert type(copied) is bytes and copied == b"QI13"


def test_check_dimensions_bounds_and_texts() -> None:
    top = _common.MAX_DIMENSION
    _common.check_dimensions(1, 1)
    _common.check_dimensions(top, 1)
    _common.check_dimensions(1, top)
    _common.check_dimensions(6, 5, max_pixels=30)
    _common.check_dimensions(8192, 8192)
    cases = [
        ((0, 5), "bad image size 0x5"),
        ((5, 0), "bad image size 5x0"),
        ((-1, 5), "bad image size -1x5"),
        ((top + 1, 1), f"image {top + 1}x1 exceeds the limit of {1 << 26} pixels"),
        ((1, top + 1), f"image 1x{top + 1} exceeds the limit of {1 << 26} pixels"),
        ((6, 5, 29), "image 6x5 exceeds the limit of 29 pixels"),
        ((8192, 8193), f"image 8192x8193 exceeds the limit of {1 << 26} pixels"),
    ]
    for args, text in cases:
        with pytest.raises(CodecError) as err:
            _common.check_dimensions(*args)
        assert str(err.value) == text


def test_output_array_checks() -> None:
    got = _common.output_array(None, 3, 2)
    assert got.shape == (2, 3, 4) and got.dtype == np.uint8
    ok = np.zeros((2, 3, 4), np.uint8)
    assert _common.output_array(ok, 3, 2) is ok
    text = "out must be a writable C-contiguous uint8 (2, 3, 4) array"
    ro = np.zeros((2, 3, 4), np.uint8)
    ro.flags.writeable = False
    bad: list[Any] = [
        ok.tolist(),
        ok.astype(np.uint16),
        np.zeros((3, 2, 4), np.uint8),
        np.zeros((2, 3, 8), np.uint8)[:, :, ::2],
        ro,
    ]
    for out in bad:
        with pytest.raises(ValueError) as err:
            _common.output_array(out, 3, 2)
        assert str(err.value) == text


def test_image_info_fields() -> None:
    info = _common.ImageInfo("quic", "RGBA", 3, 2)
    assert info.top_down is True
    assert (info.codec, info.image_type, info.width, info.height) == (
        "quic",
        "RGBA",
        3,
        2,
    )


# ---------------------------------------------------------------- quic.py


def _small_stream(itype: str = "RGB32", w: int = 8, h: int = 4, seed: int = 3) -> bytes:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)
    return with_twin(_quic_ref, quic.encode, img, image_type=itype)


def test_header_refusals_say_what_is_wrong() -> None:
    short_body = header(1, 1000, 1000) + bytes(64)
    cases = [
        (b"", "QUIC stream shorter than its header"),
        (header(4, 4, 4)[:19], "QUIC stream shorter than its header"),
        (header(4, 4, 4), "QUIC stream of 20 bytes is too short for 4x4"),
        (
            struct.pack("<5I", 0x12345678, 0, 4, 4, 4) + bytes(64),
            "bad QUIC magic 0x12345678",
        ),
        (header(4, 4, 4, version=1) + bytes(64), "unsupported QUIC version 0x00000001"),
        (header(0, 4, 4) + bytes(64), "invalid QUIC image type 0"),
        (header(6, 4, 4) + bytes(64), "invalid QUIC image type 6"),
        (header(4, 0, 4) + bytes(64), "bad image size 0x4"),
        (
            header(4, 4, 40000) + bytes(64),
            f"image 4x40000 exceeds the limit of {1 << 26} pixels",
        ),
        (short_body, "QUIC stream of 84 bytes is too short for 1000x1000"),
    ]
    for data, text in cases:
        for mod in _twins():
            with pytest.raises(CodecError) as err:
                with_twin(mod, quic.decode, data)
            assert str(err.value) == text
        with pytest.raises(CodecError) as err:
            quic.info(data)
        assert str(err.value) == text


def test_every_image_type_code_is_accepted() -> None:
    for code in range(1, 6):
        info = quic.info(header(code, 2, 1) + bytes(8))
        assert (
            info.codec,
            info.image_type,
            info.width,
            info.height,
            info.top_down,
        ) == (
            "quic",
            quic.ImageType(code).name,
            2,
            1,
            True,
        )


@pytest.mark.parametrize(
    ("itype", "w", "h", "bits"),
    [
        # channels * width + (height - 1) * (channels * min(width, 3) + runs),
        # runs = 1 per part (colour, alpha) when width > 3 (PROTOCOL.md s. 10)
        (quic.ImageType.GRAY, 1, 1, 1),
        (quic.ImageType.GRAY, 3, 2, 3 + 3),
        (quic.ImageType.GRAY, 4, 2, 4 + 3 + 1),
        (quic.ImageType.RGB16, 2, 3, 6 + 2 * 6),
        (quic.ImageType.RGB24, 3, 2, 9 + 9),
        (quic.ImageType.RGB32, 4, 2, 12 + 10),
        (quic.ImageType.RGBA, 3, 2, 12 + 12),
        (quic.ImageType.RGBA, 5, 3, 20 + 2 * 14),
    ],
)
def test_min_stream_bits(itype: quic.ImageType, w: int, h: int, bits: int) -> None:
    assert quic.min_stream_bits(itype, w, h) == bits


@pytest.mark.parametrize("height", [40, 280])
def test_size_check_at_its_bound(height: int) -> None:
    """A body of just enough whole words for min_stream_bits passes the
    header check (it then fails as truncated or decodes); one word less is
    refused up front. 4xH GRAY needs 4 + (H - 1) * 4 = 4H bits: 5 words for
    H = 40, 35 for H = 280 (a payload counted at 33 bits a word would pass)."""
    bits = quic.min_stream_bits(quic.ImageType.GRAY, 4, height)
    assert bits == 4 * height and bits % 32 == 0
    enough = header(1, 4, height) + bytes(bits // 8)
    assert quic.info(enough).height == height
    assert quic.info(enough + b"\1\2\3").height == height
    for data in (enough[:-1], enough[:-4]):
        with pytest.raises(CodecError) as err:
            quic.info(data)
        want = f"QUIC stream of {len(data)} bytes is too short for 4x{height}"
        assert str(err.value) == want


def test_size_check_counts_whole_words_only() -> None:
    """Bytes past the last whole word are ignored (as spice-common's canvas
    does): 4x41 GRAY needs 164 bits, 6 words; 5 words and a byte are refused."""
    assert quic.min_stream_bits(quic.ImageType.GRAY, 4, 41) == 164
    assert quic.info(header(1, 4, 41) + bytes(24)).height == 41
    for extra in (1, 3):
        data = header(1, 4, 41) + bytes(20 + extra)
        with pytest.raises(CodecError) as err:
            quic.info(data)
        assert (
            str(err.value) == f"QUIC stream of {len(data)} bytes is too short for 4x41"
        )


def test_decode_limits_and_out() -> None:
    img = np.random.default_rng(3).integers(0, 256, (4, 8, 4), dtype=np.uint8)
    data = with_twin(_quic_ref, quic.encode, img, image_type="RGBA")
    for mod in _twins():
        out = np.full((4, 8, 4), 7, np.uint8)
        assert with_twin(mod, quic.decode, data, out=out) is out
        assert np.array_equal(out, img)
        got = with_twin(mod, quic.decode, data, max_pixels=32)
        assert np.array_equal(got, img)
        with pytest.raises(CodecError) as err:
            with_twin(mod, quic.decode, data, max_pixels=31)
        assert str(err.value) == "image 8x4 exceeds the limit of 31 pixels"
        with pytest.raises(ValueError):
            with_twin(mod, quic.decode, data, out=np.zeros((8, 4, 4), np.uint8))


def test_encode_refusals_say_what_is_wrong() -> None:
    img = np.zeros((2, 2, 4), np.uint8)
    cases: list[tuple[Any, Any, str]] = [
        (img, "RGB8", "unknown QUIC image type 'RGB8'"),
        (img, 9, "unknown QUIC image type 9"),
        (img, 0, "unknown QUIC image type 0"),
        (img[:, :, :3], "RGB32", "image must be a uint8 (h, w, 4) array"),
        (img.astype(np.uint16), "RGB32", "image must be a uint8 (h, w, 4) array"),
        (img[0], "RGB32", "image must be a uint8 (h, w, 4) array"),
        (np.zeros((0, 2, 4), np.uint8), "RGB32", "image must be at least 1x1"),
        (np.zeros((2, 0, 4), np.uint8), "RGB32", "image must be at least 1x1"),
        (
            np.zeros((1, 40000, 4), np.uint8),
            "GRAY",
            f"image 40000x1 exceeds the limit of {1 << 26} pixels",
        ),
    ]
    for image, itype, text in cases:
        with pytest.raises(ValueError) as err:
            quic.encode(image, image_type=itype)
        assert str(err.value) == text


def test_encode_names_and_numbers_and_layout() -> None:
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
    for t in quic.ImageType:
        by_name = quic.encode(img, image_type=t.name)
        assert quic.encode(img, image_type=int(t)) == by_name
        assert quic.encode(img, image_type=t) == by_name
        assert struct.unpack_from("<5I", by_name) == (quic.MAGIC, 0, int(t), 5, 3)
    # the default type is RGB32; a non-contiguous image codes its values
    # (the Cython twin takes only C-contiguous arrays: encode makes one)
    wide = np.zeros((3, 10, 4), np.uint8)
    wide[:, ::2] = img
    for mod in _twins():
        want = with_twin(mod, quic.encode, img, image_type="RGBA")
        assert with_twin(mod, quic.encode, img) == quic.encode(img, image_type="RGB32")
        assert with_twin(mod, quic.encode, wide[:, ::2], image_type="RGBA") == want


# ---------------------------------------------------------------- the reader


def test_truncated_stream_text() -> None:
    data = _small_stream(w=8, h=4)
    cut = data[: quic.HEADER_SIZE + 12]  # enough words for the size check
    assert quic.info(cut).width == 8
    for mod in _twins():
        with pytest.raises(CodecError) as err:
            with_twin(mod, quic.decode, cut)
        assert str(err.value) == "QUIC stream truncated"


def _coded_bits(img: np.ndarray, itype: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many bits the reference encoder coded (before its padding)."""
    seen: list[int] = []

    class Counting(_quic_ref.Writer):
        def finish(self) -> bytes:
            seen.append(32 * len(self.words) + self.nbits)
            return super().finish()

    with monkeypatch.context() as m:
        m.setattr(_quic_ref, "Writer", Counting)
        _quic_ref.encode_body(int(quic.ImageType[itype]), img)
    return seen[0]


def test_stream_read_to_its_last_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flush word quic.c appends is not needed: a stream whose coded bits
    fill its words exactly decodes with nothing after them, and one bit less
    (the last word cut) is truncated."""
    rng = np.random.default_rng(11)
    for _ in range(400):
        img = rng.integers(0, 256, (2, 3, 4), dtype=np.uint8)
        bits = _coded_bits(img, "GRAY", monkeypatch)
        if bits % 32 == 0:
            break
    else:
        pytest.fail("no image coded to whole words")
    stream = quic.encode(img, image_type="GRAY")
    exact = stream[: quic.HEADER_SIZE + bits // 8]
    assert len(stream) == len(exact) + 4 and stream[len(exact) :] == bytes(4)
    want = img.copy()
    want[:, :, 1] = want[:, :, 2] = want[:, :, 0]
    want[:, :, 3] = 0
    for mod in _twins():
        assert np.array_equal(with_twin(mod, quic.decode, exact), want)
        with pytest.raises(CodecError) as err:
            with_twin(mod, quic.decode, exact[:-4])
        assert str(err.value) == "QUIC stream truncated"


def test_reader_refuses_the_first_bit_past_its_words() -> None:
    """Only whole words are data: the reader gives every bit of them and
    refuses the first bit after (a trailing partial word is not data)."""
    for n, start in ((1, 0), (2, 1), (5, 2)):
        r = _quic_ref.Reader(bytes(range(4 * n)) + b"\x01\x02", start)
        r.eat(32 * (n - start))
        assert r.pos == 32 * n
        with pytest.raises(CodecError) as err:
            r.eat(1)
        assert str(err.value) == "QUIC stream truncated"


@pytest.mark.parametrize("bpc", [8, 5])
def test_golomb_codes_read_back_before_one_bits(bpc: int) -> None:
    """Every value's code for every k reads back with one bits after it (the
    escape code of the largest value followed by ones peeks as exactly
    prefix_mask[k]: quic.c's golomb_decoding takes the short code only for
    bits > prefix_mask), and consumes exactly its length."""
    fam = _quic_ref.FAMILY[bpc]
    for k in range(bpc):
        for n in range(fam.mask + 1):
            code, length = fam._code(n, k)
            w = _quic_ref.Writer()
            w.put(code, length)
            w.put((1 << (64 - length)) - 1, 64 - length)
            r = _quic_ref.Reader(struct.pack("<2I", *w.words), 0)
            assert (r.golomb(fam, k), r.pos) == (n, length)


def _state(melcstate: int) -> _quic_ref.State:
    st = _quic_ref.State()
    st.melcstate, st.melclen = melcstate, _quic_ref.MELC_J[melcstate]
    return st


@pytest.mark.parametrize("melcstate", [0, 3, 8, 20, 31])
@pytest.mark.parametrize("run", [0, 1, 2, 3, 5, 17, 600])
def test_run_codes_read_back_at_their_limit(melcstate: int, run: int) -> None:
    """A MELCODE run reads back at any state, with the row's room equal to
    the run; one column less is refused with the run error, whether the hits
    (ones) already pass the limit or only the remainder bits do."""
    w = _quic_ref.Writer()
    w.run(_state(melcstate), run)
    w.put(0x5A5, 12)  # what follows the run is left where it was
    data = w.finish()
    wst = _state(melcstate)
    _quic_ref.Writer().run(wst, run)
    r = _quic_ref.Reader(data, 0)
    st = _state(melcstate)
    assert r.run(st, run) == run
    assert (st.melcstate, st.melclen) == (wst.melcstate, wst.melclen)
    assert r.peek32() >> 20 == 0x5A5
    if run:
        with pytest.raises(CodecError) as err:
            _quic_ref.Reader(data, 0).run(_state(melcstate), run - 1)
        assert str(err.value) == "QUIC run past the end of the row"


def test_run_error_raised_in_the_hits_and_after_them() -> None:
    # state 0 (J = 0): run 1 is one hit then a zero: the hit alone passes 0
    w = _quic_ref.Writer()
    w.run(_state(0), 1)
    r = _quic_ref.Reader(w.finish(), 0)
    with pytest.raises(CodecError) as err:
        r.run(_state(0), 0)
    assert str(err.value) == "QUIC run past the end of the row"
    assert r.pos == 1  # refused at the hit, before the terminating zero
    # state 8 (J = 2): run 3 is no hit, a zero and 3 in two bits
    w = _quic_ref.Writer()
    w.run(_state(8), 3)
    r = _quic_ref.Reader(w.finish(), 0)
    with pytest.raises(CodecError) as err:
        r.run(_state(8), 2)
    assert str(err.value) == "QUIC run past the end of the row"
    assert r.pos == 3


def test_melcode_states_saturate() -> None:
    st = _state(31)
    st.melc_up()
    assert (st.melcstate, st.melclen) == (31, 15)
    st = _state(0)
    st.melc_down()
    assert (st.melcstate, st.melclen) == (0, 0)
    st.melc_up()
    assert (st.melcstate, st.melclen) == (1, 0)
    st = _state(5)
    st.melc_down()
    assert (st.melcstate, st.melclen) == (4, 1)
    fresh = _quic_ref.State()
    assert (fresh.waitcnt, fresh.seed, fresh.wmidx, fresh.wmileft) == (0, 0xFF, 0, 2048)
    assert (fresh.trigger, fresh.melcstate, fresh.melclen) == (110, 0, 0)
    assert [fresh.tabrand() for _ in range(2)] == list(_quic_ref.TABRAND_CHAOS[:2])


# ---------------------------------------------------------------- row splits


@pytest.mark.parametrize("width", [2047, 2049])
def test_wait_mask_step_one_column_into_a_row(width: int) -> None:
    """Rows of 2047 samples leave one sample before the wait-mask step of the
    second row (its segment after the step starts at column 1); rows of 2049
    step after column 2048 of the first row and column 2046 of the second.
    Both twins code the same bytes and decode the pixels exactly."""
    rng = np.random.default_rng(width)
    img = rng.integers(0, 3, (3, width, 4), dtype=np.uint8) * 70
    want = img.copy()
    want[:, :, 1] = want[:, :, 2] = want[:, :, 0]
    want[:, :, 3] = 0
    streams = [with_twin(m, quic.encode, img, image_type="GRAY") for m in _twins()]
    assert all(s == streams[0] for s in streams)
    for mod in _twins():
        assert np.array_equal(with_twin(mod, quic.decode, streams[0]), want)


def test_wait_mask_stops_at_wmi_max() -> None:
    """The wait-mask index steps every 2048 samples and stops at WMI_MAX (6):
    a row of 18432 samples (past 7 steps) codes alike in both twins and decodes
    exactly; a step to index 7 (trigger 250, mask 127) would change the code
    after sample 14336 in one twin only."""
    rng = np.random.default_rng(5)
    img = rng.integers(0, 4, (2, 9216, 4), dtype=np.uint8) * 60
    want = img.copy()
    want[:, :, 1] = want[:, :, 2] = want[:, :, 0]
    want[:, :, 3] = 0
    streams = [with_twin(m, quic.encode, img, image_type="GRAY") for m in _twins()]
    assert all(s == streams[0] for s in streams)
    for mod in _twins():
        assert np.array_equal(with_twin(mod, quic.decode, streams[0]), want)
