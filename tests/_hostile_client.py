"""The client side of tests/test_hostile_server.py, run in a process of its own
so that its peak RSS is the client's alone.

``python -P tests/_hostile_client.py URI SCENARIO LIMITS_JSON`` connects with
``Limits(**LIMITS_JSON)``, waits for what the scenario's flood should leave
(or for the session to fail) and prints one JSON line: the error (class name
and message) if any, the seconds taken, the RSS before connecting and the peak
RSS (MiB), and what the session kept.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

import spicepy
from spicepy.limits import Limits
from spicepy.session.session import Session
from spicepy.testing.hostile import AGENT_FLOOD, CURSOR_FLOOD
from spicepy.wire import msg_display as md

#: how long a flood may take to arrive on a loaded 2-core host
WAIT = 90.0


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """This process image's peak RSS (VmHWM).  Not getrusage's ru_maxrss: Linux
    carries that across fork + exec, so a client started by a 500 MB pytest
    process reported the parent's size as its own peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def done(name: str, s: Session) -> bool:
    """What each flood should have achieved once it is all in."""
    if name == "draw-flood":
        driver = s.core.drivers.get(0)
        return driver is not None and driver.counts[md.DrawCopy] >= 20
    if name == "agent-flood":
        last = 1000 + AGENT_FLOOD - 1  # the clipboard type of the last message
        return any(kind == last for _, kind in s.agent.guest_data)
    if name == "video-flood":
        driver = s.core.drivers.get(0)
        return driver is not None and driver.counts[md.DisplayMark] >= 1
    if name == "cursor-flood":
        return s.cursor.shape is not None and s.cursor.shape.unique == CURSOR_FLOOD
    return False  # the others end in an error


def kept(s: Session) -> dict[str, Any]:
    shared = s.core.shared
    cursor = s.connections.get((4, 0))
    return {
        "held_bytes": s.core.held_bytes,
        "image_cache": None if shared is None else shared.cache.bytes,
        "surfaces": None if shared is None else shared.surface_bytes,
        "guest_data": sum(len(v) for v in s.agent.guest_data.values()),
        "cursor_raw": None if cursor is None else cursor.machine.cache_bytes,  # type: ignore[attr-defined]
        "cursor_decoded": s.cursor.decoded_bytes,
        "video_queue": sum(
            st.scheduler.bytes
            for d in s.core.drivers.values()
            for st in d.streams.streams.values()
        ),
    }


async def run(uri: str, name: str, limits: Limits) -> dict[str, Any]:
    out: dict[str, Any] = {"error": None, "rss_before": rss_mib()}
    start = time.monotonic()
    try:
        async with spicepy.connect(uri, timeout=10, limits=limits) as s:
            try:
                await s.wait_for(lambda: done(name, s), WAIT, name)
            finally:
                out["kept"] = kept(s)
    except spicepy.SpiceError as exc:
        out["error"] = [type(exc).__name__, str(exc)]
    out["seconds"] = time.monotonic() - start
    out["peak_rss"] = peak_rss_mib()
    return out


def main() -> None:
    uri, name, limits = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    print(json.dumps(asyncio.run(run(uri, name, Limits(**limits)))))


if __name__ == "__main__":
    main()
