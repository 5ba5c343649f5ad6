"""The blocking API (``connect_sync``) against the fake server of
tests/test_session.py, served from its own thread: ``send_audio`` streams the
samples to the record channel as the async one does; ``usb`` plugs a HID
keyboard into a fake usbredir guest, types and releases; ``ports`` opens a
spiceport as a blocking stream."""

from __future__ import annotations

import asyncio
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from test_session import LIMIT, FakeSpice, serve

import spicepy
from spicepy.channels.usbredir import PacketReceived, UsbredirConnection
from spicepy.errors import SpiceTimeoutError
from spicepy.usb.hid import HidKeyboard
from spicepy.wire import usbredir as u
from spicepy.wire.enums import ChannelType, PortEvent, PortMsg, PortMsgc, SpicevmcMsg


@contextmanager
def served(fake: FakeSpice) -> Iterator[int]:
    """``fake`` listening on a port, its event loop in a thread."""
    ports: queue.Queue[int] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        async with serve(fake) as port:
            ports.put(port)
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        yield ports.get(timeout=LIMIT)
    finally:
        stop.set()
        thread.join(LIMIT)


def test_sync_send_audio_streams_pcm() -> None:
    fake = FakeSpice(channels=[(1, 0), (6, 0)], record_start=(2, 48000))
    samples = np.random.default_rng(6).integers(-32768, 32767, (1200, 2), np.int16)
    with served(fake) as port:
        uri = f"spice://127.0.0.1:{port}"
        with spicepy.connect_sync(uri, timeout=LIMIT, record=True) as s:
            s.send_audio(samples, 48000, timeout=LIMIT)
            deadline = time.monotonic() + LIMIT
            while len(fake.record_sent) < 2 + 3 and time.monotonic() < deadline:
                time.sleep(0.01)
    types = [t for t, _ in fake.record_sent]
    assert types == [102, 103, 101, 101, 101]  # MODE, START_MARK, DATA x 3
    data = [body for t, body in fake.record_sent if t == 101]
    times = [struct.unpack_from("<I", b)[0] for b in data]
    assert times == [times[0], times[0] + 10, times[0] + 20]  # 10 ms packets
    assert b"".join(b[4:] for b in data) == samples.astype("<i2").tobytes()


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + LIMIT
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


async def read_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    mtype, size = struct.unpack("<HI", await reader.readexactly(6))
    return mtype, await reader.readexactly(size)


def message(mtype: int, body: bytes) -> bytes:
    return struct.pack("<HI", mtype, len(body)) + body


class UsbGuest:
    """A usbredir guest on a USBREDIR channel: polls the keyboard's interrupt
    endpoint once the device connects and acknowledges the disconnect."""

    def __init__(self) -> None:
        self.packets: list[u.UsbredirPacket] = []

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        guest = UsbredirConnection(host=False, version="fake guest")
        writer.write(message(SpicevmcMsg.DATA, guest.data_to_send()))
        await writer.drain()
        while True:
            mtype, body = await read_message(reader)
            assert mtype == SpicevmcMsg.DATA
            guest.receive_data(body)
            while (event := guest.next_event()) is not None:
                if not isinstance(event, PacketReceived):
                    continue
                self.packets.append(event.packet)
                if isinstance(event.packet, u.DeviceConnect):
                    guest.send_packet(u.StartInterruptReceiving(0x81), 7)
                elif isinstance(event.packet, u.DeviceDisconnect):
                    guest.send_packet(u.DeviceDisconnectAck())
            if out := guest.data_to_send():
                writer.write(message(SpicevmcMsg.DATA, out))
                await writer.drain()


def test_sync_usb_redirect_type_release() -> None:
    guest = UsbGuest()
    fake = FakeSpice(channels=[(1, 0), (ChannelType.USBREDIR, 0)])
    fake.peers[ChannelType.USBREDIR] = guest
    with served(fake) as port:
        uri = f"spice://127.0.0.1:{port}"
        with spicepy.connect_sync(uri, timeout=LIMIT, usbredir=True) as s:
            kbd = s.usb.redirect(HidKeyboard(), timeout=LIMIT)
            assert isinstance(kbd.device, HidKeyboard) and not kbd.released
            s.usb.type_text(kbd, "aB", interval=0, timeout=LIMIT)
            kbd.release(timeout=LIMIT)
            assert kbd.released and kbd.error is None
            assert s.session.usb.devices == {}
    [connect] = [p for p in guest.packets if isinstance(p, u.DeviceConnect)]
    assert (connect.vendor_id, connect.product_id) == (
        kbd.device.device_info.vendor_id,
        kbd.device.device_info.product_id,
    )
    reports = [
        p.data for p in guest.packets if isinstance(p, u.InterruptPacket) and p.data
    ]
    # boot reports (modifiers, 0, keys): a down/up; shift down, b down/up, shift up
    shift, a, b = 0x02, 0x04, 0x05
    assert [(r[0], r[2]) for r in reports if any(r)] == [
        (0, a),
        (shift, 0),
        (shift, b),
        (shift, 0),
    ]
    assert isinstance(guest.packets[-1], u.DeviceDisconnect)


def test_sync_port_stream() -> None:
    name = b"org.spicepy.test"
    sent: list[tuple[int, bytes]] = []

    async def port_peer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        init = struct.pack("<IIB", len(name) + 1, 9, 1) + name + b"\0"
        writer.write(message(PortMsg.INIT, init))
        await writer.drain()
        while True:
            mtype, body = await read_message(reader)
            sent.append((mtype, body))
            if mtype == SpicevmcMsg.DATA:  # an echo in capitals
                writer.write(message(SpicevmcMsg.DATA, body.upper()))
                await writer.drain()

    fake = FakeSpice(channels=[(1, 0), (ChannelType.PORT, 0)])
    fake.peers[ChannelType.PORT] = port_peer
    with served(fake) as port:
        uri = f"spice://127.0.0.1:{port}"
        with spicepy.connect_sync(uri, timeout=LIMIT, ports=True) as s:
            with s.ports.open(name.decode(), timeout=LIMIT) as stream:
                assert s.ports.names == [name.decode()]
                s.ports.wait_guest_open(name.decode(), timeout=LIMIT)
                stream.write(b"ping\nmore")
                assert stream.readline(timeout=LIMIT) == b"PING\n"
                assert stream.readexactly(4, timeout=LIMIT) == b"MORE"
                with pytest.raises(SpiceTimeoutError, match="no line within"):
                    stream.readline(timeout=0.2)
            wait_until(lambda: len(sent) >= 3)
    event = PortMsgc.EVENT
    assert sent == [
        (event, bytes([PortEvent.OPENED])),
        (SpicevmcMsg.DATA, b"ping\nmore"),
        (event, bytes([PortEvent.CLOSED])),
    ]
