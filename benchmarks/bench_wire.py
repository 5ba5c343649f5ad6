"""Message decoding speed: microseconds per message, compiled twin beside the
reference engine, over every message (both directions) of a few captures.

Run: pytest benchmarks/bench_wire.py -o python_files='bench_*.py' --benchmark-only
Rows: ``<capture>-cython`` (``_decode.decode_struct``, the plan interpreter) and
``<capture>-reference`` (``schema.decode_struct``, the declarative engine), each
decoding the same bodies (already split and looked up, so only the decoder is
timed). ``extra_info``: messages, us_per_message (from the fastest round), and
us_per_display_message (display channel only, fastest of 3 separate passes).
``test_split_frames`` times ``headers.split_frames`` (compiled) against
``split_frames_ref`` on the server streams of the same captures (us_per_frame).
Skips without the capture corpus (../shared/captures or $SPICEPY_CAPTURES).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spicepy.capture.streams import read_channels
from spicepy.wire.enums import ChannelType
from spicepy.wire.headers import split_frames_ref
from spicepy.wire.registry import lookup
from spicepy.wire.schema import decode_struct

Decoder = Callable[[type[Any], bytes], Any]
Item = tuple[type[Any], bytes, bool]  # class, body, on the display channel

Splitter = Callable[[memoryview, bool], Any]
try:
    from spicepy.wire._decode import decode_struct as fast_decode_struct
    from spicepy.wire._decode import split_frames as fast_split_frames

    TWINS: dict[str, Decoder | None] = {
        "cython": fast_decode_struct,
        "reference": decode_struct,
    }
    SPLITTERS: dict[str, Splitter | None] = {
        "cython": fast_split_frames,
        "reference": split_frames_ref,
    }
except ImportError:
    TWINS = {"cython": None, "reference": decode_struct}
    SPLITTERS = {"cython": None, "reference": split_frames_ref}

CAPTURES = ["text-glz", "mixed-defaults"]


@functools.cache
def _messages(pcap: Path) -> tuple[Item, ...]:
    out = []
    for ch in read_channels(pcap):
        display = ch.channel_type == ChannelType.DISPLAY
        for from_server, msgs in (
            (True, ch.server_messages()),
            (False, ch.client_messages()),
        ):
            for m in msgs:
                cls = lookup(ch.channel_type, m.type, from_server)
                if cls is not None:
                    out.append((cls, bytes(m.body), display))
    return tuple(out)


def _decode_all(decode: Decoder, items: tuple[Item, ...]) -> None:
    for cls, body, _ in items:
        decode(cls, body)


@pytest.mark.parametrize("twin", list(TWINS), ids=list(TWINS))
@pytest.mark.parametrize("capture", CAPTURES)
def test_decode_messages(
    benchmark: Any, captures_dir: Path, capture: str, twin: str
) -> None:
    decode = TWINS[twin]
    if decode is None:
        pytest.skip("spicepy.wire._decode is not built")
    pcap = captures_dir / f"{capture}.pcap"
    if not pcap.exists():
        pytest.skip(f"capture {capture} not in this corpus")
    items = _messages(pcap)
    benchmark.pedantic(_decode_all, args=(decode, items), rounds=5, iterations=1)
    display = tuple(i for i in items if i[2])
    display_s = float("inf")
    for _ in range(3):  # the fastest of three passes, as the rounds above
        start = time.perf_counter()
        _decode_all(decode, display)
        display_s = min(display_s, time.perf_counter() - start)
    best = benchmark.stats.stats.min if benchmark.stats else None
    benchmark.extra_info.update(
        messages=len(items),
        us_per_message=round(best / len(items) * 1e6, 2) if best else None,
        us_per_display_message=round(display_s / max(1, len(display)) * 1e6, 2),
    )


@functools.cache
def _streams(pcap: Path) -> tuple[tuple[memoryview, bool], ...]:
    return tuple(
        (memoryview(bytes(ch.server_data)), ch.mini_header)
        for ch in read_channels(pcap)
    )


def _split_all(split: Splitter, streams: tuple[tuple[memoryview, bool], ...]) -> int:
    return sum(len(split(data, mini)[0]) for data, mini in streams)


@pytest.mark.parametrize("twin", list(SPLITTERS), ids=list(SPLITTERS))
@pytest.mark.parametrize("capture", CAPTURES)
def test_split_frames(
    benchmark: Any, captures_dir: Path, capture: str, twin: str
) -> None:
    split = SPLITTERS[twin]
    if split is None:
        pytest.skip("spicepy.wire._decode is not built")
    pcap = captures_dir / f"{capture}.pcap"
    if not pcap.exists():
        pytest.skip(f"capture {capture} not in this corpus")
    streams = _streams(pcap)
    frames = _split_all(split, streams)
    benchmark.pedantic(_split_all, args=(split, streams), rounds=5, iterations=1)
    best = benchmark.stats.stats.min if benchmark.stats else None
    benchmark.extra_info.update(
        frames=frames,
        us_per_frame=round(best / frames * 1e6, 3) if best and frames else None,
    )
