"""virtio-vga (VGA text mode through QEMU's simple display): one guest, exact pixels.

The qxl and std guests are in test_live_qemu.py; this module boots a third
card once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from _qemu_helpers import TIMEOUT, assert_same_pixels, converge, repaint

import spicepy
from spicepy.testing.qemu import Qemu, QemuOptions, available
from spicepy.wire.enums import ImageType

REASON = available()
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        REASON is not None and not os.environ.get("SPICEPY_REQUIRE_QEMU"),
        reason=f"QEMU guest not available: {REASON}",
    ),
]


@pytest.fixture(scope="module")
def guest() -> Iterator[Qemu]:
    options = QemuOptions(vga="virtio", audio=False, usbredir=0, spiceports=())
    with Qemu(options) as qemu:
        yield qemu


@pytest.mark.parametrize(
    ("compression", "image_type"),
    [("quic", ImageType.QUIC), ("lz4", ImageType.LZ4)],
)
def test_virtio_vga_screenshot_exact(
    guest: Qemu, compression: str, image_type: ImageType
) -> None:
    async def main() -> None:
        async with spicepy.connect(
            guest.uri, timeout=TIMEOUT, preferred_compression=compression
        ) as s:
            await s.wait_for_frame(TIMEOUT)
            await repaint(s, guest, f"virtio-{compression}")
            shot, truth = await converge(s, guest)
            assert_same_pixels(shot, truth)
            assert s.state.image_types[image_type] > 0, dict(s.state.image_types)

    asyncio.run(main())
    guest.check()
