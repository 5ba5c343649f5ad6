"""Benchmark fixtures: the shared data folders and the benchmark image set.

Benchmarks run with ``pytest benchmarks -o python_files='bench_*.py'
--benchmark-only``; this conftest only serves ``benchmarks/`` (tests/ has its own).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from images import (
    U8,
    bench_capture_images,
    captures_path,
    synthetic,
    vector_images,
    vectors_path,
)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """../shared/vectors (or $SPICEPY_VECTORS); skips when absent."""
    path = vectors_path()
    if path is None:
        pytest.skip("codec vectors not present (set SPICEPY_VECTORS)")
    return path


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """../shared/captures (or $SPICEPY_CAPTURES); skips when absent."""
    path = captures_path()
    if path is None:
        pytest.skip("capture corpus not present (set SPICEPY_CAPTURES)")
    return path


@pytest.fixture(scope="session")
def bench_images() -> dict[str, U8]:
    """Synthetic frames, vector PNGs (and capture pictures), by name (see
    ``images.image_names``)."""
    out = dict(synthetic())
    path = vectors_path()
    if path is not None:
        out.update(vector_images(path))
    out.update(bench_capture_images())
    return out
