"""An emulated USB mass-storage device (bulk-only transport + SCSI), sans-IO.

Theory of operation (USB Mass Storage Class Bulk-Only Transport 1.0, SCSI
SPC-3/SBC-2): each command is a 31-byte CBW on the bulk OUT endpoint, then an
optional data stage (bulk IN toward the guest, or bulk OUT from it) of at most
``dCBWDataTransferLength`` bytes, then a 13-byte CSW on bulk IN.  Through
usbredir every bulk IN *request* of the guest is a ``BulkPacket`` on 0x81 with
the wanted length and no data; the answer carries the same id and up to that
many bytes.  So the device is a small machine: IDLE (a CBW is due), DATA_IN
(bytes queued for the guest), DATA_OUT (bytes expected from the guest), STATUS
(the CSW is due on the next IN request).  A malformed CBW stalls both
endpoints, as BOT section 6.6.1 asks, until a Bulk-Only Mass Storage Reset.

Storage is any ``BlockStore`` (a file or a bytearray) of 512-byte blocks;
commands outside the small set a Linux guest sends fail with CHECK CONDITION
and ILLEGAL REQUEST sense, which Linux handles.  A read-only store (its
``readonly`` is true) reports write protection in MODE SENSE, so the guest
mounts it read-only, and refuses WRITE(10) with DATA PROTECT sense.
"""

from __future__ import annotations

import os
import struct
from enum import Enum
from typing import Any, Protocol

from spicepy.channels.usbredir import PacketReceived, UsbDeviceInfo, UsbEndpoint
from spicepy.channels.usbredir import UsbInterface as Intf
from spicepy.wire import usbredir as u
from spicepy.wire.usbredir import UsbredirStatus as Status
from spicepy.wire.usbredir import UsbSpeed, UsbTransferType

__all__ = ["BLOCK_SIZE", "BlockStore", "BytesStore", "FileStore", "MassStorage"]

Answer = list[tuple[Any, int]]
BLOCK_SIZE = 512
BULK_IN, BULK_OUT = 0x81, 0x02
CBW_SIGNATURE, CSW_SIGNATURE = 0x43425355, 0x53425355  # "USBC", "USBS"
#: largest transfer one CBW may announce (Linux asks for at most 240 blocks)
MAX_TRANSFER = 1024 * 1024
# SCSI operation codes (SPC-3 / SBC-2)
TEST_UNIT_READY, REQUEST_SENSE, INQUIRY, MODE_SENSE_6 = 0x00, 0x03, 0x12, 0x1A
START_STOP, PREVENT_ALLOW, READ_CAPACITY_10 = 0x1B, 0x1E, 0x25
READ_10, WRITE_10, SYNC_CACHE_10 = 0x28, 0x2A, 0x35
# sense keys and codes (SPC-3 4.5.6)
ILLEGAL_REQUEST, INVALID_OPCODE, LBA_OUT_OF_RANGE = 0x05, 0x20, 0x21
DATA_PROTECT, WRITE_PROTECTED = 0x07, 0x27
#: MODE SENSE device-specific parameter: WP (SBC-2 6.3.1)
MODE_WRITE_PROTECT = 0x80


class BlockStore(Protocol):
    def read(self, offset: int, size: int) -> bytes: ...

    def write(self, offset: int, data: bytes) -> None: ...

    @property
    def size(self) -> int: ...


class BytesStore:
    """A disk in memory (tests, scratch images)."""

    def __init__(self, data: bytes | bytearray, *, readonly: bool = False) -> None:
        self.data = bytearray(data)
        self.readonly = readonly

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self.data[offset : offset + size])

    def write(self, offset: int, data: bytes) -> None:
        if self.readonly:
            raise PermissionError("the disk is read-only")
        self.data[offset : offset + len(data)] = data


