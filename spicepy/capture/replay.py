"""Offline replay: a capture's display channels through the canvas, to a final frame.

Theory of operation: the server->client bytes of every display channel are cut
into messages (mini or full headers, LIST sub-messages first), each body is
parsed by ``spicepy.canvas.demarshal`` and applied by a ``DisplayDriver`` --
the same path a live display channel takes. All display channels share one
``SharedState`` (pixmap cache + GLZ dictionary), as a session does; channels are
replayed in message-arrival order (capture time), so a GLZ/cache reference to
another channel's image finds it; a command that still names an image not
delivered yet is held (with that channel's later commands) until another
channel's progress makes it drawable. Stream frames are shown at once (every frame
"on time"). Commands the canvas rejects are logged and counted, not fatal.

CLI: ``spicepy replay CAPTURE -o final.png [--frames DIR]``.
"""

from __future__ import annotations

import argparse
import heapq
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from spicepy.canvas.demarshal import Command, DisplayMsg, parse_display
from spicepy.canvas.driver import DisplayDriver
from spicepy.canvas.images import ImageNotReady, SharedState
from spicepy.capture.streams import Message, SpiceChannel, iter_messages, read_channels
from spicepy.errors import SpiceError, WireError

__all__ = [
    "SpiceChannel",
    "DisplayMsg",
    "Message",
    "ReplayResult",
    "add_command",
    "iter_messages",
    "read_channels",
    "replay",
]

log = logging.getLogger(__name__)

DISPLAY = 2


@dataclass(slots=True)
class ReplayResult:
    """What a replay produced."""

    drivers: dict[int, DisplayDriver]
    messages: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    frames_written: int = 0
    seconds: float = 0.0

    @property
    def primary(self) -> npt.NDArray[np.uint8] | None:
        """Channel 0's primary surface as (h, w, 3) RGB, or None."""
        for cid in sorted(self.drivers):
            surface = self.drivers[cid].canvas.primary
            if surface is not None:
                return surface.rgb()
        return None

    @property
    def pixels_drawn(self) -> int:
        return sum(d.canvas.pixels_drawn for d in self.drivers.values())

    @property
    def codec_seconds(self) -> float:
        """Time spent inside image and video decoders."""
        return sum(
            d.canvas.images.decode_seconds + d.streams.decode_seconds
            for d in self.drivers.values()
        )


def _display_streams(
    path: Path,
) -> list[tuple[int, bytes, bool, list[tuple[int, float]]]]:
    out = []
    for ch in read_channels(path):
        if ch.channel_type == DISPLAY and ch.to_client:
            out.append((ch.channel_id, ch.to_client, ch.mini_header, ch.times))
    return out


def replay(
    path: str | Path,
    *,
    on_batch: Callable[[DisplayDriver, int], None] | None = None,
    on_command: Callable[[int, Command], None] | None = None,
    apply: bool = True,
) -> ReplayResult:
    """Replay every display channel of a capture.

    Args:
        path: the pcap file.
        on_batch: called (driver, batch number) after each batch of messages that
            arrived together (same capture time) touched the primary surface.
        on_command: called (channel id, command) for every parsed command.
        apply: False parses only (for ``inspect``).

    Raises:
        WireError: the capture cannot be read.
    """
    started = time.perf_counter()
    shared = SharedState()
    streams = _display_streams(Path(path))
    drivers = {cid: DisplayDriver(shared) for cid, *_ in streams}
    result = ReplayResult(drivers)

    def tagged(index: int) -> Iterator[tuple[float, int, Message]]:
        _cid, data, mini, times = streams[index]
        for m in iter_messages(data, mini, times):
            yield m.time, index, m

    iters = [tagged(i) for i in range(len(streams))]
    batch, last_time = 0, None
    dirty: DisplayDriver | None = None
    # commands of a channel held back behind an image another channel has not
    # delivered yet (FROM_CACHE / GLZ across display channels), in order
    held: dict[int, deque[Command]] = {cid: deque() for cid in drivers}

    def run(cid: int, cmd: Command) -> bool:
        """Apply; False when the command must wait for another channel."""
        nonlocal dirty
        try:
            drivers[cid].apply(cmd)
        except ImageNotReady:
            return False
        except SpiceError as exc:
            log.info("dropped %s: %s", cmd.name, exc)
            result.errors[f"{cmd.name}: {type(exc).__name__}"] += 1
            return True
        if cmd.args.get("surface_id", -1) == 0 or cmd.name == "stream_data":
            dirty = drivers[cid]
        return True

    def release(skip: int) -> None:
        """Retry held commands of the other channels after progress on ``skip``."""
        for other, queue in held.items():
            while other != skip and queue and run(other, queue[0]):
                queue.popleft()

    for when, index, msg in heapq.merge(*iters, key=lambda t: (t[0], t[1])):
        cid = streams[index][0]
        result.messages += 1
        if last_time is not None and when != last_time and dirty is not None:
            if on_batch is not None:
                on_batch(dirty, batch)
            batch += 1
            dirty = None
        last_time = when
        try:
            cmd = parse_display(msg.type, msg.body)
        except WireError as exc:
            result.errors[f"parse {msg.type}: {exc}"] += 1
            continue
        if cmd is None:
            continue
        if on_command is not None:
            on_command(cid, cmd)
        if not apply:
            continue
        if held[cid] or not run(cid, cmd):
            held[cid].append(cmd)
            continue
        if len(held) > 1:
            release(cid)
    for queue in held.values():
        for cmd in queue:  # never became drawable: what spice-gtk would drop too
            result.errors[f"{cmd.name}: ImageNotReady"] += 1
    if dirty is not None and on_batch is not None:
        on_batch(dirty, batch)
    result.seconds = time.perf_counter() - started
    return result


def _save_png(rgb: npt.NDArray[np.uint8], path: Path, level: int = 6) -> None:
    from PIL import Image

    Image.fromarray(rgb, "RGB").save(path, compress_level=level)


def _run(args: argparse.Namespace) -> int:
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
    print(
        f"{args.capture}: {result.messages} display messages, "
        f"{result.pixels_drawn / 1e6:.1f} Mpixels drawn in {result.seconds:.2f} s, "
        f"{errors} dropped; wrote {args.output}"
        + (f" and {written[0]} frames" if frames else "")
    )
    for what, n in result.errors.most_common(10):
        print(f"  dropped {n}x {what}")
    return 0


def add_command(sub: Any) -> None:
    """Register ``spicepy replay`` with the CLI."""
    p = sub.add_parser(
        "replay",
        help="replay a capture's display channels to a final PNG",
        description="Feed the display channels of a pcap through the canvas and "
        "save the final primary surface.",
    )
    p.add_argument("capture", type=Path, help="pcap file")
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    p.add_argument(
        "--frames", type=Path, help="also write a PNG per display update batch"
    )
    p.set_defaults(func=_run)
