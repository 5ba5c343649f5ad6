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
import struct
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
from spicepy.errors import SpiceError, WireError

__all__ = ["ReplayResult", "add_command", "iter_messages", "replay"]

log = logging.getLogger(__name__)

DISPLAY = 2
#: Largest message body accepted (matches the wire layer's cap).
MAX_MESSAGE_SIZE = 64 << 20


@dataclass(frozen=True, slots=True)
class Message:
    """One server->client message of a channel, with its capture time."""

    type: int
    body: bytes
    time: float


def _skip_link(data: bytes) -> int:
    """Offset of the first data message in a server->client stream."""
    if len(data) < 16 or data[:4] != b"REDQ":
        raise WireError("no SPICE link reply at the start of the stream")
    size: int = struct.unpack_from("<I", data, 12)[0]
    return 16 + size + 4  # link reply, then the u32 link result


def iter_messages(
    data: bytes,
    mini_header: bool = True,
    times: list[tuple[int, float]] | None = None,
) -> Iterator[Message]:
    """Messages of a server->client channel stream (LIST sub-messages expanded).

    ``times``: (stream offset, capture time) of each segment, for batching.
    """
    pos = _skip_link(data)
    seg = 0
    head = 6 if mini_header else 18
    while pos + head <= len(data):
        if mini_header:
            kind, size = struct.unpack_from("<HI", data, pos)
            sub_list = 0
        else:
            _serial, kind, size, sub_list = struct.unpack_from("<QHII", data, pos)
        if size > MAX_MESSAGE_SIZE:
            raise WireError(f"message of {size} bytes")
        end = pos + head + size
        if end > len(data):
            break  # capture ended mid-message
        body = data[pos + head : end]
        # the segment that completed this message gives its time
        when = 0.0
        if times:
            while seg + 1 < len(times) and times[seg + 1][0] < end:
                seg += 1
            when = times[seg][1]
        if kind == 8 or sub_list:
            list_body = body if kind == 8 else body[sub_list:]
            yield from _sub_messages(list_body, body if sub_list else list_body, when)
            if kind == 8:
                pos = end
                continue
        yield Message(kind, body, when)
        pos = end


def _sub_messages(lst: bytes, base: bytes, when: float) -> Iterator[Message]:
    if len(lst) < 2:
        raise WireError("truncated sub-message list")
    (count,) = struct.unpack_from("<H", lst, 0)
    if 2 + 4 * count > len(lst):
        raise WireError("truncated sub-message list")
    for i in range(count):
        (off,) = struct.unpack_from("<I", lst, 2 + 4 * i)
        if off + 6 > len(base):
            raise WireError("sub-message offset out of range")
        kind, size = struct.unpack_from("<HI", base, off)
        if off + 6 + size > len(base):
            raise WireError("sub-message truncated")
        yield Message(kind, base[off + 6 : off + 6 + size], when)


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


__all__ += ["Message", "DisplayMsg", "ChannelBytes", "read_channels"]


# -- pcap reading -------------------------------------------------------------------
# Interim: a minimal classic-pcap reader with TCP reassembly, used until the wire
# engineer's spicepy.capture.streams is available.

LINK_MAGIC = b"REDQ"


@dataclass(slots=True)
class ChannelBytes:
    channel_type: int
    channel_id: int
    client_port: int
    to_client: bytes
    to_server: bytes
    first_time: float = 0.0
    mini_header: bool = True
    #: (stream offset, capture time) for each server->client segment
    times: list[tuple[int, float]] = field(default_factory=list)


def _reassemble(
    segs: list[tuple[int, bytes, float]], isn: int
) -> tuple[bytes, list[tuple[int, float]]]:
    out = bytearray()
    times: list[tuple[int, float]] = []
    for seq, data, ts in sorted(segs, key=lambda s: (s[0] - isn) & 0xFFFFFFFF):
        rel = (seq - isn) & 0xFFFFFFFF
        if rel + len(data) <= len(out):
            continue
        if rel > len(out):
            break  # a gap: stop at the hole
        out += data[len(out) - rel :]
        times.append((rel, ts))
    return bytes(out), times


def read_channels(path: str | Path) -> list[ChannelBytes]:
    """Every SPICE connection in a pcap, in connection order."""
    raw = Path(path).read_bytes()
    if len(raw) < 24:
        raise WireError("not a pcap file")
    magic = raw[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        raise WireError("unsupported capture format (classic pcap only)")
    pos = 24
    flows: dict[tuple[int, int], list[tuple[int, bytes, float]]] = {}
    syn: dict[tuple[int, int], int] = {}
    order: list[tuple[int, int]] = []
    while pos + 16 <= len(raw):
        sec, usec, incl, _orig = struct.unpack_from(endian + "IIII", raw, pos)
        pkt = raw[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ts = sec + usec / 1e6
        if len(pkt) < 14 + 20 or pkt[12:14] != b"\x08\x00":
            continue
        ihl = (pkt[14] & 0x0F) * 4
        if pkt[23] != 6:
            continue
        total = struct.unpack_from(">H", pkt, 16)[0]
        tcp = 14 + ihl
        if len(pkt) < tcp + 20:
            continue
        sport, dport, seq = struct.unpack_from(">HHI", pkt, tcp)
        off = (pkt[tcp + 12] >> 4) * 4
        flags = pkt[tcp + 13]
        payload = pkt[tcp + off : 14 + total] if total else pkt[tcp + off :]
        key = (sport, dport)
        if flags & 0x02:  # SYN
            syn[key] = (seq + 1) & 0xFFFFFFFF
            if key not in flows:
                flows[key] = []
                order.append(key)
        if payload:
            flows.setdefault(key, []).append((seq, bytes(payload), ts))
            if key not in order:
                order.append(key)
    channels: list[ChannelBytes] = []
    seen: set[tuple[int, int]] = set()
    for key in order:
        if key in seen:
            continue
        rkey = (key[1], key[0])
        seen.update((key, rkey))
        up_segs = flows.get(key, [])
        down_segs = flows.get(rkey, [])
        if not up_segs:
            continue
        up_isn = syn.get(key, min(s[0] for s in up_segs))
        up, _ = _reassemble(up_segs, up_isn)
        if not up.startswith(LINK_MAGIC):
            # maybe the server side: swap
            key, rkey = rkey, key
            up_segs, down_segs = down_segs, up_segs
            if not up_segs:
                continue
            up, _ = _reassemble(up_segs, syn.get(key, min(s[0] for s in up_segs)))
            if not up.startswith(LINK_MAGIC):
                continue
        down = b""
        times: list[tuple[int, float]] = []
        if down_segs:
            down, times = _reassemble(
                down_segs, syn.get(rkey, min(s[0] for s in down_segs))
            )
        if len(up) < 16 + 18:
            continue
        # SpiceLinkHeader(16) + SpiceLinkMess: connection_id u32, type u8, id u8,
        # num_common_caps u32, num_channel_caps u32, caps_offset u32
        ctype, cid = up[20], up[21]
        ncommon, _nchan, caps_off = struct.unpack_from("<III", up, 22)
        caps = struct.unpack_from("<I", up, 16 + caps_off)[0] if ncommon else 0
        first = min((s[2] for s in up_segs), default=0.0)
        channels.append(ChannelBytes(ctype, cid, key[0], down, up, first,
                                     bool(caps & (1 << 3)), times))  # fmt: skip
    return channels
