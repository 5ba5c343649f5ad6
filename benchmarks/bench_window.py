"""What ``spicepy screenshot`` spends inside the window replay-server times.

The window (``../shared/tools/replay-server``): from the display channel's
first data-phase byte to the PONG answering the PING the server appends.
Whole-process counts (``bench_instructions.py --live``) hide it under
start-up, imports and the link; this probe marks it in the client itself:
it starts at the display machine's ``receive_data`` call that completes the
link (the link result and the first data arrive there) and ends at each write
that carries a display PONG.

Two measures, both in the same client processes as the benchmark's command:

- ``--callgrind``: instructions (Ir) inside the window, split by object
  file.  A small C helper (built at run time with ``gcc`` against
  ``valgrind/callgrind.h``) zeroes and starts collection at the window's
  start and dumps at every display PONG; the window is the sum of those
  dumps.  Repeatable under load (same input, same hash seed).
- default: minor page faults, user and system CPU ms in the window
  (``getrusage``), median of ``--runs`` fresh clients.  A fresh page costs a
  fault plus zeroing; under load the system time moves a lot (and
  ``getrusage`` splits user/system by clock ticks: a 10 ms window is a few
  ticks), the fault count does not.
- ``--by-call``: where the window's page faults happen, one client per
  capture: the connections' read buffers (``_get_buffer``: a new one while
  the machine still holds views of the old), the display machine's
  ``receive_data`` (framing, reassembling messages), ``DisplayDriver.apply``
  by message class and, inside it, the image decodes by SPICE image type
  (calls and faults of each).

Run (from the checkout; the replay-server's 10 s link timeout needs a host
that is not overloaded under callgrind)::

    .venv/bin/python -P benchmarks/bench_window.py text-off cursor-auto_glz
    .venv/bin/python -P benchmarks/bench_window.py text-off --callgrind
    .venv/bin/python -P benchmarks/bench_window.py photos-lz4 --by-call

The pytest form (``pytest benchmarks/bench_window.py -o
python_files='bench_*.py'``) is a smoke test: one capture, one run, the
probe must see a window.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script with -P: the sibling modules
    sys.path.insert(0, str(HERE))
from replay_server import captures_dir, replay_server, tools_dir  # noqa: E402

SMOKE_CAPTURE = "cursor-auto_glz"
#: the probe's report line (stderr of the client)
WINDOW_LINE = re.compile(r"^spicepy-window: (.*)$", re.M)
#: ``--by-call``: one line per counted call site, after each window line
CALL_LINE = "spicepy-window-call: "

_HELPER_C = """\
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void cg_dump(void) { CALLGRIND_DUMP_STATS_AT("display PONG"); }
"""


# -- the probe (runs inside the client: ``--child``) -------------------------------


def _child(argv: list[str]) -> int:
    """Run the spicepy CLI with the window probe installed."""
    import ctypes
    import resource
    import time

    from spicepy.canvas.images import ImageResolver
    from spicepy.channels._state import ChannelState
    from spicepy.channels.display import DisplayChannel
    from spicepy.cli import main
    from spicepy.session.connection import ChannelConnection
    from spicepy.session.core import DisplayDriver
    from spicepy.wire.enums import CommonMsg

    helper = os.environ.get("SPICEPY_WINDOW_HELPER")
    lib = ctypes.CDLL(helper) if helper else None
    start: list[Any] = []
    receive = DisplayChannel.receive_data
    flush = ChannelConnection._flush
    linking = (ChannelState.AUTHENTICATING, ChannelState.READY)

    #: --by-call: label -> [calls, page faults], inside the window only
    calls: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])

    def counted(inner: Any, label: Any) -> Any:
        """``inner`` counting its calls and faults under ``label(args)``."""

        def wrapper(self: Any, *args: Any) -> Any:
            if not start:
                return inner(self, *args)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            try:
                return inner(self, *args)
            finally:
                count = calls[label(args)]
                count[0] += 1
                count[1] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

        return wrapper

    if os.environ.get("SPICEPY_WINDOW_BY_CALL"):
        receive = counted(receive, lambda a: "receive_data")
        ChannelConnection._get_buffer = counted(  # type: ignore[method-assign]
            ChannelConnection._get_buffer, lambda a: "read buffers (all channels)"
        )
        DisplayDriver.apply = counted(  # type: ignore[method-assign]
            DisplayDriver.apply, lambda a: f"apply {type(a[0]).__name__}"
        )
        # inside apply: decodes (an in-place one is inside its copy_onto)
        ImageResolver._decode = counted(  # type: ignore[method-assign]
            ImageResolver._decode, lambda a: f"decode type {a[1].type}"
        )
        ImageResolver.copy_onto = counted(  # type: ignore[method-assign]
            ImageResolver.copy_onto, lambda a: "copy_onto (tried)"
        )

    def probed_receive(self: DisplayChannel, data: Any) -> None:
        if not start and self.state in linking:
            start.append(resource.getrusage(resource.RUSAGE_SELF))
            start.append(time.perf_counter())
            if lib is not None:
                lib.cg_start()
        receive(self, data)

    def probed_flush(self: ChannelConnection) -> None:
        flush(self)
        machine: Any = self.machine
        if not start or not isinstance(machine, DisplayChannel):
            return
        pings = machine.message_counts[CommonMsg.PING]
        if pings == getattr(self, "_probe_pings", 0):
            return
        self._probe_pings = pings  # type: ignore[attr-defined]
        if lib is not None:
            lib.cg_dump()
        now, ru0 = resource.getrusage(resource.RUSAGE_SELF), start[0]
        print(
            "spicepy-window: "
            f"faults={now.ru_minflt - ru0.ru_minflt} "
            f"user_ms={(now.ru_utime - ru0.ru_utime) * 1e3:.2f} "
            f"sys_ms={(now.ru_stime - ru0.ru_stime) * 1e3:.2f} "
            f"wall_ms={(time.perf_counter() - start[1]) * 1e3:.2f}",
            file=sys.stderr,
            flush=True,
        )
        # the outer calls first (receive_data, apply ...), then what nests in apply
        order = sorted(calls.items(), key=lambda kv: (kv[0][0] in "cd", -kv[1][1]))
        for label, (n, faults) in order:
            print(f"{CALL_LINE}{label}: {n} calls, {faults} faults", file=sys.stderr)

    DisplayChannel.receive_data = probed_receive  # type: ignore[method-assign,assignment]
    ChannelConnection._flush = probed_flush  # type: ignore[method-assign]
    return main(argv)


# -- the driver -----------------------------------------------------------------


def _helper(scratch: Path) -> Path:
    source = scratch / "window_helper.c"
    source.write_text(_HELPER_C)
    lib = scratch / "window_helper.so"
    subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(source)], check=True
    )
    return lib


def run_once(
    name: str, scratch: Path, helper: Path | None, by_call: bool = False
) -> dict[str, Any]:
    """One fresh client against replay-server; the last window it reported
    (``by_call``: its per-call lines under "calls")."""
    with replay_server(name, 600) as uri:
        cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--child"]
        cmd += ["screenshot", uri]
        cmd += ["-o", str(scratch / f"{name}.png"), "--timeout", "300"]
        env = dict(os.environ, PYTHONHASHSEED="0")
        if by_call:
            env["SPICEPY_WINDOW_BY_CALL"] = "1"
        cg = scratch / f"{name}.cg"
        if helper is not None:
            env["SPICEPY_WINDOW_HELPER"] = str(helper)
            cmd = [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                f"--callgrind-out-file={cg}",
                *cmd,
                "--quiet-time",
                "3",
            ]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    windows = WINDOW_LINE.findall(done.stderr)
    if done.returncode or not windows:
        sys.exit(f"bench_window: {name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = {
        k: float(v) for k, v in (f.split("=") for f in windows[-1].split())
    }
    if by_call:  # the lines after the last window line
        last = done.stderr.rsplit("spicepy-window: ", 1)[1]
        result["calls"] = [
            line[len(CALL_LINE) :]
            for line in last.splitlines()
            if line.startswith(CALL_LINE)
        ]
    if helper is not None:
        dumps = sorted(scratch.glob(f"{name}.cg.*"))  # one per display PONG
        costs: defaultdict[str, int] = defaultdict(int)
        for dump in dumps:
            for obj, ir in _self_cost_by_object(dump).items():
                costs[Path(obj).name] += ir
            dump.unlink()
        result["ir"] = sum(costs.values())
        result["objects"] = sorted(costs.items(), key=lambda kv: -kv[1])[:8]
    return result


def _self_cost_by_object(out_file: Path) -> dict[str, int]:
    """Instructions spent in each object file's own code (a callgrind dump)."""
    names: dict[str, str] = {}
    costs: defaultdict[str, int] = defaultdict(int)
    current, skip_next = "?", False
    with out_file.open() as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if skip_next:  # a call's inclusive cost: not self cost
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) > 1:
                    costs[current] += int(parts[1])
            elif line.startswith(("ob=", "cob=")):
                m = re.match(r"c?ob=\((\d+)\)\s*(.*)", line.strip())
                if m and m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("ob="):
                    current = names.get(m.group(1), "?") if m else line[3:].strip()
            elif line.startswith("calls="):
                skip_next = True
    return dict(costs)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        return _child(args[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("captures", nargs="+")
    p.add_argument("--runs", type=int, default=5, help="fresh clients (default)")
    p.add_argument("--callgrind", action="store_true", help="Ir, one run each")
    p.add_argument(
        "--by-call", action="store_true", help="faults by call site, one run each"
    )
    ns = p.parse_args(args)
    if ns.callgrind and not shutil.which("valgrind"):
        sys.exit("bench_window: --callgrind needs valgrind")
    with tempfile.TemporaryDirectory(prefix="bench_window.") as tmp:
        scratch = Path(tmp)
        helper = _helper(scratch) if ns.callgrind else None
        for name in ns.captures:
            if ns.by_call:
                r = run_once(name, scratch, None, by_call=True)
                print(f"{name}: {r['faults']:.0f} page faults in the window")
                for line in r["calls"]:
                    print(f"  {line}")
                continue
            if helper is not None:
                r = run_once(name, scratch, helper)
                objects = ", ".join(f"{k} {v:,}" for k, v in r["objects"][:5])
                print(f"{name}: {int(r['ir']):,} Ir in the window ({objects})")
                continue
            runs = [run_once(name, scratch, None) for _ in range(ns.runs)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(
                f"{name}: median of {ns.runs}: {med['faults']:.0f} page faults, "
                f"CPU {med['user_ms']:.1f} ms user + {med['sys_ms']:.1f} ms system, "
                f"wall {med['wall_ms']:.1f} ms"
            )
    return 0


def test_window_probe_smoke() -> None:
    """One capture once: the probe sees a window (faults and CPU counted)."""
    if not (captures_dir() / f"{SMOKE_CAPTURE}.pcap").is_file():
        pytest.skip("../shared/captures not present (set SPICEPY_CAPTURES)")
    if not (tools_dir() / "replay-server").is_file():
        pytest.skip("../shared/tools not present (set SPICEPY_TOOLS)")
    with tempfile.TemporaryDirectory(prefix="bench_window.") as tmp:
        result = run_once(SMOKE_CAPTURE, Path(tmp), None)
    assert result["faults"] > 0
    assert result["user_ms"] + result["sys_ms"] > 0


if __name__ == "__main__":
    sys.exit(main())
