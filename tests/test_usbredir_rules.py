"""The usbredir connection's rules, packet type by packet type and field by field
(spicepy.channels.usbredir): which side may send which packet, which need a
capability, IN-only endpoints, where transfer data may ride, the device
description's limits, the exact connect/disconnect bytes, and the exact error
texts.  The expectations are written out from usbredirparser.c
(``usbredirparser_get_type_header_len``'s "command for host" split,
``usbredirparser_verify_type_header``) rather than read from the module, so a
changed table in the module is a failing test here."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels.usbredir import (
    DEFAULT_CAPS,
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
from spicepy.errors import ProtocolError, WireError
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirCap as Cap
from spicepy.wire.usbredir import UsbredirType as T
from spicepy.wire.usbredir import UsbTransferType as Ep

ALL = frozenset(Cap)
MAX_BULK = 128 * 1024 * 1024  # usbredirparser.c MAX_BULK_TRANSFER_SIZE

#: usbredirparser: packets a host accepts ("command for host"), and a guest's
#: (data packets go both ways; buffered bulk only toward the guest).
TO_HOST_ONLY = {
    T.RESET, T.SET_CONFIGURATION, T.GET_CONFIGURATION, T.SET_ALT_SETTING,
    T.GET_ALT_SETTING, T.START_ISO_STREAM, T.STOP_ISO_STREAM,
    T.START_INTERRUPT_RECEIVING, T.STOP_INTERRUPT_RECEIVING,
    T.ALLOC_BULK_STREAMS, T.FREE_BULK_STREAMS, T.CANCEL_DATA_PACKET,
    T.FILTER_REJECT, T.DEVICE_DISCONNECT_ACK, T.START_BULK_RECEIVING,
    T.STOP_BULK_RECEIVING,
}  # fmt: skip
TO_GUEST_ONLY = {
    T.DEVICE_CONNECT, T.DEVICE_DISCONNECT, T.INTERFACE_INFO, T.EP_INFO,
    T.CONFIGURATION_STATUS, T.ALT_SETTING_STATUS, T.ISO_STREAM_STATUS,
    T.INTERRUPT_RECEIVING_STATUS, T.BULK_STREAMS_STATUS,
    T.BULK_RECEIVING_STATUS, T.BUFFERED_BULK_PACKET,
}  # fmt: skip
BOTH_WAYS = {T.FILTER_FILTER, T.CONTROL_PACKET, T.BULK_PACKET}
NEEDS: dict[int, Cap] = {
    T.FILTER_REJECT: Cap.FILTER,
    T.FILTER_FILTER: Cap.FILTER,
    T.DEVICE_DISCONNECT_ACK: Cap.DEVICE_DISCONNECT_ACK,
    T.START_BULK_RECEIVING: Cap.BULK_RECEIVING,
    T.STOP_BULK_RECEIVING: Cap.BULK_RECEIVING,
    T.BULK_RECEIVING_STATUS: Cap.BULK_RECEIVING,
    T.BUFFERED_BULK_PACKET: Cap.BULK_RECEIVING,
}
IN_ONLY: dict[int, Callable[[int], Any]] = {
    T.START_INTERRUPT_RECEIVING: lambda ep: u.StartInterruptReceiving(ep),
    T.STOP_INTERRUPT_RECEIVING: lambda ep: u.StopInterruptReceiving(ep),
    T.INTERRUPT_RECEIVING_STATUS: lambda ep: u.InterruptReceivingStatus(0, ep),
    T.START_BULK_RECEIVING: lambda ep: u.StartBulkReceiving(1, 512, ep, 2),
    T.STOP_BULK_RECEIVING: lambda ep: u.StopBulkReceiving(1, ep),
    T.BULK_RECEIVING_STATUS: lambda ep: u.BulkReceivingStatus(1, ep, 0),
}


def sample(ptype: int, to_host: bool) -> Any:
    """A packet of ``ptype`` that is valid on its own going ``to_host`` (IN
    endpoint 0x81 unless the type needs data flowing that way)."""
    data_in = b"" if to_host else b"abcd"  # IN data rides toward the guest
    made: dict[int, Any] = {
        T.DEVICE_CONNECT: u.DeviceConnect(1, 3, 1, 1, 0x1234, 0x5678, 0x0100),
        T.INTERFACE_INFO: u.InterfaceInfo(0, *([(0,) * 32] * 4)),
        T.EP_INFO: u.EpInfo(*([(0,) * 32] * 3)),
        T.SET_CONFIGURATION: u.SetConfiguration(1),
        T.CONFIGURATION_STATUS: u.ConfigurationStatus(0, 1),
        T.SET_ALT_SETTING: u.SetAltSetting(0, 1),
        T.GET_ALT_SETTING: u.GetAltSetting(0),
        T.ALT_SETTING_STATUS: u.AltSettingStatus(0, 0, 1),
        T.START_ISO_STREAM: u.StartIsoStream(0x81, 8, 4),
        T.STOP_ISO_STREAM: u.StopIsoStream(0x81),
        T.ISO_STREAM_STATUS: u.IsoStreamStatus(0, 0x81),
        T.ALLOC_BULK_STREAMS: u.AllocBulkStreams(1 << 17, 4),
        T.FREE_BULK_STREAMS: u.FreeBulkStreams(1 << 17),
        T.BULK_STREAMS_STATUS: u.BulkStreamsStatus(1 << 17, 4, 0),
        T.FILTER_FILTER: u.FilterFilter(b"-1,-1,-1,-1,1\0"),
        T.CONTROL_PACKET: u.ControlPacket(0x80, 6, 0x80, 0, 0x100, 0, 4, data_in),
        T.BULK_PACKET: u.BulkPacket(0x81, 0, 4, 0, 0, data_in),
        T.ISO_PACKET: u.IsoPacket(0x01 if to_host else 0x81, 0, 4, b"abcd"),
        T.INTERRUPT_PACKET: u.InterruptPacket(0x01 if to_host else 0x81, 0, 4, b"abcd"),
        T.BUFFERED_BULK_PACKET: u.BufferedBulkPacket(1, 4, 0x81, 0, b"abcd"),
    }
    if ptype in made:
        return made[ptype]
    if ptype in IN_ONLY:
        return IN_ONLY[ptype](0x81)
    return u.packet_classes()[ptype]()  # the empty ones


def events(conn: UsbredirConnection) -> list[Any]:
    out = []
    while (ev := conn.next_event()) is not None:
        out.append(ev)
    return out


def pair(
    host_caps: frozenset[int] = ALL, guest_caps: frozenset[int] = ALL
) -> tuple[UsbredirConnection, UsbredirConnection]:
    host = UsbredirConnection(host=True, caps=host_caps)
    guest = UsbredirConnection(host=False, version="qemu 8", caps=guest_caps)
    guest.receive_data(host.data_to_send())
    host.receive_data(guest.data_to_send())
    events(host), events(guest)
    return host, guest


def raw(pkt: Any, pid: int = 0, negotiated: frozenset[int] = ALL) -> bytes:
    return u.encode_packet(pkt, pid, negotiated=negotiated, ids64=True)


TYPES = sorted(set(u.packet_classes()) - {T.HELLO})


def test_the_tables_cover_every_type() -> None:
    assert TO_HOST_ONLY | TO_GUEST_ONLY | BOTH_WAYS | {
        T.ISO_PACKET,
        T.INTERRUPT_PACKET,
    } == set(TYPES)


@pytest.mark.parametrize("ptype", TYPES, ids=[T(t).name for t in TYPES])
def test_who_may_send_what(ptype: int) -> None:
    """Each type is accepted exactly by the sides usbredirparser accepts it on,
    sent or received, and refused with the same text otherwise."""
    for to_host in (True, False):
        allowed = ptype not in (TO_GUEST_ONLY if to_host else TO_HOST_ONLY)
        host, guest = pair()
        sender, receiver = (guest, host) if to_host else (host, guest)
        pkt = sample(ptype, to_host)
        name = type(pkt).__name__
        side = "host" if to_host else "guest"
        if ptype == T.DEVICE_DISCONNECT_ACK:  # answered only to a disconnect
            host.connect_device(UsbDeviceInfo(1, 2))
            host.disconnect_device()
            guest.receive_data(host.data_to_send())
            events(host), events(guest), guest.data_to_send()
        if not allowed:
            with pytest.raises(ProtocolError) as err:
                sender.send_packet(pkt)
            assert str(err.value) == f"{name} is not sent to the {side}"
            with pytest.raises(ProtocolError) as err:
                receiver.receive_data(raw(pkt))
            assert str(err.value) == f"{name} is not sent to the {side}"
            assert receiver.state is UsbredirState.ERROR
            continue
        sender.send_packet(pkt, 7)
        assert sender.data_to_send() == raw(pkt, 7)
        receiver.receive_data(raw(pkt, 7))
        got = events(receiver)
        if ptype == T.DEVICE_DISCONNECT_ACK:
            assert got == [DeviceDisconnected()]
        else:
            assert got == [PacketReceived(7, pkt)]
        assert receiver.state is sender.state is UsbredirState.READY


@pytest.mark.parametrize("ptype", sorted(NEEDS), ids=[T(t).name for t in NEEDS])
def test_cap_gated_types(ptype: int) -> None:
    """Sent: the peer must have announced the cap; received: we must have."""
    cap = NEEDS[ptype]
    to_host = ptype not in TO_GUEST_ONLY
    pkt = sample(ptype, to_host)
    want = f"{type(pkt).__name__} needs capability {cap.name}"
    lacking = ALL - {cap}
    # the receiver lacks it: the sender refuses to send
    host, guest = pair(*((lacking, ALL) if to_host else (ALL, lacking)))
    sender, receiver = (guest, host) if to_host else (host, guest)
    with pytest.raises(ProtocolError) as err:
        sender.send_packet(pkt)
    assert str(err.value) == want
    # ... and refuses to receive it from a sender that sends it anyway
    with pytest.raises(ProtocolError) as err:
        receiver.receive_data(raw(pkt))
    assert str(err.value) == want
    # the sender lacking it does not matter
    host, guest = pair(*((ALL, lacking) if to_host else (lacking, ALL)))
    sender, receiver = (guest, host) if to_host else (host, guest)
    if ptype == T.DEVICE_DISCONNECT_ACK:
        host._awaiting_ack = True  # what disconnect_device leaves
    sender.send_packet(pkt)
    receiver.receive_data(sender.data_to_send())
    assert receiver.state is UsbredirState.READY and len(events(receiver)) == 1


@pytest.mark.parametrize("ptype", sorted(IN_ONLY), ids=[T(t).name for t in IN_ONLY])
def test_in_only_endpoints(ptype: int) -> None:
    to_host = ptype not in TO_GUEST_ONLY
    for ep in (0x01, 0x02, 0x0F, 0x7F):
        host, guest = pair()
        sender, receiver = (guest, host) if to_host else (host, guest)
        pkt = IN_ONLY[ptype](ep)
        want = f"{type(pkt).__name__} on OUT endpoint {ep:#04x}"
        with pytest.raises(ProtocolError) as err:
            sender.send_packet(pkt)
        assert str(err.value) == want
        with pytest.raises(ProtocolError) as err:
            receiver.receive_data(raw(pkt))
        assert str(err.value) == want
    for ep in (0x80, 0x81, 0x8F):
        host, guest = pair()
        sender, receiver = (guest, host) if to_host else (host, guest)
        sender.send_packet(IN_ONLY[ptype](ep))
        receiver.receive_data(sender.data_to_send())
        assert [type(e) for e in events(receiver)] == [PacketReceived]


def test_bulk_receiving_transfer_size_limit() -> None:
    host, guest = pair()
    guest.send_packet(u.StartBulkReceiving(1, MAX_BULK, 0x81, 2))  # the limit: fine
    host.receive_data(guest.data_to_send())
    assert events(host)[0].packet.bytes_per_transfer == MAX_BULK
    too_big = u.StartBulkReceiving(1, MAX_BULK + 1, 0x81, 2)
    want = f"StartBulkReceiving: {MAX_BULK + 1} bytes per transfer"
    with pytest.raises(ProtocolError) as err:
        guest.send_packet(too_big)
    assert str(err.value) == want
    with pytest.raises(ProtocolError) as err:
        host.receive_data(raw(too_big))
    assert str(err.value) == want


def test_bulk_length_limit_counts_the_high_half() -> None:
    host, guest = pair()
    # a bulk IN request of exactly the limit (length_high:length = 0x800:0)
    guest.send_packet(u.BulkPacket(0x81, 0, 0, 0, MAX_BULK >> 16))
    host.receive_data(guest.data_to_send())
    assert events(host)[0].packet.total_length == MAX_BULK
    over = u.BulkPacket(0x81, 0, 1, 0, MAX_BULK >> 16)
    with pytest.raises(ProtocolError) as err:
        guest.send_packet(over)
    assert str(err.value) == f"bulk transfer of {MAX_BULK + 1} bytes"
    # the 16-bit length alone would pass; the check is on the total
    assert over.length == 1
    with pytest.raises(ProtocolError) as err:
        host.receive_data(raw(over))
    assert str(err.value) == f"bulk transfer of {MAX_BULK + 1} bytes"


class _Sized:
    """Data of a given length without the memory (only its length is checked)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def test_buffered_bulk_length_limit() -> None:
    host, guest = pair()
    # exactly the limit passes the checks (a 128 MiB body, not built here)
    limit = u.BufferedBulkPacket(1, MAX_BULK, 0x81, 0, _Sized(MAX_BULK))  # type: ignore[arg-type]
    host._check(limit, to_host=False, receiver_caps=ALL)
    over = u.BufferedBulkPacket(1, MAX_BULK + 1, 0x81, 0)
    with pytest.raises(ProtocolError) as err:
        host.send_packet(over)
    assert str(err.value) == f"buffered bulk transfer of {MAX_BULK + 1} bytes"
    with pytest.raises(ProtocolError) as err:
        guest.receive_data(raw(over))
    assert str(err.value) == f"buffered bulk transfer of {MAX_BULK + 1} bytes"


