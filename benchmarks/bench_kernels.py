"""Per-call cost of the drawing kernels: Cython vs reference twin vs canvas numpy.

Run: pytest benchmarks/bench_kernels.py -o python_files='bench_*.py' --benchmark-only
(``--benchmark-group-by=param:case`` puts the three side by side).

Each case draws on a 1920x1080 surface: an 8x16 rectangle (a glyph cell), a
64x64 one (an icon, a tile of a changed area) and a 1000x700 one (a window;
``copy_bits`` moves it one row down in place, as a window move does). "numpy"
is the canvas's numpy code the kernels replace (``Region`` slices, a copy
before an overlapping move, ``apply_rop``, ``rop3``, ``tile_values``,
``mul_un8``/``over``, per-glyph ``unpackbits``); "reference" is ``_draw_ref``,
"cython" ``_draw``.

Wall time on a loaded machine is noisy; ``python benchmarks/bench_kernels.py
--callgrind`` counts instructions per call instead (repeatable under load): it
runs itself under valgrind's callgrind and zeroes / dumps the counters around
each case through a two-function helper built with the C compiler (needs
valgrind and its headers).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from spicepy.canvas import _draw_ref
from spicepy.canvas.draw_blend import mul_un8, over
from spicepy.canvas.region import Region, tile_values
from spicepy.canvas.rop import Rop, apply_rop, rop3

try:
    from spicepy.canvas import _draw as _draw_fast
except ImportError:  # pragma: no cover - depends on the build
    _draw_fast = None  # type: ignore[assignment]

Pixels = npt.NDArray[np.uint8]
H, W = 1080, 1920
SIZES = {"8x16": (8, 16), "64x64": (64, 64), "1000x700": (1000, 700)}
COLOR = 0x00336699


def _pixels(h: int, w: int, seed: int) -> Pixels:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)


SURFACE = _pixels(H, W, 1)
SOURCE = _pixels(H, W, 2)
TILE = _pixels(8, 8, 3)


def _rect(size: str) -> tuple[int, int, int, int]:
    w, h = SIZES[size]
    x, y = (W - w) // 2, (H - h) // 2
    return x, y, x + w, y + h


def _region(r: tuple[int, int, int, int]) -> Region:
    return Region(r[0], r[1], r[2], r[3], None)


# -- the canvas numpy code (7b27cac), one function per kernel --------------------------


def _np_fill(dst: Pixels, r: Any, rop: int, tile: Pixels | None) -> None:
    region = _region(r)
    if tile is None:
        values = np.frombuffer(COLOR.to_bytes(4, "little"), np.uint8).copy()
    else:
        values = tile_values(tile, region, 3, 5)
    if rop == Rop.COPY:
        region.write(dst, values)
    else:
        region.write(dst, apply_rop(Rop(rop), values, region.view(dst)))


def _np_blit(dst: Pixels, r: Any, src: Pixels, dx: int, dy: int) -> None:
    h, w = src.shape[:2]  # cut to the source, as Canvas._image_values
    r = (max(r[0], dx), max(r[1], dy), min(r[2], dx + w), min(r[3], dy + h))
    region = _region(r)
    values = src[r[1] - dy : r[3] - dy, r[0] - dx : r[2] - dx]
    if src is dst:  # Canvas.copy_bits read a copy
        values = values.copy()
    region.write(dst, values)


def _np_transparent(dst: Pixels, r: Any, src: Pixels) -> None:
    region = _region(r)
    values = src[r[1] : r[3], r[0] : r[2]]
    key = np.frombuffer(COLOR.to_bytes(4, "little"), np.uint8)[:3]
    keep = ~np.all(values[..., :3] == key, axis=-1)
    sub = region.and_mask(keep)
    if sub is not None:
        sub.write(dst, values)


def _np_rop3(dst: Pixels, r: Any, src: Pixels) -> None:
    region = _region(r)
    s = src[r[1] : r[3], r[0] : r[2]]
    p = tile_values(TILE, region, 3, 5)
    region.write(dst, rop3(0xCA, p, s, region.view(dst)))


def _np_alpha(dst: Pixels, r: Any, src: Pixels) -> None:
    region = _region(r)
    values = mul_un8(src[r[1] : r[3], r[0] : r[2]], 0x80).astype(np.uint8)
    region.write(dst, over(values, region.view(dst), True))


def _np_text(dst: Pixels, glyphs: list[Any]) -> None:
    boxes = [(x, y, x + w, y + h) for x, y, w, h, _ in glyphs]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    mask = np.zeros((y1 - y0, x1 - x0), np.int32)
    for x, y, w, h, data in glyphs:
        rows = np.frombuffer(data, np.uint8, h).reshape(h, 1)[::-1]
        vals = np.unpackbits(rows, axis=1)[:, :w].astype(np.int32) * 255
        view = mask[y - y0 : y - y0 + h, x - x0 : x - x0 + w]
        np.maximum(view, vals, out=view)
    region = Region(x0, y0, x1, y1, None)
    src = np.broadcast_to(np.frombuffer(COLOR.to_bytes(4, "little"), np.uint8),
                          mask.shape + (4,)).astype(np.int32)  # fmt: skip
    src[..., 3] = 255
    dest = region.view(dst)
    ma = mask[..., None]
    out = np.minimum(mul_un8(src, ma) + mul_un8(dest, 255 - ma), 255).astype(np.uint8)
    out[..., 3] = dest[..., 3]
    region.write(dst, out)


def _glyphs(size: str) -> list[Any]:
    """A1 8x16 glyphs in a row covering the case's rectangle (one for 8x16)."""
    left, top, right, _ = _rect(size)
    rng = np.random.default_rng(4)
    count = max(1, (right - left) // 8)
    return [
        (left + 8 * i, top, 8, 16, rng.integers(0, 256, 16, np.uint8).tobytes())
        for i in range(min(count, 240))
    ]


# -- cases ---------------------------------------------------------------------------


def _case(kernel: str, size: str, impl: str) -> Callable[[], None]:
    """A no-argument call drawing one case with one implementation."""
    dst = SURFACE.copy()
    r = _rect(size)
    rects = (r,)  # as the canvas passes them
    moved = (r[0], r[1] + 1, r[2], r[3])  # COPY_BITS one row down, in place
    if impl == "numpy":
        calls: dict[str, Callable[[], None]] = {
            "fill": lambda: _np_fill(dst, r, Rop.COPY, None),
            "fill_xor_tile": lambda: _np_fill(dst, r, Rop.XOR, TILE),
            "blit": lambda: _np_blit(dst, r, SOURCE, 0, 0),
            "copy_bits": lambda: _np_blit(dst, moved, dst, 0, 1),
            "rop3_tile": lambda: _np_rop3(dst, r, SOURCE),
            "transparent": lambda: _np_transparent(dst, r, SOURCE),
            "alpha_blend": lambda: _np_alpha(dst, r, SOURCE),
            "text": lambda: _np_text(dst, glyphs),
        }  # fmt: skip
    else:
        k: ModuleType = _draw_fast if impl == "cython" else _draw_ref
        calls = {
            "fill": lambda: k.fill(dst, rects, Rop.COPY, COLOR),
            "fill_xor_tile": lambda: k.fill(dst, rects, Rop.XOR, COLOR, TILE, 3, 5),
            "blit": lambda: k.blit(dst, rects, SOURCE, 0, 0, Rop.COPY),
            "copy_bits": lambda: k.blit(dst, (moved,), dst, 0, 1, Rop.COPY),
            "rop3_tile": lambda: k.rop3_blit(
                dst, rects, SOURCE, 0, 0, 0xCA, COLOR, TILE, 3, 5
            ),
            "transparent": lambda: k.transparent(dst, rects, SOURCE, 0, 0, COLOR),
            "alpha_blend": lambda: k.alpha_blend(
                dst, rects, SOURCE, 0, 0, 0x80, False, True
            ),
            "text": lambda: text(k),
        }  # fmt: skip

        def text(k: ModuleType) -> None:
            got = k.glyph_mask(glyphs, 1)
            x0, y0, mask = got
            k.mask_over(dst, rects, mask, x0, y0, COLOR, False)

    glyphs = _glyphs(size)
    return calls[kernel]


IMPLS = [
    pytest.param(
        "cython",
        id="cython",
        marks=pytest.mark.skipif(_draw_fast is None, reason="not built"),
    ),
    pytest.param("reference", id="reference"),
    pytest.param("numpy", id="numpy"),
]
KERNELS = [
    "fill",
    "fill_xor_tile",
    "blit",
    "copy_bits",
    "rop3_tile",
    "transparent",
    "alpha_blend",
    "text",
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel(benchmark: Any, kernel: str, size: str, impl: str) -> None:
    call = _case(kernel, size, impl)
    benchmark.extra_info["case"] = f"{kernel} {size}"
    benchmark(call)


@pytest.mark.parametrize("impl", IMPLS)
def test_region_rects(benchmark: Any, impl: str) -> None:
    """A window-move clip (3 rectangles) cut out of a full-screen bbox."""
    if impl == "numpy":
        pytest.skip("no rectangle list in the canvas code (a mask; see region.py)")
    k: ModuleType = _draw_fast if impl == "cython" else _draw_ref
    clips = [(0, 0, 1920, 300), (0, 300, 600, 700), (1000, 300, 1920, 1080)]
    got = benchmark(k.region_rects, W, H, (100, 100, 1800, 1000), clips)
    assert len(got) == 4


# -- instruction counts (callgrind) ------------------------------------------------

_MARKER_C = b"""
#include <valgrind/callgrind.h>
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


def _callgrind_cases(out_dir: str, marker: str, calls: int) -> list[str]:
    """Inside callgrind: every case, numpy then cython, between a zero and a dump
    of the counters; returns the labels in dump order (an empty loop first)."""
    import ctypes

    lib = ctypes.CDLL(marker)
    labels = []

    def measure(label: str, call: Callable[[], None], n: int) -> None:
        call()
        lib.cg_zero()
        for _ in range(n):
            call()
        lib.cg_dump(label.encode())
        labels.append(label)

    measure("warm-up", lambda: None, 2)
    for n in sorted({calls, max(2, calls // 50)}):
        measure(f"empty - - {n}", lambda: None, n)
    for size in SIZES:
        n = calls if size != "1000x700" else max(2, calls // 50)
        for kernel in KERNELS:
            for impl in ("numpy", "cython"):
                measure(f"{kernel} {size} {impl} {n}", _case(kernel, size, impl), n)
    return labels


def _callgrind_report(out: str, labels: list[str]) -> str:
    """Instructions per call (an empty loop's taken off) of each case."""
    import glob

    totals = []
    for path in sorted(glob.glob(out + ".*"), key=lambda p: int(p.rsplit(".", 1)[1])):
        with open(path) as f:
            totals.append(
                next(int(ln.split()[1]) for ln in f if ln.startswith("summary:"))
            )
    rows = [lb.split() for lb in labels]
    empty = {int(r[3]): t for r, t in zip(rows, totals, strict=True) if r[0] == "empty"}
    table: dict[tuple[str, str], dict[str, float]] = {}
    for r, t in zip(rows, totals, strict=True):
        if len(r) == 4 and r[0] != "empty":
            table.setdefault((r[0], r[1]), {})[r[2]] = (t - empty[int(r[3])]) / int(
                r[3]
            )
    lines = ["| case | size | numpy Ir/call | cython Ir/call | numpy / cython |",
             "|---|---|---:|---:|---:|"]  # fmt: skip
    for (kernel, size), v in table.items():
        numpy, cython = v["numpy"], v["cython"]
        lines.append(
            f"| {kernel} | {size} | {numpy:.0f} | {cython:.0f} | {numpy / cython:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """``--callgrind [CALLS]``: the instruction table (see the module docstring)."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    if os.environ.get("SPICEPY_CG_MARKER"):  # the run under valgrind
        marker, out = os.environ["SPICEPY_CG_MARKER"], os.environ["SPICEPY_CG_OUT"]
        labels = _callgrind_cases(out, marker, int(sys.argv[2]))
        print(json.dumps(labels))
        return
    if len(sys.argv) < 2 or sys.argv[1] != "--callgrind":
        sys.exit(__doc__)
    if _draw_fast is None:
        sys.exit("the compiled kernels are not built")
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with tempfile.TemporaryDirectory() as tmp:
        marker = os.path.join(tmp, "cgmark.so")
        subprocess.run(
            ["cc", "-O2", "-shared", "-fPIC", "-x", "c", "-", "-o", marker],
            input=_MARKER_C, check=True,
        )  # fmt: skip
        out = os.path.join(tmp, "cg.out")
        env = dict(os.environ, SPICEPY_CG_MARKER=marker, SPICEPY_CG_OUT=out)
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--callgrind", str(calls)],
            env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        labels = json.loads(run.stdout.decode().strip().splitlines()[-1])
        print(_callgrind_report(out, labels))


if __name__ == "__main__":
    main()
