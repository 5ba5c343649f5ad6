"""connect(timeout=T) is one deadline for every step; events() retains events
only for a live iterator.  Against a slow fake server on 127.0.0.1 whose link
side is ``spicepy.testing.fake_server.FakeServer``."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

import spicepy
from spicepy.channels.events import PingAnswered
from spicepy.errors import SpiceTimeoutError
from spicepy.session.transport import TlsConfig, open_stream
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.enums import ChannelType
from spicepy.wire.link import LINK_HEADER_SIZE, LinkHeader
from spicepy.wire.msg_common import MainChannelsList, MainInit, Ping
from spicepy.wire.types import ChannelId

LIMIT = 10.0  # bounds every await of the tests themselves
#: Allowed lateness past a deadline: the loop notices it on its next turn, then
#: closes the sockets; 0.5 s covers that on a 2-core CI host running the suite.
MARGIN = 0.5
T = TypeVar("T")
MAIN, INPUTS = int(ChannelType.MAIN), int(ChannelType.INPUTS)


@dataclass
class SlowSpice:
    """Answers every step (link reply, link result, MAIN INIT, CHANNELS_LIST)
    ``delay`` s late; main lists an inputs channel.  After the list, main sends
    ``pings`` PINGs (ids 1..n) once ``go`` is set, then one more (id n+1) once
    ``again`` is set."""

    delay: float
    pings: int = 0
    go: asyncio.Event = field(default_factory=asyncio.Event)
    again: asyncio.Event = field(default_factory=asyncio.Event)
    linked: list[int] = field(default_factory=list)

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            async with asyncio.timeout(LIMIT):
                await self._serve(reader, writer)
                await reader.read()  # until the client leaves
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        except asyncio.CancelledError:  # the test's loop is shutting down
            pass
        finally:
            writer.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        server = FakeServer()
        head = await reader.readexactly(LINK_HEADER_SIZE)
        mess = await reader.readexactly(LinkHeader.parse(head).size)
        reply = server.reply_to(head + mess)
        assert server.link_mess is not None
        ctype = server.link_mess.channel_type
        await self._late(writer, reply)
        await self._late(writer, server.result_for(await reader.readexactly(4 + 128)))
        self.linked.append(ctype)
        if ctype != MAIN:
            return
        init = MainInit(0x1234, 1, 3, 1, 0, 10, 0, 0)
        await self._late(writer, server.pack(init))
        listed = (ChannelId(MAIN, 0), ChannelId(INPUTS, 0))
        await self._late(writer, server.pack(MainChannelsList(2, listed)))
        await self.go.wait()
        for n in range(1, self.pings + 1):
            writer.write(server.pack(Ping(n, 0)))
        await writer.drain()
        await self.again.wait()
        writer.write(server.pack(Ping(self.pings + 1, 0)))
        await writer.drain()

    async def _late(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        await asyncio.sleep(self.delay)
        writer.write(data)
        await writer.drain()


@asynccontextmanager
async def serve(fake: SlowSpice) -> AsyncIterator[str]:
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    try:
        yield f"spice://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


def run(coro: Coroutine[Any, Any, T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(LIMIT * 2):
            return await coro

    return asyncio.run(bounded())


def test_a_server_slow_at_every_step_fails_within_the_timeout() -> None:
    """Each step 0.45 s late: under a per-step timeout of 1 s every step passes
    and the session links after ~2.25 s; one 1 s deadline fails at ~1 s."""
    fake = SlowSpice(delay=0.45)

    async def main() -> tuple[float, str]:
        async with serve(fake) as uri:
            start = time.monotonic()
            with pytest.raises(SpiceTimeoutError) as caught:
                await spicepy.connect(uri, timeout=1.0)
            return time.monotonic() - start, str(caught.value)

    took, message = run(main())
    assert took < 1.0 + MARGIN, f"failed after {took:.2f}s"
    assert "CHANNELS_LIST" in message  # the step that was running: 0.9 + 0.45 s
    assert fake.linked == [MAIN]


def test_a_server_answering_in_time_is_accepted() -> None:
    fake = SlowSpice(delay=0.05)

    async def main() -> list[tuple[int, int]]:
        async with serve(fake) as uri:
            async with spicepy.connect(uri, timeout=1.0) as session:
                return sorted(session.connections)

    assert run(main()) == [(MAIN, 0), (INPUTS, 0)]
    assert sorted(fake.linked) == [MAIN, INPUTS]


def test_open_stream_stops_at_its_deadline() -> None:
    """A TCP peer that never answers the TLS handshake: the stream gives up at
    the deadline it was given, not after its (longer) timeout."""

    async def main() -> tuple[float, str]:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            loop = asyncio.get_running_loop()
            start = time.monotonic()
            with pytest.raises(SpiceTimeoutError) as caught:
                await open_stream(
                    host="127.0.0.1",
                    port=port,
                    tls=TlsConfig(verify=False),
                    timeout=LIMIT,
                    deadline=loop.time() + 0.3,
                    proxy="",
                )
            return time.monotonic() - start, str(caught.value)

    took, message = run(main())
    assert took < 0.3 + MARGIN, f"failed after {took:.2f}s"
    assert "connecting to 127.0.0.1" in message


def test_events_nobody_reads_are_not_kept() -> None:
    """2000 PINGs with no events() iterator: none is kept; an iterator made
    afterwards starts with what comes after it."""
    fake = SlowSpice(delay=0, pings=2000)

    async def main() -> list[int]:
        async with serve(fake) as uri:
            async with spicepy.connect(uri, timeout=LIMIT) as session:
                fake.go.set()
                main: Any = session.connections[(MAIN, 0)].machine
                await session.wait_for(
                    lambda: main.messages_received >= 2 + 2000, LIMIT, "the pings"
                )  # after MAIN INIT and CHANNELS_LIST
                assert session._backlog is None and not session._readers
                events = session.events()
                fake.again.set()
                seen: list[int] = []
                async with asyncio.timeout(LIMIT):
                    async for event in events:
                        if isinstance(event, PingAnswered):
                            seen.append(event.id)
                            break
                return seen

    assert run(main()) == [2001]


def test_iterators_get_every_event_from_their_creation_in_order() -> None:
    """Two iterators made before 2001 PINGs and read only after all arrived:
    each gets every PingAnswered, in order; dropped, they keep nothing."""
    fake = SlowSpice(delay=0, pings=2000)

    async def main() -> tuple[list[int], list[int], int]:
        async with serve(fake) as uri:
            async with spicepy.connect(uri, timeout=LIMIT) as session:
                first, second = session.events(), session.events()
                fake.go.set()
                fake.again.set()
                main: Any = session.connections[(MAIN, 0)].machine
                await session.wait_for(
                    lambda: main.messages_received >= 2 + 2001, LIMIT, "the pings"
                )
                got: tuple[list[int], list[int]] = ([], [])
                async with asyncio.timeout(LIMIT):
                    for events, seen in zip((first, second), got, strict=True):
                        async for event in events:
                            if isinstance(event, PingAnswered):
                                seen.append(event.id)
                                if event.id == 2001:
                                    break
                del first, second, events
                return got[0], got[1], len(session._readers)

    assert run(main()) == (list(range(1, 2002)), list(range(1, 2002)), 0)
