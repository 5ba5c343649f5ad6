"""spicepy.usb.host: this machine's USB devices through pyusb.

Two parts.  Against the real libusb: enumeration and ``describe`` of whatever
devices the machine has (none on the CI machine type: those tests skip and say
so; redirecting a real device is untested live).  Against a pyusb-shaped double
of one device (``FakeDevice`` below, a test double for hardware, not a model of
any product): the usbredir requests become the pyusb calls usbredirhost makes
through libusb, and libusb errors become usbredir statuses.
"""

from __future__ import annotations

import errno
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from spicepy.channels.usbredir import PacketReceived
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirStatus as Status
from spicepy.wire.usbredir import UsbSpeed, UsbTransferType

usb_core = pytest.importorskip("usb.core", reason="pyusb not installed (the usb extra)")
host = pytest.importorskip("spicepy.usb.host")


# -- the real libusb -------------------------------------------------------------------


def test_enumeration_and_description_of_this_machine() -> None:
    devices = host.host_devices()
    if not devices:
        pytest.skip("no USB devices on this machine: host redirection untested live")
    for dev in devices:
        info = host.describe(dev)
        assert (info.vendor_id, info.product_id) == (dev.idVendor, dev.idProduct)


def test_a_missing_device_is_named() -> None:
    taken = {(d.idVendor, d.idProduct) for d in host.host_devices()}
    absent = next(
        (v, p) for v in range(0xFFF0, 0x10000) for p in (0xFFFF,) if (v, p) not in taken
    )
    with pytest.raises(ValueError, match=f"{absent[0]:04x}:{absent[1]:04x}"):
        host.open_host_devices([absent])


# -- a pyusb-shaped double ------------------------------------------------------------


def _ep(address: int, kind: int, size: int, interval: int = 0) -> SimpleNamespace:
    return SimpleNamespace(
        bEndpointAddress=address,
        bmAttributes=kind,
        wMaxPacketSize=size,
        bInterval=interval,
    )


class FakeDevice:
    """Mass storage (bulk 0x81/0x02) plus an interrupt IN 0x83 on interface 1,
    high speed; records every call, answers from queues."""

    idVendor, idProduct = 0x1234, 0x5678
    bDeviceClass = bDeviceSubClass = bDeviceProtocol = 0
    bcdDevice, bMaxPacketSize0, speed = 0x0210, 64, 3  # libusb HIGH
    bus, address = 1, 7

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.bulk_in: list[bytes | Exception] = []
        self.interrupt_in: list[bytes | Exception] = []
        self.kernel_driver = {0: True, 1: False}
        self._ctx = self  # pyusb's util functions go through device._ctx
        self.got_interrupt = threading.Event()
        #: set: the next interrupt read waits for ``release`` (a read in flight)
        self.hold = False
        self.in_read, self.release = threading.Event(), threading.Event()
        intf0 = [_ep(0x81, 2, 512), _ep(0x02, 2, 512)]
        intf1 = [_ep(0x83, 3, 8, 4)]
        self.config = [
            _Intf(0, 0, 8, 6, 0x50, intf0),
            _Intf(1, 0, 3, 0, 0, intf1),
            _Intf(1, 1, 3, 0, 0, intf1),  # an alternate setting: not described
        ]

    # pyusb Device
    def get_active_configuration(self) -> list[Any]:
        return self.config

    def is_kernel_driver_active(self, n: int) -> bool:
        return self.kernel_driver[n]

    def detach_kernel_driver(self, n: int) -> None:
        self.calls.append(("detach", n))
        self.kernel_driver[n] = False

    def attach_kernel_driver(self, n: int) -> None:
        self.calls.append(("attach", n))

    def set_configuration(self, value: int) -> None:
        self.calls.append(("set_configuration", value))

    def set_interface_altsetting(self, interface: int, alt: int) -> None:
        if alt > 1:
            raise usb_core.USBError("no such alt", errno=errno.EPIPE)
        self.calls.append(("altsetting", interface, alt))

    def reset(self) -> None:
        self.calls.append(("reset",))

    def ctrl_transfer(
        self, rt: int, req: int, value: int, index: int, data: Any, timeout: int
    ) -> Any:
        self.calls.append(("ctrl", rt, req, value, index, data))
        if req == 0xFE:  # pretend: an unknown class request stalls
            raise usb_core.USBError("stall", errno=errno.EPIPE)
        if rt & 0x80:
            return bytes(range(data))[:4]  # a short answer
        return len(data)

    def read(self, ep: int, size: int, timeout: int) -> bytes:
        queue = self.interrupt_in if ep == 0x83 else self.bulk_in
        if ep == 0x83 and self.hold:
            self.hold = False
            self.in_read.set()
            assert self.release.wait(5)
            return b"\x03" * 8
        if ep == 0x83 and not queue:
            self.got_interrupt.set()
            raise usb_core.USBTimeoutError("timeout", errno=errno.ETIMEDOUT)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        self.calls.append(("read", ep, size))
        return item[:size]

    def write(self, ep: int, data: bytes, timeout: int) -> int:
        self.calls.append(("write", ep, bytes(data)))
        return len(data)

    # the context pyusb's util module calls
    def managed_claim_interface(self, device: Any, n: Any) -> None:
        self.calls.append(("claim", n))

    def managed_release_interface(self, device: Any, n: Any) -> None:
        self.calls.append(("release", n))

    def dispose(self, device: Any, close_handle: bool = True) -> None:
        self.calls.append(("dispose",))


