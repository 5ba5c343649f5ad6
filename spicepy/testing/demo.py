"""``spicepy demo``: local Xspice, known content, spicepy screenshot, comparison."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spicepy.testing.xdraw import XDraw, draw_test_scene
from spicepy.testing.xspice import ImageCompression, Xspice, XspiceOptions

Report = Callable[[str], object]


def run_demo(
    output: Path,
    *,
    compression: ImageCompression = "off",
    timeout: float = 60.0,
    report: Report = lambda line: None,
) -> bool:
    """Run the demo; ``report`` receives one line per step. True when pixels match.

    Raises:
        SessionError: Xspice cannot start or the SPICE session fails.
    """
    from spicepy.client import connect

    started = time.monotonic()
    options = XspiceOptions(image_compression=compression)
    with Xspice(options) as server:
        report(
            f"started Xspice on {server.uri} (display {server.display}, "
            f"image compression {compression})"
        )
        with XDraw(server.display) as draw:
            draw_test_scene(draw)
            report(
                "drew coloured rectangles, text and a gradient image with python-xlib"
            )

            async def grab() -> np.ndarray:
                async with connect(server.uri, timeout=timeout) as session:
                    report(
                        f"connected; linked channels: "
                        f"{', '.join(c.name for c in session.connections.values())}"
                    )
                    await session.wait_until_settled(quiet=0.5, timeout=timeout)
                    report(f"screen settled after {session.frames} frame mark(s)")
                    return session.screenshot(output)

            shot = asyncio.run(grab())
            truth = draw.framebuffer()
    report(f"saved {shot.shape[1]}x{shot.shape[0]} screenshot to {output}")
    if shot.shape != truth.shape:
        report(f"MISMATCH: screenshot {shot.shape} vs server framebuffer {truth.shape}")
        return False
    differing = int(np.count_nonzero((shot != truth).any(axis=-1)))
    elapsed = time.monotonic() - started
    if differing == 0:
        report(
            f"identical to the server's framebuffer, pixel for pixel ({elapsed:.1f} s)"
        )
        return True
    report(
        f"MISMATCH: {differing} of {shot.shape[0] * shot.shape[1]} pixels differ "
        f"from the server's framebuffer"
    )
    return False
