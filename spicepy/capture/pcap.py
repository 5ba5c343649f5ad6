"""Packet captures to TCP byte streams: classic pcap and pcapng, Ethernet / Linux
cooked / raw / BSD-loopback framing, IPv4 and IPv6, per-direction reassembly.

Theory of operation: ``iter_packets`` yields (time, link type, frame) from either
file format; ``tcp_segment`` peels the link and IP layers off one frame;
``read_tcp_connections`` groups segments by connection and direction and
reassembles each direction by sequence number relative to the SYN (or to the lowest
sequence seen when the SYN was not captured). The first copy of a byte range wins
(tcpdump on loopback records retransmissions / D-SACK copies now and then) and a
hole ends the stream, since nothing after it can be parsed reliably. Every size
read from the file is checked against the bytes present and named limits.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spicepy.errors import WireError

__all__ = [
    "MAX_CAPTURE_BYTES",
    "MAX_STREAM_BYTES",
    "Packet",
    "TcpSegment",
    "TcpConnection",
    "iter_packets",
    "tcp_segment",
    "read_tcp_connections",
]

#: Largest capture file read into memory.
MAX_CAPTURE_BYTES = 1 << 31
#: Largest reassembled stream per direction; bytes beyond it are dropped.
MAX_STREAM_BYTES = 1 << 30
#: Largest single captured frame (pcapng/pcap snaplen is at most 256 KiB in practice).
MAX_FRAME = 1 << 20

# link-layer header types (tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
_RAW_ALIASES = {12, 14}  # DLT_RAW on some BSDs

_TCP_SYN = 0x02
_TCP_ACK = 0x10
#: Connections / segments per connection we track before refusing the capture.
MAX_CONNECTIONS = 65536
MAX_SEGMENTS = 1 << 22


@dataclass(frozen=True, slots=True)
class Packet:
    """One captured frame."""

    time: float
    linktype: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """The TCP part of a frame; addresses are packed IPv4/IPv6 bytes."""

    src: bytes
    sport: int
    dst: bytes
    dport: int
    seq: int
    flags: int
    payload: bytes


Endpoint = tuple[bytes, int]


@dataclass(slots=True)
class TcpConnection:
    """Both directions of one TCP connection, reassembled.

    ``client`` is the side that sent the SYN (or, without a SYN, the first
    sender seen). ``times`` lists (stream offset, capture time) of each new
    segment of that direction.
    """

    client: Endpoint
    server: Endpoint
    first_time: float
    to_server: bytes = b""
    to_client: bytes = b""
    times_to_server: list[tuple[int, float]] = field(default_factory=list)
    times_to_client: list[tuple[int, float]] = field(default_factory=list)
    #: a direction stopped at a sequence hole (bytes missing from the capture)
    gap: bool = False

    @property
    def client_port(self) -> int:
        return self.client[1]

    @property
    def client_data(self) -> bytes:
        """What the client sent (same as ``to_server``)."""
        return self.to_server

    @property
    def server_data(self) -> bytes:
        """What the server sent (same as ``to_client``)."""
        return self.to_client

    @property
    def server_port(self) -> int:
        return self.server[1]


def _classic(raw: memoryview) -> Iterator[Packet]:
    magic = bytes(raw[:4])
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:  # pragma: no cover - caller checked
        raise WireError("not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    if len(raw) < 24:
        raise WireError("truncated pcap header")
    linktype = struct.unpack_from(endian + "I", raw, 20)[0] & 0x0FFFFFFF
    per_second = 1_000_000_000 if nano else 1_000_000
    pos, end = 24, len(raw)
    rec = struct.Struct(endian + "IIII")
    while pos + 16 <= end:
        sec, frac, incl, _orig = rec.unpack_from(raw, pos)
        if incl > MAX_FRAME:
            raise WireError(f"pcap record of {incl} bytes at offset {pos}")
        if pos + 16 + incl > end:
            return  # capture cut mid-record (tcpdump killed): keep what is whole
        yield Packet(
            sec + frac / per_second, linktype, bytes(raw[pos + 16 : pos + 16 + incl])
        )
        pos += 16 + incl


def _pcapng(raw: memoryview) -> Iterator[Packet]:
    """pcapng blocks: SHB (sets byte order), IDB (link type, resolution), EPB/SPB/PB."""
    pos, end = 0, len(raw)
    endian = "<"
    ifaces: list[tuple[int, int]] = []  # (linktype, ticks per second)
    while pos + 12 <= end:
        if bytes(raw[pos : pos + 4]) == b"\x0a\x0d\x0d\x0a":
            bom = bytes(raw[pos + 8 : pos + 12])
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                raise WireError("pcapng section with a bad byte-order magic")
            ifaces = []
        btype, blen = struct.unpack_from(endian + "II", raw, pos)
        if blen < 12 or blen % 4 or pos + blen > end:
            if pos + blen > end and blen >= 12:
                return  # truncated last block
            raise WireError(f"pcapng block of {blen} bytes at offset {pos}")
        body = raw[pos + 8 : pos + blen - 4]
        if btype == 1 and len(body) >= 8:  # Interface Description Block
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            ifaces.append((linktype, _if_tsresol(body[8:], endian)))
        elif btype == 6 and len(body) >= 20:  # Enhanced Packet Block
            iface, hi, lo, cap = struct.unpack_from(endian + "IIII", body, 0)
            if iface >= len(ifaces) or cap > len(body) - 20 or cap > MAX_FRAME:
                raise WireError(f"bad enhanced packet block at offset {pos}")
            linktype, per_second = ifaces[iface]
            when = _seconds((hi << 32) | lo, per_second)
            yield Packet(when, linktype, bytes(body[20 : 20 + cap]))
        elif btype == 3 and len(body) >= 4 and ifaces:  # Simple Packet Block
            orig = struct.unpack_from(endian + "I", body, 0)[0]
            cap = min(orig, len(body) - 4)
            yield Packet(0.0, ifaces[0][0], bytes(body[4 : 4 + cap]))
        elif btype == 2 and len(body) >= 20:  # obsolete Packet Block
            iface, _drops, hi, lo, cap = struct.unpack_from(endian + "HHIII", body, 0)
            if iface >= len(ifaces) or cap > len(body) - 20:
                raise WireError(f"bad packet block at offset {pos}")
            linktype, per_second = ifaces[iface]
            when = _seconds((hi << 32) | lo, per_second)
            yield Packet(when, linktype, bytes(body[20 : 20 + cap]))
        pos += blen


def _seconds(ticks: int, per_second: int) -> float:
    # whole seconds plus the fraction, the same arithmetic as for classic pcap, so
    # both formats give identical times
    return ticks // per_second + (ticks % per_second) / per_second


def _if_tsresol(options: memoryview, endian: str) -> int:
    """The if_tsresol option of an IDB (default microseconds)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1 and pos + 5 <= len(options):
            v = options[pos + 4]
            return int(2 ** (v & 0x7F) if v & 0x80 else 10 ** (v & 0x7F))
        pos += 4 + ((length + 3) & ~3)
    return 1_000_000


