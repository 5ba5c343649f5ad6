"""What a parked waiter costs each read of a session (issue 9: the viewer
measured 10-20 ms more input-to-screen latency from waiters woken by every
channel event).

Usage::

    .venv/bin/python benchmarks/bench_waits.py [--pumps 20000] [--channels 6]

A ``Session`` with ``--channels`` connections (stand-ins: only their
``closed`` event is read) goes through ``--pumps`` pumps, each what a read of
unrelated channel events does (``_after_pump``) plus one loop turn, first with
nobody waiting (the floor, same run), then with a ``wait_for`` predicate, an
``events()`` iterator and an ``audio.frames()`` listener parked.  Printed: CPU
microseconds per pump (``time.process_time``, steadier than wall time on a
shared machine) and the predicate checks made.  ``wait_for`` re-checks its
predicate every pump by contract; the other two are not woken at all.  Before
``session/wakeup.py`` every wake-up also made one future per connection per
waiter: 48 us per pump with 4 channels and these 3 waiters, which then
checked only every third pump; now 7 us, the floor 3 (2026-12-03, loaded
2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from spicepy.session.session import Session
from spicepy.session.uri import parse_uri


class _Conn:
    """The part of a ChannelConnection the waits read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = asyncio.Event()
        self.error: BaseException | None = None


async def _run(pumps: int, channels: int, parked: bool) -> tuple[float, int]:
    s = Session(parse_uri("spice://127.0.0.1:1"))
    for cid in range(channels):  # MAIN, then display channels 0..n-2
        key = (1, 0) if cid == 0 else (2, cid - 1)
        s.connections[key] = _Conn(f"c{cid}")  # type: ignore[assignment]
    checks = [0]

    def never() -> bool:
        checks[0] += 1
        return False

    async def listen() -> None:
        async for _ in s.audio.frames():
            pass

    async def read() -> None:
        async for _ in s.events():
            pass

    tasks: list[asyncio.Future[Any]] = []
    if parked:
        tasks = [
            asyncio.ensure_future(s.wait_for(never, None)),
            asyncio.ensure_future(read()),
            asyncio.ensure_future(listen()),
        ]
    await asyncio.sleep(0.01)
    start = time.process_time()
    for _ in range(pumps):
        s._after_pump()
        await asyncio.sleep(0)
    spent = time.process_time() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return spent / pumps * 1e6, checks[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pumps", type=int, default=20000)
    ap.add_argument("--channels", type=int, default=6)
    args = ap.parse_args()
    for parked in (False, True):
        us, checks = asyncio.run(_run(args.pumps, args.channels, parked))
        what = "3 waiters parked" if parked else "nobody waiting (floor)"
        print(f"{what:24} {us:6.1f} us CPU per pump, {checks} predicate checks")


if __name__ == "__main__":
    main()
