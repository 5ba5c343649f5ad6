"""spicepy against spice-gtk on every recorded session, in the same run.

Usage::

    .venv/bin/python benchmarks/bench_session.py --runs 3 --out benchmarks/RESULTS.md
    .venv/bin/python benchmarks/bench_session.py --captures text-glz photos-quic
    .venv/bin/python benchmarks/report.py --session-json raw.json --markdown FILE

For each capture of ``../shared/captures`` (or $SPICEPY_CAPTURES), spice-gtk and
spicepy each get ``--runs`` fresh client processes, alternating, against the
shared tools' ``replay-server`` (``../shared/tools``, or $SPICEPY_TOOLS):

- spice-gtk through ``gtk-replay-bench`` (its own GI client on Debian's
  ``/usr/bin/python3``; skipped, with the reason in the output, when python3-gi
  or gir1.2-spiceclientglib-2.0 is missing),
- spicepy through ``replay-bench`` running ``python -m spicepy screenshot {uri}
  -o {out}`` with this interpreter, from a scratch directory (never the source
  tree, whose ``spicepy/`` lacks the compiled codecs).

Time = replay-server's time from the first data-phase byte of the display
channel to the PONG of the PING it appends (every recorded message processed),
the slowest display channel of a run, median over runs; client CPU over that
window comes from the same tool. Peak RSS: ``peak_rss.py`` sits in front of
each client command and reaps the client with ``wait4`` (its own ``ru_maxrss``;
the tools' and the wrapper's memory are not in it). The PNG each run writes is
checked by the tools against the capture's truth. Also measured: offline
``spicepy replay`` throughput (display messages per second) on text-glz with the
compiled twins and with ``SPICEPY_PUREPYTHON=1``.

The results go into the ``session`` section of the page ``report.py`` writes
(one report path), the ratios into a plot beside it. The pytest form
(``test_session_smoke``) runs one small capture once per client and skips where
the shared data, the tools or spice-gtk are absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from images import captures_path

BENCH_DIR = Path(__file__).resolve().parent
PEAK_RSS = BENCH_DIR / "peak_rss.py"
SMOKE_CAPTURE = "cursor-auto_glz"
THROUGHPUT_CAPTURE = "text-glz"
THROUGHPUT_TARGET = 50_000  # display messages per second (issue 7)
SPICEPY = "spicepy"
SPICE_GTK = "spice-gtk"
CLIENTS = (SPICE_GTK, SPICEPY)

# Runs the real gtk-replay-bench with only its client command put behind the
# RSS wrapper (the tool refuses a client of our own after "--")
_GTK_LAUNCH = """\
import importlib.machinery, importlib.util, json, sys
loader = importlib.machinery.SourceFileLoader("gtk_replay_bench", sys.argv[1])
spec = importlib.util.spec_from_loader("gtk_replay_bench", loader)
mod = importlib.util.module_from_spec(spec)
loader.exec_module(mod)
mod.GTK_CLIENT[:0] = json.loads(sys.argv[2])
sys.exit(mod.main(sys.argv[3:]))
"""

_GI_CHECK = (
    "import gi; gi.require_version('SpiceClientGLib', '2.0'); "
    "from gi.repository import SpiceClientGLib"
)

_THROUGHPUT = """\
import json, sys, time
from spicepy.capture.replay import replay
path, runs = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(runs + 1):
    t0 = time.perf_counter()
    result = replay(path)
    times.append(time.perf_counter() - t0)
fast = {name: mod.FAST for name, mod in sorted(sys.modules.items())
        if name.startswith("spicepy") and isinstance(getattr(mod, "FAST", None), bool)}
print(json.dumps({"messages": result.messages, "cold_s": times[0],
                  "warm_s": times[1:], "fast": fast}))