class FileStore:
    """A disk image file, read and written in place (``os.pread``/``pwrite``)."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.fd = os.open(path, os.O_RDONLY if readonly else os.O_RDWR)
        self.readonly = readonly
        self._size = os.fstat(self.fd).st_size

    @property
    def size(self) -> int:
        return self._size

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self.fd, size, offset)

    def write(self, offset: int, data: bytes) -> None:
        if self.readonly:
            raise PermissionError("the disk image is read-only")
        os.pwrite(self.fd, data, offset)

    def close(self) -> None:
        os.close(self.fd)


class _Phase(Enum):
    IDLE = "idle"
    DATA_IN = "data_in"
    DATA_OUT = "data_out"
    STATUS = "status"
    STALLED = "stalled"


class MassStorage:
    """A high-speed bulk-only SCSI disk of ``store.size // 512`` blocks."""

    def __init__(
        self, store: BlockStore, *, vendor_id: int = 0x46F4, product_id: int = 0x0001
    ) -> None:
        if store.size % BLOCK_SIZE or not store.size:
            raise ValueError("the store must hold a whole number of 512-byte blocks")
        self.store = store
        self.blocks = store.size // BLOCK_SIZE
        self.readonly = bool(getattr(store, "readonly", False))
        self.device_info = UsbDeviceInfo(
            vendor_id,
            product_id,
            (
                Intf(
                    0,
                    8,  # mass storage
                    6,  # SCSI transparent command set
                    0x50,  # bulk-only transport
                    (
                        UsbEndpoint(BULK_IN, UsbTransferType.BULK, 512),
                        UsbEndpoint(BULK_OUT, UsbTransferType.BULK, 512),
                    ),
                ),
            ),
            speed=UsbSpeed.HIGH,
        )
        self.configuration = 0
        self._phase = _Phase.IDLE
        self._tag = 0
        self._residue = 0
        self._status = 0  # CSW status: 0 passed, 1 failed, 2 phase error
        self._in = bytearray()
        self._out_offset = 0
        self._out_left = 0
        self._discard = False
        self._sense = (0, 0)

    # -- usbredir ----------------------------------------------------------------
    def handle(self, event: PacketReceived) -> Answer:
        p, pid = event.packet, event.id
        if isinstance(p, u.SetConfiguration):
            ok = p.configuration in (0, 1)
            if ok:
                self.configuration = p.configuration
            return [(u.ConfigurationStatus(_ok(ok), self.configuration), pid)]
        if isinstance(p, u.GetConfiguration):
            return [(u.ConfigurationStatus(Status.SUCCESS, self.configuration), pid)]
        if isinstance(p, u.SetAltSetting | u.GetAltSetting):
            ok = p.interface == 0
            return [(u.AltSettingStatus(_ok(ok), p.interface, 0), pid)]
        if isinstance(p, u.Reset):
            self._reset()
            return []
        if isinstance(p, u.ControlPacket):
            return [(self._control(p), pid)]
        if isinstance(p, u.BulkPacket):
            return [(self._bulk(p), pid)]
        return []

    def _control(self, p: u.ControlPacket) -> u.ControlPacket:
        # BOT 3.1 / 3.2: Bulk-Only Mass Storage Reset and Get Max LUN
        if p.requesttype == 0x21 and p.request == 0xFF:
            self._reset()
            return _control_answer(p, Status.SUCCESS, b"", 0)
        if p.requesttype == 0xA1 and p.request == 0xFE:
            return _control_answer(p, Status.SUCCESS, b"\0"[: p.length], None)
        if p.requesttype == 0x02 and p.request == 1:  # CLEAR_FEATURE(ENDPOINT_HALT)
            return _control_answer(p, Status.SUCCESS, b"", 0)
        if p.requesttype & 0x80 and p.request == 6:
            data = self._descriptor(p.value >> 8, p.value & 0xFF)
            if data is not None:
                return _control_answer(p, Status.SUCCESS, data[: p.length], None)
        return _control_answer(p, Status.STALL, b"", 0)

    def _descriptor(self, dtype: int, index: int) -> bytes | None:
        d = self.device_info
        if dtype == 1:  # USB 2.0 table 9-8
            return struct.pack(
                "<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64,
                d.vendor_id, d.product_id, 0x0100, 1, 2, 3, 1,
            )  # fmt: skip
        if dtype == 2 and index == 0:
            eps = b"".join(
                struct.pack("<BBBBHB", 7, 5, ep.address, 2, 512, 0)
                for ep in d.interfaces[0].endpoints
            )
            intf = struct.pack("<BBBBBBBBB", 9, 4, 0, 0, 2, 8, 6, 0x50, 0)
            total = 9 + len(intf) + len(eps)
            return struct.pack("<BBHBBBBB", 9, 2, total, 1, 1, 0, 0x80, 50) + intf + eps
        if dtype == 3:
            texts = {1: "spicepy", 2: "spicepy USB disk", 3: "0123456789AB"}
            if index == 0:
                return struct.pack("<BBH", 4, 3, 0x0409)
            text = texts.get(index)
            if text is None:
                return None
            raw = text.encode("utf-16-le")
            return bytes([2 + len(raw), 3]) + raw
        return None

    def _bulk(self, p: u.BulkPacket) -> u.BulkPacket:
        if self._phase is _Phase.STALLED:
            return _bulk_answer(p, Status.STALL, b"")
        if p.endpoint == BULK_OUT:
            if self._phase is _Phase.IDLE:
                return self._cbw(p)
            if self._phase is _Phase.DATA_OUT:
                return self._data_out(p)
            return _bulk_answer(p, Status.STALL, b"")
        if p.endpoint != BULK_IN:
            return _bulk_answer(p, Status.STALL, b"")
        want = p.total_length
        if self._phase is _Phase.DATA_IN:
            # the reply may be short of the CBW's length (even empty): a short
            # answer ends the data stage as a short packet does on the bus, and
            # the CSW's residue tells the host how much was left (BOT 6.7.2)
            chunk = bytes(self._in[:want])
            del self._in[:want]
            if not self._in:
                self._phase = _Phase.STATUS
            return _bulk_answer(p, Status.SUCCESS, chunk)
        if self._phase is _Phase.STATUS:
            self._phase = _Phase.IDLE
            csw = struct.pack(
                "<IIIB", CSW_SIGNATURE, self._tag, self._residue, self._status
            )
            return _bulk_answer(p, Status.SUCCESS, csw[:want])
        return _bulk_answer(p, Status.STALL, b"")

    # -- bulk-only transport ---------------------------------------------------
    def _cbw(self, p: u.BulkPacket) -> u.BulkPacket:
        data = p.data
        if len(data) != 31:
            self._phase = _Phase.STALLED  # BOT 6.6.1: invalid CBW
            return _bulk_answer(p, Status.STALL, b"", len(data))
        sig, tag, length, flags, lun, cb_len = struct.unpack_from("<IIIBBB", data)
        if sig != CBW_SIGNATURE or lun or not 1 <= cb_len <= 16:
            self._phase = _Phase.STALLED
            return _bulk_answer(p, Status.STALL, b"", len(data))
        self._tag, self._status = tag, 0
        cdb = bytes(data[15 : 15 + cb_len])
        self._run(cdb, length, bool(flags & 0x80))
        return _bulk_answer(p, Status.SUCCESS, b"", len(data))

    def _run(self, cdb: bytes, length: int, data_in: bool) -> None:
        op = cdb[0]
        reply: bytes | None = None
        if op == TEST_UNIT_READY or op in (START_STOP, PREVENT_ALLOW, SYNC_CACHE_10):
            reply = b""
        elif op == INQUIRY and len(cdb) >= 5:
            reply = (
                bytes([0, 0x80, 4, 2, 31, 0, 0, 0])  # disk, removable, SPC-2
                + b"spicepy ".ljust(8)
                + b"USB disk".ljust(16)
                + b"1.0 "
            )[: cdb[4]]
        elif op == REQUEST_SENSE:
            key, asc = self._sense
            reply = bytes(
                [0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, 0, 0, 0, 0, 0]
            )
            self._sense = (0, 0)
        elif op == READ_CAPACITY_10:
            reply = struct.pack(">II", self.blocks - 1, BLOCK_SIZE)
        elif op == MODE_SENSE_6:  # no block descriptors; the WP bit
            reply = bytes([3, 0, MODE_WRITE_PROTECT if self.readonly else 0, 0])
        elif op in (READ_10, WRITE_10) and len(cdb) >= 10:
            lba, count = struct.unpack_from(">IxH", cdb, 2)
            nbytes = count * BLOCK_SIZE
            if lba + count > self.blocks or nbytes > min(length, MAX_TRANSFER):
                self._fail(LBA_OUT_OF_RANGE, length, data_in)
                return
            if op == WRITE_10 and self.readonly:
                self._fail(WRITE_PROTECTED, length, data_in, DATA_PROTECT)
                return
            if op == READ_10:
                reply = self.store.read(lba * BLOCK_SIZE, nbytes)
            else:
                self._out_offset, self._out_left = lba * BLOCK_SIZE, nbytes
                self._residue = length - nbytes
                self._phase = _Phase.DATA_OUT if nbytes else _Phase.STATUS
                return
        if reply is None:
            self._fail(INVALID_OPCODE, length, data_in)
            return
        reply = reply[:length]
        self._residue = length - len(reply)
        self._in = bytearray(reply)
        self._phase = _Phase.DATA_IN if length and data_in else _Phase.STATUS

    def _data_out(self, p: u.BulkPacket) -> u.BulkPacket:
        data = bytes(p.data[: self._out_left])
        if not self._discard:
            self.store.write(self._out_offset, data)
        self._out_offset += len(data)
        self._out_left -= len(data)
        if not self._out_left:
            self._phase, self._discard = _Phase.STATUS, False
        return _bulk_answer(p, Status.SUCCESS, b"", len(p.data))

    def _fail(
        self, asc: int, length: int, data_in: bool, key: int = ILLEGAL_REQUEST
    ) -> None:
        self._sense = (key, asc)
        self._status, self._residue = 1, length
        self._in.clear()
        if length and not data_in:  # the host sends its data anyway: drop it
            self._out_offset, self._out_left, self._discard = 0, length, True
            self._phase = _Phase.DATA_OUT
        else:
            self._phase = _Phase.DATA_IN if length else _Phase.STATUS

    def _reset(self) -> None:
        self._phase = _Phase.IDLE
        self._in.clear()
        self._out_left = 0
        self._discard = False


def _ok(ok: bool) -> int:
    return Status.SUCCESS if ok else Status.STALL


def _control_answer(
    p: u.ControlPacket, status: int, data: bytes, length: int | None
) -> u.ControlPacket:
    n = len(data) if length is None else length
    return u.ControlPacket(
        p.endpoint, p.request, p.requesttype, status, p.value, p.index, n, data
    )


def _bulk_answer(
    p: u.BulkPacket, status: int, data: bytes, length: int | None = None
) -> u.BulkPacket:
    """The answer to ``p``: IN carries ``data``; OUT reports ``length`` written."""
    n = len(data) if length is None else length
    return u.BulkPacket(p.endpoint, status, n & 0xFFFF, p.stream_id, n >> 16, data)
