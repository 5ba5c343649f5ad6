"""Replay speed per capture: megapixels drawn per second, next to codec time.

Run: pytest benchmarks/bench_replay.py -o python_files='bench_*.py' --benchmark-only
``extra_info``: mpix_drawn, mpix_per_s (pixels written to surfaces / wall time),
codec_s (time inside image/video decoders), canvas_s (the rest: parsing +
drawing), messages.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from spicepy.capture.replay import replay


def _captures() -> Path:
    env = os.environ.get("SPICEPY_CAPTURES")
    return (
        Path(env)
        if env
        else Path(__file__).resolve().parents[2] / "shared" / "captures"
    )


def _names() -> list[str]:
    manifest = _captures() / "manifest.json"
    if not manifest.is_file():
        return []
    return [c["name"] for c in json.loads(manifest.read_text())["captures"]]


@pytest.mark.parametrize("name", _names())
def test_replay_speed(benchmark: Any, name: str) -> None:
    pcap = _captures() / f"{name}.pcap"
    results = []

    def run() -> None:
        results.append(replay(pcap))

    benchmark.pedantic(run, rounds=3, iterations=1)
    r = results[-1]
    wall = benchmark.stats.stats.min if benchmark.stats else r.seconds
    benchmark.extra_info.update(
        messages=r.messages,
        mpix_drawn=round(r.pixels_drawn / 1e6, 2),
        mpix_per_s=round(r.pixels_drawn / 1e6 / wall, 1) if wall else None,
        codec_s=round(r.codec_seconds, 4),
        canvas_s=round(r.seconds - r.codec_seconds, 4),
        dropped=sum(r.errors.values()),
    )
