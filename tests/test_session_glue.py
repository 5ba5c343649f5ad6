"""Display messages that wait for another display channel's image (hold and retry)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from spicepy.canvas.images import ImageNotReady
from spicepy.session import _glue
from spicepy.session.connection import ChannelConnection
from spicepy.session.session import Session
from spicepy.session.uri import SpiceUri


@dataclass(frozen=True)
class Cmd:
    """Stands in for both the wire message and the canvas command."""

    verb: str
    num: int
    args: dict[str, int] = field(default_factory=dict)
    images: tuple[()] = ()

    @property
    def name(self) -> str:
        return self.verb


@dataclass
class StubDriver:
    """Cmd("put", N) caches image N; Cmd("use", N) needs it (shared store)."""

    store: set[int]
    applied: list[str] = field(default_factory=list)

    def apply(self, command: Cmd) -> None:
        if command.verb == "use" and command.num not in self.store:
            raise ImageNotReady(f"image {command.num} not cached", command.num)
        if command.verb == "put":
            self.store.add(command.num)
        self.applied.append(f"{command.verb}:{command.num}")


class NamedConn:
    name = "display:x"


def feed(session: Session, channel_id: int, text: str) -> None:
    verb, num = text.split(":")
    conn: ChannelConnection = NamedConn()  # type: ignore[assignment]
    _glue._display_message(session, conn, channel_id, Cmd(verb, int(num)))


@pytest.fixture(autouse=True)
def identity_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_glue, "to_command", lambda message: message)


def make_session(displays: int) -> tuple[Session, list[StubDriver]]:
    session = Session(SpiceUri("127.0.0.1", port=1))
    store: set[int] = set()
    drivers = [StubDriver(store) for _ in range(displays)]
    session.state.drivers = dict(enumerate(drivers))  # type: ignore[arg-type]
    return session, drivers


def test_message_waits_for_the_other_channel_and_keeps_order() -> None:
    async def main() -> tuple[list[str], list[str], int]:
        session, (d0, d1) = make_session(2)
        feed(session, 1, "use:7")  # held: channel 0 has not sent image 7 yet
        feed(session, 1, "put:8")  # queued behind it, order kept
        assert d1.applied == []
        feed(session, 0, "put:7")  # progress on channel 0 releases channel 1
        return d0.applied, d1.applied, session.state.dropped_commands

    applied0, applied1, dropped = asyncio.run(main())
    assert applied0 == ["put:7"]
    assert applied1 == ["use:7", "put:8"]
    assert dropped == 0


def test_single_display_channel_drops_at_once() -> None:
    async def main() -> tuple[list[str], int]:
        session, (d0,) = make_session(1)
        feed(session, 0, "use:1")
        feed(session, 0, "put:2")
        return d0.applied, session.state.dropped_commands

    assert asyncio.run(main()) == (["put:2"], 1)


def test_held_message_is_dropped_after_the_hold_limit() -> None:
    async def main() -> tuple[list[str], int]:
        session, (d0, d1) = make_session(2)
        feed(session, 1, "use:5")
        held = session.state.held[1]
        message, _since = held[0]
        held[0] = (message, session._loop.time() - _glue.HOLD_SECONDS - 1)
        feed(session, 1, "put:6")  # the stale head is dropped, the rest goes on
        return d1.applied, session.state.dropped_commands

    assert asyncio.run(main()) == (["put:6"], 1)
