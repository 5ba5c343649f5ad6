"""The display lane's runs against the general path (review 9).

A frame callback (``FrameTracker.on_update``, "the callback form") runs
inside the pump with ``FrameUpdate.pixels``, the live primary, and
``copy()`` of it: on the general path each update's pixels are the screen
after that update's change.  Since the lane keeps a run's bookkeeping in C
and ``flush()`` calls the listeners after the whole run is drawn (cbb9945,
5925991), every update of a run shows the run's last draw: an application
copying the screen per update records frames it never had.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import pytest
from _channel_helpers import drive
from test_channel_base_rules import full, mini
from test_session_lane import PUT, Rig, _create, _fill

from spicepy.session import core as core_mod
from spicepy.session.core import SessionCore
from spicepy.session.frames import FrameTracker, FrameUpdate
from spicepy.wire.enums import CommonMsgc
from spicepy.wire.msg_common import SetAck
from spicepy.wire.msg_other import CursorHide

pytestmark = pytest.mark.skipif(
    core_mod._lane is None, reason="no compiled lane (pure-Python twins)"
)


def _frames_seen(lane: bool) -> tuple[list[tuple[int, str]], int]:
    """(frame number, digest of the pixels) per update a callback got, for
    one chunk of four overlapping fills; and how many draws the lane took."""
    msgs: list[Any] = [_create(0)]
    msgs += [_fill(0, 0, 0, 0x111111 * (i + 1), PUT, 0) for i in range(4)]
    core = SessionCore()
    tracker = FrameTracker(core)
    seen: list[tuple[int, str]] = []

    def callback(event: object) -> None:
        if isinstance(event, FrameUpdate):
            digest = hashlib.sha1(event.copy().tobytes()).hexdigest()
            seen.append((event.frame, digest))

    tracker.on_update(callback)
    rig = Rig(core, lane)
    rig.feed(b"".join(rig.pack(m) for m in msgs))
    return seen, rig.lane.taken if rig.lane is not None else 0


def test_a_frame_callback_sees_each_updates_own_pixels_with_the_lane() -> None:
    """Review 9's real bug: a lane run is drawn before its changes are heard,
    so a callback got the run's last draw as every update's pixels; while
    ``on_update`` callbacks exist the lane now takes no draws."""
    off, _ = _frames_seen(False)
    on, taken = _frames_seen(True)
    assert len(off) == 5 and len({d for _, d in off}) == 5  # each fill shows
    assert taken == 0  # (the callback keeps the lane off)
    assert on == off


def test_the_lane_takes_draws_again_once_the_callback_is_removed() -> None:
    """``exact_changes`` counts the callbacks: removing one (twice: once
    counted) gives the lane back, and a ``subscribe(notify=...)`` consumer
    (the viewer's wake-up) never keeps it off."""
    msgs: list[Any] = [_create(0)]
    msgs += [_fill(0, 0, 0, 0x111111 * (i + 1), PUT, 0) for i in range(4)]
    core = SessionCore()
    tracker = FrameTracker(core)
    woken: list[int] = []
    sub = tracker.subscribe(notify=lambda: woken.append(1))
    remove = tracker.on_update(lambda event: None)
    assert core.exact_changes == 1
    remove()
    remove()
    assert core.exact_changes == 0
    rig = Rig(core, True)
    rig.feed(b"".join(rig.pack(m) for m in msgs))
    assert rig.lane is not None and rig.lane.taken == 4
    assert len(woken) >= 4 and sub.pending


def test_without_listeners_a_run_counts_only_the_primarys_changes() -> None:
    """No ``on_change``/``on_changes`` listener (the lane's other branch): a
    run drawing on the primary and on another surface counts and lists the
    primary's changes only, as the general path does."""
    msgs: list[Any] = [_create(0), _create(1, 8, 8)]
    msgs += [_fill(i % 2, i, i % 3, 0x010203 * i, PUT, 0) for i in range(12)]
    seen = []
    for lane in (False, True):
        core = SessionCore()
        rig = Rig(core, lane)
        rig.feed(b"".join(rig.pack(m) for m in msgs))
        if lane:
            assert rig.lane is not None and rig.lane.taken == 12
        seen.append((core.change_count, list(core._changes)))
    assert seen[1] == seen[0]


def test_a_mini_header_ack_counts_in_the_serials_a_migration_carries() -> None:
    """The ACK a mini-header channel sends as constant bytes is a message
    sent all the same: a seamless migration's target (full headers here)
    numbers its next message after it (the source sent ACK_SYNC, then an
    ACK per window of 2: serials 1..3)."""
    src, srv = mini()
    drive(src, srv.pack(SetAck(7, 2)))
    drive(src, srv.pack(CursorHide()) * 4)
    sent = src.data_to_send()
    assert sent.count(struct.pack("<HI", CommonMsgc.ACK, 0)) == 2
    dst, _ = full()
    dst.continue_from(src)
    dst.send_raw(CommonMsgc.ACK)
    assert dst.data_to_send() == struct.pack("<QHII", 4, CommonMsgc.ACK, 0, 0)


def test_a_replaced_lane_is_the_one_flushed() -> None:
    """``set_lane`` with a new lane: the machine flushes the new one after
    each parse (its draws counted before ``receive_data`` returns), and
    none once the lane is taken away."""
    core = SessionCore()
    rig = Rig(core, True)
    rig.feed(rig.pack(_create(0)))
    second = core.display_lane(0)
    assert second is not None
    rig.machine.set_lane(second)
    rig.lane = second
    before = core.change_count
    fills = b"".join(rig.pack(_fill(0, i, 1, 5, PUT, 0)) for i in range(3))
    rig.machine.receive_data(fills)
    assert second.taken == 3 and core.change_count == before + 3
    rig.drain()
    rig.machine.set_lane(None)
    rig.lane = None
    rig.feed(rig.pack(_fill(0, 0, 0, 6, PUT, 0)))
    assert second.taken == 3 and core.change_count == before + 4
