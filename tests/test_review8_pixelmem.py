"""Review 8 of ``canvas.pixelmem`` (885866e and after): the cap at its exact
bound, and spares giving their room back to an image that needs a larger
region."""

from __future__ import annotations

import gc

import pytest

from spicepy.canvas import pixelmem
from spicepy.canvas.pixelmem import HUGE_PAGE, PixelArena

pytestmark = pytest.mark.skipif(
    pixelmem._MADV_HUGEPAGE is None, reason="no MADV_HUGEPAGE: the arena is off"
)
MiB = 1 << 20


def test_an_image_of_exactly_the_cap_is_served() -> None:
    """``cap`` bounds the pinned bytes: an image that needs exactly that many
    is within it (1024x512 pixels: 2 MiB, one huge page, cap 2 MiB)."""
    arena = PixelArena(HUGE_PAGE, huge=True)
    image = arena.take(512, 1024)
    assert image is not None and image.shape == (512, 1024, 4)
    assert arena.pinned == HUGE_PAGE
    assert arena.take(512, 1024) is None  # and nothing more
    del image
    arena.release()


def test_spares_give_their_room_back_to_a_larger_region() -> None:
    """A dead 2 MiB region kept as a spare is dropped when a 4 MiB image would
    pass the cap with it; the image is then served within the cap."""
    arena = PixelArena(6 * MiB, huge=True)
    a = arena.take(384, 1024)  # 1.5 MiB: a first 2 MiB region
    b = arena.take(384, 1024)  # another region (0.5 MiB left in the first)
    assert a is not None and b is not None and arena.pinned == 4 * MiB
    del a
    gc.collect()
    assert arena.pinned == 4 * MiB  # the first region is now a spare
    c = arena.take(768, 1024)  # 3 MiB: a 4 MiB region of its own
    assert c is not None
    assert arena.pinned == 6 * MiB <= arena.cap
    del b, c
    arena.release()
