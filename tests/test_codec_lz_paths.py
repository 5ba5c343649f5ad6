"""LZ decoder paths: every match length and offset, literal runs, the image end,
truncated and lying streams, and the stream-level ``decode`` of both twins.

Streams are written here op by op (not by the encoder), and the expected units
come from the op list itself (a forward copy), so neither twin is its own
oracle. The Cython twin copies matches 8 pixels at a time when the offset is
at least 8 and the image has room for the overshoot, stores runs of offset 1 as
one value, and loads literal RGB pixels 4 bytes at a time while the stream has
a byte to spare: the cases below sit on each side of those conditions.
"""

from __future__ import annotations

import struct
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spicepy.codecs import CodecError, _lz_ref, lz
from spicepy.codecs._common import MAX_IMAGE_PIXELS, output_array

_lz_fast: ModuleType | None
try:
    from spicepy.codecs import _lz

    _lz_fast = _lz
except ImportError:  # not built: only the reference twin is tested
    _lz_fast = None

TWINS = [_lz_ref] if _lz_fast is None else [_lz_ref, _lz_fast]

#: (mode, bytes per unit, match length bias, pixels per unit)
MODES = {
    "RGB32": (_lz_ref.MODE_RGB32, 3, 1, 1),
    "RGB16": (_lz_ref.MODE_RGB16, 2, 2, 1),
    "ALPHA": (_lz_ref.MODE_ALPHA, 1, 3, 1),
    "PLT8": (_lz_ref.MODE_PLT8, 1, 3, 1),
    "PLT4_LE": (_lz_ref.MODE_PLT4_LE, 1, 3, 2),
    "PLT4_BE": (_lz_ref.MODE_PLT4_BE, 1, 3, 2),
    "PLT1_LE": (_lz_ref.MODE_PLT1_LE, 1, 3, 8),
    "PLT1_BE": (_lz_ref.MODE_PLT1_BE, 1, 3, 8),
}
GUARD = 16
LUT = (np.arange(256, dtype=np.uint32) * 0x010203 + 0x0A0B0C) & 0x00FFFFFF

Op = tuple[str, int, int]  # ("lit", count, _) or ("match", length, offset), in units


def literal_op(units: list[bytes]) -> bytes:
    assert 1 <= len(units) <= 32
    return bytes([len(units) - 1]) + b"".join(units)


def match_op(length: int, ofs: int, bias: int) -> bytes:
    """A match of ``length`` units ``ofs`` units back, as lz_compress_tmpl.c
    writes it: length - bias in the control byte's top 3 bits (7: more bytes
    follow, 255 while they continue), offset - 1 in 13 bits or the far form."""
    n, o = length - bias, ofs - 1
    assert n >= 0 and 0 <= o < 65535 + 8191
    far = o >= 8191
    top = min(n + 1, 7)
    out = bytearray([(top << 5) | (31 if far else o >> 8)])
    if top == 7:
        rest = n - 6
        while rest >= 255:
            out.append(255)
            rest -= 255
        out.append(rest)
    if far:
        out += bytes([255]) + struct.pack(">H", o - 8191)
    else:
        out.append(o & 255)
    return bytes(out)


def unit(k: int, i: int) -> bytes:
    """The i-th distinct unit of k bytes (RGB16's top bit is not colour)."""
    v = (i * 0x9E3779B1 + 0x5BD1E995) & 0xFFFFFFFF
    b = v.to_bytes(4, "little")[:k]
    return bytes([b[0] & 0x7F, b[1]]) if k == 2 else b


def build(mode: str, ops: list[Op]) -> tuple[bytes, list[bytes]]:
    """The pass body of ``ops`` and the units it decodes to (a forward copy)."""
    _, k, bias, _ = MODES[mode]
    body = bytearray()
    units: list[bytes] = []
    for kind, a, b in ops:
        if kind == "lit":
            new = [unit(k, len(units) + j) for j in range(a)]
            body += literal_op(new)
            units += new
        else:
            body += match_op(a, b, bias)
            for _ in range(a):
                units.append(units[len(units) - b])
    return bytes(body), units


