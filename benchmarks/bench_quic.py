"""QUIC decode/encode speed and ratio (1920x1080 RGB32 frames).

Run: pytest benchmarks/bench_quic.py -o python_files='bench_*.py' --benchmark-only
Images: the reference vectors ``desktop`` and ``gradient`` (their PNGs), plus two
frames made here so the file stands alone: ``photo`` (smooth 1/f-style colour
noise with fine grain, photograph-like statistics) and ``noise`` (uniform random
bytes, the incompressible worst case). The "cython" rows use the full frames;
the pure-Python "reference" twin only runs on a 256x256 crop of ``desktop``.
extra_info holds megapixels per second and the compression ratio (raw 24-bit
bytes : stream bytes).

Instructions per pixel (callgrind, repeatable on a loaded machine) of the
Cython decoder on real streams: the vectors' ``.quic.bin`` and every QUIC image
each capture carried (gradients-auto_glz: 159 noisy RGBA images, the
high-entropy case), counted inside ``decode_body`` only::

    .venv/bin/python -P benchmarks/bench_quic.py --instructions \
        vector:desktop capture:gradients-auto_glz capture:photos-quic

CPU time against spice-common's ``quic.c`` on the same streams, in one
process, alternating (instruction counts do not give cycles: the reference
decoder's are compared here directly). ``quic.c`` is built at ``-O2`` (as
Debian builds spice-gtk) from a spice-common and a spice-protocol checkout,
behind a small driver and stand-ins for the glib macros it uses; both
decoders' pixels must be equal::

    git clone https://gitlab.freedesktop.org/spice/spice-common /tmp/sc
    git clone https://gitlab.freedesktop.org/spice/spice-protocol /tmp/sp
    .venv/bin/python -P benchmarks/bench_quic.py --vs-quic-c /tmp/sc /tmp/sp \
        capture:gradients-auto_glz capture:photos-quic

``warm`` decodes into arrays made once, ``fresh`` into a new array per image
(as a session's uncached images are); min and median of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import os
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
from PIL import Image
from spicepy.codecs import _quic_ref, quic

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script with -P: the sibling modules
    sys.path.insert(0, str(HERE))
from reference_c import build_reference_c  # noqa: E402

_quic_fast: ModuleType | None
try:
    from spicepy.codecs import _quic

    _quic_fast = _quic
except ImportError:
    _quic_fast = None

_env = os.environ.get("SPICEPY_VECTORS")
VECTORS = (
    Path(_env) if _env else Path(__file__).resolve().parents[2] / "shared" / "vectors"
)
W, H = 1920, 1080
CROP = 256


def _bgrx(rgb: np.ndarray) -> np.ndarray:
    out = np.zeros(rgb.shape[:2] + (4,), dtype=np.uint8)
    out[:, :, :3] = rgb[:, :, ::-1]
    return out


@functools.cache
def image(name: str) -> np.ndarray:
    """A deterministic (H, W, 4) B,G,R,X frame."""
    if name in ("desktop", "gradient"):
        path = VECTORS / f"{name}.png"
        if not path.exists():
            pytest.skip("codec vectors not present (set SPICEPY_VECTORS)")
        return _bgrx(np.asarray(Image.open(path).convert("RGB")))
    rng = np.random.default_rng(2026)
    if name == "noise":
        return _bgrx(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    # photo: white noise shaped to a 1/f amplitude spectrum per channel, plus grain
    fy = np.fft.fftfreq(H)[:, None]
    fx = np.fft.rfftfreq(W)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / W)
    chans = []
    for _ in range(3):
        spec = np.fft.rfft2(rng.standard_normal((H, W))) * amp
        plane = np.fft.irfft2(spec, s=(H, W))
        plane = (plane - plane.mean()) / plane.std() * 40 + 128
        chans.append(plane + rng.normal(0, 2.0, (H, W)))
    return _bgrx(np.clip(np.stack(chans, axis=2), 0, 255).astype(np.uint8))


CASES = ["desktop", "gradient", "photo", "noise"]
IMPLS = [
    pytest.param(
        _quic_fast,
        id="cython",
        marks=pytest.mark.skipif(_quic_fast is None, reason="not built"),
    ),
    pytest.param(_quic_ref, id="reference"),
]


def _inputs(impl: ModuleType, name: str) -> tuple[np.ndarray, bytes]:
    if impl is _quic_ref:
        if name != "desktop":
            pytest.skip("the reference twin runs on the desktop crop only")
        src = np.ascontiguousarray(image(name)[:CROP, :CROP])
    else:
        src = image(name)
    return src, quic.encode(src)


def _run(
    benchmark: Any,
    impl: ModuleType,
    fn: Callable[[], object],
    pixels: int,
    ratio: float,
) -> None:
    saved = quic._impl
    quic._impl = impl
    try:
        benchmark(fn)
    finally:
        quic._impl = saved
    stats = benchmark.stats.stats if benchmark.stats else None
    if stats is not None and stats.mean > 0:
        benchmark.extra_info["megapixels"] = pixels / 1e6
        benchmark.extra_info["mpix_per_s"] = round(pixels / 1e6 / stats.mean, 1)
    benchmark.extra_info["ratio"] = round(ratio, 2)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("impl", IMPLS)
def test_decode(benchmark: Any, impl: ModuleType, name: str) -> None:
    src, data = _inputs(impl, name)
    h, w = src.shape[:2]
    out = np.empty((h, w, 4), dtype=np.uint8)
    benchmark.group = f"quic-decode-{name}"
    _run(
        benchmark,
        impl,
        lambda: quic.decode(data, out=out),
        h * w,
        h * w * 3 / len(data),
    )


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("impl", IMPLS)
def test_encode(benchmark: Any, impl: ModuleType, name: str) -> None:
    src, data = _inputs(impl, name)
    h, w = src.shape[:2]
    benchmark.group = f"quic-encode-{name}"
    _run(benchmark, impl, lambda: quic.encode(src), h * w, h * w * 3 / len(data))


# -- instructions per pixel (run as a script) ----------------------------------


def _streams(spec: str) -> list[bytes]:
    """``vector:NAME`` (NAME.quic.bin) or ``capture:NAME`` (its QUIC images)."""
    kind, _, name = spec.partition(":")
    if kind == "vector":
        return [(VECTORS / f"{name}.quic.bin").read_bytes()]
    if kind == "capture":
        from spicepy.capture.images import extract_images
        from spicepy.wire.enums import ImageType

        env = os.environ.get("SPICEPY_CAPTURES")
        captures = Path(env) if env else VECTORS.parent / "captures"
        images = extract_images(captures / f"{name}.pcap")
        return [bytes(p.data) for p in images if p.type == ImageType.QUIC]
    raise SystemExit(f"bench_quic: {spec!r} is neither vector:NAME nor capture:NAME")


def _child(spec: str) -> None:
    """Decode every stream of ``spec`` once (callgrind counts decode_body)."""
    streams = _streams(spec)
    outs = [np.empty((i.height, i.width, 4), np.uint8)
            for i in map(quic.info, streams)]  # fmt: skip
    for data, out in zip(streams, outs, strict=True):
        quic.decode(data, out=out)
    print(sum(o.shape[0] * o.shape[1] for o in outs), len(streams))


def instructions(spec: str) -> tuple[int, int, int]:
    """(instructions inside decode_body, pixels, images) for one stream set."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             "--collect-atstart=no", "--toggle-collect=*_quic_*decode_body",
             sys.executable, "-P", __file__, "--child", spec],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"bench_quic: {spec} failed:\n{done.stderr[-2000:]}")
        totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
        assert totals is not None, "callgrind wrote no totals"
    pixels, images = map(int, done.stdout.split())
    return int(totals.group(1)), pixels, images