#: (packet, to_host, error text or None): data rides toward the guest on IN
#: endpoints and toward the host on OUT ones; the other way it must be absent,
#: and iso/buffered bulk/interrupt requests never go that way at all.
DATA_CASES = [
    (u.ControlPacket(0x00, 9, 0, 0, 1, 0, 2, b"ab"), True, None),
    (u.ControlPacket(0x00, 9, 0, 0, 1, 0, 5, b"ab"), True,
     "ControlPacket: 2 data bytes, header says 5"),
    (u.ControlPacket(0x00, 9, 0, 0, 1, 0, 2, b""), True,
     "ControlPacket: 0 data bytes, header says 2"),
    (u.ControlPacket(0x80, 6, 0x80, 0, 1, 0, 2, b""), True, None),
    (u.ControlPacket(0x80, 6, 0x80, 0, 1, 0, 2, b"ab"), True,
     "ControlPacket: unexpected data on endpoint 0x80"),
    (u.ControlPacket(0x80, 6, 0x80, 0, 1, 0, 2, b"ab"), False, None),
    (u.ControlPacket(0x80, 6, 0x80, 0, 1, 0, 2, b"a"), False,
     "ControlPacket: 1 data bytes, header says 2"),
    (u.ControlPacket(0x00, 9, 0, 0, 1, 0, 2, b""), False, None),
    (u.ControlPacket(0x00, 9, 0, 0, 1, 0, 2, b"ab"), False,
     "ControlPacket: unexpected data on endpoint 0x00"),
    (u.BulkPacket(0x02, 0, 3, 0, 0, b"abc"), True, None),
    (u.BulkPacket(0x02, 0, 3, 0, 1, b"abc"), True,
     "BulkPacket: 3 data bytes, header says 65539"),
    (u.BulkPacket(0x81, 0, 3, 0, 0, b""), True, None),
    (u.BulkPacket(0x81, 0, 3, 0, 0, b"abc"), False, None),
    (u.BulkPacket(0x02, 0, 3, 0, 0, b""), False, None),
    (u.IsoPacket(0x01, 0, 2, b"ab"), True, None),
    (u.IsoPacket(0x81, 0, 2, b""), True, "IsoPacket sent in the wrong direction"),
    (u.IsoPacket(0x81, 0, 2, b"ab"), False, None),
    (u.IsoPacket(0x01, 0, 2, b""), False, "IsoPacket sent in the wrong direction"),
    (u.InterruptPacket(0x01, 0, 2, b"ab"), True, None),
    (u.InterruptPacket(0x81, 0, 2, b""), True,
     "InterruptPacket sent in the wrong direction"),
    (u.InterruptPacket(0x81, 0, 2, b"ab"), False, None),
    (u.InterruptPacket(0x01, 0, 2, b""), False, None),  # an OUT transfer's status
    (u.InterruptPacket(0x01, 0, 2, b"ab"), False,
     "InterruptPacket: unexpected data on endpoint 0x01"),
    (u.BufferedBulkPacket(1, 2, 0x81, 0, b"ab"), False, None),
    (u.BufferedBulkPacket(1, 2, 0x81, 0, b"abc"), False,
     "BufferedBulkPacket: 3 data bytes, header says 2"),
    (u.BufferedBulkPacket(1, 2, 0x01, 0, b""), False,
     "BufferedBulkPacket sent in the wrong direction"),
]  # fmt: skip


