"""The zero-copy reading path of spicepy.capture.pcap (offsets into the capture,
views as payloads, one join per direction) against a reference built on the
public per-packet types: same connections, same bytes, same times, same gaps.

The reference paints each direction into a buffer, lowest (relative sequence,
capture order) last so it wins every byte, and finds the end of the stream from
the painted coverage: a different mechanism from the library's tail-append.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from test_capture_pcap import (
    CLIENT4,
    CLIENT6,
    SERVER4,
    SERVER6,
    Seg,
    _frame,
    classic_pcap,
    pcapng,
)

from spicepy.capture.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    _tcp_at,
    iter_packets,
    read_tcp_connections,
    tcp_segment,
)

MASK = 0xFFFFFFFF
Stream = tuple[bytes, list[tuple[int, float]], bool]


def _ref_direction(segs: list[tuple[int, bytes, float]], isn: int | None) -> Stream:
    if not segs:
        return b"", [], False
    if isn is None:
        base = segs[0][0] - 0x80000000  # the earliest in serial order (RFC 1982)
        isn = min((s for s, _, _ in segs), key=lambda s: (s - base) & MASK)
    ranked = sorted(
        (((seq - isn) & MASK, i), data, t) for i, (seq, data, t) in enumerate(segs)
    )
    # contiguous coverage from offset 0
    end = 0
    for (rel, _i), data, _t in ranked:
        if rel > end:
            break
        end = max(end, rel + len(data))
    buf, owner = bytearray(end), array("q", [-1]) * end
    for rank in range(len(ranked) - 1, -1, -1):  # best last: it wins
        (rel, _i), data, _t = ranked[rank]
        stop = min(rel + len(data), end)
        if rel < stop:
            buf[rel:stop] = data[: stop - rel]
            owner[rel:stop] = array("q", [rank]) * (stop - rel)
    times = [
        (p, ranked[owner[p]][2])
        for p in range(end)
        if p == 0 or owner[p] != owner[p - 1]
    ]
    gap = any(rel >= end for (rel, _i), _d, _t in ranked)
    return bytes(buf), times, gap


class _Dir:
    def __init__(self) -> None:
        self.isn: int | None = None
        self.segs: list[tuple[int, bytes, float]] = []


Endpoint = tuple[bytes, int]
Ref = tuple[Endpoint, Endpoint, float, Stream, Stream]


def _reference(raw: bytes) -> list[Ref]:
    """(client, server, first time, up, down) per connection."""
    recs: list[tuple[Endpoint, Endpoint, float, _Dir, _Dir]] = []
    current: dict[frozenset[Endpoint], int] = {}
    for pkt in iter_packets(raw):
        seg = tcp_segment(pkt.data, pkt.linktype)
        if seg is None:
            continue
        a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
        key = frozenset((a, b))
        index = current.get(key)
        if index is not None and seg.flags & 0x12 == 0x02:  # SYN without ACK
            up_isn = recs[index][3].isn
            if recs[index][0] == a and up_isn not in (None, (seg.seq + 1) & MASK):
                index = None  # the port pair reused by a new connection
        if index is None:
            client, server = (b, a) if seg.flags & 0x12 == 0x12 else (a, b)
            index = current[key] = len(recs)
            recs.append((client, server, pkt.time, _Dir(), _Dir()))
        d = recs[index][3] if recs[index][0] == a else recs[index][4]
        if seg.flags & 0x02:
            d.isn = (seg.seq + 1) & MASK
        if seg.payload:
            d.segs.append((seg.seq, seg.payload, pkt.time))
    return [
        (client, server, first, _ref_direction(up.segs, up.isn),
         _ref_direction(down.segs, down.isn))
        for client, server, first, up, down in recs
    ]  # fmt: skip


def _same(raw: bytes) -> None:
    ref = _reference(raw)
    got = read_tcp_connections(raw)
    assert len(got) == len(ref)
    for c, (client, server, first, up, down) in zip(got, ref, strict=True):
        assert (c.client, c.server, c.first_time) == (client, server, first)
        assert (c.to_server, c.times_to_server) == up[:2]
        assert (c.to_client, c.times_to_client) == down[:2]
        assert c.gap == (up[2] or down[2])
        assert type(c.to_server) is bytes and type(c.to_client) is bytes


def test_every_capture_reads_as_the_reference(captures_dir: Path) -> None:
    pcaps = sorted(captures_dir.glob("*.pcap"))
    assert pcaps
    for pcap in pcaps:
        _same(pcap.read_bytes())


@settings(max_examples=150, deadline=None)
@given(
    stream=st.binary(min_size=1, max_size=400),
    isn=st.one_of(st.integers(0, MASK), st.integers(MASK - 300, MASK)),
    seed=st.integers(0, 2**32),
    syn=st.booleans(),
    drop=st.booleans(),
    ng=st.booleans(),
    cport=st.sampled_from([4000, 5900]),  # 5900: both ends on the same port
)
def test_shuffled_retransmitted_gapped_segments(
    stream: bytes, isn: int, seed: int, syn: bool, drop: bool, ng: bool, cport: int
) -> None:
    rng = random.Random(seed)
    c, s = CLIENT4, SERVER4
    cuts = sorted({0, len(stream), *(rng.randrange(len(stream)) for _ in range(4))})
    pieces = [(a, stream[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    # retransmissions: overlapping copies with other contents
    for _ in range(rng.randrange(4)):
        a = rng.randrange(len(stream))
        b = rng.randrange(a, len(stream)) + 1
        pieces.append((a, bytes(x ^ 0x5A for x in stream[a:b])))
    rng.shuffle(pieces)
    if drop and len(pieces) > 1:
        del pieces[rng.randrange(len(pieces))]
    segs: list[Seg] = []
    if syn:
        segs.append((1.0, c, cport, s, 5900, (isn - 1) & MASK, 0x02, b""))
    for k, (off, data) in enumerate(pieces):
        t = 2.0 + k / 8
        segs.append((t, c, cport, s, 5900, (isn + off) & MASK, 0x18, data))
        segs.append((t, s, 5900, c, cport, (isn * 7 + off) & MASK, 0x18, data[::-1]))
    classic, ng_raw = classic_pcap(segs), pcapng(segs)
    # both formats frame the same bytes (frame offsets are right in each)
    frames = [p.data for p in iter_packets(classic)]
    assert frames == [p.data for p in iter_packets(ng_raw)]
    assert len(frames) == len(segs)
    _same(ng_raw if ng else classic)


_ETHERTYPE = {4: b"\x08\x00", 6: b"\x86\xdd"}
_LINK_HEAD: dict[int, Callable[[bytes], bytes]] = {
    LINKTYPE_ETHERNET: lambda et: bytes(12) + et,
    LINKTYPE_LINUX_SLL: lambda et: bytes(14) + et,
    LINKTYPE_LINUX_SLL2: lambda et: et + bytes(18),
    LINKTYPE_NULL: lambda et: bytes(4),
    LINKTYPE_RAW: lambda et: b"",
}  # link-layer header before the IP header, given the ethertype


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(max_size=40),
    v6=st.booleans(),
    linktype=st.sampled_from([*_LINK_HEAD, 999]),
    cut=st.integers(0, 120),
    flip=st.tuples(st.integers(0, 120), st.integers(0, 255)),
    head=st.binary(max_size=8),
    tail=st.binary(max_size=8),
)
def test_offsets_in_a_larger_buffer_read_only_the_frame(
    payload: bytes,
    v6: bool,
    linktype: int,
    cut: int,
    flip: tuple[int, int],
    head: bytes,
    tail: bytes,
) -> None:
    c, s = (CLIENT6, SERVER6) if v6 else (CLIENT4, SERVER4)
    eth = _frame((1.0, c, 4000, s, 5900, 12345, 0x18, payload))
    link = _LINK_HEAD.get(linktype, _LINK_HEAD[LINKTYPE_ETHERNET])
    frame = bytearray(link(_ETHERTYPE[6 if v6 else 4]) + eth[14:])
    if flip[0] < len(frame):  # a damaged byte (lengths, versions, flags...)
        frame[flip[0]] ^= flip[1]
    frame = frame[: len(frame) - cut % (len(frame) + 1)]  # a truncated frame
    whole = tcp_segment(bytes(frame), linktype)
    buf = head + frame + tail
    part = _tcp_at(buf, len(head), len(head) + len(frame), linktype)
    if whole is None:
        assert part is None
        return
    assert part is not None
    src, sport, dst, dport, seq, flags, start, stop = part
    assert len(head) <= start <= stop <= len(head) + len(frame)
    assert (src, sport, dst, dport, seq, flags, buf[start:stop]) == (
        whole.src, whole.sport, whole.dst, whole.dport, whole.seq, whole.flags,
        whole.payload,
    )  # fmt: skip
