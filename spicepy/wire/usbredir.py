"""The usbredir protocol (usbredirproto.h, usb-redirection-protocol.md).

Theory of operation: a SPICE USBREDIR channel's SpiceVMC data is a byte stream of
usbredir packets, each a ``usb_redir_header`` (type u32, length u32, id u32 or u64)
followed by ``length`` bytes: a fixed, type-specific header and, for hello, filter
and data packets, variable data.  Each packet type is a schema dataclass here,
registered by its ``UsbredirType``; its ``data``/``capabilities``/``rules`` field
(if any) is the variable part.

Three type headers lose their trailing fields unless both peers announced a
capability (``usbredirparser.c`` ``usbredirparser_get_type_header_len``):
device_connect's ``device_version_bcd`` (CONNECT_DEVICE_VERSION), ep_info's
``max_streams`` (BULK_STREAMS) and ``max_packet_size`` (EP_INFO_MAX_PACKET_SIZE),
bulk_packet's ``length_high`` (32BITS_BULK_LENGTH).  The dataclasses declare the
full layout once; ``header_size`` gives the negotiated size and the codec cuts the
missing tail out (encode) or fills it with zeros (decode), which is what usbredir
itself stores in those fields.  The id is 64-bit only when both peers announced
64BITS_IDS, and never before the peer's hello arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

from spicepy.errors import WireError
from spicepy.wire.link import caps_to_words, words_to_caps
from spicepy.wire.schema import (
    U8,
    U16,
    U32,
    U64,
    Array,
    Bytes,
    Rest,
    decode_struct,
    encode_struct,
    wt,
)

__all__ = [
    "USBREDIR_VERSION",
    "MAX_BULK_TRANSFER_SIZE",
    "MAX_PACKET_SIZE",
    "UsbredirType",
    "UsbredirStatus",
    "UsbredirCap",
    "UsbTransferType",
    "UsbSpeed",
    "PacketHeader",
    "PacketHeader32",
    "UsbredirPacket",
    "packet_classes",
    "negotiate",
    "header_size",
    "type_header_size",
    "encode_packet",
    "decode_packet",
    "parse_packet_header",
    "ep_index",
    "caps_to_words",
    "words_to_caps",
]

#: usbredirproto.h ``USBREDIR_VERSION`` (0.7.1): the protocol revision we follow.
USBREDIR_VERSION = 0x000701
#: usbredirparser.c: the largest bulk transfer and packet a parser accepts.
MAX_BULK_TRANSFER_SIZE = 128 * 1024 * 1024
MAX_PACKET_SIZE = 1024 + MAX_BULK_TRANSFER_SIZE
#: endpoints per device: 16 OUT (index 0-15) and 16 IN (16-31), usbredirhost EP2I.
ENDPOINTS = 32


class UsbredirType(IntEnum):
    """usbredirproto.h packet types (control packets, then data packets at 100)."""

    HELLO = 0
    DEVICE_CONNECT = 1
    DEVICE_DISCONNECT = 2
    RESET = 3
    INTERFACE_INFO = 4
    EP_INFO = 5
    SET_CONFIGURATION = 6
    GET_CONFIGURATION = 7
    CONFIGURATION_STATUS = 8
    SET_ALT_SETTING = 9
    GET_ALT_SETTING = 10
    ALT_SETTING_STATUS = 11
    START_ISO_STREAM = 12
    STOP_ISO_STREAM = 13
    ISO_STREAM_STATUS = 14
    START_INTERRUPT_RECEIVING = 15
    STOP_INTERRUPT_RECEIVING = 16
    INTERRUPT_RECEIVING_STATUS = 17
    ALLOC_BULK_STREAMS = 18
    FREE_BULK_STREAMS = 19
    BULK_STREAMS_STATUS = 20
    CANCEL_DATA_PACKET = 21
    FILTER_REJECT = 22
    FILTER_FILTER = 23
    DEVICE_DISCONNECT_ACK = 24
    START_BULK_RECEIVING = 25
    STOP_BULK_RECEIVING = 26
    BULK_RECEIVING_STATUS = 27
    CONTROL_PACKET = 100
    BULK_PACKET = 101
    ISO_PACKET = 102
    INTERRUPT_PACKET = 103
    BUFFERED_BULK_PACKET = 104


class UsbredirStatus(IntEnum):
    """usbredirproto.h ``usb_redir_success`` ... (status fields)."""

    SUCCESS = 0
    CANCELLED = 1
    INVAL = 2
    IOERROR = 3
    STALL = 4
    TIMEOUT = 5
    BABBLE = 6


class UsbredirCap(IntEnum):
    """usbredirproto.h capability bits (hello's capability words)."""

    BULK_STREAMS = 0
    CONNECT_DEVICE_VERSION = 1
    FILTER = 2
    DEVICE_DISCONNECT_ACK = 3
    EP_INFO_MAX_PACKET_SIZE = 4
    IDS_64BITS = 5
    BULK_LENGTH_32BITS = 6
    BULK_RECEIVING = 7


class UsbTransferType(IntEnum):
    """usbredirproto.h endpoint types (the USB spec's numbers, plus INVALID)."""

    CONTROL = 0
    ISO = 1
    BULK = 2
    INTERRUPT = 3
    INVALID = 255


class UsbSpeed(IntEnum):
    LOW = 0
    FULL = 1
    HIGH = 2
    SUPER = 3
    UNKNOWN = 255


T = UsbredirType


# -- the packet header --
@dataclass(frozen=True, slots=True)
class PacketHeader:
    """``usb_redir_header`` with 64-bit ids (both peers announced IDS_64BITS)."""

    type: int = field(metadata=wt(U32))
    length: int = field(metadata=wt(U32))
    id: int = field(metadata=wt(U64))


@dataclass(frozen=True, slots=True)
class PacketHeader32:
    """``usb_redir_header_32bit_id`` (usbredirproto-compat.h): the default."""

    type: int = field(metadata=wt(U32))
    length: int = field(metadata=wt(U32))
    id: int = field(metadata=wt(U32))


def header_size(ids64: bool) -> int:
    return 16 if ids64 else 12


def parse_packet_header(data: bytes | memoryview, ids64: bool) -> PacketHeader:
    """The header at the start of ``data`` (which holds at least ``header_size``)."""
    if ids64:
        return decode_struct(PacketHeader, data[:16])
    h = decode_struct(PacketHeader32, data[:12])
    return PacketHeader(h.type, h.length, h.id)


# -- type-specific headers --
class UsbredirPacket:
    """Mixin of every packet dataclass; ``PACKET_TYPE`` is its number and
    ``FIXED`` the size of its full type header (the variable part excluded)."""

    __slots__ = ()
    PACKET_TYPE: ClassVar[int]
    FIXED: ClassVar[int]


_REGISTRY: dict[int, type[Any]] = {}
P = TypeVar("P", bound=type)


def _packet(ptype: UsbredirType, fixed: int) -> Callable[[P], P]:
    def deco(cls: P) -> P:
        if int(ptype) in _REGISTRY:
            raise RuntimeError(f"duplicate usbredir packet {ptype!r}")
        cls.PACKET_TYPE = int(ptype)  # type: ignore[attr-defined]
        cls.FIXED = fixed  # type: ignore[attr-defined]
        _REGISTRY[int(ptype)] = cls
        return cls

    return deco


def packet_classes() -> dict[int, type[Any]]:
    """Every packet definition by type number (for generated tests)."""
    return dict(_REGISTRY)


def _u8s(n: int = 32) -> dict[str, Any]:
    return wt(Array(U8, n))


@_packet(T.HELLO, 64)
@dataclass(frozen=True, slots=True)
class Hello(UsbredirPacket):
    """``version`` is NUL-padded text; capability words follow to the end."""

    version: bytes = field(metadata=wt(Bytes(64)))
    capabilities: tuple[int, ...] = field(metadata=wt(Array(U32, None, 4)))

    @property
    def version_text(self) -> str:
        return self.version.split(b"\0", 1)[0].decode("utf-8", "replace")


@_packet(T.DEVICE_CONNECT, 10)
@dataclass(frozen=True, slots=True)
class DeviceConnect(UsbredirPacket):
    speed: int = field(metadata=wt(U8))
    device_class: int = field(metadata=wt(U8))
    device_subclass: int = field(metadata=wt(U8))
    device_protocol: int = field(metadata=wt(U8))
    vendor_id: int = field(metadata=wt(U16))
    product_id: int = field(metadata=wt(U16))
    device_version_bcd: int = field(default=0, metadata=wt(U16))


@_packet(T.DEVICE_DISCONNECT, 0)
@dataclass(frozen=True, slots=True)
class DeviceDisconnect(UsbredirPacket):
    pass


@_packet(T.RESET, 0)
@dataclass(frozen=True, slots=True)
class Reset(UsbredirPacket):
    pass


@_packet(T.GET_CONFIGURATION, 0)
@dataclass(frozen=True, slots=True)
class GetConfiguration(UsbredirPacket):
    pass


@_packet(T.CANCEL_DATA_PACKET, 0)
@dataclass(frozen=True, slots=True)
class CancelDataPacket(UsbredirPacket):
    pass


@_packet(T.FILTER_REJECT, 0)
@dataclass(frozen=True, slots=True)
class FilterReject(UsbredirPacket):
    pass


@_packet(T.DEVICE_DISCONNECT_ACK, 0)
@dataclass(frozen=True, slots=True)
class DeviceDisconnectAck(UsbredirPacket):
    pass


@_packet(T.INTERFACE_INFO, 132)
@dataclass(frozen=True, slots=True)
class InterfaceInfo(UsbredirPacket):
    interface_count: int = field(metadata=wt(U32))
    interface: tuple[int, ...] = field(metadata=_u8s())
    interface_class: tuple[int, ...] = field(metadata=_u8s())
    interface_subclass: tuple[int, ...] = field(metadata=_u8s())
    interface_protocol: tuple[int, ...] = field(metadata=_u8s())

    def __post_init__(self) -> None:
        if self.interface_count > 32:  # usbredirparser_verify_type_header
            raise ValueError(f"interface_count {self.interface_count} > 32")


@_packet(T.EP_INFO, 288)
@dataclass(frozen=True, slots=True)
class EpInfo(UsbredirPacket):
    """Per endpoint index (``ep_index``): type, interval, interface, sizes."""

    type: tuple[int, ...] = field(metadata=_u8s())
    interval: tuple[int, ...] = field(metadata=_u8s())
    interface: tuple[int, ...] = field(metadata=_u8s())
    max_packet_size: tuple[int, ...] = field(
        default=(0,) * 32, metadata=wt(Array(U16, 32))
    )
    max_streams: tuple[int, ...] = field(default=(0,) * 32, metadata=wt(Array(U32, 32)))


@_packet(T.SET_CONFIGURATION, 1)
@dataclass(frozen=True, slots=True)
class SetConfiguration(UsbredirPacket):
    configuration: int = field(metadata=wt(U8))


@_packet(T.CONFIGURATION_STATUS, 2)
@dataclass(frozen=True, slots=True)
class ConfigurationStatus(UsbredirPacket):
    status: int = field(metadata=wt(U8))
    configuration: int = field(metadata=wt(U8))


@_packet(T.SET_ALT_SETTING, 2)
@dataclass(frozen=True, slots=True)
class SetAltSetting(UsbredirPacket):
    interface: int = field(metadata=wt(U8))
    alt: int = field(metadata=wt(U8))


@_packet(T.GET_ALT_SETTING, 1)
@dataclass(frozen=True, slots=True)
class GetAltSetting(UsbredirPacket):
    interface: int = field(metadata=wt(U8))


@_packet(T.ALT_SETTING_STATUS, 3)
@dataclass(frozen=True, slots=True)
class AltSettingStatus(UsbredirPacket):
    status: int = field(metadata=wt(U8))
    interface: int = field(metadata=wt(U8))
    alt: int = field(metadata=wt(U8))


@_packet(T.START_ISO_STREAM, 3)
@dataclass(frozen=True, slots=True)
class StartIsoStream(UsbredirPacket):
    endpoint: int = field(metadata=wt(U8))
    pkts_per_urb: int = field(metadata=wt(U8))
    no_urbs: int = field(metadata=wt(U8))


@_packet(T.STOP_ISO_STREAM, 1)
@dataclass(frozen=True, slots=True)
class StopIsoStream(UsbredirPacket):
    endpoint: int = field(metadata=wt(U8))


@_packet(T.ISO_STREAM_STATUS, 2)
@dataclass(frozen=True, slots=True)
class IsoStreamStatus(UsbredirPacket):
    status: int = field(metadata=wt(U8))
    endpoint: int = field(metadata=wt(U8))


@_packet(T.START_INTERRUPT_RECEIVING, 1)
@dataclass(frozen=True, slots=True)
class StartInterruptReceiving(UsbredirPacket):
    endpoint: int = field(metadata=wt(U8))


@_packet(T.STOP_INTERRUPT_RECEIVING, 1)
@dataclass(frozen=True, slots=True)
class StopInterruptReceiving(UsbredirPacket):
    endpoint: int = field(metadata=wt(U8))


@_packet(T.INTERRUPT_RECEIVING_STATUS, 2)
@dataclass(frozen=True, slots=True)
class InterruptReceivingStatus(UsbredirPacket):
    status: int = field(metadata=wt(U8))
    endpoint: int = field(metadata=wt(U8))


@_packet(T.ALLOC_BULK_STREAMS, 8)
@dataclass(frozen=True, slots=True)
class AllocBulkStreams(UsbredirPacket):
    endpoints: int = field(metadata=wt(U32))  # bitmask of endpoint indexes
    no_streams: int = field(metadata=wt(U32))


@_packet(T.FREE_BULK_STREAMS, 4)
@dataclass(frozen=True, slots=True)
class FreeBulkStreams(UsbredirPacket):
    endpoints: int = field(metadata=wt(U32))


@_packet(T.BULK_STREAMS_STATUS, 9)
@dataclass(frozen=True, slots=True)
class BulkStreamsStatus(UsbredirPacket):
    endpoints: int = field(metadata=wt(U32))
    no_streams: int = field(metadata=wt(U32))
    status: int = field(metadata=wt(U8))


@_packet(T.FILTER_FILTER, 0)
@dataclass(frozen=True, slots=True)
class FilterFilter(UsbredirPacket):
    """usbredirfilter rules as text, NUL-terminated on the wire."""

    rules: bytes = field(metadata=wt(Rest()))

    def __post_init__(self) -> None:
        if not self.rules or self.rules[-1] != 0:
            raise ValueError("filter rules must end with a NUL byte")


@_packet(T.START_BULK_RECEIVING, 10)
@dataclass(frozen=True, slots=True)
class StartBulkReceiving(UsbredirPacket):
    stream_id: int = field(metadata=wt(U32))
    bytes_per_transfer: int = field(metadata=wt(U32))
    endpoint: int = field(metadata=wt(U8))
    no_transfers: int = field(metadata=wt(U8))


@_packet(T.STOP_BULK_RECEIVING, 5)
@dataclass(frozen=True, slots=True)
class StopBulkReceiving(UsbredirPacket):
    stream_id: int = field(metadata=wt(U32))
    endpoint: int = field(metadata=wt(U8))


@_packet(T.BULK_RECEIVING_STATUS, 6)
@dataclass(frozen=True, slots=True)
class BulkReceivingStatus(UsbredirPacket):
    stream_id: int = field(metadata=wt(U32))
    endpoint: int = field(metadata=wt(U8))
    status: int = field(metadata=wt(U8))


@_packet(T.CONTROL_PACKET, 10)
@dataclass(frozen=True, slots=True)
class ControlPacket(UsbredirPacket):
    """A control transfer: the setup packet's fields, then the data stage."""

    endpoint: int = field(metadata=wt(U8))
    request: int = field(metadata=wt(U8))
    requesttype: int = field(metadata=wt(U8))
    status: int = field(metadata=wt(U8))
    value: int = field(metadata=wt(U16))
    index: int = field(metadata=wt(U16))
    length: int = field(metadata=wt(U16))
    data: bytes = field(default=b"", metadata=wt(Rest()))


@_packet(T.BULK_PACKET, 10)
@dataclass(frozen=True, slots=True)
class BulkPacket(UsbredirPacket):
    endpoint: int = field(metadata=wt(U8))
    status: int = field(metadata=wt(U8))
    length: int = field(metadata=wt(U16))  # low 16 bits
    stream_id: int = field(metadata=wt(U32))
    length_high: int = field(default=0, metadata=wt(U16))
    data: bytes = field(default=b"", metadata=wt(Rest()))

    @property
    def total_length(self) -> int:
        return (self.length_high << 16) | self.length


@_packet(T.ISO_PACKET, 4)
@dataclass(frozen=True, slots=True)
class IsoPacket(UsbredirPacket):
    endpoint: int = field(metadata=wt(U8))
    status: int = field(metadata=wt(U8))
    length: int = field(metadata=wt(U16))
    data: bytes = field(default=b"", metadata=wt(Rest()))


@_packet(T.INTERRUPT_PACKET, 4)
@dataclass(frozen=True, slots=True)
class InterruptPacket(UsbredirPacket):
    endpoint: int = field(metadata=wt(U8))
    status: int = field(metadata=wt(U8))
    length: int = field(metadata=wt(U16))
    data: bytes = field(default=b"", metadata=wt(Rest()))


@_packet(T.BUFFERED_BULK_PACKET, 10)
@dataclass(frozen=True, slots=True)
class BufferedBulkPacket(UsbredirPacket):
    stream_id: int = field(metadata=wt(U32))
    length: int = field(metadata=wt(U32))
    endpoint: int = field(metadata=wt(U8))
    status: int = field(metadata=wt(U8))
    data: bytes = field(default=b"", metadata=wt(Rest()))


__all__ += [c.__name__ for c in _REGISTRY.values()]


# -- capabilities (hello's u32 words: ``link.caps_to_words``) and negotiated sizes --
def negotiate(ours: Iterable[int], peers: Iterable[int]) -> frozenset[int]:
    """The caps both sides have; BULK_STREAMS needs EP_INFO_MAX_PACKET_SIZE on each
    side, or it is dropped (``usbredirparser_verify_caps``)."""
    both = frozenset(ours) & frozenset(peers)
    if UsbredirCap.EP_INFO_MAX_PACKET_SIZE not in both:
        both -= {UsbredirCap.BULK_STREAMS}
    return both


def type_header_size(ptype: int, negotiated: frozenset[int]) -> int:
    """The type header's size on the wire under the negotiated capabilities."""
    cls = _REGISTRY[ptype]
    size: int = cls.FIXED
    if ptype == T.DEVICE_CONNECT and UsbredirCap.CONNECT_DEVICE_VERSION not in (
        negotiated
    ):
        size = 8
    elif ptype == T.EP_INFO:
        if UsbredirCap.BULK_STREAMS not in negotiated:
            size = 160 if UsbredirCap.EP_INFO_MAX_PACKET_SIZE in negotiated else 96
    elif ptype == T.BULK_PACKET and UsbredirCap.BULK_LENGTH_32BITS not in negotiated:
        size = 8
    return size


def ep_index(address: int) -> int:
    """usbredirhost ``EP2I``: 0-15 for OUT endpoints, 16-31 for IN."""
    return ((address & 0x80) >> 3) | (address & 0x0F)


# -- packets --
def encode_packet(
    pkt: Any, packet_id: int = 0, *, negotiated: frozenset[int], ids64: bool
) -> bytes:
    """Header + body of one packet under the negotiated capabilities.

    Raises:
        ValueError: a field the negotiated layout cannot carry (a 32-bit bulk
            length without BULK_LENGTH_32BITS, an id above 32 bits).
    """
    ptype = pkt.PACKET_TYPE
    body = encode_struct(pkt)
    short = type_header_size(ptype, negotiated)
    if short < pkt.FIXED:
        if any(body[short : pkt.FIXED]):
            raise ValueError(
                f"{type(pkt).__name__}: fields past byte {short} need a capability"
            )
        body = body[:short] + body[pkt.FIXED :]
    if not ids64 and packet_id >> 32:
        raise ValueError(f"packet id {packet_id} needs 64-bit ids")
    cls = PacketHeader if ids64 else PacketHeader32
    return encode_struct(cls(ptype, len(body), packet_id)) + body


def decode_packet(
    ptype: int, body: bytes | memoryview, negotiated: frozenset[int]
) -> Any:
    """The packet of type ``ptype`` whose ``length`` bytes are ``body``.

    Raises:
        WireError: an unknown type, a body shorter than its type header, extra
            bytes after a packet that has no variable part, or bad fields.
    """
    cls = _REGISTRY.get(ptype)
    if cls is None:
        raise WireError(f"unknown usbredir packet type {ptype}")
    short = type_header_size(ptype, negotiated)
    if len(body) < short:
        raise WireError(f"{cls.__name__}: {len(body)} bytes, header needs {short}")
    if short < cls.FIXED:
        body = bytes(body[:short]) + bytes(cls.FIXED - short) + bytes(body[short:])
    if ptype not in _VARIABLE and len(body) != cls.FIXED:
        raise WireError(f"{cls.__name__}: {len(body)} bytes, expected {cls.FIXED}")
    return decode_struct(cls, body)


#: types with data after the type header (usbredirparser_expect_extra_data)
_VARIABLE = frozenset(
    {
        T.HELLO,
        T.FILTER_FILTER,
        T.CONTROL_PACKET,
        T.BULK_PACKET,
        T.ISO_PACKET,
        T.INTERRUPT_PACKET,
        T.BUFFERED_BULK_PACKET,
    }
)