@pytest.mark.parametrize("pkt,to_host,error", DATA_CASES)
def test_where_transfer_data_rides(pkt: Any, to_host: bool, error: str | None) -> None:
    host, guest = pair()
    sender, receiver = (guest, host) if to_host else (host, guest)
    if error is None:
        sender.send_packet(pkt, 3)
        receiver.receive_data(sender.data_to_send())
        assert events(receiver) == [PacketReceived(3, pkt)]
        return
    with pytest.raises(ProtocolError) as err:
        sender.send_packet(pkt)
    assert str(err.value) == error
    assert sender.data_to_send() == b""
    with pytest.raises(ProtocolError) as err:
        receiver.receive_data(raw(pkt))
    assert str(err.value) == error
    assert receiver.state is UsbredirState.ERROR


def test_commands_with_an_endpoint_carry_no_data_rules() -> None:
    """Non-data packets with an endpoint field (below CONTROL_PACKET) skip the
    data checks: an OUT endpoint iso stream start is fine."""
    host, guest = pair()
    guest.send_packet(u.StartIsoStream(0x01, 8, 4))
    host.receive_data(guest.data_to_send())
    assert events(host) == [PacketReceived(0, u.StartIsoStream(0x01, 8, 4))]


# -- the device description ------------------------------------------------------
def _intf(n: int, *eps: UsbEndpoint) -> UsbInterface:
    return UsbInterface(n, 3, endpoints=eps)


