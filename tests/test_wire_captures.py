"""Every message of every shared capture decodes with spicepy.wire, and agrees with
the corpus inventory (an independent parse) and with Wireshark's SPICE dissector."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from spicepy.capture.streams import read_channels
from spicepy.wire import UnknownMessage, decode_message, encode_message
from spicepy.wire.enums import ChannelType, ImageType, message_name
from spicepy.wire.types import Image

TSHARK_CAPTURES = ("cursor-auto_glz", "photos-jpeg", "video-stream_all")


def _manifest(captures_dir: Path) -> dict[str, Any]:
    data = json.loads((captures_dir / "manifest.json").read_text())
    return {c["name"]: c for c in data["captures"]}


def _names() -> list[str]:
    from conftest import CAPTURES

    if CAPTURES is None or not (CAPTURES / "manifest.json").exists():
        return ["none"]
    return sorted(_manifest(CAPTURES))


def _images(obj: Any, out: Counter[str]) -> None:
    if isinstance(obj, Image):
        out[ImageType(obj.descriptor.type).name] += 1
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            _images(getattr(obj, f.name), out)
    elif isinstance(obj, tuple):
        for item in obj:
            _images(item, out)


@pytest.mark.parametrize("name", _names())
def test_capture_decodes_and_matches_inventory(name: str, captures_dir: Path) -> None:
    entry = _manifest(captures_dir).get(name)
    if entry is None:
        pytest.skip("no manifest")
    inv = entry["inventory"]
    server: defaultdict[str, Counter[str]] = defaultdict(Counter)
    client: defaultdict[str, Counter[str]] = defaultdict(Counter)
    images: Counter[str] = Counter()
    for ch in read_channels(captures_dir / f"{name}.pcap"):
        cname = ChannelType(ch.channel_type).name.lower()
        for m in ch.server_messages():
            msg = decode_message(ch.channel_type, m.type, m.body)
            assert not isinstance(msg, UnknownMessage), (cname, m.type)
            assert msg.MSG_TYPE == m.type
            # the engine lays pointers out as spice-server does: byte-identical
            assert encode_message(msg) == (m.type, bytes(m.body)), (cname, m.type)
            server[cname][message_name(ch.channel_type, m.type)] += 1
            if ch.channel_type == ChannelType.DISPLAY and m.type >= 302:
                _images(msg, images)
        for m in ch.client_messages():
            msg = decode_message(ch.channel_type, m.type, m.body, from_server=False)
            assert not isinstance(msg, UnknownMessage), (cname, m.type)
            assert encode_message(msg) == (m.type, bytes(m.body)), (cname, m.type)
            client[cname][message_name(ch.channel_type, m.type, from_server=False)] += 1
    assert {k: dict(v) for k, v in server.items()} == inv["server_messages"]
    assert {k: dict(v) for k, v in client.items()} == inv["client_messages"]
    assert dict(images) == inv["image_types"]


def _tshark_server_messages(pcap: Path, port: int) -> dict[int, list[tuple[int, int]]]:
    """(type, size) of every server message per client port, as tshark sees them."""
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-d",
            f"tcp.port=={port},spice",
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "tcp.dstport",
            "-e",
            "spice.message_type",
            "-e",
            "spice.message_size",
            "-Y",
            f"tcp.srcport=={port} && spice",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    per_port: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for line in out.splitlines():
        dport, types, sizes = line.split(";")
        if not types:
            continue  # link packets
        t = [int(x) for x in types.split(",")]
        s = [int(x) for x in sizes.split(",")]
        s = s[-len(t) :]  # a link reply size may precede the first message's
        per_port[int(dport)] += list(zip(t, s, strict=True))
    return per_port


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("name", TSHARK_CAPTURES)
def test_message_types_and_sizes_agree_with_tshark(
    name: str, captures_dir: Path
) -> None:
    entry = _manifest(captures_dir).get(name)
    if entry is None:
        pytest.skip("capture not in this corpus")
    pcap = captures_dir / f"{name}.pcap"
    theirs = _tshark_server_messages(pcap, entry["port"])
    checked = 0
    for ch in read_channels(pcap):
        ours = [(m.type, len(m.body)) for m in ch.server_messages()]
        assert ours == theirs[ch.client_port], ChannelType(ch.channel_type).name
        checked += len(ours)
    assert checked > 50
