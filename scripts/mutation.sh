#!/usr/bin/env bash
# Mutation testing (mutmut, pinned in the `test` extras), one area at a time:
#
#   bash scripts/mutation.sh AREA [AREA...]     # codecs wire channels transport
#                                               # (protocol = the last three),
#                                               # lookahead pixelmem lane
#   MUTATION_JOBS=2 bash scripts/mutation.sh wire
#
# Each area is mutated in its own staging copy under $MUTATION_DIR (default
# /tmp/spicepy-mutation/AREA), never in the checkout: mutmut rewrites the files
# it mutates, and other work may be running against the tree.  The copy has the
# installed layout (codecs/ becomes spicepy/codecs/) so the tests import the
# mutated modules, and SPICEPY_PUREPYTHON=1 so the reference twins and the
# pure-Python wire engine run instead of the Cython fast paths (not for
# lookahead: session/lookahead.py is off under the pure-Python codecs, so that
# area keeps the compiled ones; its live test is left out).  Only the tests
# named for the area run, and mutmut runs for each mutant just the tests that
# reached the mutated function.  The shared corpus is left out (tests/data pins
# the codecs).  Results: $MUTATION_DIR/AREA/results.txt
# (`mutmut results --all true`); tests/MUTATION.md records the scores.
#
#   MUTATION_RERUN=1 bash scripts/mutation.sh wire
#
# runs only the survivors of the last run of the area again, against the tests
# of the checkout now (the staged code and its mutants are kept), and merges
# the verdicts: the score after writing tests for survivors, in minutes
# (with MUTATION_MODULES: those modules' survivors only).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SPICEPY_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
BASE="${MUTATION_DIR:-/tmp/spicepy-mutation}"
JOBS="${MUTATION_JOBS:-1}"
# MUTATION_SAMPLE=N: run N mutants per module (a fixed random sample), for a
# quick score on a busy machine; 0 (the default) runs them all.
SAMPLE="${MUTATION_SAMPLE:-0}"
# MUTATION_MODULES="usbredir agent": run only the mutants of these modules of
# the area (all are still generated and staged), e.g. to work module by module
# on channels, whose full run takes ~2 h on an idle 2-core machine.
# MUTATION_DROP=REGEX: tests whose id matches REGEX run only for the mutants
# of modules whose name matches it (drop_tests below), e.g. MUTATION_DROP=quic.
# MUTATION_FAST=SECONDS: a first pass with each mutant's fast tests only, then
# MUTATION_RERUN=1 gives the survivors every test (drop_tests below).
# MUTATION_KEEP=1 reuses the staged copy of an earlier run of the area (its
# code snapshot, mutants, test map and verdicts) instead of staging the
# checkout again: the next modules of one snapshot, run after another.
read -r -a MODULES <<<"${MUTATION_MODULES:-}"

area_files() {  # files to mutate (paths in the staging copy), then tests
    case "$1" in
    codecs)
        echo "spicepy/codecs/_quic_ref.py spicepy/codecs/_lz_ref.py spicepy/codecs/_glz_ref.py"
        echo "spicepy/codecs/_lz4_ref.py spicepy/codecs/_common.py spicepy/codecs/quic.py"
        echo "spicepy/codecs/lz.py spicepy/codecs/glz.py spicepy/codecs/lz4.py"
        echo "spicepy/codecs/jpeg.py spicepy/codecs/jpeg_alpha.py spicepy/codecs/zlib_glz.py"
        echo "spicepy/codecs/image.py"
        # every codec test file (the corpus ones skip: SPICEPY_CAPTURES=/nonexistent)
        echo "|tests/test_codec_*.py" ;;
    wire)
        echo "spicepy/wire/*.py"
        echo "|tests/test_wire_*.py tests/test_agent_wire.py tests/test_usbredir_wire.py"
        echo "tests/test_review*_layout.py" ;;
    channels)
        echo "spicepy/channels/*.py"
        echo "|tests/test_channel_*.py tests/test_agent_*.py"
        echo "tests/test_usbredir_channel.py tests/test_usbredir_machine.py"
        echo "tests/test_usbredir_rules.py tests/test_usbredir_interop.py"
        echo "tests/test_migration_channel.py" ;;
    transport)
        echo "spicepy/session/transport.py spicepy/session/uri.py"
        echo "|tests/test_session_transport.py tests/test_session_uri.py"
        echo "tests/test_session_transport_mutants.py tests/test_session_proxy.py"
        echo "tests/test_session_vv.py" ;;
    protocol)  # wire + channels + transport in one run (one copy, one test map)
        echo "spicepy/wire/*.py spicepy/channels/*.py"
        echo "spicepy/session/transport.py spicepy/session/uri.py"
        echo "|tests/test_wire_*.py tests/test_channel_*.py tests/test_agent_*.py"
        echo "tests/test_review*_layout.py"
        echo "tests/test_usbredir_wire.py tests/test_usbredir_channel.py"
        echo "tests/test_usbredir_machine.py tests/test_usbredir_rules.py"
        echo "tests/test_usbredir_interop.py tests/test_migration_channel.py"
        echo "tests/test_session_transport.py tests/test_session_uri.py"
        echo "tests/test_session_transport_mutants.py tests/test_session_proxy.py"
        echo "tests/test_session_vv.py" ;;
    lookahead)  # the decode look-ahead; needs the compiled codecs (area_env)
        echo "spicepy/session/lookahead.py"
        echo "|tests/test_lookahead.py tests/test_offload_palette.py"
        echo "tests/test_review*_lookahead.py" ;;
    pixelmem)  # canvas/pixelmem.py: the huge-page image arena (pure Python)
        echo "spicepy/canvas/pixelmem.py"
        echo "|tests/test_canvas_pixelmem.py tests/test_review*_pixelmem.py"
        echo "tests/test_canvas_image_path.py tests/test_review8_surface.py"
        echo "tests/test_prefault.py" ;;
    lane)  # the Python side of the display lane's runs; needs the compiled lane
        # (_lane.pyx itself is Cython: mutmut cannot mutate it; base.py's
        # _parse, which calls flush(), is in the channels area)
        echo "spicepy/session/frames.py"
        echo "|tests/test_lane_runs.py tests/test_session_lane.py"
        echo "tests/test_review*_lane.py tests/test_session_frames.py"
        echo "tests/test_review8_core.py" ;;
    *) echo "unknown area: $1 (codecs wire channels transport protocol lookahead pixelmem lane)" >&2
       return 1 ;;
    esac
}

