"""Review 8 of the display lane's runs (3c3551a: what a run took is written
out by ``flush()`` in ``Channel._parse``'s ``finally``)."""

from __future__ import annotations

from typing import Any

import pytest
from test_session_lane import PUT, Rig, _create, _fill

from spicepy.session import core as core_mod
from spicepy.session.core import SessionCore
from spicepy.wire import msg_display as md

pytestmark = pytest.mark.skipif(
    core_mod._lane is None, reason="no compiled lane (pure-Python twins)"
)


def _fills_after_a_raising_listener(lane: bool) -> int:
    """Three fills, the chunk with the first one also holding the start of the
    second; the change listener raises once (at the first fill) and the
    caller goes on feeding the machine, as the lane's own tests do."""
    core = SessionCore()
    rig = Rig(core, lane)
    rig.feed(rig.pack(_create(0)))
    raised: list[int] = []

    def bad(channel_id: int, rect: Any) -> None:
        if not raised:
            raised.append(channel_id)
            raise RuntimeError("listener")

    core.on_change(bad)
    a, b, c = (rig.pack(_fill(0, n, n, 7, PUT, 0)) for n in (1, 2, 3))
    with pytest.raises(RuntimeError):
        rig.feed(a + b[:5])  # b cut inside its header
    rig.drain()
    rig.feed(b[5:] + c)
    assert raised
    return core.drivers[0].counts[md.DrawFill]


def test_without_the_lane_the_stream_goes_on_after_a_raising_listener() -> None:
    assert _fills_after_a_raising_listener(False) == 3


def test_with_the_lane_the_stream_goes_on_after_a_raising_listener() -> None:
    """(review 8's bug: ``_parse`` flushed before keeping the rest of the
    chunk, so a listener raising in flush lost the cut message's first bytes;
    the rest is now kept first)"""
    assert _fills_after_a_raising_listener(True) == 3
