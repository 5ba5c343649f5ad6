"""benchmarks/report.py (through ``spicepy bench``'s loader) on hand-made results."""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spicepy.bench import add_command, load_report


@pytest.fixture(scope="module")
def report() -> ModuleType:
    module = load_report()
    if module is None:
        pytest.skip("benchmarks/ not beside the package (not a checkout)")
    return module


def _bench(
    fullname: str,
    *,
    median: float,
    mean: float,
    params: dict[str, Any],
    param: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "fullname": fullname,
        "name": fullname.split("::", 1)[1],
        "param": param,
        "params": params,
        "stats": {"median": median, "mean": mean},
        "extra_info": extra or {},
    }


def _results(tmp_path: Path) -> Path:
    benches = [
        # a baseline: 2 MPix per round, median 1 ms -> 2000 MPix/s
        _bench("benchmarks/bench_baselines.py::test_decode[lz4-desktop]", median=1e-3,
               mean=2e-3, params={"codec": "lz4", "name": "desktop"},
               extra={"codec": "lz4", "image": "desktop", "op": "decode",
                      "megapixels": 2.0, "ratio": 20.0}),
        # a codec bench without codec/image keys: pixels backed out of the mean
        # rate (1000 MPix/s x 2 ms = 2 MPix), median 0.5 ms -> 4000 MPix/s
        _bench("benchmarks/bench_lz.py::test_decode[cython-desktop.lz_rgb32]",
               median=5e-4, mean=2e-3, param="cython-desktop.lz_rgb32",
               params={"impl": "<module>", "stem": "desktop.lz_rgb32"},
               extra={"mpix_per_s": 1000.0, "ratio": 30.0}),
        _bench("benchmarks/bench_lz.py::test_decode[reference-desktop.lz_rgb32]",
               median=0.1, mean=0.1, param="reference-desktop.lz_rgb32",
               params={"impl": "<module>", "stem": "desktop.lz_rgb32"},
               extra={"megapixels": 0.5, "mpix_per_s": 5.0, "ratio": 10.0}),
        # the same codec, image and op from two files
        _bench("benchmarks/bench_quic.py::test_decode[cython-photo]", median=0.1,
               mean=0.1, param="cython-photo", params={"impl": "m", "name": "photo"},
               extra={"megapixels": 2.0, "ratio": 2.0}),
        _bench("benchmarks/bench_codecs.py::test_decode[quic-photo]", median=0.2,
               mean=0.2, params={"codec": "quic", "name": "photo"},
               extra={"codec": "quic", "image": "photo", "op": "decode",
                      "megapixels": 2.0, "ratio": 2.0}),
        _bench("benchmarks/bench_selector.py::test_choice[text]", median=0.01,
               mean=0.01, params={"entry": {}},
               extra={"codec": "selector", "image": "text", "op": "choose",
                      "megapixels": 1.0, "mode": "auto_glz", "images": 3, "agree": 3,
                      "server_bytes": 100, "ours_bytes": 99, "all_lz_bytes": 300,
                      "all_glz_bytes": 120, "all_quic_bytes": 900}),
    ]  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"benchmarks": benches}))
    return path


def test_rows(report: ModuleType, tmp_path: Path) -> None:
    rows = {(r.codec, r.image, r.op): r for r in report.load(_results(tmp_path))}
    assert rows[("lz4", "desktop", "decode")].mpix_per_s == pytest.approx(2000.0)
    assert rows[("lz", "desktop", "decode")].mpix_per_s == pytest.approx(4000.0)
    assert rows[("lz/reference", "desktop", "decode")].mpix_per_s == pytest.approx(5.0)
    assert ("quic@quic", "photo", "decode") in rows
    assert ("quic@codecs", "photo", "decode") in rows


def test_table_compares_with_the_baseline(report: ModuleType, tmp_path: Path) -> None:
    text = report.table(report.load(_results(tmp_path)), "lz4")
    line = next(x for x in text.splitlines() if x.startswith("lz ") and "desktop" in x)
    cells = line.split()
    # lz: 4000 MPix/s, ratio 30 -> 2.00x lz4's speed, 1.50x its ratio
    assert cells[3:] == ["4,000.0", "30.00", "2.00", "1.50"]
    sel = report.selector_table(report.load(_results(tmp_path)))
    assert "auto_glz" in sel and "99" in sel.splitlines()[-1]


def test_plot_and_cli(report: ModuleType, tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("matplotlib")
    results, png = _results(tmp_path), tmp_path / "out.png"
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers())
    args = parser.parse_args(["bench", "--json", str(results), "--plot", str(png)])
    assert args.func(args) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "x lz4" in capsys.readouterr().out


# -- the page's sections and the session benchmark --------------------------------

