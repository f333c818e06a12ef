#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (AddressSanitizer + UndefinedBehaviorSanitizer) into build-fuzz/,
# replays each checked-in corpus (fuzz/corpus/<name>/), then fuzzes each target for FUZZ_SECONDS (default 15).
# Any crash, leak, sanitizer report or broken property fails the script; the input that did it is left as
# build-fuzz/findings/<name>/crash-* (or leak-*, timeout-*). Longer runs: docs/testing.md, "Fuzzing".
#   scripts/fuzz.sh                      every target
#   FUZZ_SECONDS=600 scripts/fuzz.sh json_body bearer_token
#   scripts/fuzz.sh --build              only build them (or --run: only replay and fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-15}"
jobs="${FUZZ_JOBS:-$(nproc)}"
phase=all
case "${1:-}" in
    --build) phase=build; shift ;;
    --run) phase=run; shift ;;
esac
targets=("$@")
((${#targets[@]})) || targets=(bearer_token json_body legacy_token base64 salesforce_responses mysql_address config)

if [ "$phase" != run ]; then
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DBRIDGE_FUZZ=ON -DBRIDGE_BUILD_TESTS=OFF -DBRIDGE_BUILD_BENCH=OFF \
        -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -gline-tables-only" >/dev/null
    cmake --build build-fuzz -j "$jobs" --target fuzzers
fi
[ "$phase" != build ] || exit 0

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

# One target: replay the seeds, then fuzz with what it learns kept in a scratch corpus (the checked-in one stays
# small and reviewed; add a finding to it by hand once it is fixed).
fuzz_one() {
    local name="$1" fuzzer="build-fuzz/fuzz/fuzz_$1" seeds="fuzz/corpus/$1"
    local work="build-fuzz/corpus/$name" findings="build-fuzz/findings/$name" log="build-fuzz/fuzz-$name.log"
    mkdir -p "$work" "$findings"
    if ! "$fuzzer" -runs=0 "$seeds" >"$log" 2>&1; then
        echo "fuzz $name: replaying fuzz/corpus/$name failed"; tail -n 40 "$log"; return 1
    fi
    if ! "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix="$findings/" -print_final_stats=1 "$work" "$seeds" >>"$log" 2>&1; then
        echo "fuzz $name: FAILED, input in $findings/"; tail -n 60 "$log"; return 1
    fi
    echo "fuzz $name: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${seconds}s"
}

# The targets run $jobs at a time; the script fails when any of them does.
failed=0
pids=()
for name in "${targets[@]}"; do
    fuzz_one "$name" &
    pids+=($!)
    if ((${#pids[@]} >= jobs)); then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
    fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit "$failed"
