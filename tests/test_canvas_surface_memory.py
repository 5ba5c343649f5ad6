"""Surface memory (``canvas.surface.cleared``): zeroed, writable, C-contiguous;
large surfaces on 2 MiB-aligned memory marked for transparent huge pages."""

from __future__ import annotations

import mmap
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from spicepy.canvas.surface import HUGE_SURFACE_BYTES, Surface, cleared

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
HUGE = 2 << 20


@pytest.mark.parametrize(
    "nbytes",
    [1, 4096, HUGE_SURFACE_BYTES - 4, HUGE_SURFACE_BYTES, HUGE + 4, 3 * HUGE],
)
def test_cleared_is_zero_writable_and_exactly_that_long(nbytes: int) -> None:
    a = cleared(nbytes)
    assert a.dtype == np.uint8 and a.shape == (nbytes,)
    assert a.flags.c_contiguous and a.flags.writeable
    assert not a.any()
    a[:] = 0xA5  # every byte (a view past its end would not be ours)
    assert int(a.sum()) == 0xA5 * nbytes


def test_a_surface_is_cleared_pixels_of_its_shape() -> None:
    s = Surface(0, 1024, 768)
    assert s.pixels.shape == (768, 1024, 4) and s.pixels.flags.c_contiguous
    assert not s.pixels.any()
    s.pixels[-1, -1] = 7
    s.clear()
    assert not s.pixels.any()


def _mapping_of(address: int) -> dict[str, str]:
    """The /proc/self/smaps entry of the mapping holding ``address``."""
    entry: dict[str, str] = {}
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
        if head:
            inside = int(head[1], 16) <= address < int(head[2], 16)
        elif inside:
            key, _, value = line.partition(":")
            entry[key] = value.strip()
    return entry


def _vmstat(name: str) -> int:
    for line in Path("/proc/vmstat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_HUGEPAGE"),
    reason="transparent huge pages are Linux's",
)
def test_a_large_surface_is_on_aligned_huge_page_memory() -> None:
    """Marked (VmFlags ``hg``), aligned, and on touching it either backed by
    huge pages or the kernel counts a fallback (no free huge page): a
    mapping that cannot take them (shared, unmarked) does neither."""
    if not THP.exists() or "[never]" in THP.read_text():
        pytest.skip("transparent huge pages are off here")
    fallbacks = _vmstat("thp_fault_fallback")
    pixels = Surface(0, 1024, 768).pixels
    address = pixels.ctypes.data
    assert address % HUGE == 0
    pixels[::8] = 1  # the first touch
    entry = _mapping_of(address)
    assert "hg" in entry["VmFlags"].split()
    huge_kb = int(entry["AnonHugePages"].split()[0])
    assert huge_kb >= 2048 or _vmstat("thp_fault_fallback") > fallbacks


def _root(a: object) -> object:
    """What finally owns an array's memory."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a.obj if isinstance(a, memoryview) else a


def test_a_small_surface_stays_with_numpy() -> None:
    """A 64x64 surface would waste most of a huge page: numpy's memory; a
    1024x768 one has a mapping of its own."""
    assert isinstance(_root(Surface(1, 64, 64).pixels), np.ndarray)
    assert isinstance(_root(Surface(0, 1024, 768).pixels), mmap.mmap)