def test_device_limits() -> None:
    UsbDeviceInfo(1, 2, tuple(_intf(i) for i in range(32)))  # 32 is the limit
    with pytest.raises(ValueError) as err:
        UsbDeviceInfo(1, 2, tuple(_intf(i) for i in range(33)))
    assert str(err.value) == "a usbredir device has at most 32 interfaces"
    for bad in (0x00, 0x80, 0x10, 0x20, 0x40, 0x91, 0xF1):
        with pytest.raises(ValueError) as err:
            UsbDeviceInfo(1, 2, (_intf(0, UsbEndpoint(bad, Ep.BULK)),))
        assert str(err.value) == f"bad or repeated endpoint {bad:#04x}"
    dup = (_intf(0, UsbEndpoint(0x81, Ep.BULK)), _intf(1, UsbEndpoint(0x81, Ep.BULK)))
    with pytest.raises(ValueError) as err:
        UsbDeviceInfo(1, 2, dup)
    assert str(err.value) == "bad or repeated endpoint 0x81"
    # every legal address once: 15 OUT and 15 IN endpoints
    eps = [UsbEndpoint(a, Ep.BULK) for a in (*range(1, 16), *range(0x81, 0x90))]
    dev = UsbDeviceInfo(1, 2, (_intf(0, *eps[:15]), _intf(1, *eps[15:])))
    assert len(dev.interfaces) == 2


