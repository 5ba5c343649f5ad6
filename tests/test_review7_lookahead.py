"""Review 7 of the decode look-ahead (``session/lookahead.py``): cases its
tests let through when a bug was planted in it."""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import pytest
from test_lookahead import DISPLAY, LIMITS, WIDTH, let_worker_start, message

from spicepy.canvas.surface import SurfaceFormat
from spicepy.channels.events import MessageReceived
from spicepy.session import lookahead
from spicepy.session.core import SessionCore
from spicepy.session.offload import DisplayPrepare
from spicepy.wire import msg_display as md
from spicepy.wire.enums import ImageType

pytestmark = pytest.mark.skipif(
    not lookahead.available(), reason="no compiled codecs (pure-Python twins)"
)


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