# -- CPU time against spice-common's quic.c (run as a script) --------------------

#: stand-ins for what quic.c takes from glib and gnulib (spice-common's log.h
#: and verify.h pull in glib); asserts abort, as spice-common's do in release
_SHIM_H = {
    "config.h": "",
    "verify.h": "#define verify_expr(c, e) ((void)sizeof(char[(c) ? 1 : -1]))\n",
    "log.h": """#include <stdlib.h>
#include "macros.h"
#define G_LIKELY(x) __builtin_expect(!!(x), 1)
#define G_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define spice_assert(x) do { if (!G_LIKELY(x)) abort(); } while (0)
#define spice_extra_assert(x) do {} while (0)
#define spice_return_if_fail(x) do { if (!(x)) return; } while (0)
#define spice_warn_if_reached() do {} while (0)
#define GUINT32_TO_LE(x) (x)
#define GUINT32_FROM_LE(x) (x)
""",
}
#: one decode per call into the caller's pixels (RGBA streams as RGBA, the
#: others as RGB32, the canvas's choices); errors long-jump back as -1
_DRIVER_C = """#include <setjmp.h>
#include <stdlib.h>
#include "quic.h"
static jmp_buf failed;
static void fail(QuicUsrContext *u, const char *f, ...) { longjmp(failed, 1); }
static void note(QuicUsrContext *u, const char *f, ...) {}
static void *get(QuicUsrContext *u, int n) { return malloc(n); }
static void put(QuicUsrContext *u, void *p) { free(p); }
static int more_space(QuicUsrContext *u, uint32_t **p, int rows) { return 0; }
static int more_lines(QuicUsrContext *u, uint8_t **lines) { return 0; }
static QuicUsrContext usr = {(void *)fail, note, note, get, put,
                             more_space, more_lines};
static QuicContext *ctx;
int bench_decode(uint32_t *words, int nwords, uint8_t *out, int stride) {
    QuicImageType type;
    int w, h;
    if (!ctx) ctx = quic_create(&usr);
    if (setjmp(failed)) return -1;
    if (quic_decode_begin(ctx, words, nwords, &type, &w, &h)) return -2;
    return quic_decode(ctx, type == QUIC_IMAGE_TYPE_RGBA ? QUIC_IMAGE_TYPE_RGBA
                                                         : QUIC_IMAGE_TYPE_RGB32,
                       out, stride) ? -3 : 0;
}
"""
_QUIC_C_FILES = ("quic.c", "quic.h", "quic_config.h", "quic_family_tmpl.c",
                 "quic_tmpl.c", "macros.h")  # fmt: skip
