"""One table (and plots) for every codec benchmark of a run, beside its baselines.

Usage::

    python benchmarks/report.py                  # run all benchmarks, print the table
    python benchmarks/report.py --json res.json  # read a --benchmark-json file
    python benchmarks/report.py --plot out.png   # also draw bar charts (matplotlib)
    python benchmarks/report.py --save res.json -k decode --quick  # a subset
    python benchmarks/report.py --session-json raw.json --markdown RESULTS.md

The Markdown page (``--markdown``) has one section per kind of benchmark, each
rewritten on its own between ``<!-- report.py section: NAME -->`` markers:
``codecs`` (this script's pytest-benchmark run) and ``session`` (whole client
sessions, spicepy against spice-gtk: ``bench_session.py`` measures and calls
``write_session`` here; ``--session-json`` renders a saved run again).

Rows: codec (with ``/reference`` for pure-Python twins), image, operation,
MPix/s (median round), compression ratio (raw 24-bit bytes / compressed bytes),
and the speed relative to a baseline codec (default ``lz4``) on the same image
and operation in the same run. Codec and image come from ``extra_info`` when the
benchmark sets them (bench_baselines does), else from the file name
(``bench_<codec>.py``), the ``impl`` parameter and the first other parameter
(``desktop.lz_rgb32`` -> ``desktop``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Row:
    """One benchmark result."""

    codec: str
    image: str
    op: str
    mpix_per_s: float | None
    ratio: float | None
    name: str
    extra: dict[str, Any]


def _op(test_name: str) -> str:
    base = test_name.split("[", 1)[0]
    return base.removeprefix("test_") or base


def _module(fullname: str) -> str:
    return Path(fullname.split("::", 1)[0]).stem.removeprefix("bench_")


def _image(params: dict[str, Any]) -> str:
    for key, value in params.items():
        if key != "impl" and isinstance(value, str):
            return value.split(".", 1)[0]
    return "-"


def _row(bench: dict[str, Any]) -> Row:
    info: dict[str, Any] = bench.get("extra_info") or {}
    stats: dict[str, Any] = bench.get("stats") or {}
    params: dict[str, Any] = bench.get("params") or {}
    fullname: str = bench.get("fullname", bench.get("name", ""))
    module = _module(fullname)
    codec = str(info.get("codec") or module)
    impl = params.get("impl")
    impl_id = bench.get("param", "") or ""
    if impl is not None and "reference" in str(impl_id).split("-"):
        codec += "/reference"
    image = str(info.get("image") or _image(params))
    op = str(info.get("op") or _op(bench.get("name", "")))
    # MPix/s from the median round: the pixel count is megapixels, or is backed
    # out of the mean-based mpix_per_s the codec benchmarks record
    pixels: float | None = None
    if info.get("megapixels"):
        pixels = float(info["megapixels"]) * 1e6
    elif info.get("mpix_per_s") and stats.get("mean"):
        pixels = float(info["mpix_per_s"]) * 1e6 * float(stats["mean"])
    elif info.get("mpix_drawn"):
        pixels = float(info["mpix_drawn"]) * 1e6
    median = stats.get("median")
    mpix = pixels / 1e6 / float(median) if pixels and median else None
    ratio = info.get("ratio")
    return Row(codec, image, op, mpix, float(ratio) if ratio else None, fullname, info)


def load(path: Path) -> list[Row]:
    """Rows of a pytest-benchmark ``--benchmark-json`` file.

    Two files may measure the same codec on same-named but different images
    (bench_quic.py makes its own ``photo``): such rows get ``@<file>`` added.
    """
    data = json.loads(path.read_text())
    rows = [_row(b) for b in data.get("benchmarks", [])]
    modules: dict[tuple[str, str, str], set[str]] = {}
    for r in rows:
        modules.setdefault((r.codec, r.image, r.op), set()).add(_module(r.name))
    return [
        replace(r, codec=f"{r.codec}@{_module(r.name)}")
        if len(modules[(r.codec, r.image, r.op)]) > 1
        else r
        for r in rows
    ]


def run(json_out: Path, *, select: str | None = None, files: list[str] | None = None,
        quick: bool = False) -> int:  # fmt: skip
    """Run the benchmarks with pytest-benchmark, writing ``json_out``."""
    targets = files or [str(BENCH_DIR)]
    cmd = [sys.executable, "-m", "pytest", *targets, "-q", "-p", "no:cacheprovider",
           "-o", "python_files=bench_*.py", "--benchmark-only",
           f"--benchmark-json={json_out}"]  # fmt: skip
    if not files:
        # whole client sessions have their own section (bench_session.py)
        cmd.append(f"--ignore={BENCH_DIR / 'bench_session.py'}")
    if quick:
        cmd += ["--benchmark-min-rounds=3", "--benchmark-max-time=0.3",
                "--benchmark-warmup=off"]  # fmt: skip
    if select:
        cmd += ["-k", select]
    # -P: the checkout's spicepy/ must not shadow the installed package (STYLE 6e)
    cmd.insert(1, "-P")
    # pytest's own tables go to stderr so stdout carries only our table
    return subprocess.call(cmd, cwd=BENCH_DIR.parent, stdout=sys.stderr)


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:,.{digits}f}"


def table(rows: list[Row], baseline: str = "lz4") -> str:
    """The text table, sorted by image, operation, then speed."""
    base = {(r.image, r.op): r for r in rows if r.codec == baseline}
    head = ("codec", "image", "op", "MPix/s", "ratio", f"x {baseline}",
            f"ratio/{baseline}")  # fmt: skip
    lines = []
    ordered = sorted(rows, key=lambda r: (r.image, r.op, -(r.mpix_per_s or 0.0)))
    for r in ordered:
        b = base.get((r.image, r.op))
        speed = (r.mpix_per_s / b.mpix_per_s
                 if b and r.mpix_per_s and b.mpix_per_s else None)  # fmt: skip
        rel = r.ratio / b.ratio if b and r.ratio and b.ratio else None
        lines.append((r.codec, r.image, r.op, _fmt(r.mpix_per_s), _fmt(r.ratio, 2),
                      _fmt(speed, 2), _fmt(rel, 2)))  # fmt: skip
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(head)]  # fmt: skip

    def fmt_line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [fmt_line(head), fmt_line(tuple("-" * w for w in widths))]
    out += [fmt_line(line) for line in lines]
    return "\n".join(out)


_SELECTOR_COLS = ("mode", "images", "agree", "server_bytes", "ours_bytes",
                  "all_lz_bytes", "all_glz_bytes", "all_quic_bytes")  # fmt: skip


def selector_table(rows: list[Row]) -> str:
    """Bytes per policy for the selector benchmark rows (empty if none)."""
    sel = sorted(
        (r for r in rows if r.codec == "selector" and r.op == "choose"),
        key=lambda r: r.image,
    )
    if not sel:
        return ""
    head = ("capture", *(c.removesuffix("_bytes") for c in _SELECTOR_COLS))
    body = [(r.image, *(f"{r.extra.get(c, '-')}" for c in _SELECTOR_COLS)) for r in sel]
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w)
                       for i, (c, w) in enumerate(zip(x, widths, strict=True)))
             for x in (head, *body)]  # fmt: skip
    return "codec choice, bytes (server = what the real server sent):\n" + "\n".join(
        lines
    )


_CAPTURE_MODULES = {"captures", "selector", "replay"}


def _panels(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """(title, rows) per operation, capture rows apart from image-set rows."""
    groups: dict[tuple[str, bool], list[Row]] = {}
    for r in rows:
        on_captures = _module(r.name) in _CAPTURE_MODULES
        groups.setdefault((r.op, on_captures), []).append(r)
    return [
        (f"{op} ({'captures' if cap else 'images'})", sel)
        for (op, cap), sel in sorted(groups.items())
    ]


def plot(rows: list[Row], path: Path) -> None:
    """Bar charts of MPix/s per codec and image (log scale), one panel per
    operation, capture benchmarks apart from the image-set benchmarks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = _panels([r for r in rows if r.mpix_per_s])
    if not panels:
        raise ValueError("no benchmark has a speed to plot")
    widest = max(len({r.image for r in sel}) for _, sel in panels)
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(max(12, 0.9 * widest + 4), 4.5 * len(panels)),
        squeeze=False,
    )
    for ax, (title, sel) in zip(axes[:, 0], panels, strict=True):
        images = sorted({r.image for r in sel})
        codecs = sorted({r.codec for r in sel})
        width = 0.8 / max(1, len(codecs))
        cmap = plt.get_cmap("tab20")
        for j, codec in enumerate(codecs):
            speed = {r.image: r.mpix_per_s for r in sel if r.codec == codec}
            xs = [i + j * width for i, im in enumerate(images) if im in speed]
            ys = [speed[im] for im in images if im in speed]
            ax.bar(xs, ys, width, label=codec, color=cmap(j % 20))
        ax.set_yscale("log")
        ax.set_ylabel("MPix/s (median)")
        ax.set_title(title)
        ax.set_xticks([i + (len(codecs) - 1) * width / 2 for i in range(len(images))])
        ax.set_xticklabels(images, rotation=30, ha="right", fontsize=8)
        ax.legend(fontsize=7, ncol=max(1, len(codecs) // 10 + 1), loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))  # fmt: skip
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- the Markdown page: one section per kind of benchmark ------------------------

PAGE_TITLE = "# spicepy benchmark results"
SESSION_PLOT = "RESULTS-session.png"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- report.py section: {name} -->", f"<!-- report.py end: {name} -->"


def write_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` into section ``name`` of the page at ``path``.

    The section's old text is replaced; every other section stays as it was. A
    section the page lacks is appended; a missing page is created.
    """
    start, end = _markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    # bytes, not read_text: the rest of the page stays byte for byte (no newline
    # translation)
    text = path.read_bytes().decode() if path.exists() else f"{PAGE_TITLE}\n"
    i = text.find(start)
    j = text.find(end, i) if i >= 0 else -1
    if i >= 0 and j >= 0:
        text = text[:i] + block + text[j + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_bytes(text.encode())


def machine() -> str:
    """Python version, CPU model and count of this machine."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"Python {platform.python_version()}, {cpu}, {os.cpu_count()} CPUs"


def markdown(rows: list[Row], baseline: str = "lz4") -> str:
    """The codec tables as the page's ``codecs`` section."""
    parts = [
        "## Codecs",
        "",
        f"{machine()} (shared while measured: treat differences under ~20 % as noise).",
        f"MPix/s from the median round; ratio = raw 24-bit bytes / coded bytes; "
        f"`x {baseline}` = speed relative to {baseline} on the same image and "
        "operation. Made by `python benchmarks/report.py --markdown FILE`.",
        "",
        "```",
        table(rows, baseline),
        "```",
    ]
    extra = selector_table(rows)
    if extra:
        parts += ["", "```", extra, "```"]
    return "\n".join(parts) + "\n"


# -- whole sessions: spicepy against spice-gtk (bench_session.py) --------------

_GTK, _OURS = "spice-gtk", "spicepy"


def _client(row: dict[str, Any], name: str) -> dict[str, Any] | None:
    stats: dict[str, Any] | None = row["clients"].get(name)
    return stats


def session_ratio(row: dict[str, Any]) -> float | None:
    """spicepy speed / spice-gtk speed = spice-gtk ms / spicepy ms, or None."""
    gtk, ours = _client(row, _GTK), _client(row, _OURS)
    if not gtk or not ours or not gtk["display_ms"] or not ours["display_ms"]:
        return None
    return float(gtk["display_ms"]) / float(ours["display_ms"])


def _png_cell(stats: dict[str, Any] | None, lossless: bool | None) -> str:
    if stats is None:
        return "-"
    n = stats["runs"]
    if n and stats["png_exact"] == n:
        return "yes"
    if n and stats["png_match"] == n and lossless is False:
        return f"lossy, {_fmt(stats['psnr_db'])} dB"
    return f"NO ({stats['png_exact']}/{n}, {stats['differing_pixels']} px)"


def _ms_cell(stats: dict[str, Any] | None, missing: str) -> str:
    """Median ms, and the range over the runs when there were several."""
    if stats is None:
        return missing
    runs = stats.get("display_ms_runs") or []
    cell = _fmt(stats.get("display_ms"))
    if len(runs) > 1:
        cell += f" ({min(runs):.0f}-{max(runs):.0f})"
    return cell


def _pair(row: dict[str, Any], key: str, digits: int = 1) -> str:
    return " / ".join(
        _fmt((_client(row, c) or {}).get(key), digits) for c in (_GTK, _OURS)
    )


def session_table(data: dict[str, Any]) -> str:
    """The per-capture Markdown table of a ``bench_session.py`` run."""
    head = (
        "| capture | display msgs | spice-gtk ms (range) | spicepy ms (range) "
        "| ratio | PNG exact? spicepy / spice-gtk | peak RSS MB spice-gtk / spicepy | "
        "client CPU ms spice-gtk / spicepy |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---|---:|---:|"]
    for row in data["captures"]:
        gtk, ours = _client(row, _GTK), _client(row, _OURS)
        lossless = row.get("lossless")
        cells = [
            row["capture"],
            str(row.get("display_messages", "-")),
            _ms_cell(gtk, "skipped" if data["meta"].get("gtk_skipped") else "failed"),
            _ms_cell(ours, "failed"),
            _fmt(session_ratio(row), 2),
            f"{_png_cell(ours, lossless)} / {_png_cell(gtk, lossless)}",
            _pair(row, "rss_mb"),
            _pair(row, "cpu_ms"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replay_table(data: dict[str, Any]) -> str:
    """Offline ``spicepy replay`` throughput rows (empty if none)."""
    rows = data.get("replay") or []
    if not rows:
        return ""
    lines = [
        "| capture | twins | display msgs | cold run s | warm s (median) | "
        "msgs/s (warm) | target |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['capture']} | {r['twin']} | failed: {r['error']} | | | | |"
            )
            continue
        lines.append(
            f"| {r['capture']} | {r['twin']} | {r['messages']} | {r['cold_s']:.3f} "
            f"| {r['warm_s']:.3f} | {_fmt(r['per_s'], 0)} | 50,000 |"
        )
    return "\n".join(lines)


def _fast_line(data: dict[str, Any]) -> str:
    parts = []
    for r in data.get("replay") or []:
        fast = r.get("fast")
        if fast:
            on = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in fast.items())
            parts.append(f"{r['twin']}: FAST {on}")
    return "; ".join(parts)


def session_markdown(data: dict[str, Any], plot_name: str | None = None) -> str:
    """The page's ``session`` section for a ``bench_session.py`` run."""
    meta = data["meta"]
    rows = data["captures"]
    ratios = [x for x in map(session_ratio, rows) if x]
    floors = data.get("rss_floor_mb") or {}
    parts = [
        "## Sessions: spicepy against spice-gtk on the recorded captures",
        "",
        f"{meta['date']}: {machine()}; load average {meta['loadavg_start']} at the "
        f"start, {meta['loadavg_end']} at the end."
        + (f" {meta['note']}" if meta.get("note") else ""),
        f"Made by `.venv/bin/python benchmarks/bench_session.py --runs {meta['runs']} "
        "--out benchmarks/RESULTS.md`"
        + (f"; spicepy from {meta['spicepy']}." if meta.get("spicepy") else "."),
        "",
        f"Both clients get the same recorded server bytes from "
        f"`../shared/tools/replay-server`; median of {meta['runs']} fresh client "
        "processes each, "
        + (
            "alternating (spice-gtk, spicepy, spice-gtk, ...)"
            if meta.get("order") == "alternating"
            else "spice-gtk's runs, then spicepy's"
        )
        + " per capture. ms = time from the first "
        "data-phase byte of the display channel to the PONG of the PING the server "
        "appends (every message processed; the slowest display channel). ratio = "
        "spicepy's speed / spice-gtk's (>= 1.0: spicepy at least as fast). PNG "
        "exact: the client's PNG equals the capture's truth in every run (lossy "
        "captures: PSNR against it, 30 dB needed; NO: exact runs / runs, most "
        "pixels differing). Peak RSS: the client process's own `ru_maxrss` "
        "(`benchmarks/peak_rss.py` reaps it with `wait4`); client CPU: all its "
        "threads over the display channel's window (replay-bench). spicepy: "
        f"`{meta['spicepy_command']}`"
        + (" with SPICEPY_PUREPYTHON=1" if meta.get("purepython_env") else "")
        + "; spice-gtk 0.42: the GI client of `gtk-replay-bench`.",
    ]
    if floors:
        parts.append(
            "RSS floor (interpreter and imports, no session): "
            + ", ".join(f"{k} {v:.1f} MB" for k, v in sorted(floors.items()))
            + " (spice-gtk's includes the tools' Python/PyGObject harness)."
        )
    if meta.get("gtk_skipped"):
        parts += ["", f"**spice-gtk not measured: {meta['gtk_skipped']}.**"]
    parts += ["", session_table(data), ""]
    if ratios:
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        parts.append(
            f"{sum(x >= 1.0 for x in ratios)} of {len(ratios)} captures at ratio "
            f">= 1.0; geometric mean ratio {geo:.2f}, lowest {min(ratios):.2f}."
        )
    trouble = []
    for row in rows:
        trouble += [f"- {row['capture']}: {e}" for e in row.get("errors", [])]
        for client in (_GTK, _OURS):
            s = _client(row, client) or {}
            trouble += [
                f"- {row['capture']} {client}: {p}" for p in s.get("problems", [])
            ]
            trouble += [
                f"- {row['capture']} {client} (note): {n}" for n in s.get("notes", [])
            ]
    if trouble:
        parts += ["", "What the tools reported:", *trouble]
    if plot_name:
        parts += ["", f"![spicepy / spice-gtk speed per capture]({plot_name})"]
    replay = replay_table(data)
    if replay:
        parts += [
            "",
            "### Offline replay throughput",
            "",
            "`spicepy.capture.replay.replay` (what `spicepy replay` runs) in a fresh "
            "interpreter: one cold run (imports and first use included), then "
            f"{meta['runs']} warm runs; display messages per second from the warm "
            "median, pcap reading included.",
            "",
            replay,
        ]
        fast = _fast_line(data)
        if fast:
            parts += ["", f"Twins in use ({fast})."]
    return "\n".join(parts) + "\n"


def plot_session(data: dict[str, Any], path: Path) -> None:
    """Ratio per capture (log scale, 1.0 marked) above peak RSS of both clients."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    rows = data["captures"]
    names = [r["capture"] for r in rows]
    xs = list(range(len(rows)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(10, 0.6 * len(rows) + 3), 9))
    ratios = [session_ratio(r) for r in rows]
    shown = [(x, v) for x, v in zip(xs, ratios, strict=True) if v]
    # bars grow from 1.0 (as fast as spice-gtk), up when faster, down when slower
    top.bar(
        [x for x, _ in shown],
        [v - 1.0 for _, v in shown],
        bottom=1.0,
        color=["tab:green" if v >= 1.0 else "tab:red" for _, v in shown],
    )
    for x, v in shown:
        top.annotate(
            f"{v:.2f}",
            (x, v),
            ha="center",
            fontsize=7,
            va="bottom" if v >= 1.0 else "top",
        )
    top.axhline(1.0, color="black", linewidth=1)
    top.set_yscale("log")
    top.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    top.set_ylabel("spicepy speed / spice-gtk speed")
    meta = data["meta"]
    title = f"whole session, median of {meta['runs']} ({meta['date']})"
    if not shown:
        title += f": no ratio (spice-gtk: {meta.get('gtk_skipped') or 'no result'})"
    top.set_title(title)
    width = 0.4
    for k, client in enumerate((_GTK, _OURS)):
        ys = [(_client(r, client) or {}).get("rss_mb") or 0.0 for r in rows]
        bottom.bar([x + (k - 0.5) * width for x in xs], ys, width, label=client)
    bottom.set_ylabel("peak RSS (MB)")
    bottom.legend(fontsize=8)
    for ax in (top, bottom):
        ax.set_xticks(xs)
        ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_session(data: dict[str, Any], page: Path, plot_path: Path | None) -> None:
    """The session section of ``page`` (and its plot) from a bench_session run."""
    plot_name = None
    if plot_path is not None:
        plot_session(data, plot_path)
        plot_name = os.path.relpath(plot_path, page.resolve().parent)
    write_section(page, "session", session_markdown(data, plot_name))


# -- CLI -------------------------------------------------------------------------


def build_parser(
    parser: argparse.ArgumentParser | None = None,
) -> argparse.ArgumentParser:
    """The report's options (shared by the script and ``spicepy bench``)."""
    p = parser or argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--json", type=Path, help="read this --benchmark-json file, run nothing"
    )
    p.add_argument("--save", type=Path, help="run, and keep the JSON here")
    p.add_argument("--plot", type=Path, help="write bar charts (PNG) here")
    p.add_argument("--markdown", type=Path, help="update this Markdown page's section")
    p.add_argument(
        "--session-json",
        type=Path,
        help="render a saved bench_session.py --json run (its section), run nothing",
    )
    p.add_argument("-k", dest="select", help="pytest -k expression to pick benchmarks")
    p.add_argument("--files", nargs="*", help="benchmark files (default: all)")
    p.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    p.add_argument("--baseline", default="lz4", help="codec to compare with (lz4)")
    return p


def main_args(args: argparse.Namespace) -> int:
    """Run (or load) and print; the exit status."""
    if getattr(args, "session_json", None) is not None:
        data = json.loads(args.session_json.read_text())
        print(session_table(data))
        if args.markdown is not None:
            plot_path = args.plot or args.markdown.with_name(SESSION_PLOT)
            write_session(data, args.markdown, plot_path)
            print(f"markdown: {args.markdown} (session), plot: {plot_path}")
        return 0
    if args.json is not None:
        rows = load(args.json)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = args.save or Path(tmp) / "results.json"
            status = run(out, select=args.select, files=args.files, quick=args.quick)
            if not out.exists():
                why = (
                    f"benchmarks failed (pytest exit status {status})"
                    if status
                    else "no benchmark ran: the selection matched none, or the images "
                    "were skipped (set SPICEPY_VECTORS / SPICEPY_CAPTURES when "
                    "../shared is not beside the checkout)"
                )
                print(why, file=sys.stderr)
                return status or 1
            rows = load(out)
    print(table(rows, args.baseline))
    extra = selector_table(rows)
    if extra:
        print()
        print(extra)
    if args.plot is not None:
        plot(rows, args.plot)
        print(f"plot: {args.plot}")
    if args.markdown is not None:
        write_section(args.markdown, "codecs", markdown(rows, args.baseline))
        print(f"markdown: {args.markdown} (codecs)")
    return 0


def main(argv: list[str] | None = None) -> int:
    return main_args(build_parser().parse_args(argv))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
