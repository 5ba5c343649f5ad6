#!/usr/bin/env bash
# ruff (lint + format check) and mypy --strict over the whole package.
# mypy cannot see spicepy.codecs from the checkout (the folder is named codecs,
# like the standard library): it checks a throw-away tree of links laid out the
# way the package installs (STYLE.md 6f).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${SPICEPY_VENV:-$ROOT/.venv}/bin"

"$BIN/ruff" check spicepy codecs tests benchmarks
"$BIN/ruff" format --check spicepy codecs tests benchmarks

tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/spicepy"
for entry in spicepy/*; do
    ln -s "$ROOT/$entry" "$tree/spicepy/"
done
ln -s "$ROOT/codecs" "$tree/spicepy/codecs"
(cd "$tree" && "$BIN/mypy" --config-file "$ROOT/pyproject.toml" -p spicepy)
