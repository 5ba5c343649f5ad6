"""The compiled GLZ twin's bounds (review 9's plants in ``_glz.pyx``'s
one-call decode). It reads palette entries by index unchecked (``_plt``), so
``_use_palette`` must refuse a table shorter than the indices the mode can
code (a 1-bit image needs 2 entries, a 4-bit one at least one); its
reference table must stay sorted for the binary search (else an image it
holds is looked up again); and a stream cut anywhere, the header included, is
refused without a byte read past it (streams at the end of a readable page,
decoded in a child)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from spicepy.codecs import CodecError, _glz_ref, glz

try:
    from spicepy.codecs import _glz
except ImportError:  # not built: nothing compiled reads past a palette
    pytest.skip("the compiled GLZ twin is not built", allow_module_level=True)


@pytest.mark.parametrize(
    ("mode", "least"),
    [
        (_glz_ref.MODE_PLT1_LE, 2),
        (_glz_ref.MODE_PLT1_BE, 2),
        (_glz_ref.MODE_PLT4_LE, 1),
        (_glz_ref.MODE_PLT4_BE, 1),
    ],
)
def test_a_palette_shorter_than_the_mode_needs_is_refused(
    mode: int, least: int
) -> None:
    out = np.zeros(64 * 4, np.uint8)
    for n in range(least):
        with pytest.raises(
            CodecError, match="GLZ palette too short for the image type"
        ):
            _glz.decode_pass(
                b"\x00" * 8,
                0,
                out,
                64,
                mode,
                1,
                0,
                lambda _i: None,
                np.arange(n, dtype=np.uint32),
            )
    try:  # enough entries: whatever the stream says, not refused for the palette
        _glz.decode_pass(
            b"\x00" * 8,
            0,
            out,
            64,
            mode,
            1,
            0,
            lambda _i: None,
            np.arange(least, dtype=np.uint32),
        )
    except CodecError as exc:
        assert "palette too short" not in str(exc)


def test_each_image_referred_to_is_looked_up_once_in_any_order() -> None:
    """An image coded against three earlier ones, referring to them in
    descending id order and then to the first again: the compiled twin looks
    each up once (its reference table is kept sorted for the binary search;
    an unsorted one misses an id it holds and looks it up again)."""
    rng = np.random.default_rng(12)
    pics = [rng.integers(0, 256, (16, 24, 4), np.uint8) for _ in range(3)]
    for p in pics:
        p[..., 3] = 0
    enc = glz.Encoder()
    d = glz.Dictionary()
    for p in pics:  # images 0, 1, 2
        data = enc.encode(p, "RGB32")
        glz._decode_impl(_glz, data, d, None, None, glz.MAX_IMAGE_PIXELS, 0.0)
    mixed = np.concatenate([pics[2], pics[1], pics[0], pics[2]])
    data = enc.encode(mixed, "RGB32")
    asked: list[int] = []

    def lookup(image_id: int) -> object:
        asked.append(image_id)
        return d._lookup(image_id)

    buf, *_ = _glz.decode(data, lookup, None, glz.MAX_IMAGE_PIXELS)
    assert np.array_equal(buf.reshape(64, 24, 4)[..., :3], mixed[..., :3])
    assert sorted(asked) == [0, 1, 2] and asked[0] == 2


GLZ_CHILD = textwrap.dedent(
    """
    import ctypes, mmap, pickle, sys
    from spicepy.codecs import CodecError, _glz, glz

    PAGE = mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    outcomes = []
    for data in pickle.load(sys.stdin.buffer):
        pages = -(-max(len(data), 1) // PAGE)
        area = mmap.mmap(-1, (pages + 1) * PAGE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(area))
        assert libc.mprotect(base + pages * PAGE, PAGE, 0) == 0  # PROT_NONE
        start = pages * PAGE - len(data)
        area[start : start + len(data)] = data
        view = memoryview(area)[start : start + len(data)]
        try:
            _glz.decode(view, lambda _i: None, None, glz.MAX_IMAGE_PIXELS)
            outcomes.append("ok")
        except CodecError:
            outcomes.append("refused")
        del view
        area.close()
    sys.stdout.buffer.write(pickle.dumps(outcomes))
    """
)


def test_a_stream_cut_anywhere_is_refused_without_reading_past_it() -> None:
    """Every prefix of a GLZ stream (the 33-byte header included), placed at
    the end of a readable page whose next page is PROT_NONE: refused, never
    read past (a one-byte overread is a SIGSEGV in the child)."""
    pic = np.random.default_rng(13).integers(0, 4, (5, 7, 4), np.uint8)
    data = glz.Encoder().encode(pic, "RGBA")
    cuts = [data[:n] for n in range(len(data))]
    child = subprocess.run(
        [sys.executable, "-c", GLZ_CHILD],
        input=pickle.dumps([*cuts, data]),
        capture_output=True,
        timeout=300,
    )
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    assert pickle.loads(child.stdout) == ["refused"] * len(cuts) + ["ok"]


def test_any_top_down_nibble_decodes_alike_in_both_twins() -> None:
    """The header's type byte carries top_down in its high nibble: values
    2..15 (a hostile server's) give both twins the same fields and pixels
    (a C twin reading only bit 4 would flip an even one)."""
    pic = np.random.default_rng(14).integers(0, 256, (4, 6, 4), np.uint8)
    pic[..., 3] = 0
    data = bytearray(glz.Encoder().encode(pic, "RGB32"))
    for nibble in range(16):
        data[8] = (data[8] & 0x0F) | (nibble << 4)
        got = [
            twin.decode(bytes(data), lambda _i: None, None, glz.MAX_IMAGE_PIXELS)
            for twin in (_glz_ref, _glz)
        ]
        assert [g[1:] for g in got[1:]] == [got[0][1:]], nibble
        assert bool(got[1][2]) == (nibble != 0)
        assert np.array_equal(got[0][0], got[1][0])