_BODY = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="<>"), max_size=80
).map(lambda s: "## " + s)


@settings(max_examples=60, deadline=None)
@given(first=_BODY, session=_BODY, second=_BODY)
def test_sections_replace_only_themselves(
    report: ModuleType, tmp_path_factory: Any, first: str, session: str, second: str
) -> None:
    page = tmp_path_factory.mktemp("page") / "RESULTS.md"
    report.write_section(page, "codecs", first)
    report.write_section(page, "session", session)
    report.write_section(page, "codecs", second)
    text = page.read_bytes().decode()
    assert text.startswith(report.PAGE_TITLE + "\n")
    start, end = "<!-- report.py section: {} -->", "<!-- report.py end: {} -->"
    codecs = text.split(start.format("codecs"))[1].split(end.format("codecs"))[0]
    assert codecs.strip() == second.strip()
    rest = text.split(start.format("session"))[1].split(end.format("session"))[0]
    assert rest.strip() == session.strip()
    assert text.index(start.format("codecs")) < text.index(start.format("session"))
    report.write_section(page, "session", session)  # rewriting changes nothing
    assert page.read_bytes().decode() == text


def _client(
    ms_runs: list[float],
    *,
    rss: float = 60.0,
    exact: int = 3,
    runs: int = 3,
    problems: list[str] | None = None,
) -> dict[str, Any]:
    return {"display_ms": statistics.median(ms_runs), "display_ms_runs": ms_runs,
            "cpu_ms": 10.0, "rss_mb": rss, "rss_mb_runs": [rss] * runs, "runs": runs,
            "png_exact": exact, "png_match": exact, "psnr_db": None,
            "differing_pixels": 0 if exact == runs else 1234,
            "problems": problems or [], "notes": []}  # fmt: skip


def _session_data(gtk_skipped: str | None = None) -> dict[str, Any]:
    gtk = None if gtk_skipped else _client([20.0, 22.0, 30.0], rss=57.0)
    return {
        "meta": {"date": "d", "runs": 3, "loadavg_start": 1.0, "loadavg_end": 2.0,
                 "gtk_skipped": gtk_skipped, "spicepy_command": "python -m spicepy",
                 "purepython_env": "", "spicepy": "here", "note": "loaded machine"},
        "captures": [
            {"capture": "text-glz", "lossless": True, "display_messages": 1538,
             "errors": [], "clients": {"spice-gtk": gtk,
                                       "spicepy": _client([80.0, 88.0, 200.0])}},
            {"capture": "photos-quic", "lossless": True, "display_messages": 77,
             "errors": [], "clients": {
                 "spice-gtk": None if gtk_skipped else _client([40.0, 40.0, 41.0]),
                 "spicepy": _client([20.0, 20.0, 25.0], exact=2,
                                    problems=["display:0: no PONG"])}},
        ],
        "replay": [{"capture": "text-glz", "twin": "compiled", "messages": 1538,
                    "cold_s": 0.5, "warm_s": 0.25, "per_s": 6152.0,
                    "fast": {"spicepy.codecs.glz": True}}],
        "rss_floor_mb": {"spicepy": 48.0, "spice-gtk": 19.0},
    }  # fmt: skip


def _table_row(text: str, capture: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith(f"| {capture} "))
    return [c.strip() for c in line.strip("|").split("|")]


def test_session_table(report: ModuleType) -> None:
    text = report.session_table(_session_data())
    glz = _table_row(text, "text-glz")
    # medians 22 ms (spice-gtk) and 88 ms (spicepy): spicepy at 22/88 = 0.25 speed
    assert glz[1:5] == ["1538", "22.0 (20-30)", "88.0 (80-200)", "0.25"]
    assert glz[5] == "yes / yes" and glz[6] == "57.0 / 60.0"
    quic = _table_row(text, "photos-quic")
    assert quic[4] == "2.00"  # 40 / 20
    assert quic[5].startswith("NO (2/3, 1234 px)")
    page = report.session_markdown(_session_data(), "plot.png")
    assert "photos-quic spicepy: display:0: no PONG" in page
    assert "1 of 2 captures at ratio >= 1.0" in page
    assert "(plot.png)" in page and "loaded machine" in page
    assert "| text-glz | compiled | 1538 | 0.500 | 0.250 | 6,152 |" in page


