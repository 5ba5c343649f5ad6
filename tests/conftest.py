"""The only conftest: hypothesis profiles and the shared data locations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    "ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev")
)

REPO = Path(__file__).resolve().parent.parent


def _shared(env: str, name: str) -> Path | None:
    """A shared data folder: $env, else ../shared/<name> beside the checkout."""
    if os.environ.get(env):
        path = Path(os.environ[env])
        return path if path.is_dir() else None
    path = REPO.parent / "shared" / name
    return path if path.is_dir() else None


CAPTURES = _shared("SPICEPY_CAPTURES", "captures")
VECTORS = _shared("SPICEPY_VECTORS", "vectors")


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """../shared/captures (or $SPICEPY_CAPTURES); skips when the corpus is absent."""
    if CAPTURES is None:
        pytest.skip("capture corpus not present (set SPICEPY_CAPTURES)")
    return CAPTURES


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """../shared/vectors (or $SPICEPY_VECTORS); skips when absent."""
    if VECTORS is None:
        pytest.skip("codec vectors not present (set SPICEPY_VECTORS)")
    return VECTORS