def expected(mode: str, units: list[bytes], colour: np.ndarray) -> np.ndarray:
    """uint32 pixels of ``units`` as spice-common's lz_decompress_tmpl.c
    writes them (``colour``: the pixels under an alpha pass)."""
    raw = np.frombuffer(b"".join(units), np.uint8).astype(np.uint32)
    if mode == "RGB32":
        t = raw.reshape(-1, 3)
        return t[:, 0] | (t[:, 1] << 8) | (t[:, 2] << 16)
    if mode == "RGB16":
        t = raw.reshape(-1, 2)
        hi, lo = t[:, 0], t[:, 1]
        g = ((hi << 6) | (lo >> 2)) & 0xF8
        g |= g >> 5
        r = ((hi << 1) & 0xF8) | ((hi >> 4) & 7)
        b = ((lo << 3) & 0xF8) | ((lo >> 2) & 7)
        return b | (g << 8) | (r << 16)
    if mode == "ALPHA":
        return (colour & 0x00FFFFFF) | (raw << 24)
    idx: np.ndarray
    if mode == "PLT8":
        idx = raw
    elif mode == "PLT4_LE":
        idx = np.stack([raw & 15, raw >> 4], axis=1).reshape(-1)
    elif mode == "PLT4_BE":
        idx = np.stack([raw >> 4, raw & 15], axis=1).reshape(-1)
    else:
        bits = np.arange(8) if mode == "PLT1_LE" else np.arange(7, -1, -1)
        idx = ((raw[:, None] >> bits[None, :]) & 1).reshape(-1)
    return LUT[idx]


def run_pass(twin: ModuleType, mode: str, body: bytes, n_units: int) -> np.ndarray:
    """Decode one pass with ``twin`` into (1, pixels, 4) whose bytes start as a
    known colour (what an alpha pass keeps); its uint32 pixels. The array is
    the start of a longer one: the 16 guard pixels after it must not change."""
    m, _, _, ppu = MODES[mode]
    n_px = n_units * ppu
    whole = colour_under(n_px + GUARD)
    out = whole[:n_px].view(np.uint8).reshape(1, -1, 4)
    lut = LUT if m >= _lz_ref.MODE_PLT8 else None
    try:
        end = twin.decode_pass(body, 0, m, out, lut)
    finally:  # refused or not
        assert np.array_equal(whole[n_px:], colour_under(n_px + GUARD)[n_px:])
    assert end == len(body)
    return whole[:n_px]


def colour_under(n_px: int) -> np.ndarray:
    return (np.arange(n_px, dtype=np.uint32) * 0x01020305) | 0x01000000


def check(mode: str, ops: list[Op]) -> None:
    body, units = build(mode, ops)
    want = expected(mode, units, colour_under(len(units) * MODES[mode][3]))
    for twin in TWINS:
        got = run_pass(twin, mode, body, len(units))
        assert np.array_equal(got, want), (twin.__name__, mode, ops)


# ------------------------------------------------------------ every length, offset


@pytest.mark.parametrize("mode", list(MODES))
def test_every_match_length_and_offset(mode: str) -> None:
    """Lengths 1..40 units (from the mode's minimum) at offsets 1..40, with the
    image ending right after the match, 6 units later (less room than a
    chunk's overshoot), 7 and 33 units later; runs (offset 1) and overlapping copies
    (offset < length) included."""
    bias = MODES[mode][2]
    ppu = MODES[mode][3]
    lengths = range(bias, 41) if ppu == 1 else range(bias, 41, 3)
    for length in lengths:
        for ofs in range(1, 41):
            for tail in (0, 6, 7, 33):
                ops: list[Op] = [("lit", 32, 0), ("lit", 8, 0), ("match", length, ofs)]
                ops += [("lit", min(tail - j, 32), 0) for j in range(0, tail, 32)]
                check(mode, ops)


@pytest.mark.parametrize("mode", list(MODES))
def test_literal_runs_with_and_without_a_spare_byte(mode: str) -> None:
    """Literal runs of 1..32 units; the last op of the stream ends exactly at its
    last byte (no byte to spare for a wide load) or is followed by a match."""
    for count in range(1, 33):
        check(mode, [("lit", count, 0)])
        check(mode, [("lit", count, 0), ("lit", count, 0)])
        check(mode, [("lit", count, 0), ("match", MODES[mode][2], 1)])


@pytest.mark.parametrize("mode", ["RGB32", "ALPHA", "PLT8"])
def test_long_and_far_matches(mode: str) -> None:
    """Extension bytes (255, 255, ...) and 16-bit offsets, chunked and not."""
    bias = MODES[mode][2]
    prefix: list[Op] = [("lit", 32, 0)] * 300  # 9600 units
    for length in (bias + 5, bias + 6, bias + 260, bias + 516, 1000):
        for ofs in (1, 7, 8, 9, 8191, 8192, 9000, 9600):
            check(mode, [*prefix, ("match", length, ofs), ("lit", 3, 0)])


