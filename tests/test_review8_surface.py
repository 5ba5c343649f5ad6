"""Review 8 of surface memory (``canvas.surface.cleared``): this kernel hands
out 2 MiB-aligned anonymous mappings by itself, so the alignment, the rounding
and the marking were never exercised by the tests that map for real.  A
stand-in ``mmap.mmap`` returns memory 4 KiB or 1 MiB past a 2 MiB boundary
and records what is asked of it; the real mapping is then checked to the end
of the surface."""

from __future__ import annotations

import mmap
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spicepy.canvas.surface import HUGE_SURFACE_BYTES, Surface, cleared

HUGE = 2 << 20
MADV_HUGEPAGE: int | None = getattr(mmap, "MADV_HUGEPAGE", None)
pytestmark = pytest.mark.skipif(
    MADV_HUGEPAGE is None, reason="no MADV_HUGEPAGE: surfaces stay with numpy"
)


class Area(np.ndarray):  # type: ignore[type-arg]
    """Memory standing in for a mapping: a buffer with ``madvise``."""

    advised: list[tuple[int, int, int]]

    def madvise(self, option: int, start: int = 0, length: int = 0) -> None:
        self.advised.append((option, start, length))


class Mapper:
    """``mmap.mmap(-1, length, flags=...)`` giving an ``Area`` that starts
    ``skew`` bytes past a 2 MiB boundary."""

    def __init__(self, skew: int) -> None:
        self.skew = skew
        self.made: list[tuple[int, int, Area]] = []
        self._keep: list[np.ndarray[Any, Any]] = []

    def __call__(self, fileno: int, length: int, flags: int = 0, **_: Any) -> Area:
        assert fileno == -1
        raw = np.zeros(length + 2 * HUGE, np.uint8)
        off = (self.skew - raw.ctypes.data) % HUGE
        area = raw[off : off + length].view(Area)
        area.advised = []
        assert area.ctypes.data % HUGE == self.skew
        self._keep.append(raw)
        self.made.append((length, flags, area))
        return area


@pytest.mark.parametrize("skew", [4096, 1 << 20], ids=["4KiB", "1MiB"])
@pytest.mark.parametrize(
    "nbytes", [HUGE_SURFACE_BYTES, 3 << 20, 4 << 20, (4 << 20) + 4, 1024 * 768 * 4]
)
def test_a_mapping_off_a_huge_page_boundary_is_aligned_rounded_and_marked(
    monkeypatch: pytest.MonkeyPatch, skew: int, nbytes: int
) -> None:
    mapper = Mapper(skew)
    monkeypatch.setattr(mmap, "mmap", mapper)
    pixels = cleared(nbytes)
    assert len(mapper.made) == 1
    length, flags, area = mapper.made[0]
    rounded = -(-nbytes // HUGE) * HUGE  # whole huge pages
    assert length == rounded + HUGE  # room to align anywhere
    assert flags & mmap.MAP_PRIVATE and not flags & mmap.MAP_SHARED
    assert flags & mmap.MAP_ANONYMOUS
    start = pixels.ctypes.data - area.ctypes.data
    assert pixels.ctypes.data % HUGE == 0 and 0 <= start < HUGE
    assert area.advised == [(MADV_HUGEPAGE, start, rounded)]
    assert pixels.shape == (nbytes,) and pixels.dtype == np.uint8
    assert start + nbytes <= length  # inside the mapping
    assert not pixels.any() and pixels.flags.writeable


def test_surfaces_from_the_huge_size_on_are_mapped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mapper = Mapper(4096)
    monkeypatch.setattr(mmap, "mmap", mapper)
    assert cleared(HUGE_SURFACE_BYTES - 1).shape == (HUGE_SURFACE_BYTES - 1,)
    assert not mapper.made  # numpy's
    cleared(HUGE_SURFACE_BYTES)
    assert len(mapper.made) == 1


def _vma_flags(address: int) -> list[str]:
    """VmFlags of the mapping (as the kernel splits them) holding ``address``."""
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
        if head:
            inside = int(head[1], 16) <= address < int(head[2], 16)
        elif inside and line.startswith("VmFlags:"):
            return line.split(":", 1)[1].split()
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's smaps")
def test_a_large_surface_is_marked_to_its_last_byte() -> None:
    """A 1024x768 primary (3 MiB): the 2 MiB page holding its last row is
    marked for huge pages too (a mark cut to whole pages of the surface's
    size, or started at the mapping's unaligned start, leaves it out)."""
    pixels = Surface(0, 1024, 768).pixels
    first = pixels.ctypes.data
    last = first + pixels.nbytes - 1
    assert "hg" in _vma_flags(first)
    assert "hg" in _vma_flags(last)
