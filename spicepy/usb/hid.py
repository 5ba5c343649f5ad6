"""An emulated USB HID boot keyboard, answering a guest through usbredir.

Theory of operation: the keyboard is sans-IO like the machines it sits on.  The
caller connects ``keyboard.device_info`` with ``UsbredirConnection.connect_device``
and passes every ``PacketReceived`` to ``handle``, sending back what it returns
(``(packet, id)`` pairs) with ``send_packet``; ``key_down``/``key_up`` return
the interrupt packets of the new report the same way.

What a guest does with a keyboard (USB 2.0 chapter 9, HID 1.11): GET_DESCRIPTOR
for the device, configuration and string descriptors and (HID class) the report
descriptor, SET_CONFIGURATION, SET_IDLE / SET_PROTOCOL / SET_REPORT (LEDs),
then START_INTERRUPT_RECEIVING on endpoint 0x81, after which every report is an
8-byte interrupt packet: modifier bits, a reserved byte, up to six usage ids
(HID 1.11 appendix B.1).  Requests it does not know are STALLed, as a real
device would.  Reports made before the guest polls are kept (up to
``MAX_PENDING_REPORTS``) and sent when it starts.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

from spicepy.channels.usbredir import PacketReceived, UsbDeviceInfo, UsbEndpoint
from spicepy.channels.usbredir import UsbInterface as Intf
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirStatus as Status
from spicepy.wire.usbredir import UsbTransferType

__all__ = [
    "BOOT_KEYBOARD_REPORT",
    "LEFT_SHIFT",
    "MAX_PENDING_REPORTS",
    "HidKeyboard",
]

Answer = list[tuple[Any, int]]

#: HID 1.11 appendix B.1: the boot keyboard report descriptor (8-byte input
#: report: modifiers, reserved, 6 keys; 5 LED output bits).
BOOT_KEYBOARD_REPORT = bytes.fromhex(
    "05010906a101050719e029e71500250175019508810295017508810195057501"
    "0508190129059102950175039101950675081500 25ff0507190029ff8100c0".replace(" ", "")
)
#: reports kept while the guest has not started polling
MAX_PENDING_REPORTS = 64
INTERRUPT_IN = 0x81
MODIFIER_FIRST = 0xE0  # HID usage ids 0xE0-0xE7 are the modifier keys
LEFT_SHIFT = 0xE1

# USB 2.0 table 9-4/9-5 and HID 1.11 section 7.2: the requests we answer
GET_STATUS, CLEAR_FEATURE, SET_FEATURE, GET_DESCRIPTOR = 0, 1, 3, 6
GET_REPORT, GET_IDLE, GET_PROTOCOL = 1, 2, 3
SET_REPORT, SET_IDLE, SET_PROTOCOL = 9, 10, 11
DT_DEVICE, DT_CONFIG, DT_STRING, DT_HID, DT_REPORT = 1, 2, 3, 0x21, 0x22


class HidKeyboard:
    """A full-speed boot keyboard with one configuration and one interface.

    Args:
        vendor_id, product_id: what the guest sees (default: QEMU's USB keyboard
            ids, which guests bind usbhid to like any other).
        strings: manufacturer, product, serial number.
    """

    def __init__(
        self,
        vendor_id: int = 0x0627,
        product_id: int = 0x0001,
        strings: tuple[str, str, str] = ("spicepy", "spicepy USB keyboard", "1"),
    ) -> None:
        self.strings = strings
        self.device_info = UsbDeviceInfo(
            vendor_id,
            product_id,
            (
                Intf(
                    0,
                    3,  # HID
                    1,  # boot interface subclass
                    1,  # keyboard protocol
                    (UsbEndpoint(INTERRUPT_IN, UsbTransferType.INTERRUPT, 8, 10),),
                ),
            ),
            device_version_bcd=0x0100,
            max_packet_size0=8,
        )
        self.configuration = 0
        self.protocol = 1  # report protocol after reset (HID 1.11 7.2.6)
        self.idle = 0
        self.leds = 0
        self.receiving = False
        self._keys: list[int] = []
        self._modifiers = 0
        self._pending: deque[bytes] = deque(maxlen=MAX_PENDING_REPORTS)
        self._next_id = 0

    # -- descriptors (USB 2.0 tables 9-8, 9-10, 9-12, 9-13; HID 1.11 6.2.1) ----------
    def device_descriptor(self) -> bytes:
        d = self.device_info
        return struct.pack(
            "<BBHBBBBHHHBBBB",
            18,
            DT_DEVICE,
            0x0110,  # bcdUSB 1.1: a full-speed device
            0,
            0,
            0,
            d.max_packet_size0,
            d.vendor_id,
            d.product_id,
            d.device_version_bcd,
            1,
            2,
            3,
            1,
        )

    def config_descriptor(self) -> bytes:
        ep = self.device_info.interfaces[0].endpoints[0]
        body = (
            struct.pack("<BBBBBBBBB", 9, 4, 0, 0, 1, 3, 1, 1, 0)
            + struct.pack(
                "<BBHBBBH",
                9,
                DT_HID,
                0x0111,
                0,
                1,
                DT_REPORT,
                len(BOOT_KEYBOARD_REPORT),
            )
            + struct.pack(
                "<BBBBHB",
                7,
                5,
                ep.address,
                int(ep.type),
                ep.max_packet_size,
                ep.interval,
            )
        )
        # wTotalLength, 1 interface, config 1, bus powered + remote wakeup, 100 mA
        return (
            struct.pack("<BBHBBBBB", 9, DT_CONFIG, 9 + len(body), 1, 1, 0, 0xA0, 50)
            + body
        )

    def string_descriptor(self, index: int) -> bytes | None:
        if index == 0:
            return struct.pack("<BBH", 4, DT_STRING, 0x0409)  # US English
        if index > len(self.strings):
            return None
        text = self.strings[index - 1].encode("utf-16-le")[:252]
        return bytes([2 + len(text), DT_STRING]) + text

    # -- the guest's requests --------------------------------------------------
    def handle(self, event: PacketReceived) -> Answer:
        """The answers to one packet the guest sent (possibly none)."""
        p, pid = event.packet, event.id
        if isinstance(p, u.SetConfiguration):
            ok = p.configuration in (0, 1)
            if ok:
                self.configuration = p.configuration
            return [(u.ConfigurationStatus(_status(ok), self.configuration), pid)]
        if isinstance(p, u.GetConfiguration):
            return [(u.ConfigurationStatus(Status.SUCCESS, self.configuration), pid)]
        if isinstance(p, u.SetAltSetting):
            ok = p.interface == 0 and p.alt == 0
            return [(u.AltSettingStatus(_status(ok), p.interface, 0), pid)]
        if isinstance(p, u.GetAltSetting):
            return [
                (u.AltSettingStatus(_status(p.interface == 0), p.interface, 0), pid)
            ]
        if isinstance(p, u.StartInterruptReceiving):
            ok = p.endpoint == INTERRUPT_IN
            out: Answer = [(u.InterruptReceivingStatus(_status(ok), p.endpoint), pid)]
            if ok:
                self.receiving = True
                while self._pending:
                    out.append(self._report_packet(self._pending.popleft()))
            return out
        if isinstance(p, u.StopInterruptReceiving):
            self.receiving = False
            return [(u.InterruptReceivingStatus(Status.SUCCESS, p.endpoint), pid)]
        if isinstance(p, u.Reset):
            self.configuration, self.protocol, self.receiving = 0, 1, False
            return []
        if isinstance(p, u.ControlPacket):
            return [(self._control(p), pid)]
        if isinstance(p, u.InterruptPacket | u.BulkPacket | u.IsoPacket):
            # no such endpoint: usbredirhost answers a transfer it cannot do with STALL
            return [(type(p)(p.endpoint, Status.STALL, *_zero_tail(p)), pid)]
        return []  # cancel, filters: nothing is pending, nothing to say

    def _control(self, p: u.ControlPacket) -> u.ControlPacket:
        data: bytes | None = None
        rt, req = p.requesttype, p.request
        if rt & 0x80:  # IN: we return data
            if req == GET_DESCRIPTOR and rt in (0x80, 0x81):
                data = self._descriptor(p.value >> 8, p.value & 0xFF, rt)
            elif req == GET_STATUS and rt & 0x7F in (0, 1, 2):
                data = b"\0\0"
            elif rt == 0xA1 and req == GET_REPORT:
                data = self._report()
            elif rt == 0xA1 and req == GET_IDLE:
                data = bytes([self.idle])
            elif rt == 0xA1 and req == GET_PROTOCOL:
                data = bytes([self.protocol])
            if data is None:
                return _answer(p, Status.STALL, b"")
            data = data[: p.length]
            return _answer(p, Status.SUCCESS, data)
        ok = True
        if rt == 0x21 and req == SET_IDLE:
            self.idle = p.value >> 8
        elif rt == 0x21 and req == SET_PROTOCOL:
            self.protocol = p.value & 1
        elif rt == 0x21 and req == SET_REPORT:
            self.leds = p.data[0] if p.data else 0
        elif req not in (CLEAR_FEATURE, SET_FEATURE) or rt & 0x60:
            ok = False
        return _answer(p, _status(ok), b"", p.length if ok else 0)

    def _descriptor(self, dtype: int, index: int, rt: int) -> bytes | None:
        if rt == 0x81:  # interface-directed: HID class descriptors
            if dtype == DT_REPORT:
                return BOOT_KEYBOARD_REPORT
            if dtype == DT_HID:
                return self.config_descriptor()[18:27]
            return None
        if dtype == DT_DEVICE:
            return self.device_descriptor()
        if dtype == DT_CONFIG and index == 0:
            return self.config_descriptor()
        if dtype == DT_STRING:
            return self.string_descriptor(index)
        return None

    # -- typing ------------------------------------------------------------------
    def key_down(self, usage: int) -> Answer:
        """Press the key with HID usage id ``usage`` (0x04 = 'a', 0xE1 = left shift)."""
        if MODIFIER_FIRST <= usage <= MODIFIER_FIRST + 7:
            self._modifiers |= 1 << (usage - MODIFIER_FIRST)
        elif usage not in self._keys:
            self._keys.append(usage)
        return self._new_report()

    def key_up(self, usage: int) -> Answer:
        if MODIFIER_FIRST <= usage <= MODIFIER_FIRST + 7:
            self._modifiers &= ~(1 << (usage - MODIFIER_FIRST))
        elif usage in self._keys:
            self._keys.remove(usage)
        return self._new_report()

    def _report(self) -> bytes:
        keys = self._keys
        # more than six keys down: every slot ErrorRollOver (HID 1.11 appendix C)
        slots = [1] * 6 if len(keys) > 6 else keys + [0] * (6 - len(keys))
        return bytes([self._modifiers, 0, *slots])

    def _new_report(self) -> Answer:
        report = self._report()
        if not self.receiving:
            self._pending.append(report)
            return []
        return [self._report_packet(report)]

    def _report_packet(self, report: bytes) -> tuple[Any, int]:
        self._next_id += 1
        return u.InterruptPacket(INTERRUPT_IN, Status.SUCCESS, len(report), report), (
            self._next_id
        )


def _status(ok: bool) -> int:
    return Status.SUCCESS if ok else Status.STALL


def _answer(
    p: u.ControlPacket, status: int, data: bytes, length: int | None = None
) -> u.ControlPacket:
    n = len(data) if length is None else length
    return u.ControlPacket(
        p.endpoint, p.request, p.requesttype, status, p.value, p.index, n, data
    )


def _zero_tail(p: Any) -> tuple[Any, ...]:
    """The fields after endpoint and status of a refused transfer: no data."""
    if isinstance(p, u.BulkPacket):
        return (0, p.stream_id, 0, b"")
    return (0, b"")