# --------------------------------------------------------------- random op lists


@st.composite
def op_lists(draw: st.DrawFn) -> tuple[str, list[Op]]:
    mode = draw(st.sampled_from(list(MODES)))
    bias = MODES[mode][2]
    ops: list[Op] = [("lit", draw(st.integers(1, 32)), 0)]
    n = ops[0][1]
    for _ in range(draw(st.integers(0, 25))):
        if draw(st.booleans()):
            c = draw(st.integers(1, 32))
            ops.append(("lit", c, 0))
            n += c
        else:
            length = draw(st.integers(bias, 80))
            ofs = draw(st.one_of(st.integers(1, min(n, 10)), st.integers(1, n)))
            ops.append(("match", length, ofs))
            n += length
    return mode, ops


@settings(max_examples=400)
@given(op_lists())
def test_random_ops_decode_like_the_model_in_both_twins(
    case: tuple[str, list[Op]],
) -> None:
    check(*case)


@settings(max_examples=200)
@given(op_lists(), st.data())
def test_truncated_streams_refused_by_both_twins(
    case: tuple[str, list[Op]], data: st.DataObject
) -> None:
    """A pass cut anywhere is a CodecError (never a crash or an overread)."""
    mode, ops = case
    body, units = build(mode, ops)
    cut = data.draw(st.integers(0, len(body) - 1))
    for twin in TWINS:
        with pytest.raises(CodecError):
            run_pass(twin, mode, body[:cut], len(units))


@pytest.mark.parametrize("mode", list(MODES))
def test_lying_matches_refused_by_both_twins(mode: str) -> None:
    """A match reaching before the first pixel, or past the last, at every
    length class (short, chunked, run), is refused by both twins."""
    bias = MODES[mode][2]
    for length in (bias + 1, bias + 7, bias + 30):
        for ofs in (1, 8, 9):
            lits: list[Op] = [("lit", ofs - 1, 0)] if ofs > 1 else []
            body, units = build(mode, lits)
            body += match_op(length, ofs, bias)  # one unit further back than exists
            for twin in TWINS:
                with pytest.raises(CodecError, match="before the start"):
                    run_pass(twin, mode, body, len(units) + length)
            body, units = build(mode, [("lit", 9, 0), ("match", length, ofs)])
            for twin in TWINS:  # the image ends one unit before the match does
                with pytest.raises(CodecError, match="past the end"):
                    run_pass(twin, mode, body, len(units) - 1)


# ------------------------------------------------------------- whole streams


def _stream(
    code: int, w: int, h: int, stride: int, body: bytes, top_down: int = 1
) -> bytes:
    return struct.pack(">7I", lz.MAGIC, lz.VERSION, code, w, h, stride, top_down) + body


def _outcome(twin: ModuleType, data: object, palette: object, out: object) -> object:
    try:
        pixels, code = twin.decode(data, palette, out, MAX_IMAGE_PIXELS)
    except (CodecError, ValueError) as exc:
        text = str(exc)
        if isinstance(exc, CodecError) and text.startswith("LZ stream truncated"):
            text = "LZ stream truncated"  # the Cython twin does not say where
        return type(exc), text
    return pixels.tobytes(), pixels.shape, int(code)


@settings(max_examples=300)
@given(
    st.integers(1, 11),
    st.integers(0, 9),
    st.integers(0, 9),
    st.integers(0, 40),
    st.integers(0, 1),
    st.binary(max_size=120),
    st.sampled_from([None, [], [7], list(range(300))]),
)
def test_whole_streams_same_result_or_refusal_in_both_twins(
    code: int, w: int, h: int, stride: int, top_down: int, body: bytes, palette: object
) -> None:
    """Any header (sizes near the real ones) and body: both twins give the same
    pixels and type, or the same exception with the same words."""
    data = _stream(code, w, h, stride, body, top_down)
    outcomes = {repr(_outcome(t, data, palette, None)) for t in TWINS}
    assert len(outcomes) == 1, outcomes


