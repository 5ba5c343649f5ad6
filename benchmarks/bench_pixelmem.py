"""Fresh memory for decoded images: ``canvas.pixelmem``'s arena against numpy.

An image a cache keeps needs bytes no earlier image freed: their first touch
faults (a 4 KiB page each with numpy's allocator, a 2 MiB one in the arena's
huge-page regions).  For each image size, fresh client-like processes (one
per size and allocator, alternating, so neither inherits the other's freed
memory) take ``--images`` arrays, write every byte (as a decoder does) and
keep them; printed: page faults and CPU (user + system) per image, median of
``--runs`` processes.

Run::

    .venv/bin/python -P benchmarks/bench_pixelmem.py [--runs 5] [--images 24]

The pytest form (``pytest benchmarks/bench_pixelmem.py -o
python_files='bench_*.py'``) is a smoke test: one size, one process each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import pytest

from spicepy.canvas.pixelmem import huge_pages_available

#: (height, width): a 73x73 glyph-sized image (below the arena's minimum),
#: 160x160, 320x200, gradients-lz's 440x300, 640x480 and a full 1024x768
SIZES = [(73, 73), (160, 160), (200, 320), (300, 440), (480, 640), (768, 1024)]

_CHILD = """
import json, resource, sys, time
import numpy as np
from spicepy.canvas.pixelmem import PixelArena
mode, h, w, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
arena = PixelArena(1 << 40, huge=True)
kept = []
f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
for _ in range(n):
    a = arena.take(h, w) if mode == "arena" else None
    if a is None:
        a = np.empty((h, w, 4), np.uint8)
    a.fill(7)
    kept.append(a)
f1, t1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
print(json.dumps({"faults": (f1 - f0) / n, "us": (t1 - t0) / n * 1e6}))
"""


def measure(mode: str, h: int, w: int, images: int) -> dict[str, float]:
    """Faults and CPU microseconds per kept image, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-P", "-c", _CHILD, mode, str(h), str(w), str(images)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="processes per case (median)")
    p.add_argument("--images", type=int, default=24, help="images kept per process")
    a = p.parse_args(argv)
    if not huge_pages_available():
        print("transparent huge pages are off here: the arena gives None (numpy)")
    print("| image | KiB | numpy faults | numpy us | arena faults | arena us |")
    print("|---|---:|---:|---:|---:|---:|")
    for h, w in SIZES:
        runs: dict[str, list[dict[str, float]]] = {"numpy": [], "arena": []}
        for _ in range(a.runs):
            for mode in runs:  # alternating: the same load for both
                runs[mode].append(measure(mode, h, w, a.images))
        cells = [
            f"{statistics.median(r[key] for r in runs[mode]):.1f}"
            for mode in runs
            for key in ("faults", "us")
        ]
        print(f"| {w}x{h} | {h * w * 4 // 1024} | " + " | ".join(cells) + " |")


def test_pixelmem_smoke() -> None:
    """Both allocators run; the arena's kept 440x300 images fault far less
    (a 2 MiB page per three images, against 129 pages an image)."""
    if not huge_pages_available():
        pytest.skip("transparent huge pages are off here")
    numpy_case = measure("numpy", 300, 440, 6)
    arena_case = measure("arena", 300, 440, 6)
    assert numpy_case["faults"] >= 100
    assert arena_case["faults"] < 10


if __name__ == "__main__":
    main()