"""


@dataclass(slots=True)
class ClientStats:
    """One client on one capture, over all its runs."""

    display_ms: float | None
    display_ms_runs: list[float]
    cpu_ms: float | None
    rss_mb: float | None
    rss_mb_runs: list[float]
    runs: int
    png_exact: int
    png_match: int
    psnr_db: float | None
    differing_pixels: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- where things are ----------------------------------------------------------


def tools_path() -> Path | None:
    """$SPICEPY_TOOLS, else ``tools`` beside the capture folder, or None."""
    env = os.environ.get("SPICEPY_TOOLS")
    if env:
        path = Path(env)
    else:
        captures = captures_path()
        if captures is None:
            return None
        path = captures.parent / "tools"
    return path if (path / "replay-bench").is_file() else None


def gtk_missing(tools: Path) -> str | None:
    """Why spice-gtk cannot be run here, or None when it can."""
    if not (tools / "gtk-replay-bench").is_file():
        return f"{tools}/gtk-replay-bench not found"
    gi_python = "/usr/bin/python3"  # gtk-replay-bench's GI_PYTHON
    if not Path(gi_python).is_file():
        return f"{gi_python} not found (spice-gtk runs through Debian's python3-gi)"
    probe = subprocess.run(
        [gi_python, "-c", _GI_CHECK], capture_output=True, text=True, timeout=60
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return (
            "python3-gi / gir1.2-spiceclientglib-2.0 not installed "
            f"({gi_python} cannot import SpiceClientGLib 2.0: {last})"
        )
    return None


def capture_names(captures: Path) -> list[str]:
    """Every capture of the corpus, in manifest order (else sorted pcap names)."""
    manifest = captures / "manifest.json"
    if manifest.is_file():
        names = [c["name"] for c in json.loads(manifest.read_text())["captures"]]
        return [n for n in names if (captures / f"{n}.pcap").is_file()]
    return sorted(p.stem for p in captures.glob("*.pcap"))


# -- measuring -----------------------------------------------------------------


def _tool_command(
    client: str,
    tools: Path,
    pcap: Path,
    runs: int,
    out_json: Path,
    keep: Path,
    python: str,
) -> list[str]:
    wrapper = [python, str(PEAK_RSS), "{out}.rss", "--"]
    common = [
        str(pcap),
        "--runs",
        str(runs),
        "--json",
        str(out_json),
        "--keep",
        str(keep),
        "--quiet",
    ]
    if client == SPICE_GTK:
        launcher = [python, "-c", _GTK_LAUNCH, str(tools / "gtk-replay-bench")]
        return [*launcher, json.dumps(wrapper), *common]
    spicepy = [python, "-m", "spicepy", "screenshot", "{uri}", "-o", "{out}"]
    return [
        python,
        str(tools / "replay-bench"),
        *common,
        "--name",
        SPICEPY,
        "--",
        *wrapper,
        *spicepy,
    ]


def run_tool(
    client: str,
    tools: Path,
    pcap: Path,
    runs: int,
    workdir: Path,
    python: str = sys.executable,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The replay-bench result of ``runs`` fresh ``client`` runs on one capture.

    Raises:
        RuntimeError: the tool produced no result (its output is in the message).
    """
    keep = workdir / f"{pcap.stem}.{client}"
    keep.mkdir(parents=True, exist_ok=True)
    out_json = keep / "result.json"
    cmd = _tool_command(client, tools, pcap, runs, out_json, keep, python)
    env = dict(os.environ, **(extra_env or {}))
    proc = subprocess.run(
        cmd,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60 + runs * 200,  # the tool's own limits: 120 s replay + 30 s exit
    )
    results = json.loads(out_json.read_text())["results"] if out_json.exists() else []
    if not results:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise RuntimeError(
            f"{client} on {pcap.name}: no result (exit {proc.returncode}): {tail}"
        )
    result: dict[str, Any] = results[0]
    return result


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _read_rss_mb(path: str) -> float | None:
    try:
        return int(Path(path).read_text().strip()) / 1024.0
    except (OSError, ValueError):
        return None


def client_stats(result: dict[str, Any]) -> ClientStats:
    """Medians over the runs of one replay-bench result.

    A run counts for the time only when every display channel it replayed
    answered its final PING; its time is the slowest display channel's.
    """
    times: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    exact = match = differing = 0
    psnr: list[float] = []
    for run in result["runs"]:
        shown = [
            c
            for c in run["channels"].values()
            if str(c.get("channel", "")).startswith("display")
            and c.get("status") == "replayed"
        ]
        if shown and all(c.get("pong_ms") is not None for c in shown):
            slowest = max(shown, key=lambda c: float(c["pong_ms"]))
            times.append(float(slowest["pong_ms"]))
            if slowest.get("client_cpu_ms") is not None:
                cpus.append(float(slowest["client_cpu_ms"]))
        mb = _read_rss_mb(str(run["out"]) + ".rss")
        if mb is not None:
            rss.append(mb)
        check = run.get("png_check") or {}
        final = check.get("final") or {}
        exact += bool(final.get("exact"))
        match += bool(check.get("match"))
        differing = max(differing, int(final.get("differing_pixels") or 0))
        if final.get("psnr_db") is not None:
            psnr.append(float(final["psnr_db"]))
    return ClientStats(
        display_ms=_median(times),
        display_ms_runs=times,
        cpu_ms=_median(cpus),
        rss_mb=_median(rss),
        rss_mb_runs=rss,
        runs=len(result["runs"]),
        png_exact=exact,
        png_match=match,
        psnr_db=_median(psnr),
        differing_pixels=differing,
        problems=list(result.get("problems") or []),
        notes=list(result.get("notes") or []),
    )


