#!/usr/bin/env bash
# Long fuzz run: each target in turn (one process at a time), then a summary.
#   bash tests/fuzz/campaign.sh OUT SECONDS [TARGET...]
# OUT gets corpus/<target>/ (seeded by make_corpus.py when missing), logs and
# crash-*/timeout-* artifacts. SPICEPY_FUZZ_BUILD (default build/fuzz) is the
# instrumented build; SPICEPY_FUZZ_ARGS adds run.py options (e.g. --asan).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${SPICEPY_VENV:-$ROOT/.venv}/bin/python"
OUT="$(realpath -m "$1")"; SECONDS_EACH="$2"; shift 2
TARGETS=("$@")
if [[ ${#TARGETS[@]} -eq 0 ]]; then
    TARGETS=(quic lz glz zlib_glz lz4 jpeg jpeg_alpha decode_image bitmap cursor wire channel agent usbredir pcap)
fi
BUILD="${SPICEPY_FUZZ_BUILD:-$ROOT/build/fuzz}"
[[ -d "$OUT/corpus" ]] || "$PY" -P "$ROOT/tests/fuzz/make_corpus.py" "$OUT/corpus"
mkdir -p "$OUT/logs" "$OUT/artifacts"
for t in "${TARGETS[@]}"; do
    mkdir -p "$OUT/corpus/$t"
    # shellcheck disable=SC2086
    nice "$PY" -P "$ROOT/tests/fuzz/run.py" "$t" --build "$BUILD" ${SPICEPY_FUZZ_ARGS:-} \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=3072 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" \
        "$OUT/corpus/$t" >"$OUT/logs/$t.log" 2>&1 || echo "$t: exit $?" >>"$OUT/logs/$t.log"
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/logs/$t.log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -oE '(DONE|pulse|NEW|REDUCE) +cov: [0-9]+' "$OUT/logs/$t.log" | tail -1 | grep -oE '[0-9]+$' || echo "?")
    finds=$(find "$OUT/artifacts" -name "$t-*" | wc -l)
    printf '%s\texecutions=%s\tedges=%s\tartifacts=%s\n' "$t" "$runs" "$cov" "$finds" | tee -a "$OUT/summary.tsv"
done
