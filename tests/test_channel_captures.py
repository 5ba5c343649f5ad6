"""Every channel of every shared capture, driven through the machines.

The server->client bytes of each captured channel go into a fresh machine once
whole, once in odd-sized pieces and (for the first bytes) one byte at a time:
the events and the post-link output must be identical.  The ACKs, ACK_SYNCs and
PONGs the machine sends must match what spice-gtk sent in the same capture (same
SET_ACK window, same count).  The pcap is read here with a tiny classic-pcap
reader so this test depends only on the channel machines.
"""

from __future__ import annotations

import logging
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_channel_link import events

from spicepy.channels import CHANNEL_CLASSES, ChannelClosed, ChannelState
from spicepy.channels.base import Channel

AUTH_SELECTION, MINI_HEADER = 0, 3
ACK_SYNC, ACK, PONG = 1, 2, 3
#: fed one byte at a time before switching to pieces (keeps the test quick)
BYTEWISE = 4096
PIECES = (1, 3, 17, 1000, 4093, 65536, 7)


@dataclass
class Captured:
    channel_type: int
    channel_id: int
    client: bytes
    server: bytes


def _reassemble(segs: list[tuple[int, bytes]], isn: int) -> bytes:
    out = bytearray()
    for seq, data in sorted(segs, key=lambda s: (s[0] - isn) & 0xFFFFFFFF):
        rel = (seq - isn) & 0xFFFFFFFF
        if rel > len(out):
            break  # a hole: keep the contiguous prefix
        out += data[len(out) - rel :]
    return bytes(out)


def read_capture(path: Path) -> list[Captured]:
    """SPICE connections of a classic little-endian Ethernet/IPv4 pcap."""
    raw = path.read_bytes()
    assert raw[:4] == b"\xd4\xc3\xb2\xa1", "classic little-endian pcap expected"
    pos, flows, isns, order = 24, {}, {}, []
    while pos + 16 <= len(raw):
        incl = struct.unpack_from("<I", raw, pos + 8)[0]
        pkt = raw[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        if pkt[12:14] != b"\x08\x00" or pkt[23] != 6:
            continue
        ihl = (pkt[14] & 15) * 4
        total = struct.unpack_from(">H", pkt, 16)[0]
        tcp = 14 + ihl
        sport, dport, seq = struct.unpack_from(">HHI", pkt, tcp)
        payload = pkt[tcp + (pkt[tcp + 12] >> 4) * 4 : 14 + total]
        key = (sport, dport)
        if key not in flows:
            flows[key] = []
            order.append(key)
        if pkt[tcp + 13] & 2:  # SYN
            isns[key] = (seq + 1) & 0xFFFFFFFF
        if payload:
            flows[key].append((seq, bytes(payload)))
    found, seen = [], set()
    for key in order:
        segs = flows[key]
        if not segs or key not in isns or key in seen:
            continue
        up = _reassemble(segs, isns[key])
        back = (key[1], key[0])
        if not up.startswith(b"REDQ") or back not in isns:
            continue
        seen.add(back)  # its reply also starts with REDQ
        down = _reassemble(flows.get(back, []), isns[back])
        found.append(Captured(up[20], up[21], up, down))
    return found


def _caps(data: bytes, offset: int, fixed: int) -> int:
    """First common-caps word of a SpiceLinkMess (fixed=18) or reply (fixed=178)."""
    ncommon, _nchan, caps_off = struct.unpack_from("<III", data, offset + fixed - 12)
    return struct.unpack_from("<I", data, offset + caps_off)[0] if ncommon else 0


def split(cap: Captured) -> tuple[bytes, bytes, bytes, bool]:
    """(server link part, server data, client data, mini header)."""
    csize = struct.unpack_from("<I", cap.client, 12)[0]
    ssize = struct.unpack_from("<I", cap.server, 12)[0]
    ccommon, scommon = _caps(cap.client, 16, 18), _caps(cap.server, 16, 178)
    both = ccommon & scommon
    auth = 4 if both & (1 << AUTH_SELECTION) else 0
    slink = 16 + ssize + 4
    return (
        cap.server[:slink],
        cap.server[slink:],
        cap.client[16 + csize + auth + 128 :],
        bool(both & (1 << MINI_HEADER)),
    )


def client_messages(data: bytes, mini: bool) -> list[tuple[int, bytes]]:
    out, pos, head = [], 0, 6 if mini else 18
    while pos + head <= len(data):
        if mini:
            msg_type, size = struct.unpack_from("<HI", data, pos)
        else:
            _s, msg_type, size, _sub = struct.unpack_from("<QHII", data, pos)
        if pos + head + size > len(data):
            break
        out.append((msg_type, data[pos + head : pos + head + size]))
        pos += head + size
    return out


def drive(cap: Captured, mode: str) -> tuple[Channel, list[object], bytes]:
    """Link with the captured reply, then feed the data phase as ``mode`` says."""
    slink, sdata, _cdata, _mini = split(cap)
    ch = CHANNEL_CLASSES[cap.channel_type](cap.channel_id)
    ch.data_to_send()
    ch.receive_data(slink)
    ch.data_to_send()  # mechanism + (random) ticket
    if mode == "whole":
        ch.receive_data(sdata)
    else:
        cut = min(BYTEWISE, len(sdata))
        for i in range(cut):
            ch.receive_data(sdata[i : i + 1])
        pos, k = cut, 0
        while pos < len(sdata):
            n = PIECES[k % len(PIECES)]
            ch.receive_data(sdata[pos : pos + n])
            pos, k = pos + n, k + 1
    ch.receive_data(b"")
    return ch, events(ch), ch.data_to_send()


def _captures() -> list[Path]:
    from conftest import CAPTURES

    return sorted(CAPTURES.glob("*.pcap")) if CAPTURES else []


@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.stem)
def test_capture_channels_through_the_machines(
    path: Path, captures_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="spicepy.channels")
    caps = [c for c in read_capture(path) if c.channel_type in CHANNEL_CLASSES]
    assert {c.channel_type for c in caps} >= {1, 2, 3, 4}
    for cap in caps:
        ch, whole, out = drive(cap, "whole")
        name = f"{path.stem} channel {cap.channel_type}:{cap.channel_id}"
        assert ch.state is ChannelState.CLOSED, name
        assert whole[0].__class__.__name__ == "LinkCompleted", name
        assert isinstance(whole[-1], ChannelClosed) and whole[-1].clean, name
        assert ch.unknown_messages == 0, name
        ch2, pieces, out2 = drive(cap, "pieces")
        assert pieces == whole, name
        assert out2 == out, name
        # what we answered vs what spice-gtk answered in the capture
        _slink, _sdata, cdata, mini = split(cap)
        ours = client_messages(out, mini)
        theirs = client_messages(cdata, mini)
        counts = Counter(t for t, _ in ours if t in (ACK_SYNC, ACK, PONG))
        ref = Counter(t for t, _ in theirs if t in (ACK_SYNC, ACK, PONG))
        assert counts == ref, name
        assert [b for t, b in ours if t in (ACK_SYNC, PONG)] == [
            b for t, b in theirs if t in (ACK_SYNC, PONG)
        ], name
    # the server mirrors the cursor cache: a FROM_CACHE must always hit
    assert not [r for r in caplog.records if "cache" in r.getMessage()]
