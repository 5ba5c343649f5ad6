"""``inspect`` names the channels the server listed (main CHANNELS_LIST) that the
capture never opened (issue 10: nothing silent).  The capture without one
channel is a real one with every packet of its cursor connection taken out, as
if the client had not linked the cursor channel."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from spicepy.capture.inspect import inspect_capture
from spicepy.capture.pcap import tcp_segment
from spicepy.capture.streams import read_channels
from spicepy.cli import main
from spicepy.wire.enums import ChannelType

SOURCE = "cursor-auto_glz.pcap"


@pytest.fixture(scope="module")
def without_cursor(
    captures_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    raw = (captures_dir / SOURCE).read_bytes()
    assert raw[:4] == b"\xd4\xc3\xb2\xa1"  # classic little-endian pcap
    linktype = struct.unpack_from("<I", raw, 20)[0]
    cursor = next(
        ch for ch in read_channels(captures_dir / SOURCE)
        if ch.channel_type == ChannelType.CURSOR
    )  # fmt: skip
    ports = {cursor.server_port, cursor.client_port}
    records: list[bytes] = []
    dropped = 0
    pos = 24
    while pos < len(raw):
        incl = struct.unpack_from("<I", raw, pos + 8)[0]
        record = raw[pos : pos + 16 + incl]
        pos += 16 + incl
        seg = tcp_segment(record[16:], linktype)
        if seg is not None and {seg.sport, seg.dport} == ports:
            dropped += 1
            continue
        records.append(record)
    assert dropped > 3  # handshake, link, data
    out = tmp_path_factory.mktemp("nocursor") / "nocursor.pcap"
    out.write_bytes(raw[:24] + b"".join(records))
    return out


def test_a_full_capture_opened_every_listed_channel(captures_dir: Path) -> None:
    inv = inspect_capture(captures_dir / SOURCE)
    assert inv["channels_listed"] == ["display:0", "cursor:0", "inputs:0"]
    assert inv["channels_not_opened"] == []


def test_a_listed_channel_never_opened_is_named(without_cursor: Path) -> None:
    inv = inspect_capture(without_cursor)
    assert "cursor" not in inv["channels_opened"]
    assert inv["channels_listed"] == ["display:0", "cursor:0", "inputs:0"]
    assert inv["channels_not_opened"] == ["cursor:0"]


def test_cli_says_which_channels_were_never_opened(
    without_cursor: Path, captures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(without_cursor)]) == 0  # information, not an error
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "listed by the server, never opened: cursor:0"
    assert main(["inspect", str(captures_dir / SOURCE)]) == 0
    assert "never opened" not in capsys.readouterr().out
