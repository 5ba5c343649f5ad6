"""A small pcap / pcapng reader with per-connection TCP reassembly.

Theory of operation: ``read_packets`` yields the link-layer frames of a libpcap
(either byte order, micro/nanosecond) or pcapng file; ``parse_tcp`` peels Ethernet
(with VLAN tags), Linux SLL, BSD loopback or raw IP, then IPv4/IPv6 and TCP.
``reassemble`` groups segments by connection (the side that sent the bare SYN is the
client; without a SYN, the first sender), and rebuilds each direction by sequence
number relative to the SYN: the first copy of a byte range wins (retransmissions
and D-SACK duplicates add nothing) and a hole is an error.  Everything is bounded
by named limits and malformed input raises ``WireError``.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spicepy.errors import WireError

__all__ = [
    "MAX_CAPTURE_BYTES",
    "MAX_STREAM_BYTES",
    "MAX_CONNECTIONS",
    "Frame",
    "TcpSegment",
    "TcpConnection",
    "read_packets",
    "parse_tcp",
    "reassemble",
    "read_connections",
]

MAX_CAPTURE_BYTES = 2 * 1024**3
MAX_STREAM_BYTES = 1024**3
MAX_CONNECTIONS = 65536
MAX_SNAPLEN = 1 << 20

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229

_TCP_FIN, _TCP_SYN, _TCP_RST, _TCP_ACK = 0x01, 0x02, 0x04, 0x10


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame: time (seconds), link type and the captured bytes."""

    time: float
    linktype: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TcpSegment:
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    ack: int
    flags: int
    payload: bytes

    @property
    def syn(self) -> bool:
        return bool(self.flags & _TCP_SYN)


