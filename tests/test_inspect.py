"""inspect agrees with the capture corpus's independent inventory (manifest.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spicepy.capture.inspect import inspect_capture, message_name

KEYS = [
    "server_messages",
    "client_messages",
    "image_types",
    "image_compressed_bytes",
    "image_pixels",
    "image_subtypes",
    "bitmap_formats",
    "stream_codecs",
    "stream_sizes",
    "stream_data_bytes",
    "stream_messages",
]


def _captures(captures_dir: Path) -> list[dict[str, Any]]:
    manifest = json.loads((captures_dir / "manifest.json").read_text())
    return list(manifest["captures"])


def test_inspect_matches_manifest_inventory(captures_dir: Path) -> None:
    checked = 0
    for entry in _captures(captures_dir):
        inv = inspect_capture(captures_dir / entry["files"]["pcap"])
        truth = entry["inventory"]
        for key in KEYS:
            assert inv[key] == truth[key], (entry["name"], key)
        assert inv["parse_errors"] == 0
        assert inv["channels_opened"] == truth["channels_opened"]
        per_channel: dict[str, int] = {}
        for ch in inv["channels"]:
            for t, v in ch["images"].items():
                per_channel[t] = per_channel.get(t, 0) + v["count"]
        assert per_channel == truth["image_types"]
        frames = sum(s["frames"] for s in inv["streams"])
        assert frames == truth["stream_messages"].get("STREAM_DATA", 0)
        checked += 1
    assert checked > 0


def test_inspect_cli_json(
    captures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spicepy.cli import main

    pcap = captures_dir / "text-off.pcap"
    if not pcap.exists():
        pytest.skip("text-off capture absent")
    assert main(["inspect", str(pcap), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["server_messages"]["display"]["DRAW_COPY"] > 0


def test_message_names() -> None:
    assert message_name(2, 304, True) == "DRAW_COPY"
    assert message_name(3, 104, False) == "KEY_SCANCODE"
    assert message_name(4, 4, True) == "PING"
    assert message_name(2, 999, True) == "MSG_999"


def test_inspect_rejects_non_pcap(tmp_path: Path) -> None:
    from spicepy.errors import WireError

    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"definitely not a capture file")
    with pytest.raises(WireError):
        inspect_capture(bad)