class _Intf(list[Any]):
    def __init__(
        self, number: int, alt: int, cls: int, sub: int, proto: int, eps: list[Any]
    ) -> None:
        super().__init__(eps)
        self.bInterfaceNumber, self.bAlternateSetting = number, alt
        self.bInterfaceClass, self.bInterfaceSubClass = cls, sub
        self.bInterfaceProtocol = proto


class Answers:
    """Collects what the device sends from its threads."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, int]] = []
        self.cond = threading.Condition()

    def __call__(self, answers: list[tuple[Any, int]]) -> None:
        with self.cond:
            self.items += answers
            self.cond.notify_all()

    def wait(self, count: int) -> list[tuple[Any, int]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) >= count, 5), self.items
            return list(self.items)


@pytest.fixture
def device() -> Any:
    fake = FakeDevice()
    dev = host.HostDevice(fake)
    yield fake, dev
    dev.close()


def test_description_of_the_active_configuration(device: Any) -> None:
    fake, dev = device
    info = dev.device_info
    assert (info.vendor_id, info.product_id, info.device_version_bcd) == (
        0x1234,
        0x5678,
        0x0210,
    )
    assert info.speed is UsbSpeed.HIGH and info.max_packet_size0 == 64
    assert [i.number for i in info.interfaces] == [0, 1]  # alt 1 left out
    assert [
        (e.address, e.type, e.max_packet_size) for e in info.interfaces[0].endpoints
    ] == [
        (0x81, UsbTransferType.BULK, 512),
        (0x02, UsbTransferType.BULK, 512),
    ]
    assert info.interfaces[1].endpoints[0].interval == 4
    # the kernel's driver was detached from interface 0 only; both claimed
    assert fake.calls[:3] == [("detach", 0), ("claim", 0), ("claim", 1)]


def test_configuration_and_alt_settings_at_once(device: Any) -> None:
    fake, dev = device
    assert dev.handle(PacketReceived(5, u.SetConfiguration(1))) == [
        (u.ConfigurationStatus(Status.SUCCESS, 1), 5)
    ]
    assert dev.handle(PacketReceived(6, u.SetAltSetting(1, 1))) == [
        (u.AltSettingStatus(Status.SUCCESS, 1, 1), 6)
    ]
    assert dev.handle(PacketReceived(7, u.SetAltSetting(1, 2))) == [
        (u.AltSettingStatus(Status.STALL, 1, 0), 7)
    ]
    assert dev.handle(PacketReceived(8, u.StartIsoStream(0x85, 8, 4))) == [
        (u.IsoStreamStatus(Status.INVAL, 0x85), 8)
    ]
    assert ("set_configuration", 1) in fake.calls and ("altsetting", 1, 1) in fake.calls


def test_transfers_answer_from_threads_with_the_guests_ids(device: Any) -> None:
    fake, dev = device
    got = Answers()
    dev.attach(got)
    fake.bulk_in.append(b"\x55" * 13)
    control_in = u.ControlPacket(0, 6, 0x80, 0, 0x100, 0, 18)
    control_out = u.ControlPacket(0, 9, 0x21, 0, 0x200, 0, 3, b"abc")
    stalled = u.ControlPacket(0, 0xFE, 0xA1, 0, 0, 0, 1)
    bulk_in = u.BulkPacket(0x81, 0, 512, 0)
    bulk_out = u.BulkPacket(0x02, 0, 31, 0, 0, b"U" * 31)
    for pid, packet in enumerate((control_in, control_out, stalled, bulk_in, bulk_out)):
        assert dev.handle(PacketReceived(pid, packet)) == []  # answered later
    answers = dict((pid, p) for p, pid in got.wait(5))
    assert answers[0] == u.ControlPacket(
        0, 6, 0x80, 0, 0x100, 0, 4, b"\x00\x01\x02\x03"
    )
    assert answers[1] == u.ControlPacket(0, 9, 0x21, 0, 0x200, 0, 3, b"")
    assert answers[2].status == Status.STALL and answers[2].length == 0
    assert answers[3] == u.BulkPacket(0x81, Status.SUCCESS, 13, 0, 0, b"\x55" * 13)
    assert answers[4] == u.BulkPacket(0x02, Status.SUCCESS, 31, 0, 0, b"")
    assert ("write", 0x02, b"U" * 31) in fake.calls


def test_a_failed_bulk_read_is_an_io_error(device: Any) -> None:
    fake, dev = device
    got = Answers()
    dev.attach(got)
    fake.bulk_in.append(usb_core.USBError("gone", errno=errno.ENODEV))
    dev.handle(PacketReceived(9, u.BulkPacket(0x81, 0, 64, 0)))
    [(answer, pid)] = got.wait(1)
    assert pid == 9 and answer.status == Status.IOERROR and answer.data == b""


def test_interrupt_receiving_streams_until_stop(device: Any) -> None:
    fake, dev = device
    got = Answers()
    dev.attach(got)
    fake.interrupt_in += [b"\x01" * 8, b"\x02" * 8]
    assert dev.handle(PacketReceived(3, u.StartInterruptReceiving(0x83))) == [
        (u.InterruptReceivingStatus(Status.SUCCESS, 0x83), 3)
    ]
    reports = got.wait(2)
    assert [p.data for p, _ in reports] == [b"\x01" * 8, b"\x02" * 8]
    assert all(isinstance(p, u.InterruptPacket) and p.status == 0 for p, _ in reports)
    assert len({pid for _, pid in reports}) == 2  # ids of their own
    assert fake.got_interrupt.wait(5)  # polled on, found nothing: kept waiting
    fake.hold = True
    assert fake.in_read.wait(5)
    dev.handle(PacketReceived(4, u.StopInterruptReceiving(0x83)))
    fake.release.set()  # the read in flight at STOP returns data: dropped
    receiver = next(t for t in threading.enumerate() if t.name == "spicepy-usb-int-83")
    receiver.join(5)
    assert not receiver.is_alive() and len(got.items) == 2


def test_close_gives_the_interface_back(device: Any) -> None:
    fake, dev = device
    dev.close()
    assert ("release", 0) in fake.calls and ("attach", 0) in fake.calls
    assert ("attach", 1) not in fake.calls  # it had no kernel driver
    assert fake.calls[-1] == ("dispose",)
