#!/usr/bin/env bash
# Set-up, then the checks of docs/testing.md, in steps:
#   suites   every suite through ctest in build/: unit, store conformance (SQLite and MariaDB), stand-in,
#            HTTP end to end, the console in headless chromium
#   address  the suites under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/
#   thread   the concurrency suites under ThreadSanitizer, in build-tsan/
#   fuzz     every fuzz target: its seed corpus replayed, then FUZZ_SECONDS of fuzzing, in build-fuzz/
# BRIDGE_TEST_STEPS chooses among them (default: all four, what .ci/run runs); arguments go to the suites' ctest.
#
# Builds are CPU-bound; the suites mostly wait on sockets, child processes and timers. So each step's suites run
# in the background while the next step's tree builds at a lower priority, which keeps .ci/run within its 20
# minutes on 2 cores (docs/testing.md, "Time").
set -euo pipefail
cd "$(dirname "$0")/.."

steps="${BRIDGE_TEST_STEPS:-suites address thread fuzz}"
wants() { [[ " $steps " == *" $1 "* ]]; }
# Wall and CPU time: CPU seconds are what compare across machines as busy as this shared one.
timed() {
    local TIMEFORMAT="== step $1: %0R s (cpu: %0U s user, %0S s system)"
    shift
    time "$@"
}

logs=build/step-logs
background_step=""
background_pid=""
start_in_background() {
    background_step="$1"
    mkdir -p "$logs"
    timed "$@" >"$logs/$1.log" 2>&1 &
    background_pid=$!
}
# Waits for the step running in the background, prints its log, and stops the script if it failed.
finish_background() {
    [ -n "$background_step" ] || return 0
    local status=0 step="$background_step"
    wait "$background_pid" || status=$?
    background_step=""
    cat "$logs/$step.log"
    if ((status != 0)); then
        echo "== step $step FAILED"
        exit "$status"
    fi
}
# A failed build ends the script: the suites still running in the background go with it.
kill_tree() {
    local child
    for child in $(pgrep -P "$1"); do kill_tree "$child"; done
    kill "$1" 2>/dev/null || true
}
trap '[ -z "$background_step" ] || kill_tree "$background_pid"' EXIT

# The set-up is always taken: the suites run from build/, and setup.sh installs what every step needs.
BRIDGE_SETUP_BROWSER=1 timed build scripts/setup.sh
if wants suites; then
    start_in_background suites ctest --test-dir build --output-on-failure --timeout 600 -j "$(nproc)" "$@"
fi
if wants address; then
    timed "address build" nice -n 10 scripts/sanitize.sh --build address
    finish_background
    start_in_background address scripts/sanitize.sh --run address
fi
if wants thread; then
    timed "thread build" nice -n 10 scripts/sanitize.sh --build thread
    finish_background
    start_in_background thread scripts/sanitize.sh --run thread
fi
# The fuzzers run for a fixed time, so they can share the cores with the thread suites at a lower priority: they
# only try fewer inputs.
if wants fuzz; then
    timed "fuzz build" nice -n 10 scripts/fuzz.sh --build
    timed fuzz nice -n 10 scripts/fuzz.sh --run
fi
finish_background
if wants suites; then echo "== browser screenshots (CI artifact): $PWD/build/tests/integration/browser-screenshots"; fi
echo "== all steps passed in $SECONDS s"
