"""Review 7 of the display lane reading draws from their bytes
(``session/_lane.pyx``): cases the lane's tests let through when a bug was
planted in it (lane on must equal lane off)."""

from __future__ import annotations

import time

import pytest
from _canvas_build import NO_MASK, base
from test_review6_lane import _both
from test_session_lane import (
    PUT,
    Rig,
    _bitmap,
    _cached,
    _copy,
    _create,
    _fill,
    _rect,
)

from spicepy.session import core as core_mod
from spicepy.session.core import SessionCore
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ImageType

pytestmark = pytest.mark.skipif(
    core_mod._lane is None, reason="no compiled lane (pure-Python twins)"
)


@pytest.mark.parametrize("fills", range(5, 27))
@pytest.mark.parametrize("most", [6, 7])
def test_the_change_list_is_cut_alike_whatever_the_count(
    monkeypatch: pytest.MonkeyPatch, fills: int, most: int
) -> None:
    """Past MAX_CHANGES the lane drops the same oldest changes as the core
    (a cut one change longer ended alike at 17 fills, not at every count)."""
    monkeypatch.setattr(core_mod, "MAX_CHANGES", most)
    msgs = [_create(0), *[_fill(0, i % 20, i % 9, i, PUT, 0) for i in range(fills)]]
    (off, _, _), (on, _, taken) = _both(msgs)
    assert taken >= fills - 1
    assert on[1] == off[1] and on[2] == off[2] == fills + 1


def test_lossless_cache_copies_count_their_own_image_type() -> None:
    """A copy FROM_CACHE_LOSSLESS the lane takes is counted under that type,
    not FROM_CACHE (the random streams of test_session_lane only copy
    FROM_CACHE)."""
    lossless, plain = ImageType.FROM_CACHE_LOSSLESS, ImageType.FROM_CACHE
    msgs = [
        _create(0),
        _copy(0, 1, 1, _bitmap(3, 0x0F1E2D), PUT, 0),
        *[_copy(0, 2 * i, i, _cached(3, lossless), PUT, 0) for i in range(3)],
        _copy(0, 5, 5, _cached(3, plain), PUT, 0),
    ]
    (off, _, _), (on, _, taken) = _both(msgs)
    assert taken >= 4
    types = on[0][0][2]  # the display driver's image_types
    assert types[int(lossless)] == 3 and types[int(plain)] == 1
    assert on == off


def test_a_lane_on_the_monotonic_clock_stamps_each_draw_it_takes() -> None:
    """A live connection on a stock loop gives the lane ``time.monotonic``
    itself, which the lane reads in C: each draw it takes still sets
    ``last_display_activity`` to that clock's time (review6's live test
    passed with that stamp removed)."""
    core = SessionCore()
    rig = Rig(core, lane=False)
    rig.lane = core.display_lane(0, clock=time.monotonic)
    rig.machine.set_lane(rig.lane)
    rig.feed(rig.pack(_create(0)) + rig.pack(_fill(0, 0, 0, 1, PUT, 0)), now=1.0)
    taken = rig.lane.taken
    before = time.monotonic()
    rig.feed(rig.pack(_fill(0, 2, 2, 3, PUT, 0)), now=1.0)
    after = time.monotonic()
    assert rig.lane.taken == taken + 1
    assert before <= core.last_display_activity <= after


def test_a_copy_scaled_in_height_only_is_left_to_the_general_path() -> None:
    """A cached copy whose source area has the box's width but not its height
    is scaled (the canvas's path): the lane must decline it, as it does one
    scaled in width."""
    msgs = [
        _create(0),
        _copy(0, 1, 1, _bitmap(3, 0x0F1E2D), PUT, 0),
        *[
            md.DrawCopy(
                base(0, _rect(2 * i, i, 6, 4 + 3 * (i + 1)), None),
                md.Copy(_cached(3), _rect(0, 0, 6, 4), PUT, 0, NO_MASK),
            )
            for i in range(3)
        ],
        _copy(0, 9, 9, _cached(3), PUT, 0),  # same size: the lane's
    ]
    (off, _, _), (on, _, taken) = _both(msgs)
    assert taken >= 1
    assert on == off


def test_change_listeners_hear_the_same_box_for_clipped_lane_draws() -> None:
    """A listener hears each draw's box whatever its clip (review6's listener
    test drew without a clip)."""
    msgs = [_create(0), *[_fill(0, i, 2 * i, 0x010203 * i, PUT, 1) for i in range(5)]]
    msgs += [_copy(0, 1, 1, _bitmap(3, 0x0F1E2D), PUT, 0)]
    msgs += [_copy(0, 3 * i, i, _cached(3), PUT, 1) for i in range(3)]
    (_, heard, _), (_, lane_heard, taken) = _both(msgs)
    assert taken >= 8
    assert lane_heard == heard and len(heard) == 10
