"""A guest agent that sends data which does not parse, through a real session
and a fake server on a socket: the agent stream is dropped (AgentStreamFailed
out of events(), Session.agent not ready), the session goes on (a later
MOUSE_MODE is applied), and an agent that connects again is heard again."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from test_session import LIMIT, SESSION_ID, FakeSpice, run, serve

import spicepy
from spicepy.channels import AgentCapabilitiesReceived, AgentStreamFailed
from spicepy.wire.agent import AnnounceCapabilities, caps_to_words, encode_agent_message
from spicepy.wire.enums import AgentCap, MainMsg, MouseMode

CAPS = frozenset({AgentCap.CLIPBOARD_BY_DEMAND, AgentCap.MONITORS_CONFIG})


def main_message(msg_type: int, body: bytes = b"") -> bytes:
    return struct.pack("<HI", msg_type, len(body)) + body


def agent_data(data: bytes) -> bytes:
    return main_message(MainMsg.AGENT_DATA, data)


class AgentFake(FakeSpice):
    """Main channel with a connected agent that announces itself, then lies
    about a message's size; then MOUSE_MODE, AGENT_CONNECTED and a new announce
    once the test says so."""

    def __init__(self) -> None:
        super().__init__(channels=[(1, 0)])
        self.go_on = asyncio.Event()

    async def _main(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # session id, 1 display, modes SERVER|CLIENT, SERVER now, agent, 10 tokens
        init = struct.pack("<8I", SESSION_ID, 1, 3, 1, 1, 10, 0, 0)
        writer.write(main_message(MainMsg.INIT, init))
        announce = encode_agent_message(AnnounceCapabilities(0, caps_to_words(CAPS)))
        lying = struct.pack("<IIQI", 1, 4, 0, 1 << 31)  # a 2 GiB clipboard
        while True:
            mtype, size = struct.unpack("<HI", await reader.readexactly(6))
            await reader.readexactly(size)
            if mtype == 104:  # ATTACH_CHANNELS
                writer.write(main_message(MainMsg.CHANNELS_LIST, struct.pack("<I", 0)))
                writer.write(agent_data(announce) + agent_data(lying[:10]))
                writer.write(agent_data(lying[10:] + announce))  # ignored
                await writer.drain()
                await self.go_on.wait()
                writer.write(main_message(MainMsg.MOUSE_MODE, struct.pack("<HH", 3, 2)))
                writer.write(main_message(MainMsg.AGENT_CONNECTED))
                writer.write(agent_data(announce))
                await writer.drain()


def test_bad_agent_data_drops_the_agent_not_the_session() -> None:
    fake = AgentFake()

    async def main() -> None:
        async with serve(fake) as port:
            uri = f"spice://127.0.0.1:{port}"
            async with spicepy.connect(uri, timeout=LIMIT) as s:
                events = s.events()
                failed = None
                async with asyncio.timeout(LIMIT):
                    async for ev in events:
                        if isinstance(ev, AgentStreamFailed):
                            failed = ev
                            break
                assert failed is not None and "exceeds" in failed.reason
                assert s.agent.caps is None and not s.agent.connected
                with pytest.raises(spicepy.SpiceTimeoutError):
                    await s.agent.wait_ready(0.2)
                fake.go_on.set()
                await s.agent.wait_ready(LIMIT)  # the agent connected again
                assert s.agent.caps == CAPS
                assert s.mouse.mode == MouseMode.CLIENT  # main kept working
                seen = [type(ev) async for ev in _until_caps(events)]
                assert seen.count(AgentCapabilitiesReceived) == 1  # not the ignored one

    run(main())


async def _until_caps(events: AsyncIterator[object]) -> AsyncIterator[object]:
    async for ev in events:
        yield ev
        if isinstance(ev, AgentCapabilitiesReceived):
            return
