"""Session key input without sockets: a real InputsChannel machine whose bytes
a FakeServer decodes; raw scancodes only where the server takes them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _channel_helpers import linked

from spicepy.channels.inputs import InputsChannel
from spicepy.errors import SessionError
from spicepy.session.session import Session
from spicepy.session.uri import SpiceUri
from spicepy.testing.fake_server import FakeServer
from spicepy.wire.enums import ChannelType, InputsCap
from spicepy.wire.msg_other import KeyDown, KeyScancode, KeyUp

INPUTS = (int(ChannelType.INPUTS), 0)


class FakeConn:
    def __init__(self, machine: Any) -> None:
        self.machine = machine
        self.closed = asyncio.Event()
        self.error = None
        self.name = "inputs"

    def call(self, method: Any, *args: Any) -> Any:
        return method(*args)


def sent(caps: frozenset[int], script: Any) -> list[object]:
    """What the client sent while ``script(session)`` ran."""

    async def main() -> list[object]:
        session = Session(SpiceUri("127.0.0.1", port=1))
        machine, server = linked(InputsChannel, FakeServer(channel_caps=caps))
        session.connections[INPUTS] = FakeConn(machine)  # type: ignore[assignment]
        await script(session)
        return list(server.client_messages(machine.data_to_send(), 3))

    return asyncio.run(main())


def test_raw_scancodes_need_the_servers_key_scancode_cap() -> None:
    async def script(session: Session) -> None:
        with pytest.raises(SessionError, match="raw scancodes"):
            await session.key_scancodes(b"\x1d\x45")
        await session.key_press("a")

    # refused before anything was queued: only the later key press went out
    # (KEY_UP carries the break code: make | 0x80)
    assert sent(frozenset(), script) == [KeyDown(0x1E), KeyUp(0x9E)]


def test_raw_scancodes_go_as_given_when_the_server_takes_them() -> None:
    async def script(session: Session) -> None:
        await session.key_scancodes(b"\x1d\x45")

    caps = frozenset({int(InputsCap.KEY_SCANCODE)})
    assert sent(caps, script) == [KeyScancode(b"\x1d\x45")]
