"""LZ decode/encode speed and ratio on the reference vectors (1920x1080).

Run: pytest benchmarks/bench_lz.py -o python_files='bench_*.py' --benchmark-only
The "cython" rows use the full frames; the pure-Python "reference" twin gets a
256x256 crop (re-encoded) so a round stays short. extra_info carries the
megapixels per second and the compression ratio (raw 24-bit bytes : stream bytes).

Against spice-common's ``lz.c`` (run as a script): instructions (callgrind,
repeatable on a loaded machine) and CPU time, on the vectors' LZ streams and on
every LZ image a capture carried. ``lz.c`` is built at ``-O2`` (as Debian
builds spice-gtk) from a spice-common and a spice-protocol checkout, behind a
small driver and stand-ins for the glib macros it uses; both decoders' pixels
must be equal first::

    git clone https://gitlab.freedesktop.org/spice/spice-common /tmp/sc
    git clone https://gitlab.freedesktop.org/spice/spice-protocol /tmp/sp
    .venv/bin/python -P benchmarks/bench_lz.py --vs-lz-c /tmp/sc /tmp/sp \
        vector:gradient.lz_rgb32 capture:gradients-lz

Per set it prints: the decoding loops' instructions per pixel (ours: the
``_lz`` kernels; lz.c: ``lz_decode``), the instructions per image of a whole
call (ours: ``lz.decode_with_type`` from Python, header to pixels, as
``codecs.image`` calls it; lz.c: ``lz_decode_begin`` + ``lz_decode``), and the
CPU time per pass over the set (min/median of ``--rounds``, alternating).
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from spicepy.codecs import _lz_ref, lz

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script with -P: the sibling modules
    sys.path.insert(0, str(HERE))
from reference_c import build_reference_c  # noqa: E402

_lz_fast: ModuleType | None
_lz_enc_fast: ModuleType | None
try:
    from spicepy.codecs import _lz, _lz_enc

    _lz_fast, _lz_enc_fast = _lz, _lz_enc
except ImportError:
    _lz_fast = _lz_enc_fast = None

_env = os.environ.get("SPICEPY_VECTORS")
VECTORS = (
    Path(_env) if _env else Path(__file__).resolve().parents[2] / "shared" / "vectors"
)
# (vector stem, image type); gradient stands in for photos
CASES = [
    ("desktop.lz_rgb32", "RGB32"),
    ("gradient.lz_rgb32", "RGB32"),
    ("desktop_plt8.lz_plt8", "PLT8"),
]
IMPLS = [
    pytest.param(
        _lz_fast,
        id="cython",
        marks=pytest.mark.skipif(_lz_fast is None, reason="not built"),
    ),
    pytest.param(_lz_ref, id="reference"),
]
CROP = 256


def _load(stem: str, image_type: str) -> tuple[bytes, np.ndarray, np.ndarray | None]:
    path = VECTORS / f"{stem}.bin"
    if not path.exists():
        pytest.skip("codec vectors not present (set SPICEPY_VECTORS)")
    data = path.read_bytes()
    pal_path = VECTORS / f"{stem}.palette.bin"
    pal = (
        np.frombuffer(pal_path.read_bytes(), dtype="<u4") if pal_path.exists() else None
    )
    pixels = lz.decode(data, palette=pal)
    if image_type != "PLT8":
        return data, pixels, pal
    assert pal is not None
    flat = pixels.reshape(-1, 4).view("<u4").reshape(-1)
    uniq, inverse = np.unique(flat, return_inverse=True)
    lookup = {int(v): i for i, v in enumerate(pal)}
    idx = np.array([lookup[int(v)] for v in uniq], dtype=np.uint8)[inverse]
    return data, idx.reshape(pixels.shape[:2]), pal


def _run(
    benchmark: Any,
    impl: ModuleType,
    fn: Callable[[], object],
    pixels: int,
    ratio: float,
) -> None:
    saved = lz._impl, lz._enc
    lz._impl, lz._enc = impl, (_lz_ref if impl is _lz_ref else _lz_enc_fast)
    try:
        benchmark(fn)
    finally:
        lz._impl, lz._enc = saved
    stats = benchmark.stats.stats if benchmark.stats else None
    if stats is not None and stats.mean > 0:
        benchmark.extra_info["megapixels"] = pixels / 1e6
        benchmark.extra_info["mpix_per_s"] = round(pixels / 1e6 / stats.mean, 1)
    benchmark.extra_info["ratio"] = round(ratio, 2)


def _inputs(
    impl: ModuleType, stem: str, image_type: str
) -> tuple[bytes, np.ndarray, np.ndarray | None]:
    data, source, pal = _load(stem, image_type)
    if impl is _lz_ref:  # the pure-Python twin gets a crop
        source = np.ascontiguousarray(source[:CROP, :CROP])
        data = lz.encode(source, image_type=image_type)
    return data, source, pal


@pytest.mark.parametrize(("stem", "image_type"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("impl", IMPLS)
def test_decode(benchmark: Any, impl: ModuleType, stem: str, image_type: str) -> None:
    data, source, pal = _inputs(impl, stem, image_type)
    h, w = source.shape[:2]
    out = np.empty((h, w, 4), dtype=np.uint8)
    benchmark.group = f"lz-decode-{stem}"
    _run(
        benchmark,
        impl,
        lambda: lz.decode(data, palette=pal, out=out),
        h * w,
        h * w * 3 / len(data),
    )


@pytest.mark.parametrize(("stem", "image_type"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("impl", IMPLS)
def test_encode(benchmark: Any, impl: ModuleType, stem: str, image_type: str) -> None:
    data, source, _pal = _inputs(impl, stem, image_type)
    h, w = source.shape[:2]
    benchmark.group = f"lz-encode-{stem}"
    _run(
        benchmark,
        impl,
        lambda: lz.encode(source, image_type=image_type),
        h * w,
        h * w * 3 / len(data),
    )


# -- against spice-common's lz.c (run as a script) --------------------------------

#: stand-ins for what lz.c takes from glib (log.h), gnulib (verify.h) and
#: draw.h (only SpicePalette); asserts abort, as spice-common's do in release
_SHIM_H = {
    "config.h": "",
    "verify.h": "#define verify(c) extern int verify_[(c) ? 1 : -1]\n",
    "log.h": """#include <stdlib.h>
