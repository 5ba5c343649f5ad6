"""The emulated mass-storage device (spicepy.usb.storage) driven through a guest
and a host UsbredirConnection the way QEMU's usb-redir drives it: bulk-only
transport (CBW, data, CSW) carrying the SCSI commands a Linux guest sends."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from spicepy.channels.usbredir import PacketReceived, UsbredirConnection
from spicepy.usb.storage import (
    BLOCK_SIZE,
    MAX_TRANSFER,
    BytesStore,
    FileStore,
    MassStorage,
)
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirStatus as Status

BLOCKS = 64


def disk() -> bytes:
    return b"".join(struct.pack(">I", i) * (BLOCK_SIZE // 4) for i in range(BLOCKS))


class Rig:
    def __init__(self, store: BytesStore | None = None) -> None:
        self.dev = MassStorage(store if store is not None else BytesStore(disk()))
        self.host = UsbredirConnection(host=True)
        self.guest = UsbredirConnection(host=False)
        self.host.connect_device(self.dev.device_info)
        self.guest.receive_data(self.host.data_to_send())
        self.host.receive_data(self.guest.data_to_send())
        while self.host.next_event() is not None:
            pass
        self.guest.receive_data(self.host.data_to_send())
        while self.guest.next_event() is not None:
            pass
        self.pid = 0

    def ask(self, packet: Any) -> Any:
        self.pid += 1
        self.guest.send_packet(packet, self.pid)
        self.host.receive_data(self.guest.data_to_send())
        while (ev := self.host.next_event()) is not None:
            assert isinstance(ev, PacketReceived)
            for pkt, pid in self.dev.handle(ev):
                self.host.send_packet(pkt, pid)
        self.guest.receive_data(self.host.data_to_send())
        [ev] = [self.guest.next_event()]
        assert isinstance(ev, PacketReceived) and ev.id == self.pid
        assert self.guest.next_event() is None
        return ev.packet

    def bulk_out(self, data: bytes) -> Any:
        n = len(data)
        return self.ask(u.BulkPacket(0x02, 0, n & 0xFFFF, 0, n >> 16, data))

    def bulk_in(self, n: int) -> Any:
        return self.ask(u.BulkPacket(0x81, 0, n & 0xFFFF, 0, n >> 16))

    def command(
        self, cdb: bytes, length: int, *, data_in: bool = True, out: bytes = b""
    ) -> tuple[bytes, tuple[int, ...]]:
        """One BOT command: (data read, CSW fields signature/tag/residue/status)."""
        tag = 0x1000 + self.pid
        cbw = struct.pack(
            "<IIIBBB", 0x43425355, tag, length, 0x80 if data_in else 0, 0, len(cdb)
        ) + cdb.ljust(16, b"\0")
        assert self.bulk_out(cbw).status == Status.SUCCESS
        data = b""
        if data_in and length:
            data = self.bulk_in(length).data
        elif out:
            assert self.bulk_out(out).status == Status.SUCCESS
        csw = self.bulk_in(13)
        fields = struct.unpack("<IIIB", csw.data)
        assert fields[:2] == (0x53425355, tag)
        return data, fields


def test_inquiry_capacity_and_read() -> None:
    rig = Rig()
    data, csw = rig.command(bytes([0x12, 0, 0, 0, 36, 0]), 36)
    assert data[8:16] == b"spicepy " and data[0] == 0 and csw[3] == 0
    data, csw = rig.command(bytes([0x25]) + bytes(9), 8)
    assert struct.unpack(">II", data) == (BLOCKS - 1, BLOCK_SIZE)
    read = bytes([0x28, 0]) + struct.pack(">IxH", 5, 3) + b"\0"
    data, csw = rig.command(read, 3 * BLOCK_SIZE)
    assert data == disk()[5 * BLOCK_SIZE : 8 * BLOCK_SIZE] and csw[2:] == (0, 0)


def test_write_then_read_back() -> None:
    rig = Rig()
    payload = bytes(range(256)) * 4
    write = bytes([0x2A, 0]) + struct.pack(">IxH", 10, 2) + b"\0"
    _, csw = rig.command(write, 1024, data_in=False, out=payload)
    assert csw[2:] == (0, 0)
    assert rig.dev.store.read(10 * BLOCK_SIZE, 1024) == payload
    read = bytes([0x28, 0]) + struct.pack(">IxH", 10, 2) + b"\0"
    assert rig.command(read, 1024)[0] == payload


def test_errors_give_check_condition_and_sense() -> None:
    rig = Rig()
    past_end = bytes([0x28, 0]) + struct.pack(">IxH", BLOCKS - 1, 2) + b"\0"
    data, csw = rig.command(past_end, 1024)
    assert csw[3] == 1 and csw[2] == 1024  # failed, nothing transferred
    sense, _ = rig.command(bytes([0x03, 0, 0, 0, 18, 0]), 18)
    assert (sense[2], sense[12]) == (0x05, 0x21)  # ILLEGAL REQUEST, LBA out of range
    _, csw = rig.command(bytes([0xA0]) + bytes(11), 0)  # REPORT LUNS: not supported
    assert csw[3] == 1
    sense, _ = rig.command(bytes([0x03, 0, 0, 0, 18, 0]), 18)
    assert (sense[2], sense[12]) == (0x05, 0x20)  # invalid opcode


def test_bad_cbw_stalls_until_reset() -> None:
    rig = Rig()
    assert rig.bulk_out(b"XXXX" + bytes(27)).status == Status.STALL
    assert rig.bulk_in(13).status == Status.STALL
    reset = u.ControlPacket(0x00, 0xFF, 0x21, 0, 0, 0, 0)
    assert rig.ask(reset).status == Status.SUCCESS
    assert rig.command(bytes(6), 0)[1][3] == 0  # TEST UNIT READY passes again


def test_get_max_lun_and_descriptors() -> None:
    rig = Rig()
    lun = rig.ask(u.ControlPacket(0x80, 0xFE, 0xA1, 0, 0, 0, 1))
    assert lun.data == b"\0"
    cfg = rig.ask(u.ControlPacket(0x80, 6, 0x80, 0, 0x0200, 0, 255)).data
    pos, kinds = 0, []
    while pos < len(cfg):
        kinds.append(cfg[pos + 1])
        pos += cfg[pos]
    assert kinds == [2, 4, 5, 5] and pos == struct.unpack_from("<H", cfg, 2)[0]


@given(
    lba=st.integers(0, BLOCKS - 1),
    count=st.integers(0, 8),
    ask_more=st.integers(0, 600),
)
def test_reads_match_the_disk_or_fail_cleanly(
    lba: int, count: int, ask_more: int
) -> None:
    rig = Rig()
    read = bytes([0x28, 0]) + struct.pack(">IxH", lba, count) + b"\0"
    length = count * BLOCK_SIZE + ask_more
    data, csw = rig.command(read, length)
    if lba + count <= BLOCKS:
        assert data == disk()[lba * BLOCK_SIZE : (lba + count) * BLOCK_SIZE]
        assert csw[2:] == (length - len(data), 0)
    else:
        assert csw[3] == 1 and data == b""


def test_refused_write_drops_its_data() -> None:
    rig = Rig()
    before = bytes(rig.dev.store.read(0, BLOCKS * BLOCK_SIZE))
    write = bytes([0x2A, 0]) + struct.pack(">IxH", BLOCKS - 1, 2) + b"\0"
    _, csw = rig.command(write, 1024, data_in=False, out=b"\xee" * 1024)
    assert csw[3] == 1 and csw[2] == 1024
    assert rig.dev.store.read(0, BLOCKS * BLOCK_SIZE) == before
    assert rig.command(bytes(6), 0)[1][3] == 0  # next command goes through


def test_read_only_store_is_write_protected() -> None:
    """MODE SENSE sets WP (Linux then mounts read-only); WRITE(10) fails with
    DATA PROTECT / WRITE PROTECTED sense, its data dropped; reads still work."""
    rig = Rig(BytesStore(disk(), readonly=True))
    mode, _ = rig.command(bytes([0x1A, 0, 0x3F, 0, 4, 0]), 4)
    assert mode[2] & 0x80
    write = bytes([0x2A, 0]) + struct.pack(">IxH", 0, 1) + b"\0"
    _, csw = rig.command(write, 512, data_in=False, out=b"\xee" * 512)
    assert csw[3] == 1 and csw[2] == 512
    sense, _ = rig.command(bytes([0x03, 0, 0, 0, 18, 0]), 18)
    assert (sense[2], sense[12]) == (0x07, 0x27)
    read = bytes([0x28, 0]) + struct.pack(">IxH", 0, 1) + b"\0"
    assert rig.command(read, 512)[0] == disk()[:512]
    writable = Rig()
    assert not writable.command(bytes([0x1A, 0, 0x3F, 0, 4, 0]), 4)[0][2] & 0x80


def test_file_store_reads_and_writes_the_image(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(disk())
    store = FileStore(image)
    try:
        rig = Rig()
        rig.dev = MassStorage(store)
        write = bytes([0x2A, 0]) + struct.pack(">IxH", 3, 1) + b"\0"
        rig.command(write, 512, data_in=False, out=b"\x5a" * 512)
    finally:
        store.close()
    want = bytearray(disk())
    want[3 * 512 : 4 * 512] = b"\x5a" * 512
    assert image.read_bytes() == want


QEMU_STORAGE = Path(__file__).parent / "data" / "usbredir_qemu_storage.bin"


def _replay(stream: bytes, piece: int) -> tuple[MassStorage, list[Any]]:
    """QEMU's recorded side into a fresh 2048-block disk; every answer sent back
    through the host's checks."""
    pattern = b"".join(struct.pack(">I", i) * (BLOCK_SIZE // 4) for i in range(2048))
    dev = MassStorage(BytesStore(pattern))
    host = UsbredirConnection(host=True)
    host.connect_device(dev.device_info)
    answers: list[Any] = []
    for pos in range(0, len(stream), piece):
        host.receive_data(stream[pos : pos + piece])
        while (ev := host.next_event()) is not None:
            if isinstance(ev, PacketReceived):
                for pkt, pid in dev.handle(ev):
                    host.send_packet(pkt, pid)
                    answers.append(pkt)
    return dev, answers


def test_qemu_session_replayed() -> None:
    # QEMU 7.2 usb-redir while Linux 6.1 usb-storage + sd_mod attached the disk,
    # read block 5 with dd and wrote "spicepy-wrote-this\n" to block 10
    stream = QEMU_STORAGE.read_bytes()
    dev, answers = _replay(stream, len(stream))
    assert all(a.status == Status.SUCCESS for a in answers)
    bulk_in = [a.data for a in answers if isinstance(a, u.BulkPacket) and a.data]
    csws = [struct.unpack("<IIIB", d) for d in bulk_in if d[:4] == b"USBS"]
    assert len(csws) > 10 and all(c[3] == 0 for c in csws)  # every command passed
    block5 = struct.pack(">I", 5) * 128
    assert any(block5 in d for d in bulk_in)  # dd's read (a page-cache page)
    assert any(d[8:16] == b"spicepy " for d in bulk_in)  # INQUIRY data
    assert dev.store.read(10 * BLOCK_SIZE, 19) == b"spicepy-wrote-this\n"
    dev1, answers1 = _replay(stream, 1)
    assert answers1 == answers and dev1.store.read(0, dev1.store.size) == (
        dev.store.read(0, dev.store.size)
    )


def test_a_cbw_of_other_than_31_bytes_is_invalid() -> None:
    """USB MSC BOT 1.0 6.2.1: a CBW is valid only when it is exactly 31 bytes
    long (and signed); a longer one stalls like a bad signature."""
    rig = Rig()
    good = struct.pack("<IIIBBB", 0x43425355, 1, 0, 0, 0, 6) + bytes(16)
    assert rig.bulk_out(good + b"\0").status == Status.STALL
    assert rig.bulk_in(13).status == Status.STALL
    assert rig.ask(u.ControlPacket(0x00, 0xFF, 0x21, 0, 0, 0, 0)).status == 0
    assert rig.command(bytes(6), 0)[1][3] == 0  # after the reset recovery


def test_one_command_moves_at_most_max_transfer() -> None:
    """A guest-chosen READ(10) length is bounded: more than MAX_TRANSFER bytes in
    one command fails (CHECK CONDITION) instead of being read into memory."""
    blocks = MAX_TRANSFER // BLOCK_SIZE + 1
    rig = Rig(BytesStore(bytes(blocks * BLOCK_SIZE)))
    for count, ok in ((blocks - 1, True), (blocks, False)):
        n = count * BLOCK_SIZE
        read = bytes([0x28, 0]) + struct.pack(">IxH", 0, count) + b"\0"
        data, csw = rig.command(read, n)
        assert (csw[3] == 0) == ok
        assert len(data) == (n if ok else 0) and csw[2] == (0 if ok else n)
