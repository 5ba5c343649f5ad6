"""One table (and plots) for every codec benchmark of a run, beside its baselines.

Usage::

    python benchmarks/report.py                  # run all benchmarks, print the table
    python benchmarks/report.py --json res.json  # read a --benchmark-json file
    python benchmarks/report.py --plot out.png   # also draw bar charts (matplotlib)
    python benchmarks/report.py --save res.json -k decode --quick  # a subset

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
    p.add_argument("--markdown", type=Path, help="write the tables as Markdown here")
    p.add_argument("-k", dest="select", help="pytest -k expression to pick benchmarks")
    p.add_argument("--files", nargs="*", help="benchmark files (default: all)")
    p.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    p.add_argument("--baseline", default="lz4", help="codec to compare with (lz4)")
    return p


def main_args(args: argparse.Namespace) -> int:
    """Run (or load) and print; the exit status."""
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
        args.markdown.write_text(markdown(rows, args.baseline))
        print(f"markdown: {args.markdown}")
    return 0


def markdown(rows: list[Row], baseline: str = "lz4") -> str:
    """The tables as a Markdown page, with the machine they were measured on."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [
        "# spicepy benchmark results",
        "",
        f"Python {platform.python_version()}, {cpu}, {os.cpu_count()} CPUs "
        "(shared while measured: treat differences under ~20 % as noise).",
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


def main(argv: list[str] | None = None) -> int:
    return main_args(build_parser().parse_args(argv))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