TWO = UsbDeviceInfo(
    0xABCD,
    0x1234,
    (
        UsbInterface(0, 3, 1, 2, (UsbEndpoint(0x81, Ep.INTERRUPT, 8, 10),)),
        UsbInterface(
            2,
            8,
            6,
            0x50,
            (
                UsbEndpoint(0x82, Ep.BULK, 512, 0, 4),
                UsbEndpoint(0x03, Ep.BULK, 256, 1, 8),
            ),
        ),
    ),
    device_class=0xEF,
    device_subclass=2,
    device_protocol=1,
    device_version_bcd=0x0213,
    speed=u.UsbSpeed.HIGH,
    max_packet_size0=32,
)


def _table(**at: int) -> tuple[int, ...]:
    out = [0] * 32
    for k, v in at.items():
        out[int(k[1:])] = v
    return tuple(out)


@pytest.mark.parametrize(
    "negotiated,sizes,streams,bcd",
    [
        (DEFAULT_CAPS, True, True, 0x0213),
        (frozenset(), False, False, 0),
        (frozenset({Cap.EP_INFO_MAX_PACKET_SIZE}), True, False, 0),
        # not a negotiate() result, but the layout follows: the full ep_info
        (frozenset({Cap.BULK_STREAMS}), True, True, 0),
        (frozenset({Cap.CONNECT_DEVICE_VERSION}), False, False, 0x0213),
    ],
)
def test_connect_packets_field_by_field(
    negotiated: frozenset[int], sizes: bool, streams: bool, bcd: int
) -> None:
    info, eps, connect = TWO.connect_packets(negotiated)
    pad = (0,) * 30
    assert info == u.InterfaceInfo(
        2, (0, 2, *pad), (3, 8, *pad), (1, 6, *pad), (2, 0x50, *pad)
    )
    # EP2I: 0x81 -> 17, 0x82 -> 18, 0x03 -> 3; 0 and 16 are the control pipe
    types = [255] * 32
    types[0] = types[16] = 0
    types[17], types[18], types[3] = 3, 2, 2
    assert eps.type == tuple(types)
    assert eps.interval == _table(i17=10, i3=1)
    assert eps.interface == _table(i18=2, i3=2)
    assert eps.max_packet_size == (
        _table(i0=32, i16=32, i17=8, i18=512, i3=256) if sizes else (0,) * 32
    )
    assert eps.max_streams == (_table(i18=4, i3=8) if streams else (0,) * 32)
    assert connect == u.DeviceConnect(2, 0xEF, 2, 1, 0xABCD, 0x1234, bcd)


