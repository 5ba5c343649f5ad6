"""Helpers shared by the live QEMU tests (pixels against QMP screendump)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from spicepy.errors import SpiceError, SpiceTimeoutError
from spicepy.session import Session
from spicepy.testing.qemu import Qemu

TIMEOUT = 60.0


#: how long spice-server may take to drop a closed client's channels
CLIENT_GONE_WITHIN = 10.0


def wait_client_gone(guest: Qemu) -> None:
    """Until QMP's query-spice lists no channel of an earlier client.

    Each test starts once the server has let go of the last client. (The QEMU
    7.2 SIGSEGVs first blamed on a relink during a teardown were spice-server's
    display worker using a client that hung up before the worker attached it;
    Session.close() now waits for that attach, d65c199.)
    """
    assert guest.qmp is not None
    deadline = time.monotonic() + CLIENT_GONE_WITHIN
    while guest.qmp.command("query-spice").get("channels"):
        if time.monotonic() > deadline:
            pytest.fail("spice-server still lists the previous client's channels")
        time.sleep(0.05)


def assert_same_pixels(shot: np.ndarray, truth: np.ndarray) -> None:
    assert shot.shape == truth.shape
    differing = np.argwhere((shot != truth).any(axis=-1))
    assert len(differing) == 0, (
        f"{len(differing)} pixels differ, first at (y, x) {tuple(differing[0])}: "
        f"spicepy {shot[tuple(differing[0])]} vs QEMU {truth[tuple(differing[0])]}"
    )


async def converge(s: Session, qemu: Qemu) -> tuple[np.ndarray, np.ndarray]:
    """Wait until spicepy's screen equals QEMU's screendump (the guest is idle,
    but the server sends asynchronously); on timeout the caller's comparison
    reports the difference."""
    await s.wait_until_settled(quiet=0.5, timeout=TIMEOUT)
    truth = await asyncio.to_thread(qemu.screendump)

    def same() -> bool:
        try:
            return bool(np.array_equal(s.screenshot(), truth))
        except SpiceError:
            return False

    try:
        await s.wait_for(same, 20, "the screen to match QEMU's screendump")
    except SpiceTimeoutError:
        pass
    return s.screenshot(), truth


async def repaint(s: Session, qemu: Qemu, label: str) -> None:
    """Have the guest repaint its screen, and wait until spicepy saw it."""
    since = s.change_count
    status, out = await asyncio.to_thread(qemu.run, f"scene {label}")
    assert status == 0, out
    await s.wait_for_change(TIMEOUT, since=since)
