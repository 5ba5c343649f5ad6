"""Video stream frames to BGRX, side by side in one run: spicepy's stream path,
PyAV on FFmpeg's automatic threads (spicepy's setting before
``THREADED_PIXELS``), and the ffmpeg CLI decoding the same bitstream to BGRA.

Usage::

    .venv/bin/python benchmarks/bench_video.py [--rounds 5] [--json F] [NAME ...]

For every video capture of ``../shared/captures`` (or ``$SPICEPY_CAPTURES``):
the STREAM_DATA payloads of its one stream, each decoded (VP8/H.264:
``VideoDecoder.decode_picture`` + ``to_pixels``; MJPEG: ``decode_mjpeg``),
every frame converted (an upper bound: a live session converts only the frames
it shows).  Per client: CPU time (``time.process_time``, all threads; the
measure that holds on a loaded machine) and wall time, minimum over rounds,
rounds alternating between clients.  The ffmpeg CLI row is a child process
(``RUSAGE_CHILDREN``) and includes its start (~20-40 ms here), so it is an
upper bound for libavcodec + swscale; ``-threads 1`` like spicepy's small
streams.

The pytest form (``test_video_bench_smoke``) runs one round of the first
VP8/H.264 capture and checks that both thread settings give equal pixels.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spicepy.canvas import video
from spicepy.canvas.streams import decode_mjpeg
from spicepy.wire.enums import VideoCodecType

Frames = list[bytes]


def captures() -> Path:
    env = os.environ.get("SPICEPY_CAPTURES")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared/captures"


def stream_of(path: Path) -> tuple[Any, Frames]:
    """The first STREAM_CREATE of a capture and the STREAM_DATA payloads."""
    from spicepy.capture.streams import read_channels
    from spicepy.wire import decode_message
    from spicepy.wire.enums import ChannelType, DisplayMsg

    create, frames = None, []
    for ch in read_channels(path):
        if ch.channel_type != ChannelType.DISPLAY:
            continue
        for m in ch.server_messages():
            if m.type == DisplayMsg.STREAM_CREATE and create is None:
                create = decode_message(ch.channel_type, m.type, m.body)
            elif m.type == DisplayMsg.STREAM_DATA:
                msg = decode_message(ch.channel_type, m.type, m.body)
                frames.append(bytes(msg.data))
    if create is None or not frames:
        raise ValueError(f"{path.name}: no stream")
    return create, frames


def video_names() -> list[str]:
    manifest = captures() / "manifest.json"
    if not manifest.is_file():
        return []
    names = [c["name"] for c in json.loads(manifest.read_text())["captures"]]
    return [n for n in names if n.startswith("video-")]


def spicepy_frames(codec: int, w: int, h: int, frames: Frames) -> list[np.ndarray]:
    if codec == VideoCodecType.MJPEG:
        return [decode_mjpeg(f) for f in frames]
    dec = video.VideoDecoder(codec, w, h)
    out = []
    for f in frames:
        picture = dec.decode_picture(f)
        if picture is not None:
            out.append(dec.to_pixels(picture))
    return out


def auto_threads(codec: int, w: int, h: int, frames: Frames) -> list[np.ndarray]:
    """PyAV as spicepy used it before: FFmpeg's automatic thread counts for
    the slice-threaded decoder and for swscale (one converter a stream)."""
    import av
    from av.video.reformatter import VideoReformatter

    name = "vp8" if codec == VideoCodecType.VP8 else "h264"
    ctx: Any = av.CodecContext.create(name, "r")
    ctx.thread_type = "SLICE"  # thread_count stays 0: automatic
    converter = VideoReformatter()
    return [
        converter.reformat(p, format="bgra", threads=0).to_ndarray()
        for f in frames
        for p in ctx.decode(video.padded_packet(f))
    ]


def ffmpeg_cli(codec: int, w: int, h: int, frames: Frames) -> list[np.ndarray]:
    """The ffmpeg CLI: the bitstream (IVF, Annex B or concatenated JPEGs) to
    raw BGRA, one thread."""
    with tempfile.TemporaryDirectory() as tmp:
        if codec == VideoCodecType.VP8:
            src = Path(tmp) / "s.ivf"
            head = struct.pack(
                "<4sHH4sHHIIII", b"DKIF", 0, 32, b"VP80", w, h, 25, 1, len(frames), 0
            )
            body = b"".join(
                struct.pack("<IQ", len(f), k) + f for k, f in enumerate(frames)
            )
            src.write_bytes(head + body)
            fmt = []
        else:
            src = Path(tmp) / "s.raw"
            src.write_bytes(b"".join(frames))
            fmt = ["-f", "h264" if codec == VideoCodecType.H264 else "mjpeg"]
        done = subprocess.run(
            ["ffmpeg", "-v", "error", "-threads", "1", *fmt, "-i", str(src)]
            + ["-threads", "1", "-fps_mode", "passthrough"]
            + ["-f", "rawvideo", "-pix_fmt", "bgra", "-"],
            capture_output=True,
            check=True,
            timeout=120,
        )
    return [np.frombuffer(done.stdout, np.uint8)]


CLIENTS: dict[str, Callable[[int, int, int, Frames], list[np.ndarray]]] = {
    "spicepy": spicepy_frames,
    "auto threads (before)": auto_threads,
    "ffmpeg CLI (+ start)": ffmpeg_cli,
}


def _cpu() -> float:
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def measure(name: str, rounds: int) -> dict[str, Any]:
    create, frames = stream_of(captures() / f"{name}.pcap")
    codec, w, h = create.codec_type, create.stream_width, create.stream_height
    clients = {
        k: v
        for k, v in CLIENTS.items()
        if (codec == VideoCodecType.MJPEG or codec in video.VIDEO_CODECS)
        and (k != "auto threads (before)" or codec != VideoCodecType.MJPEG)
        and (k != "ffmpeg CLI (+ start)" or shutil.which("ffmpeg"))
    }
    cpu: dict[str, list[float]] = {k: [] for k in clients}
    wall: dict[str, list[float]] = {k: [] for k in clients}
    for _ in range(rounds):
        for label, run in clients.items():
            c, t = _cpu(), time.perf_counter()
            run(codec, w, h, frames)
            wall[label].append(time.perf_counter() - t)
            cpu[label].append(_cpu() - c)
    return {
        "capture": name,
        "codec": VideoCodecType(codec).name,
        "size": f"{w}x{h}",
        "frames": len(frames),
        "cpu_ms": {k: round(min(v) * 1e3, 1) for k, v in cpu.items()},
        "wall_ms": {k: round(min(v) * 1e3, 1) for k, v in wall.items()},
    }


def table(rows: list[dict[str, Any]]) -> str:
    labels = list(CLIENTS)
    out = [
        "| capture | codec | frames | "
        + " | ".join(f"{k} CPU / wall ms" for k in labels)
        + " |",
        "|---|---|---:|" + "---:|" * len(labels),
    ]
    for r in rows:
        cells = [
            f"{r['cpu_ms'][k]} / {r['wall_ms'][k]}" if k in r["cpu_ms"] else "-"
            for k in labels
        ]
        out.append(
            f"| {r['capture']} ({r['size']}) | {r['codec']} | {r['frames']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="captures (default: every video-*)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    names = args.names or video_names()
    if not names:
        print("no video captures (set SPICEPY_CAPTURES)", file=sys.stderr)
        return 1
    rows = [measure(n, args.rounds) for n in names]
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def test_video_bench_smoke() -> None:
    names = [n for n in video_names() if n in ("video-vp8", "video-h264")]
    if not names or not video.VIDEO_CODECS:
        pytest.skip("no VP8/H.264 capture or no PyAV")
    create, frames = stream_of(captures() / f"{names[0]}.pcap")
    args = (create.codec_type, create.stream_width, create.stream_height, frames[:8])
    ours, before = spicepy_frames(*args), auto_threads(*args)
    assert len(ours) == len(before) == 8
    for a, b in zip(ours, before, strict=True):
        np.testing.assert_array_equal(a, b)  # threads never change a pixel
    assert measure(names[0], 1)["frames"] == len(frames)


if __name__ == "__main__":
    sys.exit(main())
