"""Sans-IO usbredir connection: the byte protocol inside a SPICE USBREDIR channel.

Theory of operation (usbredir ``usb-redirection-protocol.md``, ``usbredirparser.c``,
``usbredirhost.c``): each side queues a hello (64-byte version string + capability
words) at once, with a 32-bit id header.  Until the peer's hello arrives nothing
else may be sent or received; when it does, the negotiated capabilities fix the
header (64-bit ids when both announced IDS_64BITS) and the sizes of the
cap-dependent type headers.  The *host* side owns the device: ``connect_device``
sends interface_info, ep_info and device_connect (held back until the hello
exchange is over, as usbredirhost's ``connect_pending``); the *guest* side
(QEMU's usb-redir, or a test peer) sends commands and transfers, which the host
answers with status and data packets carrying the command's id.

Every received packet is checked the way usbredirparser checks it: its type must
be one the receiving role accepts, cap-gated types need the cap, a transfer's
data must be present exactly when it flows toward this side and then match the
header's length.  Any violation, an unknown type, or a ``length`` above
``max_packet_size`` is a SpiceError, after which the connection stays in ERROR.
Machines keep no timers and never read the clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any

from spicepy.channels.events import ChannelEvent
from spicepy.errors import ProtocolError, SpiceError, WireError
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import (
    MAX_BULK_TRANSFER_SIZE,
    MAX_PACKET_SIZE,
    UsbredirCap,
    UsbSpeed,
    UsbTransferType,
)
from spicepy.wire.usbredir import UsbredirType as T

__all__ = [
    "DEFAULT_CAPS",
    "UsbredirState",
    "UsbredirConnection",
    "UsbEndpoint",
    "UsbInterface",
    "UsbDeviceInfo",
    "HelloReceived",
    "PacketReceived",
    "DeviceConnectSent",
    "DeviceDisconnected",
    "UsbredirClosed",
]

#: What we announce: everything this module implements (usbredirhost announces all).
DEFAULT_CAPS = frozenset(UsbredirCap)

#: packet types each role accepts (usbredirparser_get_type_header_len: "command
#: for host" or not); data packets go both ways.
_DATA = frozenset(
    {T.CONTROL_PACKET, T.BULK_PACKET, T.ISO_PACKET, T.INTERRUPT_PACKET, T.HELLO}
)
FOR_HOST = _DATA | {
    T.RESET,
    T.SET_CONFIGURATION,
    T.GET_CONFIGURATION,
    T.SET_ALT_SETTING,
    T.GET_ALT_SETTING,
    T.START_ISO_STREAM,
    T.STOP_ISO_STREAM,
    T.START_INTERRUPT_RECEIVING,
    T.STOP_INTERRUPT_RECEIVING,
    T.ALLOC_BULK_STREAMS,
    T.FREE_BULK_STREAMS,
    T.CANCEL_DATA_PACKET,
    T.FILTER_REJECT,
    T.FILTER_FILTER,
    T.DEVICE_DISCONNECT_ACK,
    T.START_BULK_RECEIVING,
    T.STOP_BULK_RECEIVING,
}
FOR_GUEST = _DATA | {
    T.DEVICE_CONNECT,
    T.DEVICE_DISCONNECT,
    T.INTERFACE_INFO,
    T.EP_INFO,
    T.CONFIGURATION_STATUS,
    T.ALT_SETTING_STATUS,
    T.ISO_STREAM_STATUS,
    T.INTERRUPT_RECEIVING_STATUS,
    T.BULK_STREAMS_STATUS,
    T.FILTER_FILTER,
    T.BULK_RECEIVING_STATUS,
    T.BUFFERED_BULK_PACKET,
}
#: types that need a capability of the receiving side
_NEEDS_CAP = {
    T.FILTER_REJECT: UsbredirCap.FILTER,
    T.FILTER_FILTER: UsbredirCap.FILTER,
    T.DEVICE_DISCONNECT_ACK: UsbredirCap.DEVICE_DISCONNECT_ACK,
    T.START_BULK_RECEIVING: UsbredirCap.BULK_RECEIVING,
    T.STOP_BULK_RECEIVING: UsbredirCap.BULK_RECEIVING,
    T.BULK_RECEIVING_STATUS: UsbredirCap.BULK_RECEIVING,
    T.BUFFERED_BULK_PACKET: UsbredirCap.BULK_RECEIVING,
}
#: types whose endpoint must be an IN endpoint
_IN_ONLY = frozenset(
    {
        T.START_INTERRUPT_RECEIVING,
        T.STOP_INTERRUPT_RECEIVING,
        T.INTERRUPT_RECEIVING_STATUS,
        T.START_BULK_RECEIVING,
        T.STOP_BULK_RECEIVING,
        T.BULK_RECEIVING_STATUS,
    }
)


_KNOWN = frozenset(u.packet_classes())


class UsbredirState(Enum):
    HELLO = "hello"  # our hello queued, waiting for the peer's
    READY = "ready"
    CLOSED = "closed"
    ERROR = "error"


# the one table of legal transitions ("packet" = any non-hello packet)
_S = UsbredirState
TRANSITIONS: dict[tuple[UsbredirState, str], UsbredirState] = {
    (_S.HELLO, "hello"): _S.READY,
    (_S.HELLO, "eof"): _S.CLOSED,
    (_S.READY, "packet"): _S.READY,
    (_S.READY, "send"): _S.READY,
    (_S.READY, "eof"): _S.CLOSED,
    (_S.CLOSED, "eof"): _S.CLOSED,
}


# -- a device described in Python --
@dataclass(frozen=True, slots=True)
class UsbEndpoint:
    address: int  # bEndpointAddress: bit 7 set = IN
    type: UsbTransferType
    max_packet_size: int = 64
    interval: int = 0
    max_streams: int = 0


@dataclass(frozen=True, slots=True)
class UsbInterface:
    number: int
    interface_class: int
    interface_subclass: int = 0
    interface_protocol: int = 0
    endpoints: tuple[UsbEndpoint, ...] = ()


@dataclass(frozen=True, slots=True)
class UsbDeviceInfo:
    """What the guest learns of a device at connect time (its active config)."""

    vendor_id: int
    product_id: int
    interfaces: tuple[UsbInterface, ...] = ()
    device_class: int = 0
    device_subclass: int = 0
    device_protocol: int = 0
    device_version_bcd: int = 0
    speed: UsbSpeed = UsbSpeed.FULL
    max_packet_size0: int = 64

    def __post_init__(self) -> None:
        if len(self.interfaces) > 32:
            raise ValueError("a usbredir device has at most 32 interfaces")
        seen = {0, 0x80}
        for intf in self.interfaces:
            for ep in intf.endpoints:
                if ep.address & 0x70 or ep.address in seen:
                    raise ValueError(f"bad or repeated endpoint {ep.address:#04x}")
                seen.add(ep.address)

    def connect_packets(
        self, negotiated: frozenset[int] = DEFAULT_CAPS
    ) -> tuple[u.InterfaceInfo, u.EpInfo, u.DeviceConnect]:
        """usbredirhost_send_device_connect's sequence: interface_info, ep_info,
        device_connect (endpoint 0 is the control pipe both ways); fields the
        ``negotiated`` layouts do not carry are left 0."""
        n = len(self.interfaces)
        pad = (0,) * (32 - n)
        info = u.InterfaceInfo(
            n,
            tuple(i.number for i in self.interfaces) + pad,
            tuple(i.interface_class for i in self.interfaces) + pad,
            tuple(i.interface_subclass for i in self.interfaces) + pad,
            tuple(i.interface_protocol for i in self.interfaces) + pad,
        )
        types = [int(UsbTransferType.INVALID)] * 32
        interval, iface, size, streams = [0] * 32, [0] * 32, [0] * 32, [0] * 32
        types[0] = types[16] = UsbTransferType.CONTROL
        size[0] = size[16] = self.max_packet_size0
        for intf in self.interfaces:
            for ep in intf.endpoints:
                i = u.ep_index(ep.address)
                types[i], interval[i], iface[i] = int(ep.type), ep.interval, intf.number
                size[i], streams[i] = ep.max_packet_size, ep.max_streams
        zero = (0,) * 32
        size_ok = u.type_header_size(u.UsbredirType.EP_INFO, negotiated) >= 160
        streams_ok = UsbredirCap.BULK_STREAMS in negotiated
        eps = u.EpInfo(
            tuple(types),
            tuple(interval),
            tuple(iface),
            tuple(size) if size_ok else zero,
            tuple(streams) if streams_ok else zero,
        )
        bcd_ok = UsbredirCap.CONNECT_DEVICE_VERSION in negotiated
        connect = u.DeviceConnect(
            int(self.speed),
            self.device_class,
            self.device_subclass,
            self.device_protocol,
            self.vendor_id,
            self.product_id,
            self.device_version_bcd if bcd_ok else 0,
        )
        return info, eps, connect


# -- events --
@dataclass(frozen=True, slots=True)
class HelloReceived(ChannelEvent):
    version: str
    caps: frozenset[int]  # the peer's
    negotiated: frozenset[int]
    ids64: bool


@dataclass(frozen=True, slots=True)
class PacketReceived(ChannelEvent):
    """Any packet after the hello; answer commands with ``send_packet(..., id)``."""

    id: int
    packet: Any


@dataclass(frozen=True, slots=True)
class DeviceConnectSent(ChannelEvent):
    device: UsbDeviceInfo


@dataclass(frozen=True, slots=True)
class DeviceDisconnected(ChannelEvent):
    """Host: the guest acknowledged our disconnect (or has no ack cap)."""


@dataclass(frozen=True, slots=True)
class UsbredirClosed(ChannelEvent):
    clean: bool  # False when EOF cut a packet in half


class UsbredirConnection:
    """One side of a usbredir byte stream.

    Args:
        host: True for the side that owns the device (spicepy redirecting a
            device into a VM); False for the guest side (tests, a usbredir server).
        version: the hello's version text (at most 63 bytes of UTF-8).
        caps: the capabilities we announce.
        max_packet_size: a packet announcing a larger ``length`` is a
            ProtocolError before anything is buffered (usbredirparser's limit).
    """

    def __init__(
        self,
        *,
        host: bool = True,
        version: str = "spicepy",
        caps: frozenset[int] = DEFAULT_CAPS,
        max_packet_size: int = MAX_PACKET_SIZE,
    ) -> None:
        raw = version.encode()
        if len(raw) > 63:
            raise ValueError("usbredir version text is at most 63 bytes")
        self.host = host
        self.caps = frozenset(caps)
        self.max_packet_size = max_packet_size
        self.state = UsbredirState.HELLO
        self.peer_version = ""
        self.peer_caps: frozenset[int] = frozenset()
        self.negotiated: frozenset[int] = frozenset()
        self.ids64 = False
        self.device: UsbDeviceInfo | None = None
        self._pending_device: UsbDeviceInfo | None = None
        self._awaiting_ack = False
        self._buf = bytearray()
        self._events: deque[ChannelEvent] = deque()
        self._out = bytearray()
        self._write(u.Hello(raw.ljust(64, b"\0"), u.caps_to_words(self.caps)), 0)

    def __eq__(self, other: object) -> bool:
        """Equal when in the same state (snapshots: "an error changed nothing")."""
        return type(other) is type(self) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]

    # -- the sans-IO surface ---------------------------------------------------
    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the peer; ``b""`` means EOF.

        Raises:
            WireError, ProtocolError: malformed input; the connection is then
                in ERROR and refuses everything.
        """
        if self.state is UsbredirState.ERROR:
            raise ProtocolError("usbredir connection is in ERROR")
        try:
            if not data:
                self._transition("eof")
                self._events.append(UsbredirClosed(not self._buf))
                return
            if self.state is UsbredirState.CLOSED:
                raise ProtocolError("data after EOF")
            self._buf += data
            self._parse()
        except SpiceError:
            self.state = UsbredirState.ERROR
            raise

    def next_event(self) -> ChannelEvent | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        """No timed work (usbredir has no keepalives)."""

    # -- commands --------------------------------------------------------------
    def send_packet(self, packet: Any, packet_id: int = 0) -> None:
        """Queue a packet (an answer carries the id of the command it answers).

        Raises:
            ProtocolError: before the hello exchange, or a packet this role may
                not send / the peer lacks the capability for.
            ValueError: fields the negotiated layout cannot carry.
        """
        self._transition("send")
        ptype = packet.PACKET_TYPE
        if ptype == T.HELLO:
            raise ProtocolError("hello is sent once, at construction")
        self._check(packet, to_host=not self.host, receiver_caps=self.peer_caps)
        self._write(packet, packet_id)

    def connect_device(self, device: UsbDeviceInfo) -> None:
        """Host: announce ``device``; held back until the peer's hello arrived."""
        if not self.host:
            raise ProtocolError("only the host side connects devices")
        if self.device is not None or self._awaiting_ack:
            raise ProtocolError("a device is already connected")
        if self.state is UsbredirState.HELLO:
            self._pending_device = device
            return
        for pkt in device.connect_packets(self.negotiated):
            self.send_packet(pkt)
        self.device = device
        self._events.append(DeviceConnectSent(device))

    def disconnect_device(self) -> None:
        """Host: unplug; DeviceDisconnected follows the guest's ack (if it acks)."""
        if self._pending_device is not None:
            self._pending_device = None
            self._events.append(DeviceDisconnected())
            return
        if self.device is None:
            raise ProtocolError("no device connected")
        self.send_packet(u.DeviceDisconnect())
        self.device = None
        if UsbredirCap.DEVICE_DISCONNECT_ACK in self.peer_caps:
            self._awaiting_ack = True
        else:
            self._events.append(DeviceDisconnected())

    # -- internals -------------------------------------------------------------
    def _transition(self, trigger: str) -> None:
        try:
            self.state = TRANSITIONS[(self.state, trigger)]
        except KeyError:
            msg = f"usbredir: {trigger} is not allowed in state {self.state.value}"
            self.state = UsbredirState.ERROR
            raise ProtocolError(msg) from None

    def _write(self, packet: Any, packet_id: int) -> None:
        self._out += u.encode_packet(
            packet, packet_id, negotiated=self.negotiated, ids64=self.ids64
        )

    def _parse(self) -> None:
        # slices of the bytearray are copies: no buffer export outlives an error
        buf, done = self._buf, 0
        try:
            while True:
                hsize = u.header_size(self.ids64)
                if len(buf) - done < hsize:
                    break
                hdr = u.parse_packet_header(bytes(buf[done : done + hsize]), self.ids64)
                if hdr.length > self.max_packet_size:
                    raise ProtocolError(
                        f"usbredir packet of {hdr.length} bytes exceeds the "
                        f"{self.max_packet_size}-byte limit"
                    )
                end = done + hsize + hdr.length
                if end > len(buf):
                    break
                body = bytes(buf[done + hsize : end])
                done = end
                self._packet(hdr.type, hdr.id, body)
        finally:
            del buf[:done]

    def _packet(self, ptype: int, packet_id: int, body: bytes) -> None:
        if ptype not in _KNOWN:
            raise WireError(f"unknown usbredir packet type {ptype}")
        if self.state is UsbredirState.HELLO:
            if ptype != T.HELLO:
                raise ProtocolError(f"usbredir packet {ptype} before the peer's hello")
            self._hello(u.decode_packet(ptype, body, frozenset()))
            return
        if ptype == T.HELLO:
            raise ProtocolError("second usbredir hello")
        self._transition("packet")
        packet = u.decode_packet(ptype, body, self.negotiated)
        self._check(packet, to_host=self.host, receiver_caps=self.caps)
        if ptype == T.DEVICE_DISCONNECT_ACK:
            if not self._awaiting_ack:
                raise ProtocolError("device_disconnect_ack without a disconnect")
            self._awaiting_ack = False
            self._events.append(DeviceDisconnected())
            return
        self._events.append(PacketReceived(packet_id, packet))
        if ptype == T.DEVICE_DISCONNECT and UsbredirCap.DEVICE_DISCONNECT_ACK in (
            self.peer_caps
        ):
            # the guest acks at once, as libusbredirparser does internally
            self._write(u.DeviceDisconnectAck(), 0)

    def _hello(self, hello: u.Hello) -> None:
        self._transition("hello")
        self.peer_version = hello.version_text
        self.peer_caps = u.words_to_caps(hello.capabilities)
        self.negotiated = u.negotiate(self.caps, self.peer_caps)
        self.ids64 = UsbredirCap.IDS_64BITS in self.negotiated
        self._events.append(
            HelloReceived(
                self.peer_version, self.peer_caps, self.negotiated, self.ids64
            )
        )
        if self._pending_device is not None:
            device, self._pending_device = self._pending_device, None
            self.connect_device(device)

    def _check(self, pkt: Any, *, to_host: bool, receiver_caps: frozenset[int]) -> None:
        """usbredirparser_verify_type_header for a packet going ``to_host``."""
        ptype = pkt.PACKET_TYPE
        name = type(pkt).__name__
        if ptype not in (FOR_HOST if to_host else FOR_GUEST):
            raise ProtocolError(f"{name} is not sent to the {_side(to_host)}")
        cap = _NEEDS_CAP.get(ptype)
        if cap is not None and cap not in receiver_caps:
            raise ProtocolError(f"{name} needs capability {cap.name}")
        ep: int | None = getattr(pkt, "endpoint", None)
        if ptype in _IN_ONLY and ep is not None and not ep & 0x80:
            raise ProtocolError(f"{name} on OUT endpoint {ep:#04x}")
        if ptype == T.START_BULK_RECEIVING and (
            pkt.bytes_per_transfer > MAX_BULK_TRANSFER_SIZE
        ):
            raise ProtocolError(f"{name}: {pkt.bytes_per_transfer} bytes per transfer")
        if ptype < T.CONTROL_PACKET or ep is None:
            return
        length = pkt.length
        if ptype == T.BULK_PACKET:
            length = pkt.total_length
            if length > MAX_BULK_TRANSFER_SIZE:
                raise ProtocolError(f"bulk transfer of {length} bytes")
        elif ptype == T.BUFFERED_BULK_PACKET and length > MAX_BULK_TRANSFER_SIZE:
            raise ProtocolError(f"buffered bulk transfer of {length} bytes")
        # data rides toward the guest on IN endpoints, toward the host on OUT ones
        if bool(ep & 0x80) != to_host:
            if len(pkt.data) != length:
                raise ProtocolError(
                    f"{name}: {len(pkt.data)} data bytes, header says {length}"
                )
            return
        if pkt.data:
            raise ProtocolError(f"{name}: unexpected data on endpoint {ep:#04x}")
        if ptype in (T.ISO_PACKET, T.BUFFERED_BULK_PACKET) or (
            ptype == T.INTERRUPT_PACKET and to_host
        ):
            raise ProtocolError(f"{name} sent in the wrong direction")


def _side(to_host: bool) -> str:
    return "host" if to_host else "guest"