def test_session_without_spice_gtk(report: ModuleType, tmp_path: Path) -> None:
    data = _session_data(gtk_skipped="python3-gi not installed")
    text = report.session_table(data)
    assert _table_row(text, "text-glz")[2:5] == ["skipped", "88.0 (80-200)", "-"]
    assert "spice-gtk not measured: python3-gi not installed" in (
        report.session_markdown(data)
    )
    pytest.importorskip("matplotlib")
    page, png = tmp_path / "RESULTS.md", tmp_path / "s.png"
    report.write_session(data, page, png)  # a plot with no ratio still renders
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_session_json_through_the_cli(
    report: ModuleType, tmp_path: Path, capsys: Any
) -> None:
    pytest.importorskip("matplotlib")
    raw, page = tmp_path / "raw.json", tmp_path / "RESULTS.md"
    raw.write_text(json.dumps(_session_data()))
    page.write_text(f"{report.PAGE_TITLE}\n\nhand-written notes stay\n")
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers())
    args = parser.parse_args(["bench", "--session-json", str(raw), "--markdown",
                              str(page)])  # fmt: skip
    assert args.func(args) == 0
    text = page.read_bytes().decode()
    assert "hand-written notes stay" in text and "| text-glz | 1538 |" in text
    assert (tmp_path / report.SESSION_PLOT).read_bytes()[:4] == b"\x89PNG"
    assert "| photos-quic |" in capsys.readouterr().out


# -- bench_session.py's reading of the tools' results, and peak_rss.py --------------


@pytest.fixture(scope="module")
def bench_session() -> ModuleType:
    bench_dir = Path(__file__).resolve().parents[1] / "benchmarks"
    if not (bench_dir / "bench_session.py").is_file():
        pytest.skip("benchmarks/ not beside the tests")
    sys.path.insert(0, str(bench_dir))
    try:
        return importlib.import_module("bench_session")
    finally:
        sys.path.remove(str(bench_dir))


def _run(out: Path, display: list[float | None], *, exact: bool) -> dict[str, Any]:
    channels = {str(k): {"channel": f"display:{k}", "status": "replayed",
                         "pong_ms": ms, "client_cpu_ms": ms and ms / 2}
                for k, ms in enumerate(display)}  # fmt: skip
    channels["9"] = {"channel": "cursor:0", "status": "replayed", "pong_ms": 999.0}
    return {"out": str(out), "channels": channels,
            "png_check": {"match": exact, "final": {
                "exact": exact, "differing_pixels": 0 if exact else 7,
                "psnr_db": None if exact else 40.0}}}  # fmt: skip


def test_client_stats(bench_session: ModuleType, tmp_path: Path) -> None:
    outs = [tmp_path / f"run{k}.png" for k in range(3)]
    for out, kb in zip(outs, (51200, 61440, 40960), strict=True):
        Path(f"{out}.rss").write_text(f"{kb}\n")
    result = {"runs": [
        _run(outs[0], [10.0, 30.0], exact=True),   # slowest display channel: 30
        _run(outs[1], [50.0, None], exact=True),   # a display channel without PONG
        _run(outs[2], [20.0, 5.0], exact=False),
    ], "problems": ["display:1: no PONG"], "notes": [],
        "summary": {"channels": [{"channel": "display:0", "messages": 100},
                                 {"channel": "display:1", "messages": 20},
                                 {"channel": "cursor:0", "messages": 50}]}}  # fmt: skip
    # three one-run results (alternating clients) read as one three-run result;
    # the same problem in two of them is listed once
    parts = [dict(result, runs=[run], problems=[]) for run in result["runs"]]
    parts[1]["problems"] = parts[2]["problems"] = ["display:1: no PONG"]
    merged = bench_session.client_stats(bench_session.merge_results(parts))
    assert merged == bench_session.client_stats(result)
    stats = bench_session.client_stats(result)
    assert stats.display_ms_runs == [30.0, 20.0]  # the run without PONG is left out
    assert stats.display_ms == 25.0 and stats.cpu_ms == 12.5
    assert stats.rss_mb_runs == [50.0, 60.0, 40.0] and stats.rss_mb == 50.0
    assert (stats.runs, stats.png_exact, stats.png_match) == (3, 2, 2)
    assert stats.differing_pixels == 7 and stats.psnr_db == 40.0
    assert stats.problems == ["display:1: no PONG"]
    assert bench_session.display_messages(result) == 120


def test_peak_rss_wrapper(bench_session: ModuleType, tmp_path: Path) -> None:
    rss = tmp_path / "rss"
    mb = 64
    child = (f"b = bytearray({mb} << 20); b[::4096] = b'x' * len(b[::4096]); "
             "import sys; sys.exit(7)")  # fmt: skip
    cmd = [sys.executable, str(bench_session.PEAK_RSS), str(rss), "--",
           sys.executable, "-c", child]  # fmt: skip
    assert subprocess.run(cmd, timeout=60).returncode == 7  # the client's status
    kb = int(rss.read_text())
    # the touched buffer is resident; the interpreter adds well under 64 MB
    assert mb * 1024 <= kb < 2 * mb * 1024
