#!/usr/bin/env bash
# Build spicepy with its Cython extensions compiled by clang with libFuzzer edge
# coverage (-fsanitize=fuzzer-no-link, as atheris's docs ask of native
# extensions) into a separate folder, so the editable install's own .so files
# stay untouched. OUT/lib holds the whole package (Python files too): run.py
# fuzzes that frozen copy, so edits to the work tree during a long run (a
# changed .pyx beside an old .so) cannot break it or mix versions.
#   bash tests/fuzz/build_instrumented.sh [OUT]        (default build/fuzz)
#   SPICEPY_FUZZ_ASAN=1 ...   adds AddressSanitizer (run with run.py --asan)
# Needs clang (Debian: apt-get install clang).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$(realpath -m "${1:-$ROOT/build/fuzz}")"
PY="${SPICEPY_VENV:-$ROOT/.venv}/bin/python"
command -v clang >/dev/null || { echo "build_instrumented.sh: clang not found" >&2; exit 1; }
flags="-fsanitize=fuzzer-no-link -g"
if [[ -n "${SPICEPY_FUZZ_ASAN:-}" ]]; then
    flags="$flags -fsanitize=address -fno-omit-frame-pointer"
fi
mkdir -p "$OUT"
cd "$ROOT"
CC=clang LDSHARED="clang -shared -pthread" CFLAGS="$flags" LDFLAGS="$flags" \
    "$PY" setup.py -q build --build-lib "$OUT/lib" --build-temp "$OUT/tmp" --force
find "$OUT/lib" -name '_*.so' -printf '%P\n'