#include "macros.h"
#define G_LIKELY(x) __builtin_expect(!!(x), 1)
#define G_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define spice_assert(x) do { if (!G_LIKELY(x)) abort(); } while (0)
#define spice_extra_assert(x) do {} while (0)
#define spice_return_if_fail(x) do { if (!(x)) return; } while (0)
#define spice_return_val_if_fail(x, v) do { if (!(x)) return (v); } while (0)
""",
    "mem.h": '#include "log.h"\n',
    "draw.h": """#include <spice/types.h>
#include "log.h"
typedef struct SpicePalette {
    uint64_t unique; uint16_t num_ents; uint32_t ents[0];
} SpicePalette;
""",
}
#: one decode per call into the caller's pixels, as spice-gtk's canvas asks
#: (RGBA as RGBA, everything else as RGB32); errors long-jump back as -1
_DRIVER_C = """#include <setjmp.h>
#include <stdlib.h>
#include "lz.h"
static jmp_buf failed;
static void fail(LzUsrContext *u, const char *f, ...) { longjmp(failed, 1); }
static void note(LzUsrContext *u, const char *f, ...) {}
static void *get(LzUsrContext *u, int n) { return malloc(n); }
static void put(LzUsrContext *u, void *p) { free(p); }
static int more_space(LzUsrContext *u, uint8_t **p) { return 0; }
static int more_lines(LzUsrContext *u, uint8_t **l) { return 0; }
static LzUsrContext usr = {(void *)fail, note, note, get, put, more_space, more_lines};
static LzContext *ctx;
static SpicePalette *pal;
int bench_decode(uint8_t *data, int n, uint8_t *out, const uint32_t *ents) {
    LzImageType type;
    int w, h, n_px, top_down;
    if (!ctx) ctx = lz_create(&usr);
    if (!pal) pal = malloc(sizeof(SpicePalette) + 256 * sizeof(uint32_t));
    if (setjmp(failed)) return -1;
    if (ents) {  /* 256 entries, wrapped as spicepy's palette_lut does */
        pal->num_ents = 256;
        for (int i = 0; i < 256; i++) pal->ents[i] = ents[i];
    }
    lz_decode_begin(ctx, data, n, &type, &w, &h, &n_px, &top_down, ents ? pal : NULL);
    lz_decode(ctx, type == LZ_IMAGE_TYPE_RGBA ? type : LZ_IMAGE_TYPE_RGB32, out);
    return 0;
}
"""
_LZ_C_FILES = ("lz.c", "lz.h", "lz_common.h", "lz_config.h", "lz_compress_tmpl.c",
               "lz_decompress_tmpl.c", "macros.h")  # fmt: skip
_PROTOCOL_FILES = ("types.h", "macros.h", "start-packed.h", "end-packed.h", "enums.h")

Stream = tuple[bytes, "np.ndarray | None"]


def build_lz_c(spice_common: Path, spice_protocol: Path, into: Path) -> Path:
    """spice-common's lz.c as a shared library in ``into`` (gcc -O2)."""
    return build_reference_c(
        "lz",
        spice_common,
        spice_protocol,
        into,
        common_files=_LZ_C_FILES,
        protocol_files=_PROTOCOL_FILES,
        written={**_SHIM_H, "driver.c": _DRIVER_C},
    )