def display_messages(result: dict[str, Any]) -> int:
    """Recorded server->client messages of the capture's display channels."""
    return sum(
        int(c.get("messages") or 0)
        for c in result["summary"]["channels"]
        if str(c.get("channel", "")).startswith("display")
    )


def measure_capture(
    pcap: Path,
    tools: Path,
    runs: int,
    workdir: Path,
    gtk_skip: str | None,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Both clients on one capture, runs alternating (spice-gtk, spicepy, spice-gtk,
    ...) so that a change in the machine's load hits both: the row the report
    renders."""
    clients = [c for c in CLIENTS if not (c == SPICE_GTK and gtk_skip is not None)]
    row: dict[str, Any] = {"capture": pcap.stem, "clients": {}, "errors": []}
    done: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    for k in range(runs):
        for client in clients:
            try:
                result = run_tool(client, tools, pcap, 1, workdir / f"pass{k}", python)
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
                row["errors"].append(str(e))
                continue
            done[client].append(result)
            row["lossless"] = result.get("lossless")
            row["display_messages"] = display_messages(result)
    for client in CLIENTS:
        results = done.get(client) or []
        row["clients"][client] = (
            asdict(client_stats(merge_results(results))) if results else None
        )
    return row


def merge_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One replay-bench result holding the runs of several one-run results."""
    merged = dict(results[0])
    merged["runs"] = [run for r in results for run in r["runs"]]
    for key in ("problems", "notes"):
        merged[key] = sorted({x for r in results for x in r.get(key) or []})
    return merged


def replay_throughput(
    pcap: Path, runs: int, pure: bool, python: str = sys.executable
) -> dict[str, Any]:
    """Offline ``spicepy replay`` of one capture in a fresh interpreter.

    One cold run (imports and first use included, as the CLI pays them), then
    ``runs`` warm ones; messages per second from the warm median.
    """
    env = dict(os.environ)
    env.pop("SPICEPY_PUREPYTHON", None)
    if pure:
        env["SPICEPY_PUREPYTHON"] = "1"
    row: dict[str, Any] = {
        "capture": pcap.stem,
        "twin": "pure-Python" if pure else "compiled",
    }
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as cwd:
        proc = subprocess.run(
            [python, "-c", _THROUGHPUT, str(pcap), str(runs)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    if proc.returncode != 0:
        row["error"] = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return row
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    warm = statistics.median(data["warm_s"])
    row.update(
        messages=data["messages"],
        cold_s=data["cold_s"],
        warm_s=warm,
        per_s=data["messages"] / warm if warm else None,
        fast=data["fast"],
    )
    return row


def spicepy_source(python: str) -> str:
    """Which spicepy the client runs: its folder, and the checkout's commit."""
    with tempfile.TemporaryDirectory(prefix="bench-src-") as cwd:
        proc = subprocess.run(
            [python, "-c", "import spicepy; print(spicepy.__file__)"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
    if proc.returncode != 0:
        return "spicepy not importable"
    folder = Path(proc.stdout.strip()).parent
    git = ["git", "-C", str(folder.parent)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        return str(folder)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "spicepy", "codecs"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{folder} at {head.stdout.strip()}" + (
        " with uncommitted changes" if dirty else ""
    )


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def run_all(
    captures: Path,
    tools: Path,
    names: list[str],
    runs: int,
    *,
    skip_gtk: bool = False,
    python: str = sys.executable,
    throughput: bool = True,
    note: str = "",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every capture, both clients, plus the replay throughput: the raw results."""
    gtk_skip = "--skip-gtk given" if skip_gtk else gtk_missing(tools)
    if gtk_skip:
        log(f"spice-gtk skipped: {gtk_skip}")
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": runs,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_start": _loadavg(),
        "gtk_skipped": gtk_skip,
        "spicepy_command": "python -m spicepy screenshot {uri} -o {out}",
        "purepython_env": os.environ.get("SPICEPY_PUREPYTHON", ""),
        "order": "alternating",
        "spicepy": spicepy_source(python),
        "note": note,
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-session-") as tmp:
        workdir = Path(tmp)
        for name in names:
            row = measure_capture(
                captures / f"{name}.pcap", tools, runs, workdir, gtk_skip, python
            )
            rows.append(row)
            log(_progress(row))
            for k in range(runs):
                shutil.rmtree(workdir / f"pass{k}", ignore_errors=True)
    replays = []
    if throughput and (captures / f"{THROUGHPUT_CAPTURE}.pcap").is_file():
        for pure in (False, True):
            r = replay_throughput(
                captures / f"{THROUGHPUT_CAPTURE}.pcap", runs, pure, python
            )
            replays.append(r)
            log(
                f"replay {r['capture']} ({r['twin']}): "
                + (f"{r['per_s']:,.0f} messages/s" if "per_s" in r else r["error"])
            )
    meta["loadavg_end"] = _loadavg()
    return {
        "meta": meta,
        "captures": rows,
        "replay": replays,
        "rss_floor_mb": rss_floors(tools, gtk_skip, python),
    }


def rss_floors(tools: Path, gtk_skip: str | None, python: str) -> dict[str, float]:
    """Peak RSS of each client's interpreter with its imports and no session.

    The spice-gtk figure includes the tool's Python harness (PyGObject); this
    floor says how much of it that is.
    """
    probes = {SPICEPY: [python, "-c", "import spicepy.cli, spicepy.client"]}
    if gtk_skip is None:
        probes[SPICE_GTK] = ["/usr/bin/python3", "-c", _GI_CHECK]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        for client, cmd in probes.items():
            rss_file = Path(tmp) / f"{client}.rss"
            proc = subprocess.run(
                [python, str(PEAK_RSS), str(rss_file), "--", *cmd],
                cwd=tmp,
                capture_output=True,
                timeout=120,
            )
            mb = _read_rss_mb(str(rss_file))
            if proc.returncode == 0 and mb is not None:
                out[client] = mb
    return out


def _progress(row: dict[str, Any]) -> str:
    parts = []
    for client in CLIENTS:
        s = row["clients"].get(client)
        if s is None:
            parts.append(f"{client} -")
            continue
        ms = "-" if s["display_ms"] is None else f"{s['display_ms']:.1f} ms"
        rss = "-" if s["rss_mb"] is None else f"{s['rss_mb']:.0f} MB"
        parts.append(f"{client} {ms}, {rss}, png {s['png_exact']}/{s['runs']} exact")
    errors = "".join(f"\n  error: {e}" for e in row["errors"])
    return f"{row['capture']}: " + "; ".join(parts) + errors


# -- CLI -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import report

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3, help="fresh client runs (median)")
    p.add_argument("--out", type=Path, help="Markdown page to update (RESULTS.md)")
    p.add_argument("--plot", type=Path, help="ratio plot PNG (default: beside --out)")
    p.add_argument("--json", type=Path, help="also keep the raw results here")
    p.add_argument("--captures", nargs="*", help="capture names (default: all)")
    p.add_argument("--skip-gtk", action="store_true", help="measure spicepy only")
    p.add_argument(
        "--no-replay", action="store_true", help="skip the offline replay throughput"
    )
    p.add_argument("--note", default="", help="a sentence for the report (e.g. load)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    captures, tools = captures_path(), tools_path()
    if captures is None or tools is None:
        print(
            "bench_session: ../shared/captures and ../shared/tools are needed "
            "(or SPICEPY_CAPTURES / SPICEPY_TOOLS)",
            file=sys.stderr,
        )
        return 2
    names = args.captures or capture_names(captures)
    unknown = [n for n in names if not (captures / f"{n}.pcap").is_file()]
    if unknown:
        p.error(f"no such capture: {', '.join(unknown)}")
    data = run_all(
        captures,
        tools,
        names,
        args.runs,
        skip_gtk=args.skip_gtk,
        throughput=not args.no_replay,
        note=args.note,
    )
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=1))
    print()
    print(report.session_table(data))
    if args.out is not None:
        plot = args.plot or args.out.with_name(report.SESSION_PLOT)
        report.write_session(data, args.out, plot)
        print(f"\nwrote the session section of {args.out} and {plot}")
    return 0


# -- pytest smoke form ---------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_session_smoke(benchmark: Any, client: str, tmp_path: Path) -> None:
    """One small capture, one run per client: the pipeline works end to end."""
    captures, tools = captures_path(), tools_path()
    if captures is None or tools is None:
        pytest.skip("../shared/captures or ../shared/tools absent")
    pcap = captures / f"{SMOKE_CAPTURE}.pcap"
    if not pcap.is_file():
        pytest.skip(f"{pcap} absent")
    if client == SPICE_GTK:
        why = gtk_missing(tools)
        if why is not None:
            pytest.skip(f"spice-gtk: {why}")
    results: list[dict[str, Any]] = []
    benchmark.pedantic(
        lambda: results.append(run_tool(client, tools, pcap, 1, tmp_path)),
        rounds=1,
        iterations=1,
    )
    result = results[-1]
    stats = client_stats(result)
    assert stats.problems == [], stats.problems
    assert stats.display_ms is not None and stats.display_ms > 0
    assert stats.png_exact == 1, f"{client}'s PNG differs from the truth"
    # a Python interpreter alone needs more than 5 MB resident
    assert stats.rss_mb is not None and stats.rss_mb > 5
    assert display_messages(result) > 0
    benchmark.extra_info.update(
        client=client,
        capture=SMOKE_CAPTURE,
        display_ms=stats.display_ms,
        rss_mb=stats.rss_mb,
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