def test_connect_packets_default_is_every_cap() -> None:
    assert TWO.connect_packets() == TWO.connect_packets(DEFAULT_CAPS)
    assert UsbDeviceInfo(1, 2).speed is u.UsbSpeed.FULL
    assert UsbDeviceInfo(1, 2).max_packet_size0 == 64


# -- connect, disconnect, hello ----------------------------------------------------
def test_hello_exact() -> None:
    host = UsbredirConnection(host=True, version="v1", caps=frozenset({Cap.FILTER}))
    hello = host.data_to_send()
    assert hello == struct.pack("<III", 0, 68, 0) + b"v1".ljust(
        64, b"\0"
    ) + struct.pack("<I", 1 << Cap.FILTER)
    guest = UsbredirConnection(host=False, version="qemu 8", caps=ALL)
    assert {guest.state, host.state} == {UsbredirState.HELLO}
    guest.receive_data(hello)
    assert events(guest) == [
        HelloReceived("v1", frozenset({Cap.FILTER}), frozenset({Cap.FILTER}), False)
    ]
    assert (guest.peer_version, guest.peer_caps, guest.negotiated, guest.ids64) == (
        "v1",
        frozenset({Cap.FILTER}),
        frozenset({Cap.FILTER}),
        False,
    )
    host.receive_data(guest.data_to_send())
    assert events(host) == [
        HelloReceived("qemu 8", ALL, frozenset({Cap.FILTER}), False)
    ]
    assert host.state is guest.state is UsbredirState.READY
    with pytest.raises(ValueError) as err:
        UsbredirConnection(version="x" * 64)
    assert str(err.value) == "usbredir version text is at most 63 bytes"
    assert (
        UsbredirConnection(version="x" * 63).data_to_send()[12:76] == b"x" * 63 + b"\0"
    )
    assert UsbredirConnection().host is True
    # before the peer's hello nothing is known or negotiated
    fresh = UsbredirConnection()
    assert (fresh.peer_version, fresh.peer_caps, fresh.negotiated) == (
        "",
        frozenset(),
        frozenset(),
    )
    assert fresh.ids64 is False and fresh.device is None
    assert UsbredirConnection().data_to_send()[12:20] == b"spicepy\0"


