"""Review 7 of the decode look-ahead (``session/lookahead.py``): cases its
tests let through when a bug was planted in it."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any

import pytest
from test_lookahead import DISPLAY, LIMITS, WIDTH, let_worker_start, message

from spicepy.canvas.surface import SurfaceFormat
from spicepy.channels.events import MessageReceived
from spicepy.session import lookahead
from spicepy.session.core import SessionCore
from spicepy.session.offload import DisplayPrepare
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ImageType

pytestmark = [
    pytest.mark.skipif(
        not lookahead.available(), reason="no compiled codecs (pure-Python twins)"
    ),
    # a worker that never finishes a job leaves ``take`` waiting: fail, not hang
    pytest.mark.timeout(120),
]


def test_images_of_dropped_draws_do_not_pile_up_decoded() -> None:
    """Draws onto a surface that does not exist are dropped before their image
    is resolved: what the worker decoded for them is not kept past the next
    message's hand-over (the resolver holds one message's images at most)."""
    core = SessionCore()
    driver = core.add_display(0)
    driver.canvas.create_surface(0, WIDTH, 96, SurfaceFormat.FMT_32_xRGB)
    queued: deque[object] = deque()
    ahead = lookahead.DecodeAhead(
        lambda: driver.canvas.images,
        queued,
        32 << 20,
        LIMITS.inline_decode_pixels,
        {int(ImageType.QUIC): 1},
    )
    prepare = DisplayPrepare(core, 0, LIMITS.inline_decode_pixels, ahead)
    for i in range(12):
        draw = message(i, ("draw", ImageType.QUIC, 0, 16, "ok", i))
        lost = md.DrawCopy(replace(draw.base, surface_id=7), draw.data)
        queued.append(MessageReceived(DISPLAY, md.DrawCopy.MSG_TYPE, i + 1, lost))
    peak = 0
    while queued:
        event = queued.popleft()
        let_worker_start(prepare, event)
        assert prepare(event) is None
        core.handle_event((DISPLAY, 0), event, 0.0)
        peak = max(peak, len(driver.canvas.images.predecoded))
    prepare.close()
    assert sum(core.dropped.values()) == 12
    assert ahead.taken_images >= 10  # the worker did decode them ahead
    assert peak <= 1


@pytest.mark.parametrize("budget", [4 * WIDTH * 16, 32 << 20], ids=["tight", "wide"])
@pytest.mark.parametrize("patient", [False, True], ids=["as-is", "patient"])
def test_each_image_is_decoded_once_and_the_budget_comes_back(
    budget: int, patient: bool
) -> None:
    """Events arriving several at a time: each image goes through a decode at
    most once (a rescan of older queued events, or a job taken back before
    it was submitted, decoded some twice), and once every event is delivered
    nothing holds the budget (before ``close`` resets it)."""
    core = SessionCore()
    driver = core.add_display(0)
    driver.canvas.create_surface(0, WIDTH, 96, SurfaceFormat.FMT_32_xRGB)
    resolver = driver.canvas.images
    decoded: list[int] = []
    alone = resolver.decode_alone

    def counting(image: Any) -> Any:
        decoded.append(image.descriptor.id)
        return alone(image)

    resolver.decode_alone = counting  # type: ignore[method-assign]
    queued: deque[object] = deque()
    ahead = lookahead.DecodeAhead(
        lambda: resolver, queued, budget, LIMITS.inline_decode_pixels,
        {int(ImageType.QUIC): 1},
    )  # fmt: skip
    prepare = DisplayPrepare(core, 0, LIMITS.inline_decode_pixels, ahead)
    events = [
        MessageReceived(
            DISPLAY,
            md.DrawCopy.MSG_TYPE,
            i + 1,
            message(i, ("draw", ImageType.QUIC, 0, 16, "ok", i)),
        )
        for i in range(12)
    ]
    # four events a chunk, the next chunk queued while two of these wait
    queued.extend(events[:4])
    for lo in (4, 8, 12):
        for _ in range(len(queued) - 2 if lo < 12 else len(queued)):
            event = queued.popleft()
            if patient:
                let_worker_start(prepare, event)
            assert prepare(event) is None
            core.handle_event((DISPLAY, 0), event, 0.0)
        queued.extend(events[lo : lo + 4])
    assert ahead.pending_bytes == 0
    # every decode ahead was taken (a job taken back is never decoded later)
    assert len(decoded) == ahead.taken_images
    prepare.close()
    assert len(decoded) == len(set(decoded))
    assert sum(core.dropped.values()) == 0
