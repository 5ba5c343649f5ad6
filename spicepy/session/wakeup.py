"""``Wakeup``: wakes the tasks waiting on it, and only those, at each ``fire``.

A waiter re-checks its condition after every wake-up, so what matters is who
gets woken: ``Session`` keeps one ``Wakeup`` for "something changed" (every
pump) and one per kind of waiter that knows its source (an ``events()``
iterator, the audio frames), so a waiter is not woken by what it cannot be
waiting for.  Unlike ``asyncio.Event`` there is nothing to clear and nothing
to allocate when nobody waits: a fire with no waiter is a list swap.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Wakeup"]


class Wakeup:
    __slots__ = ("_waiters", "__weakref__")

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def fire(self) -> None:
        """Wake every task waiting now (later waiters wait for the next fire)."""
        if not self._waiters:
            return
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait(self) -> None:
        """Return at the next ``fire`` (cancellable, e.g. by a timeout)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        finally:
            if fut.cancelled():  # e.g. a timeout: leave no dead entry behind
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