def iter_packets(data: bytes | memoryview) -> Iterator[Packet]:
    """Frames of a classic pcap or pcapng capture held in memory.

    Raises:
        WireError: not a capture, or a record whose sizes do not fit.
    """
    raw = memoryview(data)
    magic = bytes(raw[:4])
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng(raw)
    elif magic in (
        b"\xd4\xc3\xb2\xa1",
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
    ):
        yield from _classic(raw)
    else:
        raise WireError("not a pcap or pcapng capture")


def _ip_of(frame: bytes, linktype: int) -> tuple[int, int] | None:
    """(offset of the IP header, IP version) in a frame, or None."""
    if linktype == LINKTYPE_ETHERNET:
        pos = 12
        if len(frame) < 14:
            return None
        ethertype = int.from_bytes(frame[12:14], "big")
        while ethertype in (0x8100, 0x88A8) and len(frame) >= pos + 6:  # VLAN tags
            pos += 4
            ethertype = int.from_bytes(frame[pos : pos + 2], "big")
        pos += 2
        version = {0x0800: 4, 0x86DD: 6}.get(ethertype)
        return (pos, version) if version else None
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        version = {0x0800: 4, 0x86DD: 6}.get(int.from_bytes(frame[14:16], "big"))
        return (16, version) if version else None
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        version = {0x0800: 4, 0x86DD: 6}.get(int.from_bytes(frame[0:2], "big"))
        return (20, version) if version else None
    if linktype == LINKTYPE_NULL:
        if len(frame) < 5:
            return None
        return (4, frame[4] >> 4)
    if (
        linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6)
        or linktype in _RAW_ALIASES
    ):
        return (0, frame[0] >> 4) if frame else None
    return None


