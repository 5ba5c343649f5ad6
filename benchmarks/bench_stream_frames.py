"""Which video frames ``spicepy screenshot`` decodes and shows, and when, on the
recorded sessions replayed by ``../shared/tools/replay-server``; with
``--gtk``, spice-gtk's own account of the same replay beside it
(``gtk-replay-bench --spice-debug``: its SPICE_DEBUG lines, MJPEG and
GStreamer paths).

A probe inside the client (``--child``) wraps ``StreamManager`` and the
display connection's writes and prints, at each display PONG (the end of the
window replay-server times) and at each STREAM_DESTROY, what the streams did
so far: frames received, arrived late (by the mm clock), dropped on arrival,
queued, shown, dropped when scheduled, VP8/H.264 frames through the decoder
(collected: ``StreamManager._collect``, on the loop thread whether decoded
there or on the stream's worker), pictures the decoders completed, and the
frames still queued or undecoded.  Counts, not times: they hold on a
loaded machine, though how many frames arrive late depends on how fast the
replay reaches the client against its clock.

Run (from the checkout)::

    .venv/bin/python -P benchmarks/bench_stream_frames.py video-vp8 --gtk

The pytest form (``pytest benchmarks/bench_stream_frames.py -o
python_files='bench_*.py'``) is a smoke test on video-stream_all: every
frame is accounted for once.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script with -P: the sibling modules
    sys.path.insert(0, str(HERE))
from replay_server import captures_dir, replay_server, tools_dir  # noqa: E402

FRAMES_LINE = re.compile(r"^spicepy-frames: (.*)$", re.M)
SMOKE_CAPTURE = "video-stream_all"


# -- the probe (runs inside the client: ``--child``) -------------------------------


def _child(argv: list[str]) -> int:
    """Run the spicepy CLI with the stream probe installed."""
    from spicepy.canvas import streams
    from spicepy.channels.display import DisplayChannel
    from spicepy.cli import main
    from spicepy.session.connection import ChannelConnection
    from spicepy.wire.enums import CommonMsg

    counts = dict.fromkeys(("decoded", "shown"), 0)
    managers: list[Any] = []
    data, show = streams.StreamManager.data, streams.StreamManager._show
    # every VP8/H.264 frame through the decoder passes _collect, synchronous
    # or collected from the stream's worker thread
    decode, destroy = streams.StreamManager._collect, streams.StreamManager.destroy
    flush = ChannelConnection._flush

    def report(event: str) -> None:
        every = [s for m in managers for s in m.history]
        out = {
            "event": event,
            "received": sum(s.frames_received for s in every),
            "arrived_late": sum(s.scheduler.late_on_arrival for s in every),
            "dropped": sum(s.scheduler.dropped for s in every),
            "dropped_when_scheduled": sum(
                s.scheduler.dropped_on_playback for s in every
            ),
            "queued_now": sum(
                len(s.scheduler.queue) for m in managers for s in m.streams.values()
            ),
            "undecoded_now": sum(
                len(s.pending) for m in managers for s in m.streams.values()
            ),
            **counts,
            # pictures the decoders completed: with worker threads also the
            # frames decoded ahead and never collected (destroyed first)
            "pictures": sum(s.decoder.frames_decoded for s in every if s.decoder),
        }
        print("spicepy-frames: " + json.dumps(out), file=sys.stderr, flush=True)

    def p_data(self: Any, *args: Any, **kwargs: Any) -> None:
        if self not in managers:
            managers.append(self)
        data(self, *args, **kwargs)

    def p_show(self: Any, s: Any, item: Any) -> None:
        counts["shown"] += 1
        show(self, s, item)

    def p_decode(self: Any, s: Any, item: Any) -> None:
        counts["decoded"] += 1
        decode(self, s, item)

    def p_destroy(self: Any, stream_id: int) -> None:
        report("destroy")
        destroy(self, stream_id)

    def p_flush(self: ChannelConnection) -> None:
        flush(self)
        machine: Any = self.machine
        if isinstance(machine, DisplayChannel):
            pings = machine.message_counts[CommonMsg.PING]
            if pings != getattr(self, "_probe_pings", 0):
                self._probe_pings = pings  # type: ignore[attr-defined]
                report("pong")

    streams.StreamManager.data = p_data  # type: ignore[method-assign]
    streams.StreamManager._show = p_show  # type: ignore[method-assign]
    streams.StreamManager._collect = p_decode  # type: ignore[method-assign]
    streams.StreamManager.destroy = p_destroy  # type: ignore[method-assign]
    ChannelConnection._flush = p_flush  # type: ignore[method-assign]
    return main(argv)


# -- the driver -----------------------------------------------------------------


def run_once(name: str, scratch: Path) -> list[dict[str, Any]]:
    """One fresh client against replay-server; the probe's reports in order."""
    with replay_server(name, 120) as uri:
        cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--child"]
        cmd += ["screenshot", uri, "-o", str(scratch / f"{name}.png")]
        cmd += ["--timeout", "120"]
        done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench_stream_frames: {name} failed:\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in FRAMES_LINE.findall(done.stderr)]


def gtk_account(name: str) -> str:
    """spice-gtk's SPICE_DEBUG summary of one replay (gtk-replay-bench)."""
    done = subprocess.run(
        [str(tools_dir() / "gtk-replay-bench"), str(captures_dir() / f"{name}.pcap")]
        + ["--runs", "1", "--spice-debug"],
        capture_output=True,
        text=True,
    )
    lines = done.stdout.splitlines()
    at = [i for i, line in enumerate(lines) if "frame handling" in line]
    return "\n".join(lines[at[0] :]) if at else done.stdout[-2000:]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        return _child(args[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("captures", nargs="+")
    p.add_argument("--gtk", action="store_true", help="spice-gtk's account too")
    ns = p.parse_args(args)
    with tempfile.TemporaryDirectory(prefix="bench_stream_frames.") as tmp:
        for name in ns.captures:
            print(f"{name}: spicepy")
            for r in run_once(name, Path(tmp)):
                event = r.pop("event")
                print(f"  at {event}: " + ", ".join(f"{k}={v}" for k, v in r.items()))
            if ns.gtk:
                print(f"{name}: spice-gtk\n{gtk_account(name)}")
    return 0


def test_stream_frames_probe_smoke() -> None:
    """One replay: the probe reports, and every frame received is shown,
    dropped, still queued or was destroyed queued (counted at STREAM_DESTROY)."""
    if not (captures_dir() / f"{SMOKE_CAPTURE}.pcap").is_file():
        pytest.skip("../shared/captures not present (set SPICEPY_CAPTURES)")
    if not (tools_dir() / "replay-server").is_file():
        pytest.skip("../shared/tools not present (set SPICEPY_TOOLS)")
    with tempfile.TemporaryDirectory(prefix="bench_stream_frames.") as tmp:
        reports = run_once(SMOKE_CAPTURE, Path(tmp))
    destroyed = next(r for r in reports if r["event"] == "destroy")
    assert destroyed["received"] > 0
    assert destroyed["received"] == (
        destroyed["shown"] + destroyed["dropped"] + destroyed["queued_now"]
    )


if __name__ == "__main__":
    sys.exit(main())
