"""Session.agent's clipboard state (session/media.py ``AgentControl``) without
sockets: guest events into a real SessionCore, our requests out of a real
MainChannel machine.  Exact state after each step: what the guest offers, the
data kept (within ``Limits.agent``), what a guest request is answered with,
and what ``get_clipboard`` returns."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

import pytest
from _channel_helpers import linked

from spicepy.channels import MainChannel
from spicepy.channels.agent import (
    ClipboardGrabbed,
    ClipboardReceived,
    ClipboardReleased,
    ClipboardRequested,
)
from spicepy.channels.events import AgentConnected
from spicepy.errors import SpiceTimeoutError
from spicepy.limits import Limits
from spicepy.session.core import SessionCore
from spicepy.session.media import AgentControl
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.agent import (
    AGENT_HEADER_SIZE,
    AnnounceCapabilities,
    caps_to_words,
    encode_agent_message,
    parse_agent_header,
)
from spicepy.wire.enums import AgentCap, ClipboardType, MainCap
from spicepy.wire.msg_common import MainAgentData, MainAgentDataC, MainInit

KEY = (1, 0)
TEXT = int(ClipboardType.UTF8_TEXT)


class FakeConn:
    def __init__(self, machine: Any) -> None:
        self.machine = machine

    def call(self, method: Any, *args: Any) -> Any:
        return method(*args)


class FakeSession:
    """What AgentControl uses of a Session, with a polling ``wait_for``."""

    def __init__(self, machine: Any = None, limits: Limits | None = None) -> None:
        self.core = SessionCore(limits=limits) if limits else SessionCore()
        self.connections = {KEY: FakeConn(machine)} if machine is not None else {}

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float, what: str
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await asyncio.sleep(0.001)
        except TimeoutError:  # as Session.wait_for reports it
            raise SpiceTimeoutError(f"no {what} within {timeout} s") from None


def agent_session(limits: Limits | None = None) -> tuple[FakeSession, Any, Any]:
    srv = FakeServer(channel_caps=frozenset({MainCap.AGENT_CONNECTED_TOKENS}))
    main, srv = linked(MainChannel, srv, agent=True)
    main.receive_data(srv.pack(MainInit(1, 1, 3, 2, 1, 10, 0, 0)))
    announce = AnnounceCapabilities(0, caps_to_words({AgentCap.CLIPBOARD_BY_DEMAND}))
    main.receive_data(srv.pack(MainAgentData(encode_agent_message(announce))))
    while main.next_event() is not None:
        pass
    main.data_to_send()
    s = FakeSession(main, limits)
    agent = AgentControl(s)  # type: ignore[arg-type]
    s.core.handle_event(KEY, AgentConnected(10), 0.0)
    return s, agent, (main, srv)


def sent_bodies(link: Any) -> list[bytes]:
    """Bodies of the agent messages the client sent since the last call."""
    main, srv = link
    out = []
    for m in srv.client_messages(main.data_to_send(), 1):
        if isinstance(m, MainAgentDataC):
            data = bytes(m.data)
            hdr = parse_agent_header(data)
            out.append(data[AGENT_HEADER_SIZE : AGENT_HEADER_SIZE + hdr.size])
    return out


def guest(s: FakeSession, event: object) -> None:
    s.core.handle_event(KEY, event, 0.0)


def test_a_released_offer_is_answered_empty() -> None:
    s, agent, link = agent_session()

    async def main() -> None:
        await agent.set_clipboard("mine")
        sent_bodies(link)  # the GRAB
        guest(s, ClipboardRequested(0, TEXT))
        assert sent_bodies(link) == [struct.pack("<I", TEXT) + b"mine"]
        await agent.release_clipboard()
        sent_bodies(link)  # the RELEASE
        guest(s, ClipboardRequested(0, TEXT))  # a late paste in the guest
        assert sent_bodies(link) == [struct.pack("<I", TEXT)]

    asyncio.run(main())


def test_a_new_guest_grab_forgets_the_old_data_of_that_selection() -> None:
    s, agent, _ = agent_session()
    guest(s, ClipboardGrabbed(0, (TEXT,)))
    guest(s, ClipboardReceived(0, TEXT, b"old"))
    guest(s, ClipboardReceived(1, TEXT, b"primary"))
    guest(s, ClipboardGrabbed(0, (TEXT,)))  # the guest copied something else
    assert agent.guest_data == {(1, TEXT): b"primary"}


def test_get_clipboard_waits_for_fresh_data() -> None:
    s, agent, link = agent_session()
    guest(s, ClipboardGrabbed(0, (TEXT,)))
    guest(s, ClipboardReceived(0, TEXT, b"old"))  # an earlier answer

    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, guest, s, ClipboardReceived(0, TEXT, b"new"))
        return await agent.get_clipboard(TEXT, timeout=5)

    assert asyncio.run(main()) == b"new"
    request = struct.pack("<I", TEXT)  # CLIPBOARD_REQUEST: the type asked for
    assert sent_bodies(link) == [request]


def test_a_release_of_nothing_offered_is_no_change() -> None:
    s, agent, _ = agent_session()
    seen: list[tuple[int, tuple[int, ...]]] = []
    agent.on_clipboard(lambda sel, types: seen.append((sel, types)))
    guest(s, ClipboardReleased(0))
    assert agent.clipboard_changes == 0 and seen == []
    guest(s, ClipboardGrabbed(0, (TEXT,)))
    guest(s, ClipboardReleased(0))
    assert agent.clipboard_changes == 2 and seen == [(0, (TEXT,)), (0, ())]
    assert agent.guest_offers == {}


def test_guest_data_fills_the_agent_budget_exactly_before_forgetting() -> None:
    s, agent, _ = agent_session(Limits(agent=10))
    guest(s, ClipboardReceived(0, TEXT, b"12345"))
    guest(s, ClipboardReceived(1, TEXT, b"67890"))  # 10 bytes: at the budget
    assert len(agent.guest_data) == 2 and agent.forgotten == 0
    guest(s, ClipboardReceived(2, TEXT, b"x"))  # over: the oldest goes
    assert list(agent.guest_data) == [(1, TEXT), (2, TEXT)]
    assert agent.forgotten == 1


def test_get_clipboard_times_out_without_an_offer() -> None:
    _, agent, link = agent_session()

    async def main() -> None:
        with pytest.raises(SpiceTimeoutError):
            await agent.get_clipboard(TEXT, timeout=0.05)

    asyncio.run(main())
    assert sent_bodies(link) == []  # nothing asked of a guest that offers nothing