stage() {  # stage AREA DIR: a copy of the checkout in the installed layout
    local dir="$2"
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | grep -zv '^\.ci/\|^benchmarks/\|^scripts/' \
        | xargs -0 cp --parents -t "$dir" 2>/dev/null) || true
    # compiled fast paths stay available for the modules that are not mutated
    (cd "$ROOT" && find codecs spicepy -name '_*.so' -print0 | xargs -0 -r cp --parents -t "$dir")
    mv "$dir/codecs" "$dir/spicepy/codecs"
}

write_cfg() {  # write_cfg DIR "MUTATE" "TESTS": mutmut's setup.cfg in DIR
    local dir="$1" mutate="$2" tests="$3" only="" f t m
    for f in $mutate; do only+="    $f"$'\n'; done
    # each mutant's tests run fastest first (the plugin, beside the mutants)
    cp "$ROOT/scripts/mutation_order.py" "$dir/"
    [[ -d "$dir/mutants" ]] && cp "$ROOT/scripts/mutation_order.py" "$dir/mutants/"
    # mutmut reads setup.cfg when pyproject.toml has no [tool.mutmut]
    {
        echo "[mutmut]"
        echo "source_paths = spicepy"
        echo "only_mutate ="
        printf '%s' "$only"
        echo "also_copy ="
        echo "    mutation_order.py"
        printf 'pytest_add_cli_args =\n    -p\n    no:cacheprovider\n'
        # no live server per mutant (test_lookahead's live screenshot test)
        printf '    -m\n    not live\n'
        printf '    -p\n    mutation_order\n'
        # e.g. MUTATION_PYTEST_ARGS="--deselect tests/x.py::test_y": mutmut needs
        # a green baseline, and other work may leave an unrelated test red
        for a in ${MUTATION_PYTEST_ARGS:-}; do echo "    $a"; done
        echo "pytest_add_cli_args_test_selection ="
        for t in $tests; do
            for m in "$dir"/$t; do [[ -e "$m" ]] && echo "    ${m#"$dir"/}"; done
        done
        echo "timeout_multiplier = 10.0"
        echo "use_git_change_detection = false"
    } >"$dir/setup.cfg"
}

summarize() {  # summarize RESULTS: score per module, and the survivors
    "$PY" - "$1" <<'PY' >&2
import collections, re, sys
score = collections.defaultdict(lambda: [0, 0])
for line in open(sys.argv[1]):
    m = re.match(r"\s*([\w.]+)\.x\S*__mutmut_\d+: (.*)", line)
    if not m:
        continue
    mod, status = m.groups()
    if status == "not checked":  # outside the sample
        continue
    score[mod][1] += 1
    if status in ("killed", "timeout", "caught by type check"):
        score[mod][0] += 1
    else:
        print(f"  {line.strip()}")
for mod, (k, t) in sorted(score.items()):
    print(f"{mod}: {k}/{t} = {100 * k / t:.1f} %")
PY
}