def test_connect_device_exact_bytes_and_errors() -> None:
    host, guest = pair()
    host.connect_device(TWO)
    want = b"".join(raw(p) for p in TWO.connect_packets(ALL))
    assert host.data_to_send() == want
    assert events(host) == [DeviceConnectSent(TWO)]
    assert host.device is TWO
    with pytest.raises(ProtocolError) as err:
        host.connect_device(TWO)
    assert str(err.value) == "a device is already connected"
    host.disconnect_device()  # the guest acks: waiting for it
    assert host.data_to_send() == raw(u.DeviceDisconnect())
    assert host.device is None and events(host) == []
    with pytest.raises(ProtocolError) as err:
        host.connect_device(TWO)
    assert str(err.value) == "a device is already connected"
    with pytest.raises(ProtocolError) as err:
        host.disconnect_device()
    assert str(err.value) == "no device connected"
    host.receive_data(raw(u.DeviceDisconnectAck()))
    assert events(host) == [DeviceDisconnected()]
    host.connect_device(TWO)  # free again
    assert host.data_to_send() == want
    with pytest.raises(ProtocolError) as err:
        guest.connect_device(TWO)
    assert str(err.value) == "only the host side connects devices"
    with pytest.raises(ProtocolError) as err:
        guest.disconnect_device()
    assert str(err.value) == "no device connected"


def test_disconnect_without_the_ack_cap() -> None:
    host, guest = pair(guest_caps=ALL - {Cap.DEVICE_DISCONNECT_ACK})
    host.connect_device(TWO)
    events(host), host.data_to_send()
    host.disconnect_device()
    assert host.data_to_send() == raw(u.DeviceDisconnect(), negotiated=host.negotiated)
    assert events(host) == [DeviceDisconnected()]
    assert host.device is None and not host._awaiting_ack
    host.connect_device(TWO)  # at once: no ack to wait for
    assert events(host) == [DeviceConnectSent(TWO)]


def test_guest_acks_a_disconnect_only_with_the_peer_cap() -> None:
    host, guest = pair()
    guest.receive_data(raw(u.DeviceDisconnect(), 5))
    assert events(guest) == [PacketReceived(5, u.DeviceDisconnect())]
    assert guest.data_to_send() == raw(u.DeviceDisconnectAck())
    _, old = pair(host_caps=ALL - {Cap.DEVICE_DISCONNECT_ACK})
    old.receive_data(raw(u.DeviceDisconnect(), negotiated=old.negotiated))
    assert [type(e) for e in events(old)] == [PacketReceived]
    assert old.data_to_send() == b""
    with pytest.raises(ProtocolError) as err:  # the host never gets one unasked
        host.receive_data(raw(u.DeviceDisconnectAck()))
    assert str(err.value) == "device_disconnect_ack without a disconnect"


def test_a_device_announced_early_waits_for_the_hello() -> None:
    host = UsbredirConnection(host=True)
    host.connect_device(TWO)
    hello = host.data_to_send()
    assert len(hello) == 12 + 64 + 4  # the hello alone
    assert host.device is None and events(host) == []
    guest = UsbredirConnection(host=False)
    guest.receive_data(hello)
    host.receive_data(guest.data_to_send())
    assert [type(e) for e in events(host)] == [HelloReceived, DeviceConnectSent]
    assert host.device is TWO and host._pending_device is None
    assert host.data_to_send() == b"".join(raw(p) for p in TWO.connect_packets(ALL))


def test_unplug_before_the_hello_sends_nothing() -> None:
    host = UsbredirConnection(host=True)
    host.connect_device(TWO)
    hello = host.data_to_send()
    host.disconnect_device()
    assert events(host) == [DeviceDisconnected()] and host.data_to_send() == b""
    guest = UsbredirConnection(host=False)
    guest.receive_data(hello)
    host.receive_data(guest.data_to_send())
    assert [type(e) for e in events(host)] == [HelloReceived]
    assert host.data_to_send() == b"" and host.device is None


