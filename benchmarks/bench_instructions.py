"""Instructions per display message, per layer, counted by callgrind.

Wall time on the shared 2-core machine moves with the other jobs; instruction
counts do not (same input, same hash seed: the same count to a few parts in
10,000), so a change to one layer shows as a change of its count.

Run (from the checkout, needs ``valgrind``; one capture takes ~1 min)::

    .venv/bin/python -P benchmarks/bench_instructions.py text-glz [winmove-glz ...]
    .venv/bin/python -P benchmarks/bench_instructions.py text-glz --live
    .venv/bin/python -P benchmarks/bench_instructions.py text-glz --json out.json

Offline, each layer runs in a process of its own under callgrind, collecting
only inside the measured call (``--toggle-collect`` on ``functools.reduce``,
which the measured code never calls itself); everything before it (imports,
reading the capture, the earlier layers' work that feeds this one) is not
counted.  The stages, each fed what the stage before produced:

- ``read``: ``capture.streams.read_channels`` (pcap + TCP reassembly + link
  parsing), as ``spicepy replay`` reads;
- ``machines``: the display channel machines framing and decoding every server
  segment in capture order (``receive_data`` + ``next_event``);
- ``core``: ``SessionCore.handle_event`` for every event (core + driver +
  canvas + codecs);
- ``driver``: ``DisplayDriver.apply`` of the same messages without the core
  (driver + canvas + codecs); core alone = ``core`` - ``driver``;
- ``replay``: ``capture.replay.replay`` end to end (read included), the check
  that the parts add up.

``codecs`` is the self cost, inside the ``driver`` stage, of the compiled
codec objects (spicepy's ``_quic``/``_lz``/``_glz``, lz4, libjpeg-turbo, zlib);
``canvas`` is the rest of that stage.  Counts are divided by the display
messages the machines received (a LIST counts once, as ``spicepy replay``).

``--live`` also runs ``python -m spicepy screenshot`` under callgrind (whole
process: start, imports, link, the window) against ``replay-server`` serving
the capture (../shared/tools), and splits its count by object file.

The pytest form (``pytest benchmarks/bench_instructions.py -o
python_files='bench_*.py'``) is the smoke test: every stage runs once, without
valgrind, and the stages must see the same messages.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script with -P: the sibling modules
    sys.path.insert(0, str(HERE))
from replay_server import captures_dir, replay_server  # noqa: E402

TOGGLE = "functools_reduce"
STAGES = ("read", "machines", "core", "driver", "replay")
#: object files whose self cost is image/video decoding
CODEC_OBJECTS = re.compile(r"(_quic|_lz|_glz|lz4|jpeg|libz\.|zlib|avcodec|_decode_)")


def _measured(work: Callable[[], Any]) -> Any:
    """Run ``work`` inside ``functools.reduce``: callgrind collects only there."""
    return functools.reduce(lambda _, f: f(), [work], None)


# -- the stages (each returns (display messages, whatever the next stage needs)) ----


def _display_channels(path: Path) -> list[Any]:
    from spicepy.capture.streams import read_channels
    from spicepy.wire.enums import ChannelType

    return [
        ch
        for ch in read_channels(path)
        if ch.channel_type == ChannelType.DISPLAY and ch.to_client and not ch.refused
    ]


def _segments(channels: list[Any]) -> list[tuple[float, int, int, int]]:
    """(capture time, channel index, start, end) per server segment, as replay."""
    from spicepy.capture.replay import server_segments

    return server_segments(channels)


def _run_machines(channels: list[Any], segments: list[Any]) -> tuple[int, list[Any]]:
    from spicepy.capture.streams import channel_machine
    from spicepy.errors import SpiceError
    from spicepy.wire.enums import ChannelType

    machines = [channel_machine(ch) for ch in channels]
    views = [memoryview(ch.to_client) for ch in channels]
    keys = [(int(ChannelType.DISPLAY), ch.channel_id) for ch in channels]
    events: list[tuple[Any, Any, float]] = []
    failed: set[int] = set()
    for when, index, start, end in segments:
        if index in failed:
            continue
        machine = machines[index]
        try:
            machine.receive_data(views[index][start:end])
        except SpiceError:
            failed.add(index)
        while (event := machine.next_event()) is not None:
            events.append((keys[index], event, when))
        machine.data_to_send()
    return sum(m.messages_received for m in machines), events


def _run_core(channels: list[Any], events: list[Any]) -> Any:
    from spicepy.session.core import SessionCore

    core = SessionCore()
    core.channels_list = [(ch.channel_type, ch.channel_id) for ch in channels]
    handle_event = core.handle_event
    for key, event, when in events:
        handle_event(key, event, when)
        core.messages_to_send()
    core.drop_held()
    return core


def _run_driver(drivers: dict[int, Any], events: list[Any]) -> int:
    from spicepy.canvas.images import ImageNotReady
    from spicepy.channels.events import MessageReceived
    from spicepy.errors import CanvasError, WireError

    applied = 0
    for key, event, _ in events:
        if type(event) is MessageReceived:
            try:
                drivers[key[1]].apply(event.message, None)
                applied += 1
            except (ImageNotReady, CanvasError, WireError):
                pass
    return applied


def run_stages(path: Path, measure: Callable[..., Any]) -> dict[str, Any]:
    """Every stage once, in ``STAGES`` order, each through ``measure`` (which
    callgrind dumps separately); returns what the stages produced."""
    from spicepy.capture.replay import replay
    from spicepy.session.core import SessionCore

    # warm-up, not measured: lazy imports, first-use caches and the
    # interpreter's specialisation happen here, so the stages count steady state
    replay(path)
    gc.freeze()
    channels = measure(lambda: _display_channels(path))
    segments = _segments(channels)
    messages, events = measure(lambda: _run_machines(channels, segments))
    core = measure(lambda: _run_core(channels, events))
    fresh = SessionCore()
    for ch in channels:
        fresh.add_display(ch.channel_id)
    applied = measure(lambda: _run_driver(fresh.drivers, events))
    result = measure(lambda: replay(path))
    return {
        "messages": messages,
        "core": core,
        "driver": fresh,
        "driver_applied": applied,
        "replay": result,
    }


# -- callgrind ---------------------------------------------------------------------


def self_cost_by_object(out_file: Path) -> dict[str, int]:
    """Instructions (Ir) spent in each object file's own code (exclusive)."""
    names: dict[str, str] = {}
    costs: defaultdict[str, int] = defaultdict(int)
    current = "?"
    skip_next = False
    with out_file.open() as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if skip_next:  # the inclusive cost of a call: not self cost
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) > 1:
                    costs[current] += int(parts[1])
            elif line.startswith("ob="):
                current = _name(names, line[3:].strip())
            elif line.startswith("calls="):
                skip_next = True
            elif line.startswith("cob="):
                _name(names, line[4:].strip())  # defines a name for later ob=
    return dict(costs)


