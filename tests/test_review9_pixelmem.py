"""canvas.pixelmem: room and spares at their bounds (review 9's plants).

An image that fills exactly what its region has left goes there (no second
mapping), and a dead region is reused by the smallest spare that fits."""

from __future__ import annotations

import gc
import mmap

import pytest
from test_canvas_pixelmem import H, Mappings, MiB, W, arena, mappings  # noqa: F401
from test_review8_surface import Mapper

from spicepy.canvas import pixelmem
from spicepy.canvas.pixelmem import ALIGN, HUGE_PAGE, PixelArena


def test_an_image_that_fills_the_regions_room_exactly_goes_there(
    mappings: Mappings,  # noqa: F811
) -> None:
    a = arena()
    first = a.take(512, 512)  # 1 MiB: half the region
    second = a.take(512, 512)  # exactly the other half
    assert first is not None and second is not None
    assert len(mappings.made) == 1 and a.pinned == HUGE_PAGE
    assert second.ctypes.data == first.ctypes.data + MiB


def test_a_region_takes_the_smallest_spare_that_fits(
    mappings: Mappings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With room for a 4 MiB and a 2 MiB spare, a 2 MiB region takes the
    2 MiB one (the larger stays for a larger image)."""
    monkeypatch.setattr(pixelmem, "SPARE_BYTES", 3 * HUGE_PAGE)
    a = arena()
    big = a.take(1024, 768)  # 3 MiB: a 4 MiB region of its own
    small = [a.take(512, 1024) for _ in range(2)]  # 2 MiB each: two regions
    assert big is not None and all(p is not None for p in small)
    del big, small[0]  # the 4 MiB and a 2 MiB region: spares
    gc.collect()
    a._settle()
    assert sorted(m[2] for m in a._spares) == [HUGE_PAGE, 2 * HUGE_PAGE]
    again = a.take(300, 440)  # a 2 MiB region: the 2 MiB spare
    assert again is not None
    assert [m[2] for m in a._spares] == [2 * HUGE_PAGE]
    assert len(mappings.made) == 3


def test_an_arena_nobody_holds_goes_with_its_mappings(
    mappings: Mappings,  # noqa: F811
) -> None:
    """A session's arena dies with the session: its regions' finalizers hold
    it weakly, so the current region and the spares it keeps are unmapped
    (a strong reference would keep them all, the current one for ever)."""
    a = arena()
    images = [a.take(H, W) for _ in range(4)]  # two regions, the second current
    assert all(p is not None for p in images)
    del images[:3]  # the first region: a spare
    gc.collect()
    assert len(a._spares) == 1
    del a
    gc.collect()
    assert mappings.alive() == [HUGE_PAGE]  # the one a live image holds
    images.clear()
    assert mappings.alive() == []


def test_the_current_region_replaced_by_a_take_is_settled_at_once(
    mappings: Mappings,  # noqa: F811
) -> None:
    """The replaced current region, whose images all died, dies inside the
    take's locked section: the take settles it before it returns (a spare,
    nothing left queued)."""
    a = arena()
    images = [a.take(H, W) for _ in range(3)]  # ~0.5 MiB left
    del images
    gc.collect()
    assert not a._dead and not a._spares  # kept alive as the current one
    later = a.take(H, W)  # a new region: the old one dies in the section
    assert later is not None
    assert not a._dead and len(a._spares) == 1
    assert a.pinned == 2 * HUGE_PAGE == sum(mappings.alive())


def test_every_spare_gives_its_room_back_when_one_is_not_enough(
    mappings: Mappings,  # noqa: F811
) -> None:
    """At the cap with two 2 MiB spares, a 4 MiB region takes the room of
    both (one is not enough), and the spare bytes are counted anew: the big
    region is kept as a spare when its image dies."""
    a = arena(cap=3 * HUGE_PAGE)
    images = [a.take(H, W) for _ in range(9)]  # three regions, the last current
    assert all(p is not None for p in images) and a.pinned == a.cap
    del images[:6]  # two regions die: both spares (SPARE_BYTES)
    gc.collect()
    assert [m[2] for m in a._spares] == [HUGE_PAGE, HUGE_PAGE]
    big = a.take(1024, 768)  # 3 MiB: a 4 MiB region, both spares unmapped
    assert big is not None and not a._spares and a._spare_bytes == 0
    assert a.pinned == a.cap == sum(mappings.alive())
    del big
    gc.collect()
    assert [m[2] for m in a._spares] == [2 * HUGE_PAGE]


def test_an_arenas_default_follows_the_system() -> None:
    assert PixelArena(MiB).enabled is pixelmem.huge_pages_available()
    assert PixelArena(MiB, huge=True).enabled is True
    assert PixelArena(MiB, huge=False).enabled is False


def test_takes_and_refusals_are_counted_one_by_one() -> None:
    a = arena(cap=HUGE_PAGE)
    assert all(a.take(H, W) is not None for _ in range(3)) and a.taken == 3
    assert a.take(H, W) is None and a.take(H, W) is None
    assert a.refused == 2 and a.taken == 3


def test_a_regions_images_start_on_a_huge_page_off_a_boundary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mapping 4 KiB past a 2 MiB boundary (this kernel aligns its own, so
    the stand-in of test_review8_surface): the region starts at the aligned
    offset, its images after it, inside the mapping."""
    mapper = Mapper(4096)
    monkeypatch.setattr(mmap, "mmap", mapper)
    monkeypatch.setattr(pixelmem, "_ready", {})  # (no prefaulted mapping)
    a = arena()
    first, second = a.take(H, W), a.take(H, W)
    assert first is not None and second is not None and len(mapper.made) == 1
    area = mapper.made[0][2]
    assert first.ctypes.data % HUGE_PAGE == 0
    assert 0 < first.ctypes.data - area.ctypes.data < HUGE_PAGE
    step = -(-H * W * 4 // ALIGN) * ALIGN
    assert second.ctypes.data == first.ctypes.data + step


def test_the_current_region_stays_while_it_keeps_more_room(
    mappings: Mappings,  # noqa: F811
) -> None:
    """An image that does not fit the current region's 1.5 MiB gets a region
    of its own with less left: the next image still goes in the first."""
    a = arena()
    first = a.take(512, 256)  # 0.5 MiB
    bigger = a.take(600, 760)  # 1.74 MiB: a second region, 0.26 MiB left
    after = a.take(512, 256)
    assert first is not None and bigger is not None and after is not None
    assert after.ctypes.data == first.ctypes.data + 512 * 256 * 4
    assert len(mappings.made) == 2


def test_at_exactly_the_cap_the_spares_are_kept(
    mappings: Mappings,  # noqa: F811
) -> None:
    """A 4 MiB region that brings ``pinned`` to exactly the cap is mapped
    beside the 2 MiB spare: no spare is given back before it must be."""
    a = arena(cap=4 * HUGE_PAGE)
    images = [a.take(H, W) for _ in range(6)]  # two regions, the second current
    del images[:3]
    gc.collect()
    assert [m[2] for m in a._spares] == [HUGE_PAGE] and a.pinned == 2 * HUGE_PAGE
    big = a.take(1024, 768)
    assert big is not None and [m[2] for m in a._spares] == [HUGE_PAGE]
    assert a.pinned == a.cap == sum(mappings.alive())
