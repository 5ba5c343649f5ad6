"""``spicepy replay`` and ``spicepy inspect``: the capture tools' command line
(argparse and printing only; the work is in ``spicepy.capture``)."""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spicepy.errors import SpiceError

if TYPE_CHECKING:  # registering the commands must not load numpy (12 MB)
    import numpy as np
    import numpy.typing as npt

__all__ = ["add_inspect", "add_replay"]

Subparsers = Any  # argparse._SubParsersAction, which is private


def add_replay(sub: Subparsers) -> None:
    """Register ``spicepy replay``."""
    p = sub.add_parser(
        "replay",
        help="replay a capture's display channels to a final PNG",
        description="Feed the display channels of a pcap through the display "
        "pipeline of a live session and save the final primary surface.",
    )
    p.add_argument("capture", type=Path, help="pcap file")
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    p.add_argument(
        "--frames", type=Path, help="also write a PNG per display update batch"
    )
    p.set_defaults(func=run_replay)


def _save_png(rgb: npt.NDArray[np.uint8], path: Path, level: int = 6) -> None:
    from PIL import Image

    Image.fromarray(rgb, "RGB").save(path, compress_level=level)


def _own_the_collector() -> None:
    """Process-wide garbage-collector settings belong to the application (the
    library leaves them alone; ``cli.main`` sets the young threshold): what the
    imports made is frozen out of the collector's generations, so the full
    collections the replay's allocations trigger do not walk it again (one
    such pass was 25 ms of a 60 ms text-glz replay; callgrind, warm text-glz
    replay: 126.1M instructions, 124.3M frozen)."""
    gc.freeze()


def run_replay(args: argparse.Namespace) -> int:
    from spicepy.capture.replay import replay
    from spicepy.session.core import DisplayDriver

    _own_the_collector()

    frames: Path | None = args.frames
    if frames is not None:
        frames.mkdir(parents=True, exist_ok=True)
    written = [0]

    def on_batch(driver: DisplayDriver, n: int) -> None:
        surface = driver.canvas.primary
        if frames is not None and surface is not None:
            # fast compression: a capture can have hundreds of batches
            _save_png(surface.rgb(), frames / f"frame-{n:06d}.png", level=1)
            written[0] += 1

    try:
        result = replay(args.capture, on_batch=on_batch if frames else None)
    except (OSError, SpiceError) as exc:
        print(f"spicepy replay: error: {exc}")
        return 1
    rgb = result.primary
    if rgb is None:
        print("spicepy replay: error: the capture never created a primary surface")
        return 1
    _save_png(rgb, args.output)
    errors = sum(result.errors.values())
    # the rate counts the capture read too: reading is part of a replay
    total = result.read_seconds + result.seconds
    rate = result.messages / total if total else 0.0
    print(
        f"{args.capture}: {result.messages} display messages in {total:.3f} s "
        f"({rate:,.0f}/s; capture read {result.read_seconds:.3f} s, display "
        f"pipeline {result.seconds:.3f} s), {result.pixels_drawn / 1e6:.1f} Mpixels "
        f"drawn, {errors} dropped; wrote {args.output}"
        + (f" and {written[0]} frames" if frames else "")
    )
    for what, n in result.errors.most_common(10):
        print(f"  dropped {n}x {what}")
    if result.gaps:
        print(f"spicepy replay: error: {_gap_text(result.gaps)}; {args.output} is "
              "what the bytes before the hole drew")  # fmt: skip
        return 1
    return 0


def _gap_text(gaps: list[str]) -> str:
    return (
        f"the capture is missing TCP segments of {', '.join(gaps)} (the capturing "
        "tool dropped packets: record with a bigger buffer, e.g. tcpdump -B 65536)"
    )


def add_inspect(sub: Subparsers) -> None:
    """Register ``spicepy inspect``."""
    p = sub.add_parser(
        "inspect",
        help="list what a capture contains, per channel",
        description="Messages per channel, image types by codec, video streams.",
    )
    p.add_argument("capture", type=Path, help="pcap file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    from spicepy.capture.inspect import inspect_capture

    try:
        inv = inspect_capture(args.capture)
    except (OSError, SpiceError) as exc:
        print(f"spicepy inspect: error: {exc}")
        return 1
    if args.json:
        print(json.dumps(inv, indent=1))
    else:
        _print_inventory(inv)
    if inv["gaps"]:
        print(f"spicepy inspect: error: {_gap_text(inv['gaps'])}; the counts above "
              "stop at the hole")  # fmt: skip
        return 1
    return 0


def _print_inventory(inv: dict[str, Any]) -> None:
    if inv["channels_not_opened"]:
        print("listed by the server, never opened: "
              + ", ".join(inv["channels_not_opened"]))  # fmt: skip
    for ch in inv["channels"]:
        name = ch["channel"]
        print(f"{name} #{ch['channel_id']}: {ch['server_messages']} server messages "
              f"({ch['server_to_client_bytes']} B), {ch['client_messages']} client "
              f"messages ({ch['client_to_server_bytes']} B)")  # fmt: skip
        for direction in ("server_messages", "client_messages"):
            counts = inv[direction].get(name, {})
            if counts:
                items = ", ".join(f"{k} {v}" for k, v in counts.items())
                print(f"  {direction.split('_')[0]}: {items}")
    if inv["image_types"]:
        print("images (type: count, compressed bytes, pixels):")
        for t, n in inv["image_types"].items():
            print(f"  {t}: {n}, {inv['image_compressed_bytes'].get(t, 0)} B, "
                  f"{inv['image_pixels'].get(t, 0)} px")  # fmt: skip
        if inv["image_subtypes"]:
            print(
                "  formats: "
                + ", ".join(f"{k} {v}" for k, v in inv["image_subtypes"].items())
            )  # noqa: E501
    for s in inv["streams"]:
        print(f"stream {s['id']} ({s['codec']} {s['size']}): {s['frames']} frames, "
              f"{s['bytes']} B")  # fmt: skip
    if inv["parse_errors"]:
        print(f"{inv['parse_errors']} messages could not be parsed")