def _name(names: dict[str, str], spec: str) -> str:
    m = re.match(r"\((\d+)\)\s*(.*)", spec)
    if not m:
        return spec
    if m.group(2):
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), spec)


def callgrind(argv: list[str], out_file: Path, toggle: bool) -> None:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
    ]
    if toggle:
        cmd += [
            "--collect-atstart=no",
            f"--toggle-collect={TOGGLE}",
            f"--dump-after={TOGGLE}",
        ]
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(cmd + argv, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench_instructions: {' '.join(argv)} failed:\n{done.stderr[-3000:]}")


def measure_offline(name: str, scratch: Path) -> dict[str, Any]:
    path = captures_dir() / f"{name}.pcap"
    cg = scratch / f"{name}.callgrind"
    result = scratch / f"{name}.json"
    script = str(Path(__file__).resolve())
    callgrind(
        [sys.executable, "-P", script, "--child", str(path), str(result)],
        cg,
        toggle=True,
    )
    out: dict[str, Any] = {"capture": name}
    out["messages"] = json.loads(result.read_text())["messages"]
    for n, stage in enumerate(STAGES, 1):  # one dump per measured call
        costs = self_cost_by_object(Path(f"{cg}.{n}"))
        out[stage] = sum(costs.values())
        if stage == "driver":
            out["codecs"] = sum(v for k, v in costs.items() if CODEC_OBJECTS.search(k))
            out["driver_objects"] = _top(costs)
    n = out["messages"] or 1
    per = {
        "read": out["read"],
        "machines": out["machines"],
        "core": out["core"] - out["driver"],
        "driver+canvas": out["driver"] - out["codecs"],
        "codecs": out["codecs"],
    }
    out["per_message"] = {k: round(v / n) for k, v in per.items()}
    out["per_message"]["sum"] = round(sum(per.values()) / n)
    out["per_message"]["replay"] = round(out["replay"] / n)
    return out


def _top(costs: dict[str, int], n: int = 8) -> list[tuple[str, int]]:
    items = sorted(costs.items(), key=lambda kv: -kv[1])[:n]
    return [(Path(k).name, v) for k, v in items]


def measure_live(name: str, scratch: Path) -> dict[str, Any]:
    """``spicepy screenshot`` under callgrind against replay-server."""
    with replay_server(name, 600) as uri:
        cg = scratch / f"{name}.live.callgrind"
        png = scratch / f"{name}.live.png"
        callgrind(
            [
                sys.executable,
                "-P",
                "-m",
                "spicepy",
                "screenshot",
                uri,
                "-o",
                str(png),
                "--timeout",
                "300",
                "--quiet-time",
                "3",
            ],
            cg,
            toggle=False,
        )
        costs = self_cost_by_object(cg)
    return {
        "capture": name,
        "live_total": sum(costs.values()),
        "live_codecs": sum(v for k, v in costs.items() if CODEC_OBJECTS.search(k)),
        "live_objects": _top(costs, 10),
    }


def _child(path: str, result: str) -> None:
    out = run_stages(Path(path), _measured)
    Path(result).write_text(json.dumps({"messages": out["messages"]}))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        _child(*args[1:3])
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("captures", nargs="+", help="capture names (../shared/captures)")
    p.add_argument("--live", action="store_true", help="also spicepy screenshot")
    p.add_argument("--json", type=Path, help="write the results here too")
    p.add_argument("--keep", type=Path, help="keep the callgrind files in this dir")
    ns = p.parse_args(args)
    if shutil.which("valgrind") is None:
        print("bench_instructions: valgrind is not installed", file=sys.stderr)
        return 2
    scratch = ns.keep or Path(tempfile.mkdtemp(prefix="bench_instructions."))
    scratch.mkdir(parents=True, exist_ok=True)
    results = []
    for name in ns.captures:
        r = measure_offline(name, scratch)
        pm = r["per_message"]
        print(
            f"{name}: {r['messages']} display messages; Ir per message: "
            + ", ".join(f"{k} {v:,}" for k, v in pm.items())
        )
        objects = r["driver_objects"]
        n = r["messages"]
        print("  driver stage by object: "
              + ", ".join(f"{k} {v / n:,.0f}" for k, v in objects))  # fmt: skip
        if ns.live:
            r.update(measure_live(name, scratch))
            print(
                f"  live spicepy screenshot (whole process): {r['live_total']:,} Ir, "
                f"codecs {r['live_codecs']:,}"
            )
            objects = r["live_objects"]
            print("  by object: "
                  + ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in objects))  # fmt: skip
        results.append(r)
    if ns.json:
        ns.json.write_text(json.dumps(results, indent=1))
    if ns.keep is None:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


# -- pytest smoke ---------------------------------------------------------------------


def test_stages_see_the_same_messages() -> None:
    """Each stage runs once, without valgrind, on text-glz: the core stage
    draws what replay draws, and the driver stage applies every message the
    core's drivers applied."""
    import numpy as np
    import pytest

    path = captures_dir() / "text-glz.pcap"
    if not path.is_file():
        pytest.skip("capture corpus not present (set SPICEPY_CAPTURES)")
    out = run_stages(path, lambda f: f())
    replayed = out["replay"]
    assert out["messages"] == replayed.messages > 1000
    core_counts = sum(sum(d.counts.values()) for d in out["core"].drivers.values())
    assert out["driver_applied"] == core_counts > 1000
    pixels = out["core"].primary_driver().canvas.primary.pixels
    assert np.array_equal(pixels, replayed.core.primary_driver().canvas.primary.pixels)
    assert np.array_equal(pixels, out["driver"].primary_driver().canvas.primary.pixels)


if __name__ == "__main__":
    sys.exit(main())
