"""spicepy.capture.pcap / streams: capture formats, TCP reassembly, SPICE channels."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.capture.pcap import (
    MAX_FRAME,
    iter_packets,
    read_tcp_connections,
    tcp_segment,
)
from spicepy.capture.streams import iter_data_messages, iter_messages, read_channels
from spicepy.errors import WireError
from spicepy.wire.enums import ChannelType, CommonCap
from spicepy.wire.headers import SubMessage, pack_header, pack_sub_message_list
from spicepy.wire.link import LinkMess, LinkReply, caps_to_words

CLIENT4, SERVER4 = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2])
CLIENT6, SERVER6 = bytes(15) + b"\x01", bytes(15) + b"\x02"

Seg = tuple[float, bytes, int, bytes, int, int, int, bytes]


def _tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes) -> bytes:
    return (
        struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
        + payload
    )


def _ipv4(src: bytes, dst: bytes, tcp: bytes) -> bytes:
    hdr = struct.pack(
        ">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst
    )
    return b"\0" * 12 + b"\x08\x00" + hdr + tcp


def _ipv6(src: bytes, dst: bytes, tcp: bytes) -> bytes:
    hdr = struct.pack(">IHBB16s16s", 6 << 28, len(tcp), 6, 64, src, dst)
    return b"\0" * 12 + b"\x86\xdd" + hdr + tcp


def _frame(seg: Seg) -> bytes:
    _t, src, sport, dst, dport, seq, flags, payload = seg
    ip = _ipv6 if len(src) == 16 else _ipv4
    return ip(src, dst, _tcp(sport, dport, seq, flags, payload))


def classic_pcap(segs: list[Seg], *, big_endian: bool = False) -> bytes:
    e = ">" if big_endian else "<"
    out = struct.pack(e + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for seg in segs:
        frame = _frame(seg)
        sec = int(seg[0])
        usec = round((seg[0] - sec) * 1e6)
        out += struct.pack(e + "IIII", sec, usec, len(frame), len(frame)) + frame
    return out


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng(segs: list[Seg]) -> bytes:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # IDB with if_tsresol = 9 (nanoseconds)
    opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
    idb = _block(1, struct.pack("<HHI", 1, 0, 65535) + opts)
    out = shb + idb
    for seg in segs:
        frame = _frame(seg)
        ts = round(seg[0] * 1e9)
        epb = struct.pack(
            "<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)
        )
        out += _block(6, epb + frame)
    return out


def _conn_segments(
    up: list[bytes], down: list[bytes], *, v6: bool = False, port: int = 40000
) -> list[Seg]:
    c, s = (CLIENT6, SERVER6) if v6 else (CLIENT4, SERVER4)
    segs: list[Seg] = [
        (1.0, c, port, s, 5900, 999, 0x02, b""),
        (1.0, s, 5900, c, port, 4999, 0x12, b""),
    ]
    cseq, sseq, t = 1000, 5000, 1.0
    for i in range(max(len(up), len(down))):
        t += 0.5
        if i < len(up):
            segs.append((t, c, port, s, 5900, cseq, 0x18, up[i]))
            cseq += len(up[i])
        if i < len(down):
            segs.append((t + 0.1, s, 5900, c, port, sseq, 0x18, down[i]))
            sseq += len(down[i])
    return segs


def test_reassembly_orders_segments_first_copy_wins_and_stops_at_a_hole() -> None:
    c, s = CLIENT4, SERVER4
    segs: list[Seg] = [
        (1.0, c, 1, s, 2, 99, 0x02, b""),
        (1.1, c, 1, s, 2, 106, 0x18, b"world"),  # out of order
        (1.2, c, 1, s, 2, 100, 0x18, b"hello "),
        (1.3, c, 1, s, 2, 100, 0x18, b"HELLO!"),  # retransmitted copy: ignored
        (1.4, c, 1, s, 2, 109, 0x18, b"LD and more"),  # overlaps: only the tail is new
        (1.5, c, 1, s, 2, 200, 0x18, b"after a hole"),
    ]
    for raw in (classic_pcap(segs), classic_pcap(segs, big_endian=True), pcapng(segs)):
        (conn,) = read_tcp_connections(raw)
        assert conn.to_server == b"hello world and more"
        assert conn.gap
        assert conn.client == (c, 1) and conn.server == (s, 2)
        assert [o for o, _ in conn.times_to_server] == [0, 6, 11]
        assert conn.times_to_server[0][1] == pytest.approx(1.2)


def test_ipv6_and_missing_syn() -> None:
    c, s = CLIENT6, SERVER6
    segs: list[Seg] = [
        (2.0, c, 7, s, 8, 0xFFFFFFFE, 0x18, b"ab"),
        (2.1, c, 7, s, 8, 0, 0x18, b"cd"),
    ]
    (conn,) = read_tcp_connections(pcapng(segs))
    assert conn.to_server == b"abcd" and not conn.gap
    assert conn.first_time == pytest.approx(2.0)


def test_not_a_capture_and_cut_records() -> None:
    with pytest.raises(WireError):
        read_tcp_connections(b"GIF89a" + bytes(40))
    segs = _conn_segments([b"x" * 50], [])
    raw = classic_pcap(segs)
    # a capture cut in the middle of its last record keeps the whole records
    (conn,) = read_tcp_connections(raw[:-10])
    assert conn.to_server == b""
    assert len(list(iter_packets(raw[:-10]))) == len(segs) - 1
    assert tcp_segment(b"\0" * 14, 1) is None


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300), st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a"])
)
def test_garbage_captures_raise_wire_error_only(data: bytes, magic: bytes) -> None:
    try:
        read_tcp_connections(magic + data)
    except WireError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([0, 1, 101, 113, 276, 228, 999]))
def test_garbage_frames_are_skipped(frame: bytes, linktype: int) -> None:
    seg = tcp_segment(frame, linktype)
    assert seg is None or len(seg.payload) <= len(frame)


def _link(ctype: int, cid: int, mini: bool, auth: bool) -> tuple[bytes, bytes]:
    common = {CommonCap.AUTH_SPICE} | ({CommonCap.MINI_HEADER} if mini else set())
    if auth:
        common.add(CommonCap.PROTOCOL_AUTH_SELECTION)
    words = caps_to_words(frozenset(int(c) for c in common))
    up = LinkMess(7, ctype, cid, words, (5,)).pack_with_header()
    up += (struct.pack("<I", 1) if auth else b"") + b"\xee" * 128
    # the server always offers mini headers; only the client's choice matters
    server = caps_to_words(frozenset({1, 3} | ({0} if auth else set())))
    down = LinkReply(0, b"k" * 162, server, (9,)).pack_with_header() + bytes(4)
    return up, down


@pytest.mark.parametrize("mini", [True, False])
@pytest.mark.parametrize("auth", [True, False])
def test_spice_channels_from_a_synthetic_session(mini: bool, auth: bool) -> None:
    up_link, down_link = _link(ChannelType.DISPLAY, 1, mini, auth)
    serial = iter(range(1, 100))

    def msg(kind: int, body: bytes) -> bytes:
        return pack_header(kind, len(body), mini=mini, serial=next(serial)) + body

    lst = pack_sub_message_list([SubMessage(3, bytes(8)), SubMessage(4, bytes(12))])
    down = [
        down_link + msg(102, b""),
        msg(8, lst)[:5],
        msg(8, lst)[5:] + msg(103, b"z"),
    ]
    serial = iter(range(1, 100))
    up = [up_link, msg(101, bytes(14)) + msg(2, b"")]
    for v6, raw_of in ((False, classic_pcap), (True, pcapng)):
        raw = raw_of(
            _conn_segments([b"junk"], [b"HTTP"], port=39999, v6=v6)
            + _conn_segments(up, down, v6=v6)
        )
        (ch,) = read_channels(raw)  # the non-SPICE connection is skipped
        assert (ch.channel_type, ch.channel_id, ch.connection_id) == (2, 1, 7)
        assert ch.mini_header is mini
        assert ch.link_error == 0 and ch.link_result == 0 and ch.linked
        assert ch.client_channel_caps == {0, 2} and ch.server_channel_caps == {0, 3}
        assert ch.auth_mechanism == (1 if auth else None) and ch.server_port == 5900
        got = [(m.type, len(m.body)) for m in ch.server_messages()]
        # the second message arrived in two segments and has the later time
        assert got[:1] == [(102, 0)] and got[-1] == (103, 1)
        # the LIST (sent twice: as one message split over two segments) expands
        assert [t for t, _ in got[1:-1]] == [3, 4]
        times = [m.time for m in ch.server_messages()]
        assert times == sorted(times) and times[0] < times[-1]
        assert [(m.type, len(m.body)) for m in ch.client_messages()] == [
            (101, 14),
            (2, 0),
        ]


def test_full_header_sub_list_comes_before_its_carrier() -> None:
    _up, down_link = _link(ChannelType.DISPLAY, 0, False, True)
    # sub-message offsets count from the start of the carrier's body
    body = b"\x01\x02" + struct.pack("<HI", 1, 8) + struct.pack("<HI", 3, 8) + bytes(8)
    data = (
        down_link + pack_header(304, len(body), mini=False, serial=1, sub_list=2) + body
    )
    got = [(m.type, m.serial) for m in iter_messages(data, False)]
    assert got == [(3, 1), (304, 1)]


def test_bad_sub_message_lists_raise() -> None:
    _up, down_link = _link(ChannelType.DISPLAY, 0, True, True)
    for lst in (
        b"\x05\x00",
        struct.pack("<HI", 1, 100),
        struct.pack("<HIHI", 1, 6, 3, 99),
    ):
        data = down_link + pack_header(8, len(lst), mini=True) + lst
        with pytest.raises(WireError):
            list(iter_messages(data))


# -- the real captures ----------------------------------------------------------------


def _manifest(captures_dir: Path) -> dict[str, Any]:
    m = json.loads((captures_dir / "manifest.json").read_text())
    return {c["name"]: c for c in m["captures"]}


def test_every_capture_channel_matches_the_manifest(captures_dir: Path) -> None:
    names = {int(c): c.name.lower() for c in ChannelType}
    for name, entry in _manifest(captures_dir).items():
        channels = read_channels(captures_dir / f"{name}.pcap")
        want = entry["inventory"]["channels"]
        assert len(channels) == len(want), name
        for ch, w in zip(channels, want, strict=True):
            assert names[ch.channel_type] == w["channel"], name
            assert (ch.channel_id, ch.client_port) == (
                w["channel_id"],
                w["client_port"],
            )
            assert (
                ch.mini_header is w["mini_header"] and ch.link_error == w["link_error"]
            )
            raw = caps_to_words
            assert list(raw(ch.client_channel_caps)) == w["client_channel_caps_raw"]
            assert list(raw(ch.server_channel_caps)) == w["server_channel_caps_raw"]
            assert len(ch.to_client) == w["server_to_client_bytes"], name
            assert len(ch.to_server) == w["client_to_server_bytes"], name
            assert not ch.gap
            assert sum(1 for _ in ch.server_messages()) == w["server_messages"]
            assert sum(1 for _ in ch.client_messages()) == w["client_messages"]


def test_data_phase_views_and_port_reuse() -> None:
    up_link, down_link = _link(ChannelType.INPUTS, 0, True, True)
    lst = pack_sub_message_list([SubMessage(4, bytes(12))])
    down = down_link + pack_header(101, 2, mini=True) + b"\0\0"
    down += pack_header(8, len(lst), mini=True) + lst
    up = up_link + pack_header(101, 4, mini=True) + bytes(4)
    first = _conn_segments([up], [down])
    # the same port pair reused by a new connection (a new client SYN sequence)
    again: list[Seg] = [
        (t + 10, src, sport, dst, dport, seq + 77777, flags, payload)
        for t, src, sport, dst, dport, seq, flags, payload in first
    ]
    channels = read_channels(classic_pcap(first + again))
    assert len(channels) == 2
    ch = channels[0]
    assert ch.server_link + ch.server_data == ch.to_client
    assert ch.client_link + ch.client_data == ch.to_server
    got = [(m.type, m.serial, m.sub) for m in iter_data_messages(ch.server_data, True)]
    assert got == [(101, 1, False), (8, 2, False)]
    kinds = [
        m.type for m in iter_data_messages(ch.server_data, True, expand_lists=True)
    ]
    assert kinds == [101, 4, 8]
    with pytest.raises(WireError):
        list(iter_data_messages(ch.server_data[:-1], True))
    assert len(list(iter_data_messages(ch.server_data[:-1], True, strict=False))) == 1


def test_a_refused_link_has_no_messages() -> None:
    up = LinkMess(0, ChannelType.MAIN, 0, (8,), ()).pack_with_header()
    # NEED_SECURED: spice-server sends the whole reply with the error and closes
    down = LinkReply(5).pack_with_header()
    (ch,) = read_channels(classic_pcap(_conn_segments([up], [down])))
    assert ch.link_error == 5 and ch.refused and not ch.linked
    assert list(ch.server_messages()) == [] and list(ch.client_messages()) == []
    assert ch.server_data == b"" and ch.client_data == b""


@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap not installed")
def test_pcapng_copy_of_a_capture_reads_the_same(
    captures_dir: Path, tmp_path: Path
) -> None:
    pcap = captures_dir / "cursor-auto_glz.pcap"
    if not pcap.exists():
        pytest.skip("cursor-auto_glz absent")
    ng = tmp_path / "copy.pcapng"
    subprocess.run(
        ["editcap", "-F", "pcapng", str(pcap), str(ng)], check=True, timeout=60
    )
    assert ng.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    a, b = read_channels(pcap), read_channels(ng)
    assert len(a) == len(b) == 4
    for x, y in zip(a, b, strict=True):
        assert (x.to_client, x.to_server) == (y.to_client, y.to_server)
        # same timestamps to the bit: the replay orders channels by them
        assert x.times == y.times and x.times_to_server == y.times_to_server


def test_missing_syn_starts_at_the_lowest_sequence_not_the_first_seen() -> None:
    """Without the SYN the stream starts at the lowest sequence number, not at
    the first segment captured (an earlier segment may be captured later)."""
    c, s = CLIENT4, SERVER4
    segs: list[Seg] = [
        (1.0, c, 3, s, 4, 5006, 0x18, b"world"),  # captured first, comes second
        (1.1, c, 3, s, 4, 5000, 0x18, b"hello "),
    ]
    (conn,) = read_tcp_connections(classic_pcap(segs))
    assert conn.to_server == b"hello world" and not conn.gap
    assert conn.times_to_server == [(0, pytest.approx(1.1)), (6, pytest.approx(1.0))]


def test_capture_starting_at_the_syn_ack_knows_the_client() -> None:
    """A capture that missed the SYN but has the SYN-ACK: its sender (RFC 793:
    the side answering the SYN) is the server, whoever is seen first."""
    up, down = [b"client says"], [b"server says"]
    segs = _conn_segments(up, down)[1:]  # drop the client's SYN
    (conn,) = read_tcp_connections(classic_pcap(segs))
    assert conn.client == (CLIENT4, 40000) and conn.server == (SERVER4, 5900)
    assert conn.to_server == b"client says" and conn.to_client == b"server says"


def test_nanosecond_pcap_times() -> None:
    """Magic 0xA1B23C4D: the second timestamp word counts nanoseconds
    (pcap-savefile(5)), 0xA1B2C3D4 microseconds."""
    frame = _frame((0.0, CLIENT4, 1, SERVER4, 2, 100, 0x18, b"x"))
    for magic, frac, when in (
        (0xA1B23C4D, 250_000_000, 7.25),
        (0xA1B2C3D4, 250_000, 7.25),
    ):
        raw = struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
        raw += struct.pack("<IIII", 7, frac, len(frame), len(frame)) + frame
        (packet,) = iter_packets(raw)
        assert packet.time == pytest.approx(when, abs=1e-9)


def test_vlan_tagged_ethernet_and_ipv4_options() -> None:
    tcp = _tcp(1234, 5900, 77, 0x18, b"payload")
    # IEEE 802.1Q: TPID 0x8100 and a 2-byte TCI before the real EtherType
    eth = _ipv4(CLIENT4, SERVER4, tcp)
    tagged = eth[:12] + b"\x81\x00\x00\x05" + eth[12:]
    seg = tcp_segment(tagged, 1)
    assert seg is not None and (seg.sport, seg.seq, seg.payload) == (
        1234,
        77,
        b"payload",
    )
    # RFC 791: IHL counts 32-bit words; 6 = one word of options (four NOPs)
    hdr = struct.pack(
        ">BBHHHBBH4s4s", 0x46, 0, 24 + len(tcp), 0, 0x4000, 64, 6, 0, CLIENT4, SERVER4
    )
    framed = b"\0" * 12 + b"\x08\x00" + hdr + b"\x01" * 4 + tcp
    seg = tcp_segment(framed, 1)
    assert seg is not None and (seg.sport, seg.dport, seg.payload) == (
        1234,
        5900,
        b"payload",
    )


def test_linux_cooked_capture() -> None:
    """LINKTYPE_LINUX_SLL (113, tcpdump -i any): a 16-byte header whose last two
    bytes are the EtherType (packet type, ARPHRD, address length, 8 address
    bytes, protocol)."""
    ip = _ipv4(CLIENT4, SERVER4, _tcp(4321, 5900, 9, 0x18, b"cooked"))[14:]
    sll = struct.pack(">HHH8sH", 4, 772, 0, bytes(8), 0x0800)
    seg = tcp_segment(sll + ip, 113)
    assert seg is not None and (seg.sport, seg.payload) == (4321, b"cooked")
    # the address field is 8 bytes: an EtherType-looking value there is no protocol
    sll = struct.pack(">HHH6sHH", 4, 772, 6, bytes(6), 0x0800, 0x86DD)
    assert tcp_segment(sll + ip, 113) is None


def test_oversized_pcap_record_is_refused() -> None:
    # records longer than MAX_FRAME are a damaged or hostile file, not a frame
    for incl in (MAX_FRAME, MAX_FRAME + 1):
        raw = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
        raw += struct.pack("<IIII", 1, 0, incl, incl) + bytes(incl)
        if incl > MAX_FRAME:
            with pytest.raises(WireError, match="pcap record of"):
                list(iter_packets(raw))
        else:
            assert [len(p.data) for p in iter_packets(raw)] == [MAX_FRAME]


def test_a_message_takes_the_time_of_the_segment_that_completed_it() -> None:
    """A message ending exactly where the next segment starts was complete
    with its own segment: it gets that segment's time, not the next one's."""
    _up, down = _link(ChannelType.INPUTS, 0, True, False)
    first = down + pack_header(101, 2, mini=True) + b"\0\0"
    second = pack_header(101, 3, mini=True) + b"\0\0\0"
    times = [(0, 1.0), (len(first), 2.0)]
    got = [(m.type, m.time) for m in iter_messages(first + second, True, times)]
    assert got == [(101, 1.0), (101, 2.0)]
    # one byte later the first message is completed by the second segment
    times = [(0, 1.0), (len(first) - 1, 2.0)]
    got = [(m.type, m.time) for m in iter_messages(first + second, True, times)]
    assert got == [(101, 2.0), (101, 2.0)]


def test_mini_headers_only_when_the_server_also_offers_them() -> None:
    """MINI_HEADER is used only when both link messages carry it (spice-gtk
    spice_channel_recv_link_msg: the server's common caps decide too); a client
    asking for it from a server that does not offer it reads 18-byte headers."""
    up_link, _ = _link(ChannelType.INPUTS, 0, True, False)
    server = caps_to_words(frozenset({1}))  # AUTH_SPICE only: no MINI_HEADER
    down_link = LinkReply(0, b"k" * 162, server, ()).pack_with_header() + bytes(4)
    down = down_link + pack_header(101, 2, mini=False, serial=1) + b"\0\0"
    (ch,) = read_channels(classic_pcap(_conn_segments([up_link], [down])))
    assert not ch.mini_header
    assert [(m.type, m.serial, m.body) for m in ch.server_messages()] == [
        (101, 1, b"\0\0")
    ]


def test_a_wrong_ticket_is_the_link_result_not_the_reply() -> None:
    """The reply says OK and the u32 after the ticket (little-endian, like every
    SPICE number) says PERMISSION_DENIED (7): the link is refused there."""
    up_link, down_link = _link(ChannelType.MAIN, 0, True, False)
    down = down_link[:-4] + struct.pack("<I", 7)
    (ch,) = read_channels(classic_pcap(_conn_segments([up_link], [down])))
    assert (ch.link_error, ch.link_result) == (0, 7)
    assert ch.refused and not ch.linked and list(ch.server_messages()) == []
