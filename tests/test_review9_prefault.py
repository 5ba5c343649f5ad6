"""canvas.pixelmem.Prefault's survivors (review 9): the process-wide bound
counts every waiting mapping, not one a size; a released Prefault keeps no
mapping alive that someone took; its worker is a daemon thread others can
find by name."""

from __future__ import annotations

import gc
import weakref

import pytest
from test_prefault import _empty_pool, can_populate, ready  # noqa: F401

from spicepy.canvas import pixelmem
from spicepy.canvas.pixelmem import HUGE_PAGE, PREFAULT_BYTES, Prefault

pytestmark = pytest.mark.skipif(
    not can_populate(), reason="no transparent huge pages or MADV_POPULATE_WRITE"
)


def test_the_bound_counts_every_waiting_mapping_of_a_size() -> None:
    """Four 2 MiB mappings asked: PREFAULT_BYTES (6 MiB) lets three wait."""
    p = Prefault((HUGE_PAGE,) * 4)
    try:
        made = ready(p)
        assert len(made) == PREFAULT_BYTES // HUGE_PAGE == 3
        assert len(pixelmem._ready[HUGE_PAGE]) == 3
    finally:
        p.release()


def test_a_released_prefault_keeps_no_taken_mapping_alive() -> None:
    p = Prefault((HUGE_PAGE,))
    (made,) = ready(p)
    taken = pixelmem._map(HUGE_PAGE)
    assert taken is not None and taken is made
    p.release()
    gone = weakref.ref(taken[0])
    del made, taken
    gc.collect()
    assert gone() is None  # unmapped with its last user, not kept by ``p``


def test_the_worker_is_a_daemon_thread_named_for_it() -> None:
    """A worker blocked in the kernel must not hold the interpreter's exit,
    and tests and tools find it by its name."""
    p = Prefault((HUGE_PAGE,))
    try:
        assert p.thread is not None
        assert p.thread.daemon and p.thread.name == "spicepy-prefault"
        ready(p)
    finally:
        p.release()
