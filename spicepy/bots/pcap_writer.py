"""Write proxied TCP connections as a classic pcap (raw IPv4 + TCP framing).

The recording proxy sees byte streams, not packets; each chunk it forwards is
written as one TCP segment with consistent sequence numbers (a SYN per
direction first), so ``spicepy.capture.pcap`` (and so ``spicepy replay`` /
``inspect``, and Wireshark) reassemble exactly the bytes that passed.  IP and
TCP checksums are left 0 (captures of offloaded traffic look the same).
"""

from __future__ import annotations

import struct
import time
from typing import BinaryIO

from spicepy.capture.pcap import LINKTYPE_RAW

PCAP_MAGIC_USEC = 0xA1B2C3D4
SNAPLEN = 262144
#: IPv4 total length is 16 bits; payload per segment stays well under it
MAX_SEGMENT = 60000
_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
TCP_SYN, TCP_PSH_ACK = 0x02, 0x18
ISN = 1000


def _ip(address: str) -> bytes:
    parts = [int(p) for p in address.split(".")]
    if len(parts) != 4 or not all(0 <= p <= 255 for p in parts):
        raise ValueError(f"not an IPv4 address: {address}")
    return bytes(parts)


class PcapWriter:
    """Appends segments of many connections to one pcap file."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        out.write(_GLOBAL.pack(PCAP_MAGIC_USEC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))

    def segment(
        self,
        src: tuple[str, int],
        dst: tuple[str, int],
        seq: int,
        ack: int,
        flags: int,
        payload: bytes,
        now: float,
    ) -> None:
        """Write one segment from ``src`` to ``dst`` at time ``now``."""
        tcp = _TCP.pack(
            src[1],
            dst[1],
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            5 << 4,
            flags,
            65535,
            0,
            0,
        )
        total = 20 + len(tcp) + len(payload)
        ip = _IPV4.pack(0x45, 0, total, 0, 0x4000, 64, 6, 0, _ip(src[0]), _ip(dst[0]))
        frame = ip + tcp + payload
        sec = int(now)
        self._out.write(
            _RECORD.pack(sec, int((now - sec) * 1e6), len(frame), len(frame))
        )
        self._out.write(frame)

    def connection(
        self, client: tuple[str, int], server: tuple[str, int]
    ) -> Connection:
        """Start a connection (writes the SYNs)."""
        return Connection(self, client, server)

    def flush(self) -> None:
        self._out.flush()


class Connection:
    """One TCP connection's two sequence spaces."""

    def __init__(
        self, writer: PcapWriter, client: tuple[str, int], server: tuple[str, int]
    ) -> None:
        self._w = writer
        self.client, self.server = client, server
        now = time.time()
        writer.segment(client, server, ISN, 0, TCP_SYN, b"", now)
        writer.segment(server, client, ISN, 0, TCP_SYN, b"", now)
        self._seq = {True: ISN + 1, False: ISN + 1}

    def data(
        self, payload: bytes, *, from_client: bool, now: float | None = None
    ) -> None:
        """Record bytes one side sent."""
        when = time.time() if now is None else now
        src, dst = (
            (self.client, self.server) if from_client else (self.server, self.client)
        )
        for start in range(0, len(payload), MAX_SEGMENT):
            part = payload[start : start + MAX_SEGMENT]
            seq = self._seq[from_client]
            self._w.segment(
                src, dst, seq, self._seq[not from_client], TCP_PSH_ACK, part, when
            )
            self._seq[from_client] = seq + len(part)
