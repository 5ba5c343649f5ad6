"""Hostile message bodies into ``decode_message``: WireError or a message, nothing
else. Random bodies for every (channel, number) slot; real captured bodies cut,
padded and with words overwritten; counts and sizes that announce more than the
body holds; the spice.proto switch rule for glyph strings."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spicepy.capture.streams import read_channels
from spicepy.errors import WireError
from spicepy.wire import decode_message
from spicepy.wire.enums import ChannelType, StringFlags
from spicepy.wire.types import Point, RasterGlyphA1, RasterGlyphA4, String

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


def test_string_takes_the_first_raster_flag_only() -> None:
    """spice.proto ``switch (flags)`` picks one case: with A1 and A4 both set,
    the glyphs are A1 rasters and nothing else is read."""
    glyph = RasterGlyphA1(Point(1, 2), Point(0, 0), 3, 2, bytes([0xE0, 0xA0]))
    both = StringFlags.RASTER_A1 | StringFlags.RASTER_A4
    s = String(1, both, glyphs_a1=(glyph,))
    from spicepy.wire.schema import decode_struct, encode_struct

    raw = encode_struct(s)
    assert len(raw) == 2 + 1 + 20 + 2  # length, flags, one glyph header + rows
    back = decode_struct(String, raw)
    assert back.glyphs_a1 == (glyph,) and back.glyphs_a4 is None
    a4 = String(
        1,
        StringFlags.RASTER_A4 | StringFlags.RASTER_A8,
        glyphs_a4=(RasterGlyphA4(Point(0, 0), Point(0, 0), 3, 1, b"\x12\x30"),),
    )
    assert decode_struct(String, encode_struct(a4)) == a4
