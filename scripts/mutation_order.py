"""pytest plugin for scripts/mutation.sh: each mutant's tests run fastest first.

mutmut runs a mutant's tests with ``-x`` in the order of a set (random), so a
mutant the quickest test kills could wait for the slowest one first.  Sorted by
the durations mutmut measured (``mutmut-stats.json``, in the working directory
of its runs), a killed mutant costs its quickest killing test; a survivor
still runs every test that reaches it.
"""

from __future__ import annotations

import json

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    try:
        with open("mutmut-stats.json") as f:
            durations = json.load(f)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return  # the stats run itself: no durations yet
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
