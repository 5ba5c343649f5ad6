"""Packet captures to TCP byte streams: classic pcap and pcapng, Ethernet / Linux
cooked / raw / BSD-loopback framing, IPv4 and IPv6, per-direction reassembly.

Theory of operation: ``iter_packets`` yields (time, link type, frame) from either
file format; ``tcp_segment`` peels the link and IP layers off one frame;
``read_tcp_connections`` groups segments by connection and direction and
reassembles each direction by sequence number relative to the SYN (or to the earliest
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


def _classic(raw: bytes | memoryview) -> Iterator[tuple[float, int, int, int]]:
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
    unpack = struct.Struct(endian + "IIII").unpack_from
    while pos + 16 <= end:
        sec, frac, incl, _orig = unpack(raw, pos)
        if incl > MAX_FRAME:
            raise WireError(f"pcap record of {incl} bytes at offset {pos}")
        start = pos + 16
        pos = start + incl
        if pos > end:
            return  # capture cut mid-record (tcpdump killed): keep what is whole
        yield sec + frac / per_second, linktype, start, pos


def _pcapng(raw: bytes | memoryview) -> Iterator[tuple[float, int, int, int]]:
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
        body = pos + 8  # the block body is raw[body : pos + blen - 4]
        size = blen - 12
        if btype == 1 and size >= 8:  # Interface Description Block
            linktype = struct.unpack_from(endian + "H", raw, body)[0]
            options = raw[body + 8 : pos + blen - 4]
            ifaces.append((linktype, _if_tsresol(options, endian)))
        elif btype == 6 and size >= 20:  # Enhanced Packet Block
            iface, hi, lo, cap = struct.unpack_from(endian + "IIII", raw, body)
            if iface >= len(ifaces) or cap > size - 20 or cap > MAX_FRAME:
                raise WireError(f"bad enhanced packet block at offset {pos}")
            linktype, per_second = ifaces[iface]
            when = _seconds((hi << 32) | lo, per_second)
            yield when, linktype, body + 20, body + 20 + cap
        elif btype == 3 and size >= 4 and ifaces:  # Simple Packet Block
            orig = struct.unpack_from(endian + "I", raw, body)[0]
            cap = min(orig, size - 4)
            yield 0.0, ifaces[0][0], body + 4, body + 4 + cap
        elif btype == 2 and size >= 20:  # obsolete Packet Block
            iface, _drops, hi, lo, cap = struct.unpack_from(endian + "HHIII", raw, body)
            if iface >= len(ifaces) or cap > size - 20:
                raise WireError(f"bad packet block at offset {pos}")
            linktype, per_second = ifaces[iface]
            when = _seconds((hi << 32) | lo, per_second)
            yield when, linktype, body + 20, body + 20 + cap
        pos += blen


def _seconds(ticks: int, per_second: int) -> float:
    # whole seconds plus the fraction, the same arithmetic as for classic pcap, so
    # both formats give identical times
    return ticks // per_second + (ticks % per_second) / per_second


def _if_tsresol(options: bytes | memoryview, endian: str) -> int:
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


def _frames(raw: bytes | memoryview) -> Iterator[tuple[float, int, int, int]]:
    """(time, link type, start, stop) of each frame: the frame is raw[start:stop]."""
    magic = bytes(raw[:4])
    if magic == b"\x0a\x0d\x0d\x0a":
        return _pcapng(raw)
    if magic in (
        b"\xd4\xc3\xb2\xa1",
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
    ):
        return _classic(raw)
    raise WireError("not a pcap or pcapng capture")


def iter_packets(data: bytes | memoryview) -> Iterator[Packet]:
    """Frames of a classic pcap or pcapng capture held in memory.

    Raises:
        WireError: not a capture, or a record whose sizes do not fit.
    """
    raw = memoryview(data)
    for when, linktype, start, stop in _frames(raw):
        yield Packet(when, linktype, bytes(raw[start:stop]))


_IP_VERSION = {0x0800: 4, 0x86DD: 6}


def _ip_at(buf: bytes, pos: int, stop: int, linktype: int) -> tuple[int, int] | None:
    """(offset of the IP header, IP version) in the frame buf[pos:stop], or None."""
    if linktype == LINKTYPE_ETHERNET:
        if stop - pos < 14:
            return None
        at = pos + 12
        ethertype = buf[at] << 8 | buf[at + 1]
        while ethertype in (0x8100, 0x88A8) and stop >= at + 6:  # VLAN tags
            at += 4
            ethertype = buf[at] << 8 | buf[at + 1]
        version = _IP_VERSION.get(ethertype)
        return (at + 2, version) if version else None
    if linktype == LINKTYPE_LINUX_SLL:
        if stop - pos < 16:
            return None
        version = _IP_VERSION.get(buf[pos + 14] << 8 | buf[pos + 15])
        return (pos + 16, version) if version else None
    if linktype == LINKTYPE_LINUX_SLL2:
        if stop - pos < 20:
            return None
        version = _IP_VERSION.get(buf[pos] << 8 | buf[pos + 1])
        return (pos + 20, version) if version else None
    if linktype == LINKTYPE_NULL:
        if stop - pos < 5:
            return None
        return (pos + 4, buf[pos + 4] >> 4)
    if (
        linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6)
        or linktype in _RAW_ALIASES
    ):
        return (pos, buf[pos] >> 4) if stop > pos else None
    return None


#: (src, sport, dst, dport, seq, flags, payload start, payload stop)
_Seg = tuple[bytes, int, bytes, int, int, int, int, int]
_TCP_HEAD = struct.Struct(">HHIxxxxBB")
#: version/IHL, total length, flags/fragment offset, protocol, source, destination
_IPV4_HEAD = struct.Struct(">BxHxxHxB2x4s4s")


def _tcp_at(buf: bytes, pos: int, stop: int, linktype: int) -> _Seg | None:
    """The TCP segment of the frame buf[pos:stop] as offsets into buf, or None
    (not TCP, fragment, truncated); no copy of the payload."""
    if linktype == LINKTYPE_ETHERNET and buf[pos + 12 : pos + 14] == b"\x08\x00":
        ip, version = pos + 14, 4  # untagged IPv4: what tcpdump writes on loopback
    else:
        where = _ip_at(buf, pos, stop, linktype)
        if where is None:
            return None
        ip, version = where
    if version == 4:
        if stop < ip + 20:
            return None
        vihl, total, frag, proto, src, dst = _IPV4_HEAD.unpack_from(buf, ip)
        ihl = (vihl & 0x0F) * 4
        if proto != 6 or ihl < 20 or frag & 0x3FFF:
            return None  # not TCP, or an IP fragment (never seen on loopback)
        tcp = ip + ihl
        # total 0 = TSO-offloaded frame whose length field tcpdump left empty
        end = ip + total if total else stop
    elif version == 6:
        if stop < ip + 40:
            return None
        if buf[ip + 6] != 6:
            return None  # extension headers: not produced by loopback TCP
        plen = buf[ip + 4] << 8 | buf[ip + 5]
        src, dst = buf[ip + 8 : ip + 24], buf[ip + 24 : ip + 40]
        tcp = ip + 40
        end = tcp + plen if plen else stop
    else:
        return None
    end = min(end, stop)
    if end < tcp + 20:
        return None
    sport, dport, seq, off, flags = _TCP_HEAD.unpack_from(buf, tcp)
    off = (off >> 4) * 4
    if off < 20 or tcp + off > end:
        return None
    return (src, sport, dst, dport, seq, flags, tcp + off, end)


def tcp_segment(frame: bytes, linktype: int = LINKTYPE_ETHERNET) -> TcpSegment | None:
    """The TCP segment carried by a frame, or None (not TCP, fragment, truncated)."""
    frame = bytes(frame)
    seg = _tcp_at(frame, 0, len(frame), linktype)
    if seg is None:
        return None
    src, sport, dst, dport, seq, flags, start, stop = seg
    return TcpSegment(src, sport, dst, dport, seq, flags, frame[start:stop])


class _Direction:
    __slots__ = ("isn", "seqs", "datas", "stamps")

    def __init__(self) -> None:
        self.isn: int | None = None
        # parallel lists, one entry per segment with payload (views into the capture)
        self.seqs: list[int] = []
        self.datas: list[memoryview] = []
        self.stamps: list[float] = []

    def reassemble(self) -> tuple[bytes, list[tuple[int, float]], bool]:
        """(bytes, (offset, time) per new segment, stopped at a hole)."""
        seqs, datas, stamps = self.seqs, self.datas, self.stamps
        if not seqs:
            return b"", [], False
        isn = self.isn
        if isn is None:  # SYN not captured: start at the earliest sequence seen
            # (RFC 1982 serial order: the signed distance from any one of them;
            # an unsigned one would always pick that one)
            base = seqs[0] - 0x80000000
            isn = min(seqs, key=lambda s: (s - base) & 0xFFFFFFFF)
        rels = [(s - isn) & 0xFFFFFFFF for s in seqs]
        # a stable sort keeps capture order among equal offsets (the first copy wins)
        order: range | list[int] = range(len(rels))
        if any(rels[i] > rels[i + 1] for i in range(len(rels) - 1)):
            order = sorted(order, key=rels.__getitem__)
        pieces: list[memoryview] = []
        times: list[tuple[int, float]] = []
        size, gap = 0, False
        for i in order:
            rel = rels[i]
            if rel > size:
                gap = True
                break
            data = datas[i]
            if rel + len(data) <= size:
                continue  # a retransmitted copy: the first one wins
            times.append((size, stamps[i]))
            piece = data[size - rel :]
            if size + len(piece) >= MAX_STREAM_BYTES:
                pieces.append(piece[: MAX_STREAM_BYTES - size])
                gap = True
                break
            pieces.append(piece)
            size += len(piece)
        return b"".join(pieces), times, gap


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
    view = memoryview(raw)
    # one record per connection: (client, server, first time, up, down); a fresh
    # SYN from the client with another sequence number reuses the port pair for a
    # new connection. ``current`` holds both orientations of each 4-tuple.
    records: list[tuple[Endpoint, Endpoint, float, _Direction, _Direction]] = []
    current: dict[tuple[bytes, int, bytes, int], int] = {}
    for when, linktype, start, stop in _frames(raw):
        seg = _tcp_at(raw, start, stop, linktype)
        if seg is None:
            continue
        src, sport, dst, dport, seq, flags, pay, end = seg
        key = (src, sport, dst, dport)
        index = current.get(key)
        syn = flags & _TCP_SYN
        if index is not None and syn and not flags & _TCP_ACK:
            rec = records[index]
            isn = (seq + 1) & 0xFFFFFFFF
            if rec[0] == (src, sport) and rec[3].isn is not None and rec[3].isn != isn:
                index = None  # port reuse
        if index is None:
            if len(records) >= MAX_CONNECTIONS:
                raise WireError("too many TCP connections in the capture")
            a, b = (src, sport), (dst, dport)
            client, server = (b, a) if syn and flags & _TCP_ACK else (a, b)
            index = current[key] = current[(dst, dport, src, sport)] = len(records)
            records.append((client, server, when, _Direction(), _Direction()))
        rec = records[index]
        d = rec[3] if rec[0][1] == sport and rec[0][0] == src else rec[4]
        if syn:
            d.isn = (seq + 1) & 0xFFFFFFFF
        if end > pay:
            if len(d.seqs) >= MAX_SEGMENTS:
                raise WireError("too many TCP segments in one connection")
            d.seqs.append(seq)
            d.datas.append(view[pay:end])
            d.stamps.append(when)
    out: list[TcpConnection] = []
    for client, server, first, up, down in records:
        conn = TcpConnection(client, server, first)
        conn.to_server, conn.times_to_server, gap_up = up.reassemble()
        conn.to_client, conn.times_to_client, gap_down = down.reassemble()
        conn.gap = gap_up or gap_down
        out.append(conn)
    return out