def _streams(spec: str) -> list[Stream]:
    """``vector:STEM`` (STEM.bin) or ``capture:NAME`` (its LZ_RGB/LZ_PLT images),
    each with its palette as a 256-entry table (None without one)."""
    kind, _, name = spec.partition(":")
    if kind == "vector":
        data = (VECTORS / f"{name}.bin").read_bytes()
        pal = VECTORS / f"{name}.palette.bin"
        ents = np.frombuffer(pal.read_bytes(), "<u4") if pal.exists() else None
        return [(data, None if ents is None else lz.palette_lut(ents, 256))]
    if kind == "capture":
        from spicepy.capture.images import extract_images
        from spicepy.wire.enums import ImageType

        env = os.environ.get("SPICEPY_CAPTURES")
        captures = Path(env) if env else VECTORS.parent / "captures"
        found: list[Stream] = []
        for p in extract_images(captures / f"{name}.pcap"):
            if p.type in (ImageType.LZ_RGB, ImageType.LZ_PLT):
                palette = p.palette
                lut = None if palette is None else lz.palette_lut(palette.ents, 256)
                found.append((bytes(p.data), lut))
        return found
    raise SystemExit(f"bench_lz: {spec!r} is neither vector:STEM nor capture:NAME")


def _outs(streams: list[Stream]) -> list[np.ndarray]:
    """Arrays for lz.c's output: the coded rows (palette rows to the stride)."""
    outs = []
    for data, _ in streams:
        hdr = lz.read_header(data)
        outs.append(np.zeros((hdr.height, hdr.row_pixels, 4), np.uint8))
    return outs


def _c_lib(path: str) -> ctypes.CDLL:
    c = ctypes.CDLL(path)
    c.bench_decode.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p,
                               ctypes.c_void_p]  # fmt: skip
    return c


def _c_decode(c: ctypes.CDLL, data: bytes, out: np.ndarray, lut: Any) -> None:
    ents = None if lut is None else lut.ctypes.data
    if c.bench_decode(data, len(data), out.ctypes.data, ents):
        raise SystemExit("bench_lz: lz.c refused a stream")


def _child(path: str, which: str, repeat: int) -> None:
    """Decode every stream pickled at ``path`` ``repeat`` times, with ours
    (``spicepy``; ``noop``: the same loop without the call) or with the lz.c
    library at ``which``. Our loop runs inside ``functools.reduce``, whose C
    function callgrind can count alone."""
    streams: list[Stream] = pickle.loads(Path(path).read_bytes())
    if which in ("spicepy", "noop"):
        outs = [np.empty((h.height, h.width, 4), np.uint8)
                for h in (lz.read_header(d) for d, _ in streams)]  # fmt: skip
        calls = [(d, p, o) for (d, p), o in zip(streams, outs, strict=True)]

        def step(_: None, call: tuple[bytes, Any, np.ndarray]) -> None:
            lz.decode_with_type(call[0], palette=call[1], out=call[2])

        def noop(_: None, call: tuple[bytes, Any, np.ndarray]) -> None:
            return None

        functools.reduce(step if which == "spicepy" else noop, calls * repeat, None)
    else:
        c = _c_lib(which)
        outs = _outs(streams)
        for _ in range(repeat):
            for (d, p), o in zip(streams, outs, strict=True):
                _c_decode(c, d, o, p)