@pytest.mark.parametrize("kind", ["RGBA", "PLT4_BE", "PLT1_LE", "A8", "RGB16"])
@pytest.mark.parametrize("top_down", [True, False])
def test_whole_streams_every_layout(kind: str, top_down: bool) -> None:
    """Bottom-up rows, palette rows padded to the stride, alpha-only and
    two-pass types: both twins give the encoder's input back, into a new
    array and into ``out`` (returned as is)."""
    rng = np.random.default_rng(5)
    h, w = 6, 11
    if kind.startswith("PLT"):
        image = rng.integers(0, 2 if kind == "PLT1_LE" else 16, (h, w), np.uint8)
        palette = [int(v) for v in LUT[:16]]
        want = np.zeros((h, w, 4), np.uint8)
        want.reshape(-1, 4).view(np.uint32)[:, 0] = LUT[image.reshape(-1)]
    elif kind == "A8":
        image = rng.integers(0, 4, (h, w), np.uint8)
        palette = None
        want = np.zeros((h, w, 4), np.uint8)
        want[:, :, 3] = image
    elif kind == "RGB16":
        image = rng.integers(0, 1 << 15, (h, w)).astype(np.uint16)
        palette = None
        be = [image.astype(">u2").tobytes()]
        want = expected(kind, be, colour_under(0)).view(np.uint8).reshape(h, w, 4)
    else:
        image = rng.integers(0, 3, (h, w, 4), np.uint8)
        palette = None
        want = image
    data = lz.encode(image, image_type=kind, top_down=top_down)
    for twin in TWINS:
        pixels, code = twin.decode(data, palette, None, MAX_IMAGE_PIXELS)
        assert code == lz.ImageType[kind] and np.array_equal(pixels, want)
        out = np.full((h, w, 4), 77, np.uint8)
        pixels, _ = twin.decode(memoryview(data), palette, out, MAX_IMAGE_PIXELS)
        assert pixels is out and np.array_equal(out, want)


def test_out_refusals_are_output_arrays() -> None:
    """An ``out`` that does not fit is refused with output_array's words by both
    twins, whatever is wrong with it; a stream given as a view of wider items
    is read as its bytes."""
    data = lz.encode(np.zeros((2, 3, 4), np.uint8), image_type="RGB32")
    read_only = np.zeros((2, 3, 4), np.uint8)
    read_only.flags.writeable = False
    bad_outs = [
        np.zeros((3, 2, 4), np.uint8),
        np.zeros((2, 2, 4), np.uint8),
        np.zeros((2, 4, 4), np.uint8),
        np.zeros((2, 3, 3), np.uint8),
        np.zeros((2, 3, 4), np.int8),
        np.zeros((2, 3, 4), np.uint16),
        np.zeros((2, 6, 4), np.uint8)[:, ::2],
        read_only,
        memoryview(bytearray(24)).cast("B", (2, 3, 4)),
        bytearray(24),
    ]
    for bad in bad_outs:
        with pytest.raises(ValueError) as want:
            output_array(bad, 3, 2)  # type: ignore[arg-type]
        for twin in TWINS:
            with pytest.raises(ValueError) as err:
                twin.decode(data, None, bad, MAX_IMAGE_PIXELS)
            assert str(err.value) == str(want.value)
    pad = bytes(4 - len(data) % 4)  # 1..4 bytes after the stream
    wide = memoryview(data + pad).cast("I")
    for twin in TWINS:
        with pytest.raises(CodecError) as err:
            twin.decode(wide, None, None, MAX_IMAGE_PIXELS)
        assert (
            str(err.value) == f"{len(pad)} bytes of trailing data after the LZ stream"
        )


@pytest.mark.parametrize("kind", list(lz.ImageType))
def test_body_size_bound_every_type(kind: lz.ImageType) -> None:
    """A body one byte short of units / MAX_RATIO (both passes for RGBA; whole
    stride rows for palettes) is refused with the same words by both twins;
    one byte more passes the bound (and fails later, being zeros)."""
    w, h = 257, 3
    ppb = lz.PIXELS_PER_BYTE.get(kind)
    stride = -(-w // ppb) if ppb else w * lz.BYTES_PER_PIXEL[kind]
    units = (stride if ppb else w) * h * (2 if kind == lz.ImageType.RGBA else 1)
    least = -(-units // lz.MAX_RATIO)
    refusal = f"{least - 1} bytes of LZ data cannot code a {w}x{h} {kind.name} image"
    for twin in TWINS:
        with pytest.raises(CodecError) as err:
            twin.decode(
                _stream(kind, w, h, stride, bytes(least - 1)), [1], None, 1 << 20
            )
        assert str(err.value) == refusal
        with pytest.raises(CodecError) as err:
            twin.decode(_stream(kind, w, h, stride, bytes(least)), [1], None, 1 << 20)
        assert "cannot code" not in str(err.value)
