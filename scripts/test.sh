#!/usr/bin/env bash
# The whole test run used by CI (.ci/run) and by hand:
#   1. setup (idempotent, fast when nothing changed)
#   2. the full pytest suite (live Xspice tests included; they must not skip)
#   3. the codec/parser tests again with SPICEPY_PUREPYTHON=1 (reference twins)
#   4. the benchmarks once with --benchmark-disable (they must still run)
#   5. ruff and mypy --strict (scripts/lint.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${SPICEPY_VENV:-$ROOT/.venv}"

bash scripts/setup.sh
PY="$VENV/bin/python"
export SPICEPY_REQUIRE_XSPICE="${SPICEPY_REQUIRE_XSPICE:-1}"
export SPICEPY_REQUIRE_QEMU="${SPICEPY_REQUIRE_QEMU:-1}"
export SPICEPY_REQUIRE_LIBVIRT="${SPICEPY_REQUIRE_LIBVIRT:-1}"
export PYTHONDONTWRITEBYTECODE=1

# pytest is run as "python -P -m pytest" so the checkout's spicepy/ never shadows
# the installed one (STYLE.md 6e).
echo "== full suite" >&2
"$PY" -P -m pytest -q -p no:cacheprovider "$@"

echo "== pure-Python twins (SPICEPY_PUREPYTHON=1)" >&2
# Only the tests that decode images (the twins differ nowhere else).
PURE_TESTS=()
for f in tests/test_codec_*.py tests/test_canvas*.py tests/test_replay*.py \
    tests/test_capture_images*.py tests/test_selector*.py; do
    [[ -e "$f" ]] && PURE_TESTS+=("$f")
done
if [[ ${#PURE_TESTS[@]} -gt 0 ]]; then
    SPICEPY_PUREPYTHON=1 "$PY" -P -m pytest -q -p no:cacheprovider "${PURE_TESTS[@]}"
fi

echo "== benchmarks (smoke, --benchmark-disable)" >&2
if compgen -G "benchmarks/bench_*.py" >/dev/null; then
    "$PY" -P -m pytest -q -p no:cacheprovider benchmarks -o python_files='bench_*.py' \
        --benchmark-disable
fi
echo "== lint and types (ruff, mypy --strict)" >&2
bash scripts/lint.sh
echo "== all tests passed" >&2
