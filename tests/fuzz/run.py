"""Run one fuzz target under atheris (libFuzzer), with coverage of the C code.

    python tests/fuzz/run.py TARGET [--build DIR] [--asan] [--instrument-all]
                             [libFuzzer options] [CORPUS...]

``--build DIR`` (default build/fuzz, made by build_instrumented.sh) holds the
Cython extensions compiled with ``-fsanitize=fuzzer-no-link``; they are
imported instead of the editable install's, so libFuzzer sees the edges of the
compiled decoders as well as the Python ones (atheris.instrument_imports, for
the packages the target reaches, ``targets.INSTRUMENT``; all of spicepy with
``--instrument-all``).
When DIR/lib holds the whole package (build_instrumented.sh builds it so),
that copy is what runs, not the work tree's.
Their coverage hooks need libFuzzer loaded before them, so run.py re-executes
itself with atheris's ``ubsan_with_fuzzer.so`` preloaded (``asan_with_fuzzer.so``
with ``--asan``, for a build made with SPICEPY_FUZZ_ASAN=1). Without the
folder the run covers the Python code only and says so.
A finding is any exception other than SpiceError (atheris prints it and
writes the input as crash-*), a crash, or a timeout (-timeout=N).
See FUZZING.md.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


class _Instrumented(importlib.abc.MetaPathFinder):
    """Finds ``spicepy.<pkg>._name`` extensions in the instrumented build first."""

    def __init__(self, lib: Path) -> None:
        self.lib = lib

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        parts = fullname.split(".")
        if parts[0] != "spicepy" or not parts[-1].startswith("_"):
            return None
        folder = self.lib.joinpath(*parts[:-1])
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            so = folder / (parts[-1] + suffix)
            if so.exists():
                loader = importlib.machinery.ExtensionFileLoader(fullname, str(so))
                return importlib.util.spec_from_file_location(
                    fullname, so, loader=loader
                )
        return None


def _spicepy_modules() -> list[str]:
    """Every module name of the spicepy package that will be imported, found on
    disk (nothing is imported; a package split over folders, as the editable
    install's spicepy.codecs, is found through its own spec)."""
    spec = importlib.util.find_spec("spicepy")
    assert spec is not None and spec.submodule_search_locations
    names = []
    for top in spec.submodule_search_locations:
        for py in Path(top).rglob("*.py"):
            parts = py.relative_to(top).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(("spicepy", *parts)))
    return sorted(set(names))


def _within(module: str, packages: Sequence[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def main(argv: list[str]) -> None:
    import atheris

    if len(argv) < 2 or argv[1].startswith("-"):
        sys.exit(__doc__)
    name = argv[1]
    rest = argv[2:]
    build = ROOT / "build" / "fuzz"
    if rest[:1] == ["--build"]:
        build, rest = Path(rest[1]), rest[2:]
    asan = rest[:1] == ["--asan"]
    rest = rest[1:] if asan else rest
    lib = build / "lib"
    if lib.is_dir():
        runtime = os.path.join(
            atheris.path(), "asan_with_fuzzer.so" if asan else "ubsan_with_fuzzer.so"
        )
        if runtime not in os.environ.get("LD_PRELOAD", ""):
            env = dict(os.environ, LD_PRELOAD=runtime)
            # CPython never frees all (no leak checks); a stack trace per malloc
            # and a 256 MB quarantine made the Python-heavy targets 10-30x
            # slower (FUZZING.md): errors are still caught, with short stacks
            env.setdefault(
                "ASAN_OPTIONS",
                "detect_leaks=0:malloc_context_size=2:quarantine_size_mb=16",
            )
            os.execve(sys.executable, [sys.executable, "-P", *argv], env)
        if (lib / "spicepy" / "__init__.py").exists():
            sys.path.insert(0, str(lib))  # the build's own copy of spicepy
        sys.meta_path.insert(0, _Instrumented(lib))
    else:
        print(
            f"run.py: no {lib}: the compiled code is not instrumented", file=sys.stderr
        )
    sys.path.insert(0, str(HERE.parent))
    from fuzz import targets  # imports spicepy.errors only

    if name not in targets.TARGETS:
        sys.exit(f"unknown target {name}; one of {', '.join(targets.TARGETS)}")
    everything = rest[:1] == ["--instrument-all"]
    rest = rest[1:] if everything else rest
    wanted = ("spicepy",) if everything else targets.INSTRUMENT[name]
    # atheris's ``include`` only takes top-level packages ("spicepy.wire" means
    # all of spicepy): the other spicepy modules are named in ``exclude``.
    exclude = [m for m in _spicepy_modules() if not _within(m, wanted)]
    print(f"run.py: Python coverage of {list(wanted)}", file=sys.stderr)
    # Every module to instrument must first be imported inside this block, or
    # its Python code runs uninstrumented (importing one extension imports its
    # whole package, for instance); excluded modules run at full speed:
    # coverage of code a target does not fuzz only costs time.
    with atheris.instrument_imports(include=["spicepy"], exclude=exclude):
        for ext in sorted(lib.rglob("_*.so")) if lib.is_dir() else []:
            rel = ext.relative_to(lib).with_suffix("").with_suffix("")
            importlib.import_module(".".join(rel.parts))  # fails, never falls back
        for module in targets.IMPORTS:
            importlib.import_module(module)
    if not any(a.startswith("-max_len=") for a in rest):
        rest.insert(0, f"-max_len={targets.MAX_LEN.get(name, 1 << 16)}")
    native = [
        m.__name__
        for m in list(sys.modules.values())
        if m is not None
        and str(getattr(m, "__file__", "")).startswith(str(lib))
        and str(m.__file__).endswith(".so")
    ]
    print(f"run.py: instrumented extensions: {sorted(native)}", file=sys.stderr)
    print(f"run.py: spicepy from {sys.modules['spicepy'].__file__}", file=sys.stderr)

    def one(data: bytes) -> None:
        targets.run_one(name, data)

    atheris.Setup([argv[0], *rest], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
