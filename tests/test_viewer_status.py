"""The viewer's status line: connection state, ping (the main channel's TCP
round trip, ``ChannelConnection.round_trip``), size, fps, input-to-screen
time, mouse mode and grab."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from spicepy.session.connection import ChannelConnection

LIMIT = 10.0


class HelloMachine:
    """Says one line at start and takes whatever comes (no events)."""

    def __init__(self) -> None:
        self._out = b"HELLO\n"

    def receive_data(self, data: bytes | memoryview) -> None:
        pass

    def next_event(self) -> object | None:
        return None

    def data_to_send(self) -> bytes:
        out, self._out = self._out, b""
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readline()
    writer.write(b"HI\n")
    await writer.drain()
    await reader.read()  # until the client hangs up
    writer.close()


def _ignore(conn: ChannelConnection, event: object) -> None:
    pass


async def _connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> ChannelConnection:
    conn = ChannelConnection("main:0", HelloMachine(), reader, writer, _ignore)
    conn.start()
    return conn


def _ss_rtt_ms(local_port: int) -> float:
    """``ss -ti``'s smoothed RTT (ms) of our socket on ``local_port``."""
    out = subprocess.run(
        ["ss", "-tin", "sport", "=", f":{local_port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"\brtt:([0-9.]+)/", out)
    assert found is not None, out
    return float(found[1])


def test_round_trip_is_the_kernels_tcp_rtt() -> None:
    if shutil.which("ss") is None:
        pytest.skip("ss missing (iproute2)")
    asyncio.run(_tcp_round_trip())


async def _tcp_round_trip() -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(LIMIT):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = await _connection(reader, writer)
        while conn.bytes_in == 0 and not conn.closed.is_set():
            await asyncio.sleep(0.01)  # the answer came: an RTT sample
        rtt = conn.round_trip()
        local = writer.get_extra_info("sockname")[1]
        ss = _ss_rtt_ms(local)
        assert rtt is not None and rtt > 0
        # ss prints the same microseconds as milliseconds with 3 decimals
        assert abs(rtt * 1000 - ss) < 0.0015, (rtt, ss)
        await conn.close()
        assert conn.round_trip() is None  # closed: nothing to measure


def test_round_trip_of_a_unix_socket_is_unknown(tmp_path: Path) -> None:
    asyncio.run(_unix_round_trip(str(tmp_path / "spice.sock")))


async def _unix_round_trip(path: str) -> None:
    server = await asyncio.start_unix_server(_answer, path)
    async with server, asyncio.timeout(LIMIT):
        reader, writer = await asyncio.open_unix_connection(path)
        conn = await _connection(reader, writer)
        assert conn.round_trip() is None
        await conn.close()


def test_status_title_says_state_ping_size_fps_latency_mouse_grab() -> None:
    from spicepy.viewer.app import status_title

    title = status_title(
        "spicepy 127.0.0.1:5900",
        state="connected",
        ping=0.000211,
        size=(640, 480),
        fps=59.6,
        latency=0.0024,
        client_mouse=True,
        grabbed=False,
    )
    assert title == (
        "spicepy 127.0.0.1:5900 - connected - ping 0.2 ms - 640x480 - 60 fps"
        " - input->screen 2 ms - mouse client"
    )
    early = status_title(
        "spicepy",
        state="migrating",
        ping=None,
        size=None,
        fps=0.0,
        latency=None,
        client_mouse=False,
        grabbed=True,
    )
    assert early == (
        "spicepy - migrating - 0 fps - mouse server - grabbed (Ctrl+Alt releases)"
    )
