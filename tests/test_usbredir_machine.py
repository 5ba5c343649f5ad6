"""The sans-IO usbredir connection (spicepy.channels.usbredir): hello and caps
negotiation, the device connect sequence, framing fed whole and in pieces, and
hostile input ending in spicepy errors with the connection left in ERROR."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels.usbredir import (
    DeviceConnectSent,
    DeviceDisconnected,
    HelloReceived,
    PacketReceived,
    UsbDeviceInfo,
    UsbEndpoint,
    UsbInterface,
    UsbredirClosed,
    UsbredirConnection,
    UsbredirState,
)
from spicepy.errors import ProtocolError, SpiceError, WireError
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirCap as Cap
from spicepy.wire.usbredir import UsbTransferType as Ep

KEYBOARD = UsbDeviceInfo(
    0x1234,
    0x5678,
    (UsbInterface(0, 3, 1, 1, (UsbEndpoint(0x81, Ep.INTERRUPT, 8, 10),)),),
    device_version_bcd=0x0100,
)
STORAGE = UsbDeviceInfo(
    0x0781,
    0x5567,
    (
        UsbInterface(
            0,
            8,
            6,
            0x50,
            (UsbEndpoint(0x81, Ep.BULK, 512), UsbEndpoint(0x02, Ep.BULK, 512)),
        ),
    ),
    speed=u.UsbSpeed.HIGH,
)


def events(conn: UsbredirConnection) -> list[Any]:
    out = []
    while (ev := conn.next_event()) is not None:
        out.append(ev)
    return out


def pair(
    host_caps: frozenset[int] = frozenset(Cap),
    guest_caps: frozenset[int] = frozenset(Cap),
) -> tuple[UsbredirConnection, UsbredirConnection]:
    """A host and a guest with the hellos exchanged and the hello events drained."""
    host = UsbredirConnection(host=True, caps=host_caps)
    guest = UsbredirConnection(host=False, version="qemu 8", caps=guest_caps)
    guest.receive_data(host.data_to_send())
    host.receive_data(guest.data_to_send())
    events(host), events(guest)
    return host, guest


def flush(src: UsbredirConnection, dst: UsbredirConnection) -> list[Any]:
    dst.receive_data(src.data_to_send() or b"")
    return events(dst)


def test_hello_bytes_and_negotiation() -> None:
    host = UsbredirConnection(
        host=True, version="spicepy 1", caps=frozenset({Cap.IDS_64BITS})
    )
    raw = host.data_to_send()
    # usb_redir_header_32bit_id, then version[64] and one capability word
    assert raw == struct.pack("<III", 0, 68, 0) + b"spicepy 1".ljust(64, b"\0") + (
        struct.pack("<I", 1 << Cap.IDS_64BITS)
    )
    guest = UsbredirConnection(host=False, version="qemu")
    guest.receive_data(raw)
    host.receive_data(guest.data_to_send())
    [ev] = events(host)
    assert ev == HelloReceived(
        "qemu", frozenset(Cap), frozenset({Cap.IDS_64BITS}), True
    )
    assert host.ids64 and guest.ids64 and host.state is UsbredirState.READY


@pytest.mark.parametrize("ids64", [True, False])
def test_header_width_follows_both_hellos(ids64: bool) -> None:
    guest_caps = frozenset(Cap) - (set() if ids64 else {Cap.IDS_64BITS})
    host, guest = pair(guest_caps=guest_caps)
    assert host.ids64 is guest.ids64 is ids64
    host.send_packet(u.ConfigurationStatus(0, 1), 0xABC)
    raw = host.data_to_send()
    assert len(raw) == (16 if ids64 else 12) + 2
    assert flush_bytes(guest, raw) == [
        PacketReceived(0xABC, u.ConfigurationStatus(0, 1))
    ]


def flush_bytes(conn: UsbredirConnection, raw: bytes) -> list[Any]:
    conn.receive_data(raw)
    return events(conn)


def test_connect_waits_for_hello_then_sends_the_sequence() -> None:
    host = UsbredirConnection(host=True)
    guest = UsbredirConnection(host=False)
    host.connect_device(STORAGE)
    hello_only = host.data_to_send()
    assert [type(e) for e in flush_bytes(guest, hello_only)] == [HelloReceived]
    host.receive_data(guest.data_to_send())
    assert [type(e) for e in events(host)] == [HelloReceived, DeviceConnectSent]
    got = [e.packet for e in flush(host, guest)]
    assert [type(p) for p in got] == [u.InterfaceInfo, u.EpInfo, u.DeviceConnect]
    info, eps, connect = got
    assert (
        info.interface_count,
        info.interface_class[0],
        info.interface_protocol[0],
    ) == (
        1,
        8,
        0x50,
    )
    # EP2I: 0x81 -> 17, 0x02 -> 2; endpoint 0 is control both ways
    assert (eps.type[17], eps.type[2], eps.type[0], eps.type[16]) == (2, 2, 0, 0)
    assert eps.max_packet_size[17] == 512 and eps.type[3] == Ep.INVALID
    assert (connect.vendor_id, connect.product_id, connect.speed) == (0x781, 0x5567, 2)


def test_connect_with_old_guest_uses_short_layouts() -> None:
    host, guest = pair(guest_caps=frozenset())
    host.connect_device(KEYBOARD)
    raw = host.data_to_send()
    # interface_info 132, ep_info 96 (no sizes), device_connect 8 (no bcd)
    assert struct.unpack_from("<I", raw, 4)[0] == 132
    assert struct.unpack_from("<I", raw, 12 + 132 + 4)[0] == 96
    assert struct.unpack_from("<I", raw, 2 * 12 + 132 + 96 + 4)[0] == 8
    connect = [e.packet for e in flush_bytes(guest, raw)][-1]
    assert connect.device_version_bcd == 0 and connect.vendor_id == 0x1234


def test_disconnect_with_and_without_ack() -> None:
    host, guest = pair()
    host.connect_device(KEYBOARD)
    flush(host, guest)
    events(host)
    host.disconnect_device()
    assert events(host) == []  # waits for the ack
    assert [type(e.packet) for e in flush(host, guest)] == [u.DeviceDisconnect]
    # the guest side acks by itself (libusbredirparser does so internally)
    assert flush(guest, host) == [DeviceDisconnected()]
    host2, guest2 = pair(guest_caps=frozenset())
    host2.connect_device(KEYBOARD)
    host2.disconnect_device()
    assert [type(e) for e in events(host2)] == [DeviceConnectSent, DeviceDisconnected]


def test_control_transfer_round_trip() -> None:
    host, guest = pair()
    host.connect_device(KEYBOARD)
    flush(host, guest)
    events(host)
    get_desc = u.ControlPacket(0x80, 6, 0x80, 0, 0x0100, 0, 18)
    guest.send_packet(get_desc, 1 << 40)
    assert flush(guest, host) == [PacketReceived(1 << 40, get_desc)]
    answer = u.ControlPacket(0x80, 6, 0x80, 0, 0x0100, 0, 18, bytes(range(18)))
    host.send_packet(answer, 1 << 40)
    assert flush(host, guest) == [PacketReceived(1 << 40, answer)]


@given(cuts=st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_pieces_give_the_same_events_as_the_whole(cuts: list[int]) -> None:
    host = UsbredirConnection(host=True)
    host.connect_device(STORAGE)
    stream = host.data_to_send()
    guest = UsbredirConnection(host=False)
    host.receive_data(guest.data_to_send())
    stream += host.data_to_send()
    whole = UsbredirConnection(host=False)
    want = flush_bytes(whole, stream)
    assert len(want) == 4
    piecewise = UsbredirConnection(host=False)
    got: list[Any] = []
    pos = k = 0
    while pos < len(stream):
        got += flush_bytes(piecewise, stream[pos : pos + cuts[k % len(cuts)]])
        pos += cuts[k % len(cuts)]
        k += 1
    assert got == want


def _hdr(ptype: int, length: int, pid: int = 0, ids64: bool = True) -> bytes:
    return struct.pack("<IIQ" if ids64 else "<III", ptype, length, pid)


HOSTILE = [
    (_hdr(0xFFFF, 0), WireError, "unknown"),
    (_hdr(u.UsbredirType.INTERFACE_INFO, 132) + bytes(132), ProtocolError, "host"),
    (_hdr(u.UsbredirType.HELLO, 64) + bytes(64), ProtocolError, "second"),
    (_hdr(u.UsbredirType.RESET, 1) + b"\0", WireError, "expected 0"),
    # a control OUT transfer whose data disagrees with its length field
    (
        _hdr(u.UsbredirType.CONTROL_PACKET, 12) + bytes(8) + b"\5\0" + b"ab",
        ProtocolError,
        "2 data bytes",
    ),
    # an IN transfer request carrying data toward the device
    (
        _hdr(u.UsbredirType.BULK_PACKET, 12) + b"\x81\0\2\0" + bytes(6) + b"ab",
        ProtocolError,
        "unexpected data",
    ),
    (
        _hdr(u.UsbredirType.START_INTERRUPT_RECEIVING, 1) + b"\1",
        ProtocolError,
        "OUT",
    ),
    (
        _hdr(u.UsbredirType.ISO_PACKET, 4) + b"\x81\0\0\0",
        ProtocolError,
        "direction",
    ),
    (_hdr(u.UsbredirType.DEVICE_DISCONNECT_ACK, 0), ProtocolError, "without"),
]


@pytest.mark.parametrize("raw,error,match", HOSTILE, ids=[c[2] for c in HOSTILE])
def test_hostile_packets_to_the_host(raw: bytes, error: type, match: str) -> None:
    host, _ = pair()
    with pytest.raises(error, match=match):
        host.receive_data(raw)
    assert host.state is UsbredirState.ERROR
    with pytest.raises(ProtocolError):
        host.receive_data(b"\0")


def test_cap_gated_packets_need_the_cap() -> None:
    host, _ = pair(host_caps=frozenset(Cap) - {Cap.FILTER})
    with pytest.raises(ProtocolError, match="FILTER"):
        host.receive_data(_hdr(u.UsbredirType.FILTER_REJECT, 0, ids64=True))
    _, guest = pair(host_caps=frozenset(Cap) - {Cap.FILTER})
    with pytest.raises(ProtocolError, match="FILTER"):
        guest.send_packet(u.FilterReject())


def test_length_cap_refuses_before_buffering() -> None:
    host, _ = pair()
    host.max_packet_size = 1000
    with pytest.raises(ProtocolError, match="exceeds"):
        host.receive_data(_hdr(u.UsbredirType.BULK_PACKET, 1001))  # header alone
    fresh = UsbredirConnection(host=True)
    with pytest.raises(ProtocolError, match="exceeds"):
        fresh.receive_data(struct.pack("<III", 0, 0xFFFFFFFF, 0))


def test_order_rules() -> None:
    host = UsbredirConnection(host=True)
    with pytest.raises(ProtocolError, match="before the peer's hello"):
        host.receive_data(struct.pack("<III", u.UsbredirType.RESET, 0, 0))
    early = UsbredirConnection(host=True)
    with pytest.raises(ProtocolError, match="not allowed"):
        early.send_packet(u.ConfigurationStatus(0, 1))
    guest = UsbredirConnection(host=False)
    with pytest.raises(ProtocolError, match="only the host"):
        guest.connect_device(KEYBOARD)
    h, _ = pair()
    with pytest.raises(ProtocolError, match="not sent to the guest"):
        h.send_packet(u.SetConfiguration(1))


def test_eof_clean_and_cut() -> None:
    host, guest = pair()
    host.receive_data(b"")
    assert events(host) == [UsbredirClosed(True)]
    guest.receive_data(_hdr(u.UsbredirType.CONFIGURATION_STATUS, 2)[:5])
    guest.receive_data(b"")
    assert events(guest) == [UsbredirClosed(False)]
    with pytest.raises(ProtocolError, match="after EOF"):
        guest.receive_data(b"x")


@given(junk=st.binary(max_size=200), ids=st.booleans())
def test_random_bytes_give_events_or_spice_errors(junk: bytes, ids: bool) -> None:
    caps = frozenset(Cap) - (set() if ids else {Cap.IDS_64BITS})
    for side in pair(caps, caps):
        try:
            side.receive_data(junk)
        except SpiceError:
            assert side.state is UsbredirState.ERROR
        events(side)
