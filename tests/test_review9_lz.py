"""LZ decoder bounds (review 9's plants in ``_lz.pyx``): a literal run longer
than the pixels left is refused in every mode before a pixel is written past
the image, and the compiled twin never reads a byte past the stream.

The pass decoder loads literal RGB pixels 4 bytes at a time "while the stream
has a byte after them", and reads length-extension bytes and far offsets
after checking the bytes left. A one-byte overread goes unseen on a
``bytes`` object (CPython keeps a NUL after its data), so here every stream
ends exactly at the end of a page whose next page is unreadable
(``mprotect(PROT_NONE)``): an overread is a SIGSEGV. The decodes run in a
child process, which reports each outcome; the parent holds them to the
reference twin's.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
from spicepy.codecs import CodecError, _lz_ref, lz
from spicepy.codecs._common import MAX_IMAGE_PIXELS, output_array
from test_codec_lz_paths import GUARD, LUT, MODES, TWINS, Op, _stream, build

try:
    from spicepy.codecs import _lz
except ImportError:  # not built: nothing compiled to overread
    pytest.skip("the compiled LZ twin is not built", allow_module_level=True)

#: the child: each case's stream copied to the end of a readable page
CHILD = textwrap.dedent(
    """
    import ctypes, mmap, pickle, sys
    import numpy as np
    from spicepy.codecs import CodecError, _lz
    from spicepy.codecs._common import MAX_IMAGE_PIXELS

    PAGE = mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

    def at_page_end(data):
        pages = -(-max(len(data), 1) // PAGE)
        area = mmap.mmap(-1, (pages + 1) * PAGE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(area))
        if libc.mprotect(base + pages * PAGE, PAGE, 0) != 0:  # PROT_NONE
            raise OSError(ctypes.get_errno(), "mprotect")
        start = pages * PAGE - len(data)
        area[start : start + len(data)] = data
        return area, memoryview(area)[start : start + len(data)]

    results = []
    for case in pickle.load(sys.stdin.buffer):
        area, view = at_page_end(case[1])
        try:
            if case[0] == "pass":
                _, _, mode, n_px, lut = case
                out = np.zeros((1, n_px, 4), np.uint8)
                end = _lz.decode_pass(view, 0, mode, out, lut)
                results.append(("ok", out.tobytes(), end))
            else:
                pixels, code = _lz.decode(view, case[2], None, MAX_IMAGE_PIXELS)
                results.append(("ok", pixels.tobytes(), int(code)))
        except CodecError as exc:
            results.append(("error", str(exc).split(" at ")[0], None))
        del view
        area.close()
    sys.stdout.buffer.write(pickle.dumps(results))
    """
)

Case = tuple[Any, ...]


def ref_outcome(case: Case) -> tuple[str, Any, Any]:
    try:
        if case[0] == "pass":
            _, data, mode, n_px, lut = case
            out = np.zeros((1, n_px, 4), np.uint8)
            end = _lz_ref.decode_pass(data, 0, mode, out, lut)
            return "ok", out.tobytes(), end
        pixels, code = _lz_ref.decode(case[1], case[2], None, MAX_IMAGE_PIXELS)
        return "ok", pixels.tobytes(), int(code)
    except CodecError as exc:
        return "error", str(exc).split(" at ")[0], None


def run_child(cases: list[Case]) -> list[tuple[str, Any, Any]]:
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=pickle.dumps(cases),
        capture_output=True,
        timeout=300,
    )
    # a negative code is the signal that killed it: -11 for a read past the end
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    got: list[tuple[str, Any, Any]] = pickle.loads(child.stdout)
    return got


def pass_case(mode: str, ops: list[Op], cut: int | None = None) -> Case:
    body, units = build(mode, ops)
    m, _, _, ppu = MODES[mode]
    lut = LUT if m >= _lz_ref.MODE_PLT8 else None
    return ("pass", body if cut is None else body[:cut], m, len(units) * ppu, lut)


def check_all(cases: list[Case]) -> None:
    got = run_child(cases)
    assert len(got) == len(cases)
    for case, outcome in zip(cases, got, strict=True):
        want = ref_outcome(case)
        if want[0] == "error" and want[1].startswith("LZ stream truncated"):
            want = ("error", "LZ stream truncated", None)  # (where: not said in C)
        if outcome[0] == "error" and outcome[1].startswith("LZ stream truncated"):
            outcome = ("error", "LZ stream truncated", None)
        assert outcome == want, (case[0], case[2], len(case[1]))


@pytest.mark.parametrize("mode", list(MODES))
def test_a_literal_run_past_the_image_end_is_refused_in_every_mode(mode: str) -> None:
    """Literal runs of 1..32 units into an image one pixel short of them (and
    a unit short, for the modes of several pixels a unit), alone or after
    other ops: both twins refuse, and the guard pixels after the image keep
    their values (a check by units, not pixels, would write 7 of them)."""
    m, _, _, ppu = MODES[mode]
    lut = LUT if m >= _lz_ref.MODE_PLT8 else None
    for count in range(1, 33):
        run: Op = ("match", MODES[mode][2], 1)
        for before in ([], [("lit", 5, 0)], [("lit", 5, 0), run]):
            ops: list[Op] = [*before, ("lit", count, 0)]
            body, units = build(mode, ops)
            for short in {1, ppu}:
                n_px = len(units) * ppu - short
                n_px -= n_px % ppu  # (decode_pass takes whole units only)
                if n_px <= len(units) * ppu - count * ppu:
                    continue  # the image is full before the run: the pass ends
                for twin in TWINS:
                    whole = np.full(n_px + GUARD, 0x5A5A5A5A, np.uint32)
                    out = whole[:n_px].view(np.uint8).reshape(1, -1, 4)
                    with pytest.raises(CodecError, match="past the end"):
                        twin.decode_pass(body, 0, m, out, lut)
                    assert (whole[n_px:] == 0x5A5A5A5A).all(), (twin.__name__, count)


def test_literals_ending_the_stream_are_not_loaded_past_it() -> None:
    """RGB32 literal runs of 1..32 pixels as the stream's last op (after other
    ops, so the wide loads run): no byte after the last one is read."""
    cases = []
    for count in range(1, 33):
        cases.append(pass_case("RGB32", [("lit", count, 0)]))
        cases.append(pass_case("RGB32", [("lit", 5, 0), ("lit", count, 0)]))
        lits: list[Op] = [("lit", 8, 0), ("match", 4, 3), ("lit", count, 0)]
        cases.append(pass_case("RGB32", lits))
    for mode in MODES:
        cases.append(pass_case(mode, [("lit", 32, 0), ("lit", 7, 0)]))
    check_all(cases)


def test_every_cut_of_long_and_far_matches_is_refused_without_an_overread() -> None:
    """Each prefix of streams holding length-extension bytes (255, ...) and a
    16-bit offset, in each mode: refused as truncated, reading nothing past
    the cut."""
    cases = []
    for mode in MODES:
        bias = MODES[mode][2]
        ops: list[Op] = [("lit", 32, 0)] * 260  # 8320 units: far offsets fit
        ops += [("match", bias + 600, 8200), ("match", bias + 9, 1)]
        body, _ = build(mode, ops)
        full = pass_case(mode, ops)
        start = len(build(mode, [("lit", 32, 0)] * 260)[0])
        for cut in range(start - 3, len(body)):
            cases.append(pass_case(mode, ops, cut))
        cases.append(full)
    check_all(cases)


def test_whole_streams_cut_anywhere_are_refused_without_an_overread() -> None:
    """``decode`` (header read in C) on every prefix of an RGBA stream (two
    passes) and a PLT8 stream whose last op is a literal run."""
    rng = np.random.default_rng(9)
    img = rng.integers(0, 4, (5, 9, 4), np.uint8)
    rgba = lz.encode(img, image_type="RGBA")
    body, units = build("PLT8", [("lit", 3, 0), ("match", 4, 2), ("lit", 13, 0)])
    plt = _stream(int(lz.ImageType.PLT8), len(units), 1, len(units), body)
    palette = [int(v) for v in LUT]
    cases: list[Case] = []
    for data, pal in ((rgba, None), (plt, palette)):
        for cut in range(len(data) + 1):
            cases.append(("whole", data[:cut], pal))
    check_all(cases)


def test_an_out_of_the_wrong_height_alone_is_refused_before_a_write() -> None:
    """``out`` right in width, depth and type but a row short or a row long:
    refused with output_array's words by both twins, and the rows after a
    short one (the same buffer) keep their bytes."""
    img = np.random.default_rng(2).integers(0, 256, (4, 5, 4), np.uint8)
    img[..., 3] = 0
    for top_down in (True, False):
        data = lz.encode(img, image_type="RGB32", top_down=top_down)
        for rows in (3, 5):
            whole = np.full((6, 5, 4), 0xA5, np.uint8)
            bad = whole[:rows]
            with pytest.raises(ValueError) as want:
                output_array(bad, 5, 4)
            for twin in TWINS:
                with pytest.raises(ValueError) as err:
                    twin.decode(data, None, bad, MAX_IMAGE_PIXELS)
                assert str(err.value) == str(want.value)
                assert (whole == 0xA5).all(), (twin.__name__, rows, top_down)


@pytest.mark.parametrize(
    ("mode", "need"), [("PLT8", 256), ("PLT4_LE", 16), ("PLT4_BE", 16), ("PLT1_BE", 2)]
)
def test_a_palette_table_an_entry_short_is_refused(mode: str, need: int) -> None:
    """The compiled ``decode_pass`` reads its table by index unchecked, so the
    table must hold an entry for every index the mode can code (counted in
    entries of 4 bytes, not bytes): one short is refused before any read,
    exactly enough decodes."""
    m = MODES[mode][0]
    body, units = build(mode, [("lit", 3, 0)])
    n_px = len(units) * MODES[mode][3]
    for twin in (_lz,):
        out = np.zeros((1, n_px, 4), np.uint8)
        with pytest.raises(ValueError, match="palette table too short"):
            twin.decode_pass(body, 0, m, out, LUT[: need - 1].copy())
        assert twin.decode_pass(body, 0, m, out, LUT[:need].copy()) == len(body)


def test_image_types_outside_the_table_are_refused_alike() -> None:
    """Type codes 0 (INVALID), 12 and beyond (the table's end) with any
    stride: both twins refuse with the same words (the header fuzz test
    draws codes 1..11 only)."""
    body, _ = build("RGB32", [("lit", 6, 0)])
    for code in (0, 12, 255, 1 << 31):
        for stride in (0, 3, 9, 12):
            data = _stream(code, 3, 2, stride, body)
            words = set()
            for twin in TWINS:
                with pytest.raises(CodecError) as err:
                    twin.decode(data, None, None, MAX_IMAGE_PIXELS)
                words.add(str(err.value))
            assert len(words) == 1, (code, stride, words)
