"""``spicepy bench``: run the codec benchmarks and print the report (a checkout only).

The benchmarks are not installed with the package: this command finds
``benchmarks/report.py`` beside the ``spicepy`` source folder (an editable
install or a checkout) and hands over to it.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["add_command", "load_report"]


def load_report() -> ModuleType | None:
    """``benchmarks/report.py`` of this checkout as a module (None when absent)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "report.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("spicepy_bench_report", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _run(args: argparse.Namespace) -> int:
    report = load_report()
    if report is None:
        print("spicepy bench: error: benchmarks/ not found (run from a checkout)",
              file=sys.stderr)  # fmt: skip
        return 1
    status: int = report.main_args(args)
    return status


def add_command(sub: Any) -> None:
    """Register ``spicepy bench`` with the CLI."""
    p = sub.add_parser(
        "bench",
        help="run the codec benchmarks and print MPix/s and ratios",
        description="Codec and baseline benchmarks (pytest-benchmark) as one table.",
    )
    report = load_report()
    if report is not None:
        report.build_parser(p)
    p.set_defaults(func=_run)
