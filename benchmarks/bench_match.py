"""Needle matching on a 1920x1080 screen: how many matches per second.

Run: pytest benchmarks/bench_match.py -o python_files='bench_*.py' --benchmark-only

Cases (a 120x32 needle cut from a screen-like image: flat 8x8 cells with 20 %
random pixels, so every position is distinct):
- ``in-place``: the screen still shows the needle where it was recorded (the
  fast path: one subtraction), what a bot re-checks on most screen updates.
- ``margin-50``: moved 30 px; openQA's default margin of 50 px is searched.
- ``anywhere``: no margin: the whole screen, coarse (4x4 block means) then
  the 16 best spots exactly.
- ``anywhere-exact``: the baseline for ``anywhere``: every position by FFT at
  full resolution (what the coarse pass saves).

``extra_info``: matches_per_s from the mean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from spicepy.bots import match as match_mod
from spicepy.bots.match import Match, match_needle
from spicepy.bots.needles import Area, Needle

W, H = 1920, 1080


def _screen(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (H // 8 + 1, W // 8 + 1, 3), dtype=np.uint8)
    img = np.repeat(np.repeat(coarse, 8, 0), 8, 1)[:H, :W]
    noise = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    return np.where(rng.random((H, W, 1)) < 0.2, noise, img).astype(np.uint8)


SCREEN = _screen()
NEEDLE_AREA = Area(900, 500, 120, 32, margin=50)


def _case(name: str) -> Callable[[], object]:
    needle = Needle("n", SCREEN, (NEEDLE_AREA,))
    moved = np.roll(SCREEN, (30, -20), axis=(0, 1))
    anywhere = needle.with_areas((Area(900, 500, 120, 32, margin=None),))
    if name == "in-place":
        return lambda: match_needle(SCREEN, needle)
    if name == "margin-50":
        return lambda: match_needle(moved, needle)
    if name == "anywhere":
        return lambda: match_needle(moved, anywhere)

    def exact() -> object:
        old = match_mod.COARSE_ABOVE
        match_mod.COARSE_ABOVE = W * H + 1
        try:
            return match_needle(moved, anywhere)
        finally:
            match_mod.COARSE_ABOVE = old

    return exact


@pytest.mark.parametrize(
    "case", ["in-place", "margin-50", "anywhere", "anywhere-exact"]
)
def test_match_1080p(benchmark: Any, case: str) -> None:
    run = _case(case)
    result = run()
    assert isinstance(result, Match) and result.ok and result.score == 1.0
    benchmark(run)
    if benchmark.stats is not None:
        benchmark.extra_info["matches_per_s"] = 1.0 / benchmark.stats.stats.mean
