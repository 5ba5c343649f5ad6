"""UsbredirChannel (spicepy.channels.spicevmc): the usbredir host riding in
SpiceVMC DATA messages of a linked USBREDIR channel, checked against a guest
UsbredirConnection playing QEMU's usb-redir on the server side."""

from __future__ import annotations

import struct
from typing import Any

from _channel_helpers import drive, events, linked, split_messages

from spicepy.channels import ChannelState
from spicepy.channels.spicevmc import UsbredirChannel, UsbredirFailed
from spicepy.channels.usbredir import (
    DeviceConnectSent,
    HelloReceived,
    PacketReceived,
    UsbDeviceInfo,
    UsbEndpoint,
    UsbInterface,
    UsbredirConnection,
    UsbredirState,
)
from spicepy.testing.fake_server import FakeServer, link_pair
from spicepy.wire import usbredir as u
from spicepy.wire.enums import SpicevmcMsg
from spicepy.wire.usbredir import UsbTransferType as Ep

DATA = SpicevmcMsg.DATA  # both directions
MOUSE = UsbDeviceInfo(
    0x0627,
    0x0001,
    (UsbInterface(0, 3, 0, 2, (UsbEndpoint(0x81, Ep.INTERRUPT, 8, 10),)),),
)


def to_guest(ch: UsbredirChannel, guest: UsbredirConnection) -> list[Any]:
    """The client's DATA bodies fed to the guest; the guest's events."""
    msgs = split_messages(ch.data_to_send())
    assert msgs and {t for t, _ in msgs} == {DATA}
    guest.receive_data(b"".join(b for _, b in msgs))
    out = []
    while (ev := guest.next_event()) is not None:
        out.append(ev)
    return out


def to_host(
    ch: UsbredirChannel, srv: FakeServer, guest: UsbredirConnection
) -> list[Any]:
    return drive(ch, srv.pack_raw(DATA, guest.data_to_send()))


def link(ch: UsbredirChannel) -> FakeServer:
    """Link ``ch``, keeping what it queued after the link (``linked`` drops it)."""
    srv = FakeServer()
    link_pair(ch, srv)
    events(ch)
    return srv


def test_hello_waits_for_the_link_then_device_connects() -> None:
    ch = UsbredirChannel(usb_version="spicepy test")
    ch.connect_device(MOUSE)  # before the link: held
    srv = link(ch)
    guest = UsbredirConnection(host=False, version="qemu")
    [hello] = to_guest(ch, guest)
    assert isinstance(hello, HelloReceived) and hello.version == "spicepy test"
    evs = to_host(ch, srv, guest)
    assert [type(e) for e in evs] == [HelloReceived, DeviceConnectSent]
    got = [e.packet for e in to_guest(ch, guest)]
    assert [type(p) for p in got] == [u.InterfaceInfo, u.EpInfo, u.DeviceConnect]
    assert got[2].vendor_id == 0x0627


def test_guest_command_and_answer_through_spicevmc() -> None:
    ch = UsbredirChannel()
    srv = link(ch)
    guest = UsbredirConnection(host=False)
    to_guest(ch, guest)
    to_host(ch, srv, guest)
    ch.connect_device(MOUSE)
    events(ch)
    to_guest(ch, guest)
    guest.send_packet(u.SetConfiguration(1), 77)
    assert to_host(ch, srv, guest) == [PacketReceived(77, u.SetConfiguration(1))]
    ch.send_packet(u.ConfigurationStatus(u.UsbredirStatus.SUCCESS, 1), 77)
    assert to_guest(ch, guest) == [PacketReceived(77, u.ConfigurationStatus(0, 1))]


def test_usbredir_garbage_fails_the_usbredir_stream_not_the_channel() -> None:
    """spice-gtk's rule: a usbredir parse error is the device's, the SPICE
    channel stays linked; later data is dropped and EOF still closes cleanly."""
    ch, srv = linked(UsbredirChannel)
    evs = drive(ch, srv.pack_raw(DATA, bytes(12) + b"\xff" * 64))  # hello of 0 bytes
    [failed] = evs
    assert isinstance(failed, UsbredirFailed) and "Hello" in failed.error
    assert ch.usb.state is UsbredirState.ERROR
    assert ch.state is ChannelState.READY
    assert drive(ch, srv.pack_raw(DATA, b"more")) == []
    assert ch.bytes_received == 12 + 64 + 4
    ch.receive_data(b"")
    assert ch.state.name == "CLOSED"  # (mypy keeps READY from above otherwise)


def test_usbredir_packets_before_the_failure_are_delivered() -> None:
    ch, srv = linked(UsbredirChannel)
    guest = UsbredirConnection(host=False, version="qemu")
    guest.receive_data(ch.data_to_send()[6:])  # our hello, past the mini header
    hello = guest.data_to_send()
    # 64-bit ids: both sides announce IDS_64BITS
    evs = drive(ch, srv.pack_raw(DATA, hello + struct.pack("<IIQ", 999, 0, 0)))
    hello_ev, failed = evs
    assert isinstance(hello_ev, HelloReceived)
    assert isinstance(failed, UsbredirFailed) and "999" in failed.error