def tcp_segment(frame: bytes, linktype: int = LINKTYPE_ETHERNET) -> TcpSegment | None:
    """The TCP segment carried by a frame, or None (not TCP, fragment, truncated)."""
    where = _ip_of(frame, linktype)
    if where is None:
        return None
    ip, version = where
    if version == 4:
        if len(frame) < ip + 20:
            return None
        ihl = (frame[ip] & 0x0F) * 4
        total = int.from_bytes(frame[ip + 2 : ip + 4], "big")
        frag = int.from_bytes(frame[ip + 6 : ip + 8], "big")
        if frame[ip + 9] != 6 or ihl < 20 or frag & 0x3FFF:
            return None  # not TCP, or an IP fragment (never seen on loopback)
        src, dst = frame[ip + 12 : ip + 16], frame[ip + 16 : ip + 20]
        tcp = ip + ihl
        # total 0 = TSO-offloaded frame whose length field tcpdump left empty
        end = ip + total if total else len(frame)
    elif version == 6:
        if len(frame) < ip + 40:
            return None
        if frame[ip + 6] != 6:
            return None  # extension headers: not produced by loopback TCP
        plen = int.from_bytes(frame[ip + 4 : ip + 6], "big")
        src, dst = frame[ip + 8 : ip + 24], frame[ip + 24 : ip + 40]
        tcp = ip + 40
        end = tcp + plen if plen else len(frame)
    else:
        return None
    end = min(end, len(frame))
    if end < tcp + 20:
        return None
    sport, dport, seq = struct.unpack_from(">HHI", frame, tcp)
    off = (frame[tcp + 12] >> 4) * 4
    if off < 20 or tcp + off > end:
        return None
    return TcpSegment(
        bytes(src),
        sport,
        bytes(dst),
        dport,
        seq,
        frame[tcp + 13],
        bytes(frame[tcp + off : end]),
    )


class _Direction:
    __slots__ = ("isn", "segs")

    def __init__(self) -> None:
        self.isn: int | None = None
        self.segs: list[tuple[int, bytes, float]] = []

    def reassemble(self) -> tuple[bytes, list[tuple[int, float]], bool]:
        """(bytes, (offset, time) per new segment, stopped at a hole)."""
        if not self.segs:
            return b"", [], False
        isn = self.isn
        if isn is None:  # SYN not captured: start at the lowest sequence seen
            base = self.segs[0][0]
            isn = min(self.segs, key=lambda s: (s[0] - base) & 0xFFFFFFFF)[0]
        out = bytearray()
        times: list[tuple[int, float]] = []
        order = sorted(
            range(len(self.segs)),
            key=lambda i: ((self.segs[i][0] - isn) & 0xFFFFFFFF, i),
        )
        for i in order:
            seq, data, ts = self.segs[i]
            rel = (seq - isn) & 0xFFFFFFFF
            if rel > len(out):
                return bytes(out), times, True
            if rel + len(data) <= len(out):
                continue  # a retransmitted copy: the first one wins
            times.append((len(out), ts))
            out += data[len(out) - rel :]
            if len(out) >= MAX_STREAM_BYTES:
                del out[MAX_STREAM_BYTES:]
                return bytes(out), times, True
        return bytes(out), times, False


def read_tcp_connections(source: str | Path | bytes) -> list[TcpConnection]:
    """Every TCP connection of a capture, reassembled, in order of first packet.

    Args:
        source: a capture file path, or the capture's bytes.

    Raises:
        WireError: the file is not a readable capture.
        OSError: the file cannot be read.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.stat().st_size > MAX_CAPTURE_BYTES:
            raise WireError(f"{path} is larger than {MAX_CAPTURE_BYTES} bytes")
        raw = path.read_bytes()
    else:
        raw = bytes(source)
    # one record per connection: (client, server, first time, up, down); a fresh
    # SYN from the client with another sequence number reuses the port pair for a
    # new connection
    records: list[tuple[Endpoint, Endpoint, float, _Direction, _Direction]] = []
    current: dict[frozenset[Endpoint], int] = {}
    for pkt in iter_packets(raw):
        seg = tcp_segment(pkt.data, pkt.linktype)
        if seg is None:
            continue
        a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
        key = frozenset((a, b))
        index = current.get(key)
        syn_only = seg.flags & _TCP_SYN and not seg.flags & _TCP_ACK
        if index is not None and syn_only:
            rec = records[index]
            isn = (seg.seq + 1) & 0xFFFFFFFF
            if rec[0] == a and rec[3].isn is not None and rec[3].isn != isn:
                index = None  # port reuse
        if index is None:
            if len(records) >= MAX_CONNECTIONS:
                raise WireError("too many TCP connections in the capture")
            syn_ack = seg.flags & _TCP_SYN and seg.flags & _TCP_ACK
            client, server = (b, a) if syn_ack else (a, b)
            index = current[key] = len(records)
            records.append((client, server, pkt.time, _Direction(), _Direction()))
        client, _server, _t, up, down = records[index]
        d = up if a == client else down
        if seg.flags & _TCP_SYN:
            d.isn = (seg.seq + 1) & 0xFFFFFFFF
        if seg.payload:
            if len(d.segs) >= MAX_SEGMENTS:
                raise WireError("too many TCP segments in one connection")
            d.segs.append((seg.seq, seg.payload, pkt.time))
    out: list[TcpConnection] = []
    for client, server, first, up, down in records:
        conn = TcpConnection(client, server, first)
        conn.to_server, conn.times_to_server, gap_up = up.reassemble()
        conn.to_client, conn.times_to_client, gap_down = down.reassemble()
        conn.gap = gap_up or gap_down
        out.append(conn)
    return out
