"""The emulated HID keyboard (spicepy.usb.hid) driven by a guest UsbredirConnection
through a host one, as QEMU's usb-redir would drive it: enumeration requests,
configuration, interrupt receiving and typed reports, STALL for the unknown."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels.usbredir import PacketReceived, UsbredirConnection
from spicepy.usb.hid import BOOT_KEYBOARD_REPORT, MAX_PENDING_REPORTS, HidKeyboard
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirStatus as Status


class Rig:
    """guest <-> host connections with the keyboard answering on the host side."""

    def __init__(self) -> None:
        self.kb = HidKeyboard(vendor_id=0x1D6B, product_id=0x0104)
        self.host = UsbredirConnection(host=True)
        self.guest = UsbredirConnection(host=False)
        self.host.connect_device(self.kb.device_info)
        self.guest.receive_data(self.host.data_to_send())  # host hello
        self.host.receive_data(self.guest.data_to_send())  # guest hello
        while self.host.next_event() is not None:  # hello, device connect sent
            pass
        self.received()  # interface_info, ep_info, device_connect

    def ask(self, packet: Any, pid: int = 1) -> list[Any]:
        """Send ``packet`` from the guest; the guest's events after the answers."""
        self.guest.send_packet(packet, pid)
        self.host.receive_data(self.guest.data_to_send())
        while (ev := self.host.next_event()) is not None:
            assert isinstance(ev, PacketReceived)
            self.send(self.kb.handle(ev))
        return self.received()

    def send(self, answers: list[tuple[Any, int]]) -> None:
        for pkt, pid in answers:
            self.host.send_packet(pkt, pid)

    def received(self) -> list[Any]:
        data = self.host.data_to_send()
        if data:
            self.guest.receive_data(data)
        out = []
        while (ev := self.guest.next_event()) is not None:
            out.append(ev)
        return out


def control_in(
    rig: Rig, rt: int, req: int, value: int, index: int = 0, n: int = 255
) -> Any:
    [ev] = rig.ask(u.ControlPacket(0x80, req, rt, 0, value, index, n), 7)
    assert ev.id == 7
    return ev.packet


def test_enumeration_descriptors() -> None:
    rig = Rig()
    dev = control_in(rig, 0x80, 6, 0x0100, n=64)
    assert dev.status == Status.SUCCESS and len(dev.data) == dev.length == 18
    assert dev.data[0] == 18  # USB 2.0 table 9-8: bLength is the descriptor's size
    (_, dtype, _usb, _c, _s, _p, mps0, vid, pid, bcd, *_rest) = struct.unpack(
        "<BBHBBBBHHHBBBB", dev.data
    )
    assert (dtype, mps0, vid, pid, bcd) == (1, 8, 0x1D6B, 0x0104, 0x0100)
    head = control_in(rig, 0x80, 6, 0x0200, n=9)  # Linux asks for 9 bytes first
    total = struct.unpack_from("<H", head.data, 2)[0]
    cfg = control_in(rig, 0x80, 6, 0x0200, n=total).data
    assert len(cfg) == total == 34
    # walk the descriptors: lengths chain exactly to the end
    pos, kinds = 0, []
    while pos < len(cfg):
        kinds.append(cfg[pos + 1])
        pos += cfg[pos]
    assert pos == total and kinds == [2, 4, 0x21, 5]
    hid = cfg[18:27]
    assert struct.unpack_from("<H", hid, 7)[0] == len(BOOT_KEYBOARD_REPORT)
    report = control_in(rig, 0x81, 6, 0x2200, n=len(BOOT_KEYBOARD_REPORT)).data
    assert report == BOOT_KEYBOARD_REPORT and report[-1] == 0xC0  # END_COLLECTION
    name = control_in(rig, 0x80, 6, 0x0302, index=0x0409).data
    assert name[2:].decode("utf-16-le") == "spicepy USB keyboard" and name[0] == len(
        name
    )
    assert control_in(rig, 0x80, 6, 0x0309).status == Status.STALL  # no string 9


def test_configuration_and_class_requests() -> None:
    rig = Rig()
    [ev] = rig.ask(u.SetConfiguration(1), 3)
    assert ev == PacketReceived(3, u.ConfigurationStatus(Status.SUCCESS, 1))
    [ev] = rig.ask(u.GetConfiguration(), 4)
    assert ev.packet.configuration == 1
    [ev] = rig.ask(u.SetConfiguration(2), 5)
    assert ev.packet.status == Status.STALL
    set_idle = u.ControlPacket(0x00, 10, 0x21, 0, 0x0000, 0, 0)
    [ev] = rig.ask(set_idle)
    assert ev.packet.status == Status.SUCCESS
    leds = u.ControlPacket(0x00, 9, 0x21, 0, 0x0200, 0, 1, b"\x02")  # caps lock
    [ev] = rig.ask(leds)
    assert ev.packet.status == Status.SUCCESS and rig.kb.leds == 2
    vendor = u.ControlPacket(0x00, 0x42, 0x40, 0, 0, 0, 0)
    [ev] = rig.ask(vendor)
    assert ev.packet.status == Status.STALL