_PROTOCOL_FILES = ("types.h", "macros.h", "start-packed.h", "end-packed.h")


def build_quic_c(spice_common: Path, spice_protocol: Path, into: Path) -> Path:
    """spice-common's quic.c as a shared library in ``into`` (gcc -O2)."""
    return build_reference_c(
        "quic",
        spice_common,
        spice_protocol,
        into,
        common_files=_QUIC_C_FILES,
        protocol_files=_PROTOCOL_FILES,
        written={**_SHIM_H, "driver.c": _DRIVER_C},
    )


def vs_quic_c(lib: Path, spec: str, rounds: int) -> list[str]:
    """Report lines: CPU ms per pass over ``spec``'s streams, ours and quic.c."""
    c = ctypes.CDLL(str(lib))
    c.bench_decode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                               ctypes.c_int]  # fmt: skip
    streams = _streams(spec)
    infos = [quic.info(s) for s in streams]
    words = [np.frombuffer(s[: len(s) // 4 * 4], np.uint32).copy() for s in streams]
    outs = [np.empty((i.height, i.width, 4), np.uint8) for i in infos]
    pixels = sum(i.width * i.height for i in infos)

    def run_c(fresh: bool) -> None:
        for w, i, o in zip(words, infos, outs, strict=True):
            if fresh:
                o = np.empty_like(o)
            if c.bench_decode(w.ctypes.data, len(w), o.ctypes.data, 4 * i.width):
                raise SystemExit(f"bench_quic: quic.c refused an image of {spec}")

    def run_ours(fresh: bool) -> None:
        for s, o in zip(streams, outs, strict=True):
            quic.decode(s, out=None if fresh else o)

    for s, i, w in zip(streams, infos, words, strict=True):  # same pixels first
        ours, theirs = quic.decode(s), np.zeros_like(quic.decode(s))
        c.bench_decode(w.ctypes.data, len(w), theirs.ctypes.data, 4 * i.width)
        if i.image_type != "RGBA":  # byte 3 is padding: quic.c leaves it alone
            theirs[..., 3] = 0
        if not np.array_equal(ours, theirs):
            raise SystemExit(f"bench_quic: ours and quic.c differ on {spec}")
    lines = []
    for fresh in (False, True):
        times: dict[str, list[float]] = {"quic.c": [], "spicepy": []}
        for _ in range(rounds):
            for name, run in (("quic.c", run_c), ("spicepy", run_ours)):
                start = time.process_time()
                run(fresh)
                times[name].append(time.process_time() - start)
        for name, t in times.items():
            t.sort()
            lines.append(
                f"{spec} {'fresh' if fresh else 'warm'} {name}: {len(streams)} images, "
                f"{pixels / 1e6:.2f} Mpx, CPU ms per pass min {t[0] * 1e3:.1f} "
                f"median {t[len(t) // 2] * 1e3:.1f} ({t[0] * 1e9 / pixels:.1f} ns/px, "
                f"{t[0] * 1e6 / len(streams):.0f} us/image)"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instructions", nargs="+", metavar="SET",
                        help="vector:NAME or capture:NAME")  # fmt: skip
    parser.add_argument("--vs-quic-c", nargs="+", metavar="ARG",
                        help="SPICE_COMMON SPICE_PROTOCOL SET...")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=15, help="for --vs-quic-c")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    if not _quic_fast:
        raise SystemExit("bench_quic: the Cython twin is not built")
    for spec in args.instructions or []:
        ir, pixels, images = instructions(spec)
        print(
            f"{spec}: {images} images, {pixels / 1e6:.2f} Mpx, "
            f"{ir / 1e6:.1f} M instructions, {ir / pixels:.1f} per pixel"
        )
    if args.vs_quic_c:
        if len(args.vs_quic_c) < 3:
            parser.error("--vs-quic-c SPICE_COMMON SPICE_PROTOCOL SET...")
        common, protocol, *specs = args.vs_quic_c
        with tempfile.TemporaryDirectory() as tmp:
            lib = build_quic_c(Path(common), Path(protocol), Path(tmp))
            for spec in specs:
                print("\n".join(vs_quic_c(lib, spec, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