rerun_area() {  # rerun_area AREA DIR MUTATE TESTS (MUTATION_RERUN=1)
    # The survivors of the last run in DIR, run again against today's tests
    # (copied in; the staged code and its mutants stay as they were, so a
    # mutant killed then is still killed): after writing tests for survivors,
    # this measures the new score without running every mutant again.
    local area="$1" dir="$2" mutate="$3" tests="$4"
    [[ -f "$dir/results.txt" ]] || { echo "no earlier run in $dir" >&2; return 1; }
    [[ -f "$dir/results.first.txt" ]] || cp "$dir/results.txt" "$dir/results.first.txt"
    rm -rf "$dir/tests" && cp -r "$ROOT/tests" "$dir/tests"
    # after a MUTATION_FAST pass: the survivors meet every test that reaches them
    if [[ -f "$dir/mutants/mutmut-stats.full.json" ]]; then
        mv "$dir/mutants/mutmut-stats.full.json" "$dir/mutants/mutmut-stats.json"
    fi
    write_cfg "$dir" "$mutate" "$tests"
    local pats
    mapfile -t pats < <(module_patterns "$area")
    mapfile -t names < <("$PY" - "$dir/results.first.txt" "${pats[@]}" <<'PY'
import fnmatch, re, sys
only = sys.argv[2:]  # MUTATION_MODULES: those modules' survivors only
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\S+__mutmut_\d+): (.*)", line)
    if m and m.group(2) not in ("killed", "timeout", "caught by type check", "not checked"):
        if not only or any(fnmatch.fnmatch(m.group(1), p) for p in only):
            print(m.group(1))
PY
    )
    # no names would make mutmut run every mutant
    [[ ${#names[@]} -gt 0 ]] || { echo "== $area: no survivors to rerun" >&2; return 0; }
    echo "== $area: $(date -u +%H:%M:%S) rerunning ${#names[@]} survivors in $dir" >&2
    (
        cd "$dir"
        export SPICEPY_PUREPYTHON=1 HYPOTHESIS_PROFILE=mutation PYTHONDONTWRITEBYTECODE=1
        area_env "$area"
        export SPICEPY_CAPTURES=/nonexistent SPICEPY_VECTORS=/nonexistent
        unset SPICEPY_REQUIRE_CORPUS
        nice -n 10 "$PY" -m mutmut run --max-children "$JOBS" "${names[@]}" \
            >"$dir/rerun.log" 2>&1 || true
        "$PY" -m mutmut results --all true >"$dir/results.rerun.txt" 2>&1 || true
    )
    # merged: the first verdict, replaced by the rerun's for the survivors
    "$PY" - "$dir/results.first.txt" "$dir/results.rerun.txt" <<'PY' >"$dir/results.txt"
import re, sys
pat = re.compile(r"\s*(\S+__mutmut_\d+): (.*)")
again = {m.group(1): m.group(2) for m in map(pat.match, open(sys.argv[2])) if m}
for line in open(sys.argv[1]):
    m = pat.match(line)
    if m and again.get(m.group(1), "not checked") != "not checked":
        line = f"    {m.group(1)}: {again[m.group(1)]}\n"
    sys.stdout.write(line)
PY
    echo "== $area: $(date -u +%H:%M:%S) done; per module (killed/total), survivors:" >&2
    summarize "$dir/results.txt"
}

drop_tests() {  # drop_tests REGEX SECONDS (in the staged copy's mutants/)
    # MUTATION_DROP=quic: a test whose id matches REGEX (case-insensitive) is
    # not run for the mutants of a module whose name does not match it; e.g.
    # the QUIC tests decode whole images in pure Python and reach the other
    # codecs only through decode_image.  The trimmed map is kept for reruns.
    # MUTATION_FAST=0.3: a first pass with each function's tests that took at
    # most 0.3 s in the stats run (its 3 fastest at least); the full map is
    # kept in mutmut-stats.full.json and MUTATION_RERUN=1 runs the survivors
    # against it: a mutant a subset kills, the whole set kills, so the merged
    # verdicts are a full run's, at the cost of the survivors only.
    (cd "$1" && "$PY" - "$2" "$3" <<'PY'
import json, os, re, sys
rx = re.compile(sys.argv[1], re.I) if sys.argv[1] else None
fast = float(sys.argv[2]) if sys.argv[2] else None
path = "mutants/mutmut-stats.json"
stats = json.load(open(path))
dur = stats["duration_by_test"]
dropped = 0
for fn, tests in stats["tests_by_mangled_function_name"].items():
    module = fn.split(".x")[0].rsplit(".", 1)[-1]
    kept = tests
    if rx and not rx.search(module):
        kept = [t for t in kept if not rx.search(t)]
    stats["tests_by_mangled_function_name"][fn] = kept
    dropped += len(tests) - len(kept)
full = json.loads(json.dumps(stats))
for fn, tests in stats["tests_by_mangled_function_name"].items():
    if fast is not None:
        ranked = sorted(tests, key=lambda t: dur.get(t, 0.0))
        kept = [t for i, t in enumerate(ranked) if i < 3 or dur.get(t, 0.0) <= fast]
        dropped += len(tests) - len(kept)
        stats["tests_by_mangled_function_name"][fn] = kept
if fast is not None:
    json.dump(full, open("mutants/mutmut-stats.full.json", "w"))
json.dump(stats, open(path, "w"))
print(f"test map: {dropped} (function, test) pairs dropped", file=sys.stderr)
PY
    )
}

area_env() {  # area_env AREA: what an area changes in the tests' environment
    # the look-ahead runs only beside the compiled codecs (lookahead.available)
    # and the display lane is made only beside the compiled one
    if [[ "$1" == lookahead || "$1" == lane ]]; then unset SPICEPY_PUREPYTHON; fi
}

module_patterns() {  # module_patterns AREA: mutmut name patterns, or nothing
    local m
    for m in "${MODULES[@]}"; do
        case "$1" in
        codecs) echo "spicepy.codecs.$m.*" ;;
        wire) echo "spicepy.wire.$m.*" ;;
        channels) echo "spicepy.channels.$m.*" ;;
        transport | lookahead | lane) echo "spicepy.session.$m.*" ;;
        pixelmem) echo "spicepy.canvas.$m.*" ;;
        *) echo "spicepy.*.$m.*" ;;
        esac
    done
}

