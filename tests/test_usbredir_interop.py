"""Our usbredir host against the reference parser: libusbredirparser (the C
library QEMU's usb-redir uses) in guest mode, driven through ctypes.  The C
parser must accept our hello and connect sequence without a log error, hand
its callbacks the very structs usbredirproto.h lays out, and its own packets
(64-bit ids negotiated) must parse on our side.  Skipped where the library is
not installed."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import pytest

from spicepy.channels.usbredir import (
    DeviceDisconnected,
    HelloReceived,
    PacketReceived,
    UsbDeviceInfo,
    UsbEndpoint,
    UsbInterface,
    UsbredirConnection,
)
from spicepy.wire import usbredir as u
from spicepy.wire.schema import encode_struct
from spicepy.wire.usbredir import UsbredirCap as Cap
from spicepy.wire.usbredir import UsbTransferType as Ep

_LIB = ctypes.util.find_library("usbredirparser")
pytestmark = pytest.mark.skipif(_LIB is None, reason="libusbredirparser not installed")

# usbredirparser.h ``struct usbredirparser``: priv, then callbacks in this order
_FIELDS = (
    "priv log read write device_connect device_disconnect reset interface_info "
    "ep_info set_configuration get_configuration configuration_status "
    "set_alt_setting get_alt_setting alt_setting_status start_iso_stream "
    "stop_iso_stream iso_stream_status start_interrupt_receiving "
    "stop_interrupt_receiving interrupt_receiving_status alloc_bulk_streams "
    "free_bulk_streams bulk_streams_status cancel_data_packet control_packet "
    "bulk_packet iso_packet interrupt_packet alloc_lock lock unlock free_lock hello "
    "filter_reject filter_filter device_disconnect_ack start_bulk_receiving "
    "stop_bulk_receiving bulk_receiving_status buffered_bulk_packet"
).split()


class _Parser(ctypes.Structure):
    _fields_ = [(name, ctypes.c_void_p) for name in _FIELDS]


VP, INT, U64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64
LOG = ctypes.CFUNCTYPE(None, VP, INT, ctypes.c_char_p)
IO = ctypes.CFUNCTYPE(INT, VP, VP, INT)
HDR = ctypes.CFUNCTYPE(None, VP, VP)  # hello, device_connect, interface/ep info
NOARG = ctypes.CFUNCTYPE(None, VP)
ID_HDR = ctypes.CFUNCTYPE(None, VP, U64, VP)
DATA_PKT = ctypes.CFUNCTYPE(None, VP, U64, VP, VP, INT)

DISK = UsbDeviceInfo(
    0x46F4,
    0x0001,
    (
        UsbInterface(
            0,
            8,
            6,
            0x50,
            (UsbEndpoint(0x81, Ep.BULK, 512), UsbEndpoint(0x02, Ep.BULK, 512)),
        ),
    ),
    device_version_bcd=0x0100,
    speed=u.UsbSpeed.HIGH,
)


class CGuest:
    """libusbredirparser as the guest side, recording what its callbacks see."""

    def __init__(self, caps: frozenset[int]) -> None:
        assert _LIB is not None
        lib = ctypes.CDLL(_LIB)
        lib.usbredirparser_create.restype = ctypes.POINTER(_Parser)
        lib.usbredirparser_do_read.argtypes = [ctypes.POINTER(_Parser)]
        lib.usbredirparser_do_write.argtypes = [ctypes.POINTER(_Parser)]
        lib.usbredirparser_send_control_packet.argtypes = [
            ctypes.POINTER(_Parser),
            U64,
            VP,
            VP,
            INT,
        ]
        lib.usbredirparser_free_packet_data.argtypes = [ctypes.POINTER(_Parser), VP]
        lib.usbredirparser_destroy.argtypes = [ctypes.POINTER(_Parser)]
        self.lib = lib
        self.parser = lib.usbredirparser_create()
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.errors: list[str] = []
        self.got: list[tuple[str, Any]] = []
        sizes = {"hello": 64, "device_connect": 10, "interface_info": 132}
        sizes["ep_info"] = 288

        def log(_p: Any, level: int, msg: bytes) -> None:
            if level <= 2:  # usbredirparser_error / _warning
                self.errors.append(msg.decode())

        def read(_p: Any, data: int, count: int) -> int:
            n = min(count, len(self.inbox))
            ctypes.memmove(data, bytes(self.inbox[:n]), n)
            del self.inbox[:n]
            return n

        def write(_p: Any, data: int, count: int) -> int:
            self.outbox += ctypes.string_at(data, count)
            return count

        def header(name: str) -> Any:
            return HDR(
                lambda _p, h: self.got.append((name, ctypes.string_at(h, sizes[name])))
            )

        def control(_p: Any, pid: int, h: int, data: int, n: int) -> None:
            self.got.append(
                ("control", (pid, ctypes.string_at(h, 10), ctypes.string_at(data, n)))
            )
            if data:
                self.lib.usbredirparser_free_packet_data(self.parser, data)

        self._keep = {
            "log": LOG(log),
            "read": IO(read),
            "write": IO(write),
            "hello": header("hello"),
            "device_connect": header("device_connect"),
            "interface_info": header("interface_info"),
            "ep_info": header("ep_info"),
            "device_disconnect": NOARG(
                lambda _p: self.got.append(("disconnect", None))
            ),
            "configuration_status": ID_HDR(
                lambda _p, pid, h: self.got.append(
                    ("config", (pid, ctypes.string_at(h, 2)))
                )
            ),
            "control_packet": DATA_PKT(control),
        }
        for name, fn in self._keep.items():
            setattr(self.parser.contents, name, ctypes.cast(fn, VP))
        words = (ctypes.c_uint32 * 1)(*u.caps_to_words(caps))
        lib.usbredirparser_init(self.parser, b"c-guest", words, 1, 0)

    def feed(self, data: bytes) -> None:
        self.inbox += data
        assert self.lib.usbredirparser_do_read(self.parser) == 0
        assert not self.inbox

    def take(self) -> bytes:
        assert self.lib.usbredirparser_do_write(self.parser) == 0
        out = bytes(self.outbox)
        self.outbox.clear()
        return out

    def close(self) -> None:
        self.lib.usbredirparser_destroy(self.parser)


def drain(conn: UsbredirConnection) -> list[Any]:
    out = []
    while (ev := conn.next_event()) is not None:
        out.append(ev)
    return out


@pytest.mark.parametrize(
    "guest_caps", [frozenset(Cap), frozenset()], ids=["all-caps", "no-caps"]
)
def test_reference_parser_accepts_our_connect_sequence(
    guest_caps: frozenset[int],
) -> None:
    guest = CGuest(guest_caps)
    try:
        host = UsbredirConnection(host=True, version="spicepy")
        host.connect_device(DISK)
        guest.feed(host.data_to_send())
        host.receive_data(guest.take())
        [hello, _connected] = drain(host)
        # a guest-mode parser always adds DEVICE_DISCONNECT_ACK (usbredirparser_init)
        announced = guest_caps | {Cap.DEVICE_DISCONNECT_ACK}
        assert hello == HelloReceived(
            "c-guest",
            announced,
            u.negotiate(frozenset(Cap), announced),
            bool(guest_caps),
        )
        guest.feed(host.data_to_send())
        assert guest.errors == []
        names = [n for n, _ in guest.got]
        assert names == ["hello", "interface_info", "ep_info", "device_connect"]
        got = dict(guest.got)
        assert got["hello"] == b"spicepy".ljust(64, b"\0")
        info, eps, connect = DISK.connect_packets(host.negotiated)
        # compare what the negotiated layout carries (the C parser leaves the rest
        # of its type-header buffer as the previous packet left it)
        for name, pkt in (
            ("interface_info", info),
            ("ep_info", eps),
            ("device_connect", connect),
        ):
            size = u.type_header_size(pkt.PACKET_TYPE, host.negotiated)
            assert got[name][:size] == encode_struct(pkt)[:size], name
        assert connect.device_version_bcd == (0x0100 if guest_caps else 0)

        # a GET_DESCRIPTOR from the C guest, answered by us
        setup = u.ControlPacket(0x80, 6, 0x80, 0, 0x0100, 0, 18)
        raw = encode_struct(setup)
        pid = (1 << 40) + 3 if guest_caps else 3
        guest.lib.usbredirparser_send_control_packet(guest.parser, pid, raw, None, 0)
        host.receive_data(guest.take())
        assert drain(host) == [PacketReceived(pid, setup)]
        desc = bytes(range(18))
        host.send_packet(u.ControlPacket(0x80, 6, 0x80, 0, 0x0100, 0, 18, desc), pid)
        host.send_packet(u.ConfigurationStatus(0, 1), 9)
        host.disconnect_device()
        guest.feed(host.data_to_send())
        assert guest.errors == []
        assert guest.got[4:] == [
            ("control", (pid, raw, desc)),
            ("config", (9, b"\0\1")),
            ("disconnect", None),
        ]
        host.receive_data(guest.take())  # the C guest's automatic ack
        assert drain(host) == [DeviceDisconnected()]
    finally:
        guest.close()


def test_reference_parser_rejects_what_we_reject() -> None:
    # a length above usbredir's MAX_PACKET_SIZE: both sides refuse it
    guest = CGuest(frozenset(Cap))
    try:
        host = UsbredirConnection(host=True)
        guest.feed(host.data_to_send())
        bogus = u.encode_packet(
            u.ConfigurationStatus(0, 1), negotiated=frozenset(Cap), ids64=True
        )
        bogus = bogus[:4] + (u.MAX_PACKET_SIZE + 1).to_bytes(4, "little") + bogus[8:]
        guest.inbox += bogus
        assert guest.lib.usbredirparser_do_read(guest.parser) == -2  # parse error
        assert any("larger than permitted" in e for e in guest.errors)
    finally:
        guest.close()
