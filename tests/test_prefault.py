"""Huge-page memory faulted in ahead (``canvas.pixelmem.Prefault``).

A prefaulted mapping is resident and zero before anyone touches it and is what
``_map`` hands out for its size (a surface, an arena region); a mapping not yet
ready is never waited for; what nobody took is unmapped at ``release()``, what
was taken stays; at most ``PREFAULT_BYTES`` wait at once; a session makes one
in ``connect()`` and releases it at ``close()``."""

from __future__ import annotations

import ctypes
import mmap
import threading
from collections.abc import Iterator

import pytest
from test_session import FakeSpice, run, serve

import spicepy
from spicepy.canvas import pixelmem
from spicepy.canvas.pixelmem import (
    DISPLAY_START,
    HUGE_PAGE,
    PREFAULT_BYTES,
    Prefault,
    huge_mapping,
)
from spicepy.session.session import Session
from spicepy.session.uri import parse_uri
from spicepy.wire.enums import ChannelType

PAGE = mmap.PAGESIZE
DISPLAY, INPUTS = int(ChannelType.DISPLAY), int(ChannelType.INPUTS)


def can_populate() -> bool:
    """Huge pages here, and a kernel that populates a range (Linux 5.14 on)."""
    made = pixelmem._map_fresh(HUGE_PAGE) if pixelmem.huge_pages_available() else None
    return made is not None and pixelmem._populate(made[0], made[1], HUGE_PAGE)


pytestmark = pytest.mark.skipif(
    not can_populate(), reason="no transparent huge pages or MADV_POPULATE_WRITE"
)


def resident_pages(address: int, size: int) -> int:
    """Pages of ``[address, address + size)`` in memory (mincore(2))."""
    vec = (ctypes.c_ubyte * (size // PAGE))()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    assert libc.mincore(address, size, vec) == 0, ctypes.get_errno()
    return sum(b & 1 for b in vec)


def ready(p: Prefault) -> list[tuple[mmap.mmap, int]]:
    """``p``'s mappings once its thread is done."""
    assert p.thread is not None
    p.thread.join(10)
    return list(p._made)


@pytest.fixture(autouse=True)
def _empty_pool() -> Iterator[None]:
    assert not any(pixelmem._ready.values())
    yield
    pixelmem._ready.clear()  # (a failed test's leftovers: not the next one's)


def test_a_prefaulted_mapping_is_resident_zero_and_taken_by_size() -> None:
    p = Prefault((HUGE_PAGE,))
    made = ready(p)
    ((area, start),) = made
    address = pixelmem._address(area) + start
    assert resident_pages(address, HUGE_PAGE) == HUGE_PAGE // PAGE
    fresh: list[int] = []
    real = pixelmem._map_fresh

    def counted(size: int) -> tuple[mmap.mmap, int] | None:
        fresh.append(size)
        return real(size)

    pixelmem._map_fresh = counted
    try:
        pixels = huge_mapping(HUGE_PAGE - 100)  # rounds up to one huge page
    finally:
        pixelmem._map_fresh = real
    assert pixels is not None and fresh == []
    assert pixels.__array_interface__["data"][0] == address
    assert not pixels.any()
    p.release()
    assert not area.closed  # the surface's now
    pixels[:] = 7
    assert int(pixels.min()) == 7


def test_release_unmaps_what_nobody_took() -> None:
    p = Prefault((HUGE_PAGE, HUGE_PAGE))
    made = ready(p)
    assert len(made) == 2 and pixelmem._ready[HUGE_PAGE] == made
    taken = pixelmem._map(HUGE_PAGE)
    assert taken is not None and any(taken is m for m in made)
    p.release()
    left = [m for m in made if m is not taken]
    assert [m[0].closed for m in left] == [True]
    assert not taken[0].closed
    assert not any(pixelmem._ready.values())
    p.release()  # idempotent
    again = pixelmem._map(HUGE_PAGE)  # a fresh one now
    assert again is not None and all(again[0] is not m[0] for m in made)


def test_at_most_prefault_bytes_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second session's prefault while the first's wait: nothing more is
    made (not made and dropped: its faults would be wasted work)."""
    faulted: list[int] = []
    real = pixelmem._populate

    def counted(area: mmap.mmap, start: int, size: int) -> bool:
        faulted.append(size)
        return real(area, start, size)

    monkeypatch.setattr(pixelmem, "_populate", counted)
    first = Prefault(DISPLAY_START)
    made = ready(first)
    second = Prefault(DISPLAY_START)
    made += ready(second)
    try:
        assert sum(DISPLAY_START) <= PREFAULT_BYTES < 2 * sum(DISPLAY_START)
        waiting = sum(size * len(m) for size, m in pixelmem._ready.items())
        assert waiting == sum(DISPLAY_START) <= PREFAULT_BYTES
        assert sorted(faulted) == sorted(DISPLAY_START)
    finally:
        first.release()
        second.release()
    assert not any(pixelmem._ready.values())
    assert all(m[0].closed for m in made)


def test_a_mapping_not_ready_yet_is_made_without_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    go = threading.Event()
    real = pixelmem._populate

    def slow(area: mmap.mmap, start: int, size: int) -> bool:
        go.wait(10)
        return real(area, start, size)

    monkeypatch.setattr(pixelmem, "_populate", slow)
    p = Prefault((HUGE_PAGE,))
    pixels = huge_mapping(HUGE_PAGE)  # (the worker is still "faulting")
    assert pixels is not None and not pixels.any()
    assert not any(pixelmem._ready.values())
    p.release()
    go.set()
    assert ready(p) == []  # released meanwhile: nothing left waiting
    assert not any(pixelmem._ready.values())


def test_a_session_prefaults_in_connect_and_releases_at_close() -> None:
    fake = FakeSpice(channels=[(DISPLAY, 0)])
    made: list[tuple[mmap.mmap, int]] = []

    async def main() -> None:
        async with serve(fake) as port:
            s = await spicepy.connect(f"spice://127.0.0.1:{port}", timeout=10)
            assert s._prefault is not None
            made.extend(ready(s._prefault))
            await s.close()

    run(main())
    assert sorted(size for size, m in pixelmem._ready.items() if m) == []
    assert all(area.closed for area, _ in made)


def test_a_session_that_links_no_display_makes_none() -> None:
    fake = FakeSpice(channels=[(DISPLAY, 0), (INPUTS, 0)])

    async def main() -> None:
        async with serve(fake) as port:
            s = Session(
                parse_uri(f"spice://127.0.0.1:{port}"),
                timeout=10,
                channel_types=frozenset({ChannelType.MAIN, INPUTS}),
            )
            try:
                await s.connect()
                assert s._prefault is None
            finally:
                await s.close()

    run(main())
    assert sorted(ctype for _, ctype, _ in fake.linked) == [1, INPUTS]
