"""The wire engine against real bytes: every message of every shared capture.

- every message (both directions, every channel) decodes with ``decode_message``,
  and re-encoding gives the captured body back;
- per channel, server message counts by name equal the manifest's inventory;
- image descriptor types referenced by draws equal the manifest's counts;
- message types and sizes equal what Wireshark's SPICE dissector (tshark) reads;
- hostile bodies (random, truncated, oversized) raise WireError only.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spicepy.capture.streams import SpiceChannel, read_channels
from spicepy.errors import WireError
from spicepy.wire import UnknownMessage, decode_message, encode_message
from spicepy.wire import msg_common as wc
from spicepy.wire import types as wt
from spicepy.wire.enums import ChannelType, message_name

CHANNEL_NAMES = {int(c): c.name.lower() for c in ChannelType}


def _manifest(captures_dir: Path) -> dict[str, dict[str, Any]]:
    m = json.loads((captures_dir / "manifest.json").read_text())
    return {c["name"]: c for c in m["captures"]}


def _images(obj: object) -> Iterator[wt.Image]:
    """Every SpiceImage reachable from a decoded message (src, mask, pattern...)."""
    if isinstance(obj, wt.Image):
        yield obj
        return
    if isinstance(obj, tuple):
        for item in obj:
            yield from _images(item)
        return
    for name in getattr(obj, "__dataclass_fields__", ()):
        yield from _images(getattr(obj, name))


def _check_channel(ch: SpiceChannel, image_types: Counter[str]) -> Counter[str]:
    """Decode and re-encode every message of a channel; server counts by name."""
    counts: Counter[str] = Counter()
    for from_server, messages in (
        (True, ch.server_messages()),
        (False, ch.client_messages()),
    ):
        for m in messages:
            msg = decode_message(
                ch.channel_type, m.type, m.body, from_server=from_server
            )
            assert not isinstance(msg, UnknownMessage), (ch.channel_type, m.type)
            kind, body = encode_message(msg)
            assert kind == m.type
            if isinstance(msg, wc.Notify):
                # spice-server writes a NUL after the text; spice.proto does not
                # describe it (message[message_len] @end)
                assert bytes(m.body) == body + b"\0"
            else:
                assert bytes(m.body) == body, (ch.channel_type, m.type)
            if from_server:
                counts[message_name(ch.channel_type, m.type)] += 1
                if ch.channel_type == ChannelType.DISPLAY and m.type >= 302:
                    for image in _images(msg):
                        image_types[_IMAGE_NAMES[image.descriptor.type]] += 1
    return counts


_IMAGE_NAMES = {0: "BITMAP", 1: "QUIC", 100: "LZ_PLT", 101: "LZ_RGB", 102: "GLZ_RGB",
                103: "FROM_CACHE", 104: "SURFACE", 105: "JPEG",
                106: "FROM_CACHE_LOSSLESS", 107: "ZLIB_GLZ_RGB", 108: "JPEG_ALPHA",
                109: "LZ4"}  # fmt: skip


def test_every_capture_message_decodes_and_matches_the_inventory(
    captures_dir: Path,
) -> None:
    for name, entry in _manifest(captures_dir).items():
        inv = entry["inventory"]
        server: dict[str, Counter[str]] = {}
        image_types: Counter[str] = Counter()
        for ch in read_channels(captures_dir / f"{name}.pcap"):
            cname = CHANNEL_NAMES[ch.channel_type]
            server.setdefault(cname, Counter()).update(_check_channel(ch, image_types))
        assert server == {k: Counter(v) for k, v in inv["server_messages"].items()}, (
            name
        )
        assert image_types == Counter(inv["image_types"]), name


# -- tshark -------------------------------------------------------------------------

TSHARK_CAPTURES = ["text-lz", "cursor-auto_glz", "video-stream_all", "winmove-glz"]


def _tshark(pcap: Path, port: int) -> dict[int, list[tuple[int, int]]]:
    """(type, size) of every server message, per client port, as tshark reads them."""
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"tcp.port=={port},spice", "-Y", "spice",
         "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
         "-e", "spice.message_type", "-e", "spice.message_size"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    got: dict[int, list[tuple[int, int]]] = {}
    for line in out.splitlines():
        sport, dport, types, sizes = (line.split("\t") + ["", "", "", ""])[:4]
        if int(sport) != port or not types:
            continue
        pairs = zip(types.split(","), sizes.split(","), strict=True)
        got.setdefault(int(dport), []).extend((int(t), int(s)) for t, s in pairs)
    return got


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("name", TSHARK_CAPTURES)
def test_message_types_and_sizes_agree_with_tshark(
    captures_dir: Path, name: str
) -> None:
    pcap = captures_dir / f"{name}.pcap"
    if not pcap.exists():
        pytest.skip(f"{name} absent")
    port = _manifest(captures_dir)[name]["port"]
    theirs = _tshark(pcap, port)
    channels = read_channels(pcap)
    assert {ch.client_port for ch in channels} == set(theirs)
    for ch in channels:
        # messages as carried (no LIST expansion), as tshark lists them
        ours = [(m.type, len(m.body)) for m in _carriers(ch)]
        assert ours == theirs[ch.client_port], (name, ch.channel_type)


def _carriers(ch: SpiceChannel) -> Iterator[Any]:
    from spicepy.capture.streams import iter_data_messages

    return iter_data_messages(ch.server_data, ch.mini_header, strict=False)


# -- hostile bodies -------------------------------------------------------------------

_KINDS = [(int(c), k, fs) for c in (1, 2, 3, 4, 5, 6) for fs in (True, False)
          for k in [*range(1, 9), *range(101, 124), *range(302, 323)]]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_KINDS), st.binary(max_size=200))
def test_random_bodies_raise_wire_error_only(
    kind: tuple[int, int, bool], body: bytes
) -> None:
    channel, msg_type, from_server = kind
    try:
        msg = decode_message(channel, msg_type, body, from_server=from_server)
    except WireError:
        return
    assert msg is not None


def _sample_bodies(captures_dir: Path) -> list[tuple[int, int, bytes]]:
    """A few real bodies of each (channel, type), small enough to mutate."""
    seen: Counter[tuple[int, int]] = Counter()
    out = []
    for name in ("text-lz", "video-stream_all", "gradients-jpeg"):
        for ch in read_channels(captures_dir / f"{name}.pcap"):
            for m in ch.server_messages():
                key = (ch.channel_type, m.type)
                if seen[key] < 3 and len(m.body) < 20000:
                    seen[key] += 1
                    out.append((ch.channel_type, m.type, bytes(m.body)))
    return out


def test_truncated_and_mutated_real_bodies_raise_wire_error_only(
    captures_dir: Path,
) -> None:
    samples = _sample_bodies(captures_dir)
    assert len(samples) > 20

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.sampled_from(samples), st.data())
    def run(sample: tuple[int, int, bytes], data: st.DataObject) -> None:
        channel, msg_type, body = sample
        cut = data.draw(st.integers(0, len(body)))
        pos = data.draw(st.integers(0, max(0, len(body) - 4)))
        word = data.draw(st.sampled_from([0, 1, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
        mutated = bytearray(body)
        mutated[pos : pos + 4] = word.to_bytes(4, "little")[: len(mutated) - pos]
        for variant in (body[:cut], bytes(mutated), body + bytes(cut)):
            try:
                decode_message(channel, msg_type, variant)
            except WireError:
                pass

    run()
    # every real body cut by one byte either still parses (trailing data) or raises
    for channel, msg_type, body in samples:
        if body:
            try:
                decode_message(channel, msg_type, body[:-1])
            except WireError:
                pass


def test_oversized_counts_are_refused_before_allocating() -> None:
    # MONITORS_CONFIG announcing 65535 heads in an 8-byte body; INVAL_LIST likewise
    with pytest.raises(WireError):
        decode_message(ChannelType.DISPLAY, 317, b"\xff\xff\x01\x00" + bytes(4))
    with pytest.raises(WireError):
        decode_message(ChannelType.DISPLAY, 105, b"\xff\xff" + bytes(9))
    # DRAW_COPY whose BITMAP source claims stride * y = 2**56 bytes of pixels:
    # DisplayBase (u32 + Rect + clip type) 21 B, Copy (ptr, Rect, u16, u8, QMask
    # 13 B) 36 B, then the image at offset 57
    fixed = struct.pack("<I16sB", 0, bytes(16), 0)
    fixed += struct.pack("<I16sHBB8sI", 57, bytes(16), 8, 0, 0, bytes(8), 0)
    assert len(fixed) == 57
    image = struct.pack("<QBBII", 1, 0, 0, 8, 8)  # descriptor: BITMAP
    image += struct.pack("<BBIIII", 8, 0, 8, 1 << 28, 1 << 28, 0)  # 32BIT, huge
    with pytest.raises(WireError):
        decode_message(ChannelType.DISPLAY, 304, fixed + image + bytes(64))