def _callgrind(path: Path, which: str, repeat: int, toggles: tuple[str, ...]) -> int:
    """Instructions of one child run: inside the ``toggles`` functions, or all."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        where = [f"--toggle-collect={t}" for t in toggles]
        where += ["--collect-atstart=no"] if toggles else []
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *where,
             sys.executable, "-P", __file__, "--child", str(path), which, str(repeat)],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"bench_lz: {which} failed:\n{done.stderr[-2000:]}")
        totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
        assert totals is not None, "callgrind wrote no totals"
    return int(totals.group(1))


#: the functions of the decoders: every _lz.pyx function called while decoding
#: (argument and buffer handling included), lz.c's header read and decode
_OUR_KERNELS = ("__pyx_pw_7spicepy_6codecs_3_lz_*",)
_C_KERNELS = ("lz_decode_begin", "lz_decode")
#: the per-call count: a loop of calls minus the same loop calling nothing
_CALLS = ("functools_reduce",)
_CALL_REPEAT = 3


def instructions(lib: Path, spec: str, streams: list[Stream]) -> list[str]:
    """Report lines: Ir per pixel in the decoders and Ir per image of a whole call."""
    pixels = sum(o.shape[0] * o.shape[1] for o in _outs(streams))
    n = len(streams)
    path = lib.parent / "streams.pickle"
    path.write_bytes(pickle.dumps(streams))
    ours = _callgrind(path, "spicepy", 1, _OUR_KERNELS)
    theirs = _callgrind(path, str(lib), 1, _C_KERNELS)
    ours_call = (
        _callgrind(path, "spicepy", _CALL_REPEAT, _CALLS)
        - _callgrind(path, "noop", _CALL_REPEAT, _CALLS)
    ) / (_CALL_REPEAT * n)
    return [
        f"{spec}: {n} images, {pixels / 1e6:.2f} Mpx; decoder Ir/px spicepy "
        f"{ours / pixels:.2f} lz.c {theirs / pixels:.2f} ({ours / 1e6:.2f}M vs "
        f"{theirs / 1e6:.2f}M, {ours / n:,.0f} vs {theirs / n:,.0f} per image); "
        f"whole Python call (lz.decode_with_type) {ours_call:,.0f} Ir per image"
    ]


def cpu_time(lib: Path, spec: str, streams: list[Stream], rounds: int) -> list[str]:
    """Report lines: CPU ms per pass over ``spec``'s streams, ours and lz.c,
    after checking that both give the same pixels."""
    c = _c_lib(str(lib))
    outs = _outs(streams)
    for (d, p), o in zip(streams, outs, strict=True):
        _c_decode(c, d, o, p)
        hdr = lz.read_header(d)
        theirs = o[:, : hdr.width] if hdr.top_down else o[::-1, : hdr.width]
        if not np.array_equal(lz.decode(d, palette=p), theirs):
            raise SystemExit(f"bench_lz: ours and lz.c differ on {spec}")
    ours_out = [lz.decode(d, palette=p) for d, p in streams]

    def run_c() -> None:
        for (d, p), o in zip(streams, outs, strict=True):
            _c_decode(c, d, o, p)

    def run_ours() -> None:
        for (d, p), o in zip(streams, ours_out, strict=True):
            lz.decode_with_type(d, palette=p, out=o)

    pixels = sum(o.shape[0] * o.shape[1] for o in outs)
    times: dict[str, list[float]] = {"lz.c": [], "spicepy": []}
    for _ in range(rounds):
        for name, run in (("lz.c", run_c), ("spicepy", run_ours)):
            start = time.process_time()
            run()
            times[name].append(time.process_time() - start)
    lines = []
    for name, t in times.items():
        t.sort()
        lines.append(
            f"{spec} {name}: CPU ms per pass min {t[0] * 1e3:.2f} median "
            f"{t[len(t) // 2] * 1e3:.2f} ({t[0] * 1e9 / pixels:.2f} ns/px, "
            f"{t[0] * 1e6 / len(streams):.1f} us/image)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vs-lz-c", nargs="+", metavar="ARG", required=False,
                        help="SPICE_COMMON SPICE_PROTOCOL SET...")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=15, help="CPU time rounds")
    parser.add_argument("--no-instructions", action="store_true",
                        help="CPU time only (no valgrind)")  # fmt: skip
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return
    if not lz.FAST:
        raise SystemExit("bench_lz: the Cython twin is not built")
    if not args.vs_lz_c or len(args.vs_lz_c) < 3:
        parser.error("--vs-lz-c SPICE_COMMON SPICE_PROTOCOL SET...")
    common, protocol, *specs = args.vs_lz_c
    with tempfile.TemporaryDirectory() as tmp:
        lib = build_lz_c(Path(common), Path(protocol), Path(tmp))
        for spec in specs:
            streams = _streams(spec)
            lines = cpu_time(lib, spec, streams, args.rounds)
            if not args.no_instructions:
                lines += instructions(lib, spec, streams)
            print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