# -- framing, order, errors -----------------------------------------------------
def test_error_texts_and_state() -> None:
    early = UsbredirConnection(host=True)
    with pytest.raises(ProtocolError) as err:
        early.send_packet(u.ConfigurationStatus(0, 1))
    assert str(err.value) == "usbredir: send is not allowed in state hello"
    assert early.state is UsbredirState.ERROR
    with pytest.raises(ProtocolError) as err:
        early.receive_data(b"x")
    assert str(err.value) == "usbredir connection is in ERROR"
    host, _ = pair()
    with pytest.raises(ProtocolError) as err:
        host.send_packet(u.Hello(bytes(64), (0,)))
    assert str(err.value) == "hello is sent once, at construction"
    fresh = UsbredirConnection(host=True)
    with pytest.raises(WireError) as werr:  # unknown beats "before the hello"
        fresh.receive_data(struct.pack("<III", 99, 0, 0))
    assert str(werr.value) == "unknown usbredir packet type 99"
    fresh = UsbredirConnection(host=True)
    with pytest.raises(ProtocolError) as err:
        fresh.receive_data(struct.pack("<III", T.RESET, 0, 0))
    assert str(err.value) == "usbredir packet 3 before the peer's hello"
    host, _ = pair()
    with pytest.raises(ProtocolError) as err:
        host.receive_data(struct.pack("<IIQ", T.HELLO, 68, 0) + bytes(68))
    assert str(err.value) == "second usbredir hello"
    host, _ = pair()
    host.receive_data(b"")
    host.receive_data(b"")  # EOF twice is fine
    assert events(host) == [UsbredirClosed(True), UsbredirClosed(True)]
    assert host.state is UsbredirState.CLOSED
    closed = UsbredirConnection()
    closed.receive_data(b"")
    with pytest.raises(ProtocolError) as err:
        closed.receive_data(b"x")
    assert str(err.value) == "data after EOF"
    with pytest.raises(ProtocolError) as err:
        host.send_packet(u.ConfigurationStatus(0, 1))
    assert str(err.value) == "usbredir: send is not allowed in state closed"
    assert host.get_timer() is None
    host.handle_timer(0.0)


def test_packet_size_limit_is_inclusive() -> None:
    host, guest = pair()
    host.max_packet_size = 12
    body = u.ControlPacket(0x00, 9, 0, 0, 1, 0, 2, b"ab")  # 10 + 2 bytes
    guest.send_packet(body)
    host.receive_data(guest.data_to_send())
    assert [type(e) for e in events(host)] == [PacketReceived]
    host.max_packet_size = 11
    with pytest.raises(ProtocolError) as err:
        host.receive_data(raw(body)[:16])
    assert str(err.value) == "usbredir packet of 12 bytes exceeds the 11-byte limit"
    assert UsbredirConnection().max_packet_size == 1024 + MAX_BULK


@given(
    ids=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6),
    cut=st.integers(0, 200),
)
def test_many_packets_in_one_read_and_pieces(ids: list[int], cut: int) -> None:
    """Every packet of a read is delivered, in order, with its id; a read cut
    anywhere gives the same events, and the buffer ends empty."""
    for ids64 in (True, False):
        caps = ALL if ids64 else ALL - {Cap.IDS_64BITS}
        host, guest = pair(caps, caps)
        for i in ids:
            host.send_packet(u.ConfigurationStatus(0, i & 0xFF), i)
        stream = host.data_to_send()
        assert len(stream) == len(ids) * ((16 if ids64 else 12) + 2)
        for part in (stream[:cut], stream[cut:]):
            if part:  # b"" is EOF
                guest.receive_data(part)
        want = [PacketReceived(i, u.ConfigurationStatus(0, i & 0xFF)) for i in ids]
        assert events(guest) == want
        assert guest._buf == bytearray()


def test_snapshots_compare_state() -> None:
    a, b = UsbredirConnection(host=True), UsbredirConnection(host=True)
    assert a == b and not a != b
    assert a != UsbredirConnection(host=False)
    assert a != object()

    class Other(UsbredirConnection):
        pass

    assert a != Other(host=True)
    a.data_to_send()
    assert a != b
    with pytest.raises(TypeError):
        hash(a)
