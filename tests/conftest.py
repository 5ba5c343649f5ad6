"""The only conftest: hypothesis profiles, the shared data locations and the
``SPICEPY_REQUIRE_CORPUS=1`` switch (set by .ci/run) that makes a missing corpus
a failure instead of a skip."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
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
# scripts/mutation.sh: reproducible and short (one run per mutant)
settings.register_profile(
    "mutation",
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
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
REQUIRE_CORPUS = os.environ.get("SPICEPY_REQUIRE_CORPUS", "") not in ("", "0")

# Skip reasons that mean "the corpus (or a file of it) is missing": under
# SPICEPY_REQUIRE_CORPUS=1 they fail.  An empty parametrisation is how a
# collection-time corpus listing shows its absence.
_CORPUS_SKIP = re.compile(
    r"corpus|capture|vector|manifest|absent|SPICEPY_CAPTURES|SPICEPY_VECTORS"
    r"|empty parameter set",
    re.IGNORECASE,
)


def _missing(what: str) -> None:
    if REQUIRE_CORPUS:
        pytest.fail(f"{what} (SPICEPY_REQUIRE_CORPUS=1)", pytrace=False)
    pytest.skip(what)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    """Under SPICEPY_REQUIRE_CORPUS=1, a skip for want of corpus data fails."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not (REQUIRE_CORPUS and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else "")
    if _CORPUS_SKIP.search(reason):
        report.outcome = "failed"
        report.longrepr = f"corpus required (SPICEPY_REQUIRE_CORPUS=1): {reason}"


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """../shared/captures (or $SPICEPY_CAPTURES); skips (fails under
    SPICEPY_REQUIRE_CORPUS=1) when the corpus is absent."""
    if CAPTURES is None:
        _missing("capture corpus not present (set SPICEPY_CAPTURES)")
    assert CAPTURES is not None
    return CAPTURES


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """../shared/vectors (or $SPICEPY_VECTORS); skips (fails under
    SPICEPY_REQUIRE_CORPUS=1) when absent."""
    if VECTORS is None:
        _missing("codec vectors not present (set SPICEPY_VECTORS)")
    assert VECTORS is not None
    return VECTORS
