"""The LZ4 image framing of spicepy's encoder, split by hand for the tests
(independent of ``codecs/lz4.py``): 2 header bytes, then blocks each led by
its big-endian u32 size."""

from __future__ import annotations

import struct


def lz4_blocks(data: bytes) -> list[bytes]:
    """The compressed blocks of a whole stream (its sizes must add up)."""
    pos, out = 2, []
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    assert pos == len(data)
    return out
