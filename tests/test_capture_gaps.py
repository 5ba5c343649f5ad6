"""A capture with a hole in a channel's bytes (the capturing tool dropped
segments) makes ``inspect`` and ``replay`` say so and exit non-zero (issue 10):
a near-empty or partial result must not look like a complete one.

The gapped capture is a real one with one server->client segment of the
display channel taken out of the middle.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from spicepy.capture.inspect import inspect_capture
from spicepy.capture.pcap import tcp_segment
from spicepy.capture.replay import replay
from spicepy.capture.streams import read_channels
from spicepy.cli import main
from spicepy.wire.enums import ChannelType

SOURCE = "cursor-auto_glz.pcap"


@pytest.fixture(scope="module")
def gapped(captures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = (captures_dir / SOURCE).read_bytes()
    assert raw[:4] == b"\xd4\xc3\xb2\xa1"  # classic little-endian pcap
    linktype = struct.unpack_from("<I", raw, 20)[0]
    display = next(
        ch for ch in read_channels(captures_dir / SOURCE)
        if ch.channel_type == ChannelType.DISPLAY
    )  # fmt: skip
    records: list[bytes] = []
    hits: list[int] = []
    pos = 24
    while pos < len(raw):
        incl = struct.unpack_from("<I", raw, pos + 8)[0]
        record = raw[pos : pos + 16 + incl]
        seg = tcp_segment(record[16:], linktype)
        if (
            seg is not None
            and seg.payload
            and seg.sport == display.server_port
            and seg.dport == display.client_port
        ):
            hits.append(len(records))
        records.append(record)
        pos += 16 + incl
    assert len(hits) >= 3, "the display channel needs a segment in the middle"
    del records[hits[len(hits) // 2]]
    out = tmp_path_factory.mktemp("gap") / "gapped.pcap"
    out.write_bytes(raw[:24] + b"".join(records))
    return out


def test_reassembly_marks_only_the_display_channel(
    gapped: Path, captures_dir: Path
) -> None:
    gaps = {(ch.channel_type, ch.channel_id) for ch in read_channels(gapped) if ch.gap}
    assert gaps == {(ChannelType.DISPLAY, 0)}
    assert not any(ch.gap for ch in read_channels(captures_dir / SOURCE))


def test_inspect_and_replay_report_the_gap(gapped: Path, captures_dir: Path) -> None:
    assert inspect_capture(gapped)["gaps"] == ["display#0"]
    assert inspect_capture(captures_dir / SOURCE)["gaps"] == []
    assert replay(gapped).gaps == ["display#0"]
    assert replay(captures_dir / SOURCE).gaps == []


def test_cli_says_so_and_fails(
    gapped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(gapped)]) == 1
    said = capsys.readouterr().out.splitlines()[-1]
    assert said.startswith("spicepy inspect: error: the capture is missing TCP")
    assert "display#0" in said and "tcpdump -B" in said
    png = tmp_path / "partial.png"
    assert main(["replay", str(gapped), "-o", str(png)]) == 1
    said = capsys.readouterr().out.splitlines()[-1]
    assert said.startswith("spicepy replay: error: the capture is missing TCP")
    assert png.exists()  # what came before the hole is still written