def read_packets(source: str | Path | bytes) -> Iterator[Frame]:
    """Frames of a pcap or pcapng file (path or bytes).

    Raises:
        WireError: not a capture, or a truncated/oversized record.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if len(data) > MAX_CAPTURE_BYTES:
        raise WireError("capture file too big")
    if len(data) < 4:
        raise WireError("not a pcap file")
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(data)
        return
    for endian in ("<", ">"):
        (m,) = struct.unpack(endian + "I", magic)
        if m in (0xA1B2C3D4, 0xA1B23C4D):
            yield from _read_pcap(data, endian, 1e-9 if m == 0xA1B23C4D else 1e-6)
            return
    raise WireError(f"unknown capture magic {magic.hex()}")


def _read_pcap(data: bytes, e: str, tick: float) -> Iterator[Frame]:
    if len(data) < 24:
        raise WireError("truncated pcap global header")
    linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
    pos = 24
    rec = struct.Struct(e + "IIII")
    while pos < len(data):
        if pos + 16 > len(data):
            raise WireError(f"truncated pcap record header at {pos}")
        sec, frac, incl, _orig = rec.unpack_from(data, pos)
        pos += 16
        if incl > MAX_SNAPLEN or pos + incl > len(data):
            raise WireError(f"bad pcap record length {incl} at {pos}")
        yield Frame(sec + frac * tick, linktype, data[pos : pos + incl])
        pos += incl


def _read_pcapng(data: bytes) -> Iterator[Frame]:
    pos, e = 0, "<"
    ifaces: list[tuple[int, float]] = []
    while pos < len(data):
        if pos + 12 > len(data):
            raise WireError("truncated pcapng block")
        if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            bom = data[pos + 8 : pos + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(e + "II", data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            raise WireError(f"bad pcapng block length {blen} at {pos}")
        body = data[pos + 8 : pos + blen - 4]
        if btype == 1 and len(body) >= 8:  # Interface Description Block
            linktype = struct.unpack_from(e + "H", body, 0)[0]
            ifaces.append((linktype, _if_tsresol(body[8:], e)))
        elif btype == 6 and len(body) >= 20:  # Enhanced Packet Block
            iface, hi, lo, cap, _orig = struct.unpack_from(e + "IIIII", body, 0)
            if iface >= len(ifaces) or cap > len(body) - 20 or cap > MAX_SNAPLEN:
                raise WireError("bad pcapng enhanced packet block")
            linktype, tick = ifaces[iface]
            yield Frame(((hi << 32) | lo) * tick, linktype, bytes(body[20 : 20 + cap]))
        elif btype == 3 and len(body) >= 4 and ifaces:  # Simple Packet Block
            orig = struct.unpack_from(e + "I", body, 0)[0]
            yield Frame(
                0.0, ifaces[0][0], bytes(body[4 : 4 + min(orig, len(body) - 4)])
            )
        pos += blen


def _if_tsresol(options: bytes, e: str) -> float:
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(e + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[pos + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0**-v
        pos += 4 + (length + 3) // 4 * 4
    return 1e-6


def parse_tcp(frame: Frame) -> TcpSegment | None:
    """The TCP segment inside a frame, or None for anything else (ARP, UDP, ...)."""
    data, lt = frame.data, frame.linktype
    try:
        if lt == LINKTYPE_ETHERNET:
            ethertype, pos = struct.unpack_from(">H", data, 12)[0], 14
            while ethertype in (0x8100, 0x88A8):
                ethertype, pos = struct.unpack_from(">H", data, pos + 2)[0], pos + 4
        elif lt == LINKTYPE_LINUX_SLL:
            ethertype, pos = struct.unpack_from(">H", data, 14)[0], 16
        elif lt == LINKTYPE_NULL:
            family = struct.unpack_from("<I", data, 0)[0]
            ethertype, pos = (0x0800 if family == 2 else 0x86DD), 4
        elif lt in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
            ethertype, pos = (0x0800 if data[0] >> 4 == 4 else 0x86DD), 0
        else:
            return None
        if ethertype == 0x0800:
            vihl, total = data[pos], struct.unpack_from(">H", data, pos + 2)[0]
            ihl = (vihl & 0x0F) * 4
            if data[pos + 9] != 6 or ihl < 20:
                return None
            frag = struct.unpack_from(">H", data, pos + 6)[0]
            if frag & 0x3FFF:  # fragments are not reassembled
                return None
            src = ".".join(str(b) for b in data[pos + 12 : pos + 16])
            dst = ".".join(str(b) for b in data[pos + 16 : pos + 20])
            # total 0 = TSO on capture: trust the captured length
            end = pos + total if total else len(data)
            pos += ihl
        elif ethertype == 0x86DD:
            plen, nxt = struct.unpack_from(">HB", data, pos + 4)
            if nxt != 6:
                return None
            src = data[pos + 8 : pos + 24].hex(":", 2)
            dst = data[pos + 24 : pos + 40].hex(":", 2)
            end = pos + 40 + plen if plen else len(data)
            pos += 40
        else:
            return None
        sport, dport, seq, ack, off_flags = struct.unpack_from(">HHIIH", data, pos)
        doff = (off_flags >> 12) * 4
        if doff < 20:
            raise WireError("bad TCP header length")
        end = min(end, len(data))
        payload = data[pos + doff : end] if pos + doff <= end else b""
        return TcpSegment(
            frame.time, (src, sport), (dst, dport), seq, ack, off_flags & 0x1FF, payload
        )
    except (struct.error, IndexError) as exc:
        raise WireError(f"truncated frame: {exc}") from exc


@dataclass
class _Direction:
    base: int | None = None
    intervals: list[tuple[int, int]] = field(default_factory=list)
    chunks: dict[int, bytes] = field(default_factory=dict)
    fin: bool = False

    def add(self, rel: int, payload: bytes) -> None:
        end = rel + len(payload)
        if end > MAX_STREAM_BYTES:
            raise WireError("TCP stream exceeds MAX_STREAM_BYTES")
        pos = rel
        # write only the parts no earlier segment covered (first copy wins)
        i = bisect.bisect_right(self.intervals, (rel, 1 << 62)) - 1
        i = max(i, 0)
        new: list[tuple[int, int]] = []
        for s, t in self.intervals[i:]:
            if s >= end:
                break
            if t <= pos:
                continue
            if s > pos:
                new.append((pos, s))
            pos = max(pos, t)
        if pos < end:
            new.append((pos, end))
        for s, t in new:
            self.chunks[s] = payload[s - rel : t - rel]
            bisect.insort(self.intervals, (s, t))
        if new:
            self._merge()

    def _merge(self) -> None:
        merged: list[tuple[int, int]] = []
        for s, t in self.intervals:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], t))
            else:
                merged.append((s, t))
        self.intervals = merged

    def assemble(self, allow_gaps: bool) -> tuple[bytes, list[tuple[int, int]]]:
        gaps, pos, parts = [], 0, []
        for s in sorted(self.chunks):
            if s > pos:
                gaps.append((pos, s))
                if not allow_gaps:
                    raise WireError(f"TCP stream has a gap at bytes {pos}..{s}")
                parts.append(bytes(s - pos))
            parts.append(self.chunks[s])
            pos = s + len(self.chunks[s])
        return b"".join(parts), gaps


@dataclass
class TcpConnection:
    """Both directions of one TCP connection, reassembled."""

    client: tuple[str, int]
    server: tuple[str, int]
    saw_syn: bool
    first_time: float
    client_data: bytes = b""
    server_data: bytes = b""
    client_fin: bool = False
    server_fin: bool = False
    gaps: list[tuple[str, int, int]] = field(default_factory=list)


def reassemble(
    segments: Iterator[TcpSegment], *, allow_gaps: bool = False
) -> list[TcpConnection]:
    """Group segments into connections (in order of first appearance) and rebuild
    both byte streams.

    Raises:
        WireError: a gap in a stream (unless ``allow_gaps``, which zero-fills it and
            records it in ``gaps``), too many connections or too much data.
    """
    conns: dict[
        tuple[tuple[str, int], tuple[str, int]],
        tuple[TcpConnection, _Direction, _Direction],
    ] = {}
    for seg in segments:
        key = (seg.src, seg.dst)
        rkey = (seg.dst, seg.src)
        entry = conns.get(key) or conns.get(rkey)
        if (
            entry is not None
            and seg.syn
            and not seg.flags & _TCP_ACK
            and entry[0].client == seg.src
        ):
            d = entry[1]
            if d.base is not None and (seg.seq + 1) & 0xFFFFFFFF != d.base:
                entry = None  # port reuse: a new connection
        if entry is None:
            if len(conns) >= MAX_CONNECTIONS:
                raise WireError("too many TCP connections")
            client_first = not (seg.syn and seg.flags & _TCP_ACK)
            client, server = (seg.src, seg.dst) if client_first else (seg.dst, seg.src)
            entry = (
                TcpConnection(client, server, seg.syn, seg.time),
                _Direction(),
                _Direction(),
            )
            conns[(client, server)] = entry
        conn, cdir, sdir = entry
        d = cdir if seg.src == conn.client else sdir
        if seg.syn:
            d.base = (seg.seq + 1) & 0xFFFFFFFF
            continue
        if d.base is None:
            d.base = seg.seq
        if seg.flags & (_TCP_FIN | _TCP_RST):
            d.fin = True
        if seg.payload:
            d.add((seg.seq - d.base) & 0xFFFFFFFF, seg.payload)
    out = []
    for conn, cdir, sdir in conns.values():
        conn.client_data, cg = cdir.assemble(allow_gaps)
        conn.server_data, sg = sdir.assemble(allow_gaps)
        conn.gaps = [("client", s, t) for s, t in cg] + [
            ("server", s, t) for s, t in sg
        ]
        conn.client_fin, conn.server_fin = cdir.fin, sdir.fin
        out.append(conn)
    return out


def read_connections(
    source: str | Path | bytes, *, allow_gaps: bool = False
) -> list[TcpConnection]:
    """Every TCP connection of a capture file, reassembled."""
    segs = (s for s in (parse_tcp(f) for f in read_packets(source)) if s is not None)
    return reassemble(segs, allow_gaps=allow_gaps)