def test_typing_sends_boot_reports_once_polling_started() -> None:
    rig = Rig()
    rig.send(rig.kb.key_down(0xE1))  # left shift, before the guest polls: kept
    evs = rig.ask(u.StartInterruptReceiving(0x81), 11)
    assert evs[0] == PacketReceived(
        11, u.InterruptReceivingStatus(Status.SUCCESS, 0x81)
    )
    assert [e.packet.data for e in evs[1:]] == [bytes([0x02, 0, 0, 0, 0, 0, 0, 0])]
    rig.send(rig.kb.key_down(0x04))  # 'a' -> 'A'
    rig.send(rig.kb.key_up(0x04))
    rig.send(rig.kb.key_up(0xE1))
    got = [e.packet for e in rig.received()]
    assert [p.endpoint for p in got] == [0x81] * 3
    assert [p.data for p in got] == [
        bytes([2, 0, 4, 0, 0, 0, 0, 0]),
        bytes([2, 0, 0, 0, 0, 0, 0, 0]),
        bytes(8),
    ]


@given(keys=st.lists(st.integers(4, 0x65), min_size=7, max_size=10, unique=True))
def test_rollover_beyond_six_keys(keys: list[int]) -> None:
    kb = HidKeyboard()
    for k in keys[:6]:
        kb.key_down(k)
    assert kb._report()[2:] == bytes(keys[:6])
    for k in keys[6:]:
        kb.key_down(k)
    assert kb._report()[2:] == b"\x01" * 6  # ErrorRollOver
    for k in keys[6:]:
        kb.key_up(k)
    assert kb._report()[2:] == bytes(keys[:6])


def test_transfers_to_missing_endpoints_stall() -> None:
    rig = Rig()
    [ev] = rig.ask(u.BulkPacket(0x82, 0, 64, 0), 21)
    assert ev == PacketReceived(21, u.BulkPacket(0x82, Status.STALL, 0, 0))
    [ev] = rig.ask(u.StartInterruptReceiving(0x83), 22)
    assert ev.packet.status == Status.STALL


QEMU_GUEST = Path(__file__).parent / "data" / "usbredir_qemu_guest.bin"


def _replay(kb: HidKeyboard, stream: bytes, piece: int) -> list[tuple[Any, list[Any]]]:
    """Feed QEMU's recorded stream to a host in ``piece``-byte chunks; each packet
    with the keyboard's answers, sent back through the host's checks."""
    host = UsbredirConnection(host=True)
    host.connect_device(kb.device_info)
    host.data_to_send()
    out = []
    for pos in range(0, len(stream), piece):
        host.receive_data(stream[pos : pos + piece])
        while (ev := host.next_event()) is not None:
            if isinstance(ev, PacketReceived):
                answers = kb.handle(ev)
                for pkt, pid in answers:
                    host.send_packet(pkt, pid)
                out.append((ev.packet, [p for p, _ in answers]))
    return out


def test_qemu_enumeration_replayed() -> None:
    # QEMU 7.2 usb-redir's side while Linux 6.1 (xhci-hcd, usbhid) enumerated
    # this keyboard: see tests/data/README.md
    stream = QEMU_GUEST.read_bytes()
    assert stream[12:32].startswith(b"qemu usb-redir guest")
    got = _replay(HidKeyboard(), stream, len(stream))
    assert got == _replay(HidKeyboard(), stream, 1)
    requests = [p for p, _ in got if isinstance(p, u.ControlPacket)]
    # device (64 then 18 bytes), config (9 then 34), strings, then the HID
    # class requests: SET_IDLE, the report descriptor, SET_REPORT (LEDs)
    assert [(r.requesttype, r.request, r.value, r.length) for r in requests[:4]] == [
        (0x80, 6, 0x0100, 64),
        (0x80, 6, 0x0100, 18),
        (0x80, 6, 0x0200, 9),
        (0x80, 6, 0x0200, 34),
    ]
    assert (0x81, 6, 0x2200, len(BOOT_KEYBOARD_REPORT)) in {
        (r.requesttype, r.request, r.value, r.length) for r in requests
    }
    assert [type(p) for p, _ in got if not isinstance(p, u.ControlPacket)] == [
        u.Reset
    ] * 4 + [u.SetConfiguration, u.StartInterruptReceiving]
    for packet, answers in got:
        assert all(a.status == Status.SUCCESS for a in answers), packet
        if isinstance(packet, u.ControlPacket) and packet.requesttype & 0x80:
            [a] = answers
            assert 0 < len(a.data) == a.length <= packet.length


@given(st.lists(st.integers(0xE0, 0xE7), min_size=1, max_size=8, unique=True))
def test_every_modifier_is_a_bit_of_byte_zero(mods: list[int]) -> None:
    """HID 1.11 appendix B.1: usages E0..E7 (left ctrl .. right GUI) are bits
    0..7 of the boot report's first byte, never key slots."""
    kb = HidKeyboard()
    for m in mods:
        kb.key_down(m)
    assert kb._report() == bytes([sum(1 << (m - 0xE0) for m in mods)]) + bytes(7)
    for m in mods:
        kb.key_up(m)
    assert kb._report() == bytes(8)


def test_reports_kept_before_polling_are_bounded() -> None:
    """Typing into a guest that never polls keeps only the newest
    MAX_PENDING_REPORTS reports (memory stays bounded), sent in order."""
    rig = Rig()
    n = MAX_PENDING_REPORTS + 40
    for i in range(n):
        rig.send(
            rig.kb.key_down(0x04 + i % 26)
            if i % 2 == 0
            else rig.kb.key_up(0x04 + (i - 1) % 26)
        )
    evs = rig.ask(u.StartInterruptReceiving(0x81), 3)
    reports = [e.packet.data for e in evs[1:]]
    assert len(reports) == MAX_PENDING_REPORTS
    # the last report is the release of the last key: all zeroes; the one
    # before it held that key
    last_key = 0x04 + (n - 2) % 26
    assert reports[-1] == bytes(8) and reports[-2] == bytes(
        [0, 0, last_key, 0, 0, 0, 0, 0]
    )
