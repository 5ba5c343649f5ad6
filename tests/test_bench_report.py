"""benchmarks/report.py (through ``spicepy bench``'s loader) on hand-made results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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
