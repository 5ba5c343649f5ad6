"""Do these test files kill these mutants?  A quick check after writing tests for
the survivors of a scripts/mutation.sh run, without a mutmut run.

    .venv/bin/python scripts/mutation_check.py /tmp/spicepy-mutation/wire \\
        "tests/test_wire_exact.py tests/test_wire_plan.py" NAME [NAME...]

The test files are copied from this checkout into the run's ``mutants/tests``;
their test functions (parametrized ones once per parameter set, hypothesis ones
as they are, a ``monkeypatch`` argument provided; tests needing other fixtures
are left out) run
once per mutant in a forked child with ``MUTANT_UNDER_TEST`` set, which the
trampolines read at every call.  A test that fails, a crash or the per-mutant
time limit (``MUTATION_CHECK_TIMEOUT``, default 120 s: an endless loop) kills
the mutant.  Stacked parametrize marks run every combination;
``MUTATION_CHECK_SKIP=REGEX`` leaves out tests whose name or parameters match.
The test functions run last unmutated: their baseline must pass.
Prints ``killed`` or ``SURVIVED`` per mutant.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _param_values(v: Any, n: int) -> tuple[Any, ...]:
    """The ``n`` values of a parametrize entry (a pytest.param's, or the entry)."""
    if type(v).__name__ == "ParameterSet":
        return tuple(v.values)
    return tuple(v) if n > 1 else (v,)


def _tests(files: list[str]) -> list[tuple[str, Callable[..., Any]]]:
    out: list[tuple[str, Callable[..., Any]]] = []
    # MUTATION_CHECK_SKIP=quic: leave out tests whose name or parameters match
    skip = (
        re.compile(os.environ["MUTATION_CHECK_SKIP"], re.I)
        if os.environ.get("MUTATION_CHECK_SKIP")
        else None
    )
    for t in files:
        module = importlib.import_module(Path(t).stem)
        for name, f in vars(module).items():
            if not name.startswith("test_") or not callable(f):
                continue
            marks = [m for m in getattr(f, "pytestmark", []) if m.name == "parametrize"]
            params = [p.name for p in inspect.signature(f).parameters.values()]
            if marks:  # stacked marks: every combination, as pytest runs them
                combos: list[dict[str, Any]] = [{}]
                for mark in marks:
                    names, values = mark.args[0], mark.args[1]
                    if isinstance(names, str):
                        names = [a.strip() for a in names.split(",")]
                    combos = [
                        {**kw, **dict(zip(names, vs, strict=True))}
                        for kw in combos
                        for vs in (_param_values(v, len(names)) for v in values)
                    ]
                if set(params) - set(combos[0]):
                    continue  # another fixture (e.g. the corpus): not run here
                for kw in combos:
                    if skip and skip.search(f"{name}{kw}"):
                        continue
                    out.append((name, lambda f=f, kw=kw: f(**kw)))
                continue
            if skip and skip.search(name):
                continue
            if not params or hasattr(f, "hypothesis") or params == ["monkeypatch"]:
                out.append((name, f))
    return out


def _run(tests: list[tuple[str, Callable[..., Any]]]) -> str | None:
    """The first failing test's name and error, or None."""
    import pytest

    for name, f in tests:
        mp = pytest.MonkeyPatch()
        try:
            if "monkeypatch" in inspect.signature(f).parameters:
                f(mp)
            else:
                f()
        except BaseException as exc:  # a killed mutant may raise anything
            return f"{name}: {type(exc).__name__}"
        finally:
            mp.undo()
    return None


def main() -> None:
    run_dir, files, mutants = Path(sys.argv[1]), sys.argv[2].split(), sys.argv[3:]
    limit = int(os.environ.get("MUTATION_CHECK_TIMEOUT", "120"))
    os.chdir(run_dir / "mutants")
    for t in files:
        shutil.copy(ROOT / t, "tests/")
    os.environ.update(
        SPICEPY_PUREPYTHON="1",
        HYPOTHESIS_PROFILE="mutation",
        SPICEPY_CAPTURES="/nonexistent",
        SPICEPY_VECTORS="/nonexistent",
        MUTANT_UNDER_TEST="",
    )
    sys.path[:0] = [os.getcwd(), os.path.join(os.getcwd(), "tests")]
    importlib.import_module("conftest")  # the hypothesis profiles
    tests = _tests(files)
    for m in mutants:
        pid = os.fork()
        if pid == 0:
            os.environ["MUTANT_UNDER_TEST"] = m
            signal.alarm(limit)
            why = _run(tests)
            print(f"killed   {m}  ({why})" if why else f"SURVIVED {m}", flush=True)
            os._exit(1 if why else 0)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            sig = signal.Signals(os.WTERMSIG(status)).name
            print(f"killed   {m}  ({sig}: crash or time limit)", flush=True)
    os.environ["MUTANT_UNDER_TEST"] = ""
    why = _run(tests)
    print(f"baseline FAILED: {why}" if why else "baseline ok", flush=True)
    sys.exit(1 if why else 0)


if __name__ == "__main__":
    main()