run_area() {
    local area="$1" dir="$BASE/$1" spec mutate tests
    spec="$(area_files "$area" | tr '\n' ' ')"
    mutate="${spec%%|*}"
    tests="${spec#*|}"
    if [[ -n "${MUTATION_RERUN:-}" ]]; then
        rerun_area "$area" "$dir" "$mutate" "$tests"
        return
    fi
    if [[ -n "${MUTATION_KEEP:-}" && -d "$dir/mutants" ]]; then
        echo "== $area: $(date -u +%H:%M:%S) reusing the copy staged in $dir" >&2
    else
        stage "$area" "$dir"
        write_cfg "$dir" "$mutate" "$tests"
        echo "== $area: $(date -u +%H:%M:%S) staged in $dir" >&2
    fi
    (
        cd "$dir"
        export SPICEPY_PUREPYTHON=1 HYPOTHESIS_PROFILE=mutation PYTHONDONTWRITEBYTECODE=1
        area_env "$area"
        # in-repo data only (tests/data): the corpus tests decode megapixels
        # through the pure-Python twins, far too slow to repeat per mutant
        export SPICEPY_CAPTURES=/nonexistent SPICEPY_VECTORS=/nonexistent
        unset SPICEPY_REQUIRE_CORPUS
        if [[ "$SAMPLE" -gt 0 ]]; then
            # generate the mutants and the test map only (no name matches),
            # then run a fixed random sample of each module's mutants
            nice -n 10 "$PY" -m mutmut run --max-children "$JOBS" "no-such-mutant" \
                >"$dir/generate.log" 2>&1 || true
            mapfile -t names < <("$PY" - "$SAMPLE" <<'PY'
import collections, glob, json, random, sys
by_module = collections.defaultdict(list)
for meta in sorted(glob.glob("mutants/**/*.py.meta", recursive=True)):
    for name in json.load(open(meta))["exit_code_by_key"]:
        by_module[name.split(".x")[0]].append(name)
for module, names in sorted(by_module.items()):
    random.Random(module).shuffle(names)  # the same sample on every run
    print("\n".join(sorted(names[: int(sys.argv[1])])))
PY
            )
            nice -n 10 "$PY" -m mutmut run --max-children "$JOBS" "${names[@]}" \
                >"$dir/run.log" 2>&1 || true
        else
            if [[ -n "${MUTATION_DROP:-}${MUTATION_FAST:-}" ]]; then
                # the test map first (no name matches), then trim it
                nice -n 10 "$PY" -m mutmut run --max-children "$JOBS" "no-such-mutant" \
                    >"$dir/generate.log" 2>&1 || true
                drop_tests "$dir" "${MUTATION_DROP:-}" "${MUTATION_FAST:-}"
            fi
            mapfile -t names < <(module_patterns "$area")
            nice -n 10 "$PY" -m mutmut run --max-children "$JOBS" "${names[@]}" \
                >"$dir/run.log" 2>&1 || true
        fi
        "$PY" -m mutmut results --all true >"$dir/results.txt" 2>&1 || true
    )
    echo "== $area: $(date -u +%H:%M:%S) done; per module (killed/total), survivors:" >&2
    summarize "$dir/results.txt"
}

[[ $# -gt 0 ]] || set -- codecs wire channels transport
# one line, read whole before it runs: editing this file during a run is safe
for a in "$@"; do run_area "$a"; done; exit
