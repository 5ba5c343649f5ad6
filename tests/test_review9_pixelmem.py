"""canvas.pixelmem: room and spares at their bounds (review 9's plants).

An image that fills exactly what its region has left goes there (no second
mapping), and a dead region is reused by the smallest spare that fits."""

from __future__ import annotations

import gc

import pytest
from test_canvas_pixelmem import H, Mappings, MiB, W, arena, mappings  # noqa: F401

from spicepy.canvas import pixelmem
from spicepy.canvas.pixelmem import HUGE_PAGE


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
