"""Review 8 of ``SessionCore.on_changes`` (943104d): the changes noted outside
the draws (a video frame shown: ``note_change``) reach the batch listeners
too, with their display channel, once counted."""

from __future__ import annotations

from spicepy.session.core import SessionCore
from spicepy.wire.types import Rect


def test_a_change_noted_directly_reaches_the_batch_listeners() -> None:
    core = SessionCore()
    heard: list[tuple[int, list[Rect], int, int]] = []
    core.on_changes(
        lambda channel_id, rects: heard.append(
            (channel_id, rects, core.change_count, len(core._changes))
        )
    )
    first, second = Rect(0, 0, 8, 8), Rect(4, 4, 16, 16)
    core.note_change(first, 2)
    core.note_change(second, 0)
    assert heard == [(2, [first], 1, 1), (0, [second], 2, 2)]
