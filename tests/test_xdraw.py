"""XDraw, the live tests' drawing helper: every drawing call reaches the X server.

python-xlib buffers requests until a reply is needed; a helper that did not
flush left a test that drew and then waited for spicepy to see the change
waiting for nothing (issue 14). Each test draws WITHOUT calling sync() and
watches the framebuffer through a second X connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from spicepy.testing import xspice as xs
from spicepy.testing.xdraw import XDraw

REASON = xs.available()
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_XSPICE"),
        reason=f"Xspice not available: {REASON}",
    ),
]

#: how long the second connection polls; a flushed request is executed in
#: milliseconds, an unflushed one never, so the bound only limits a failure
SEEN_WITHIN = 5.0


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xs.Xspice(xs.XspiceOptions()) as server:
        yield server.display


def _seen(watcher: XDraw, check: Callable[[np.ndarray], bool]) -> bool:
    deadline = time.monotonic() + SEEN_WITHIN
    while time.monotonic() < deadline:
        if check(watcher.framebuffer()):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("kind", ["fill_rect", "draw_text", "put_image"])
def test_drawing_reaches_the_server_without_sync(display: str, kind: str) -> None:
    with XDraw(display) as draw, XDraw(display) as watcher:
        draw.clear((0, 0, 0))
        draw.sync()
        region = np.s_[100:140, 200:300]
        if kind == "fill_rect":
            draw.fill_rect(200, 100, 100, 40, (0, 200, 0))
        elif kind == "draw_text":
            draw.draw_text(210, 125, "flushed", (255, 255, 255))
        else:
            draw.put_image(200, 100, np.full((40, 100, 3), 77, np.uint8))

        def changed(frame: np.ndarray) -> bool:
            return bool(frame[region].any())

        assert _seen(watcher, changed), f"{kind} never reached the X server"
