"""Display messages that wait for another display channel's image (hold and retry)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from spicepy.canvas.images import ImageNotReady
from spicepy.session import _glue
from spicepy.session.connection import ChannelConnection
from spicepy.session.session import Session
from spicepy.session.uri import SpiceUri


@dataclass
class StubDriver:
    """body = b"put:N" caches image N; b"use:N" needs it (shared store)."""

    store: set[int]
    applied: list[bytes] = field(default_factory=list)

    def handle_message(self, msg_type: int, body: bytes) -> None:
        verb, num = body.decode().split(":")
        if verb == "use" and int(num) not in self.store:
            raise ImageNotReady(f"image {num} not cached", int(num))
        if verb == "put":
            self.store.add(int(num))
        self.applied.append(body)


class NamedConn:
    name = "display:x"


def feed(session: Session, channel_id: int, body: bytes) -> None:
    conn: ChannelConnection = NamedConn()  # type: ignore[assignment]
    _glue._display_message(session, conn, channel_id, 304, body)


def make_session(displays: int) -> tuple[Session, list[StubDriver]]:
    session = Session(SpiceUri("127.0.0.1", port=1))
    store: set[int] = set()
    drivers = [StubDriver(store) for _ in range(displays)]
    session.state.drivers = dict(enumerate(drivers))  # type: ignore[arg-type]
    return session, drivers


def test_message_waits_for_the_other_channel_and_keeps_order() -> None:
    async def main() -> tuple[list[bytes], list[bytes], int]:
        session, (d0, d1) = make_session(2)
        feed(session, 1, b"use:7")  # held: channel 0 has not sent image 7 yet
        feed(session, 1, b"put:8")  # queued behind it, order kept
        assert d1.applied == []
        feed(session, 0, b"put:7")  # progress on channel 0 releases channel 1
        return d0.applied, d1.applied, session.state.dropped_commands

    applied0, applied1, dropped = asyncio.run(main())
    assert applied0 == [b"put:7"]
    assert applied1 == [b"use:7", b"put:8"]
    assert dropped == 0


def test_single_display_channel_drops_at_once() -> None:
    async def main() -> tuple[list[bytes], int]:
        session, (d0,) = make_session(1)
        feed(session, 0, b"use:1")
        feed(session, 0, b"put:2")
        return d0.applied, session.state.dropped_commands

    assert asyncio.run(main()) == ([b"put:2"], 1)


def test_held_message_is_dropped_after_the_hold_limit() -> None:
    async def main() -> tuple[list[bytes], int]:
        session, (d0, d1) = make_session(2)
        feed(session, 1, b"use:5")
        held = session.state.held[1]
        msg_type, body, _since = held[0]
        held[0] = (msg_type, body, session._loop.time() - _glue.HOLD_SECONDS - 1)
        feed(session, 1, b"put:6")  # the stale head is dropped, the rest goes on
        return d1.applied, session.state.dropped_commands

    assert asyncio.run(main()) == ([b"put:6"], 1)
