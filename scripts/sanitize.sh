#!/usr/bin/env bash
# Builds the sanitizer trees and runs the suites chosen for each under it (docs/testing.md, "Sanitizers"):
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer (leaks included): unit, store conformance and
#                integration suites; the bridge and stand-in processes they start are instrumented too.
#   build-tsan/  ThreadSanitizer: the suites whose code runs on several threads at once.
# Any sanitizer report stops the program that made it and fails its suite.
#   scripts/sanitize.sh                  both trees, each built then run
#   scripts/sanitize.sh thread           one tree: address | thread
#   scripts/sanitize.sh --build address  only build (or --run: only run) the tree; scripts/test.sh runs one tree's
#                                        suites while the next tree builds
set -euo pipefail
cd "$(dirname "$0")/.."

# The stand-in's own suite tests a test tool, and the benchmarks are not tests: neither runs here.
address_suites=(mappings_tests crypto_tests store_unit_tests store_conformance_tests salesforce_tests
                token_broker_tests http_plumbing_tests config_tests migrations_tests panels_integration_tests
                cli_integration_tests oauth_integration_tests fleet_integration_tests broker_integration_tests
                migration_integration_tests crowd_integration_tests webhook_deliverer_tests webhook_integration_tests)
# Single-flight refresh and the access-token cache (token_broker_tests), the key ring shared by request threads
# (crypto_tests), the refresh lease and the connection pools (store_conformance_tests), the metrics and loggers
# shared by request threads (http_plumbing_tests), `bridge serve` answering, then draining on SIGTERM with its
# listener, renewer and keep-alive threads (cli_integration_tests), two instances on one store
# (fleet_integration_tests), the webhook deliverer's thread beside the receiver's and the test's
# (webhook_deliverer_tests).
thread_suites=(crypto_tests store_conformance_tests token_broker_tests http_plumbing_tests cli_integration_tests
               fleet_integration_tests webhook_deliverer_tests)

# halt_on_error: the first report ends the process with a failure instead of scrolling past in a passing suite.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:strict_string_checks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"

# One tree: -g1 keeps file:line in the reports. The optimisation level and whether the test programs' own code is
# instrumented are each tree's build-time trade-off (docs/testing.md, "Sanitizers").
run_tree() {
    local sanitizer="$1" dir="$2" optimisation="$3" sanitize_tests="$4"
    shift 4
    local suites=("$@")
    if [ "$phase" != run ]; then
        echo "== sanitizer $sanitizer, building: ${suites[*]}"
        cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=$optimisation -g1" \
            -DBRIDGE_TEST_PROGRAM_OPTIMIZATION="$optimisation" -DBRIDGE_SANITIZER="$sanitizer" \
            -DBRIDGE_SANITIZE_TESTS="$sanitize_tests" -DBRIDGE_BUILD_BENCH=OFF >/dev/null
        cmake --build "$dir" -j "$(nproc)" --target "${suites[@]}"
    fi
    if [ "$phase" != build ]; then
        echo "== sanitizer $sanitizer, running: ${suites[*]}"
        ctest --test-dir "$dir" --output-on-failure --timeout 900 -j "$(nproc)" \
            -R "^($(IFS='|'; echo "${suites[*]}"))\$"
    fi
}

phase=all
case "${1:-}" in
    --build) phase=build; shift ;;
    --run) phase=run; shift ;;
esac
trees=("$@")
((${#trees[@]})) || trees=(address thread)
for tree in "${trees[@]}"; do
    case "$tree" in
        # UBSan's checks make -O1 twice as slow to compile as -O0; ThreadSanitizer is cheap to compile at -O1 and
        # needs it to keep the concurrent suites' timing close to a normal build's.
        address) run_tree address,undefined build-asan -O0 OFF "${address_suites[@]}" ;;
        thread) run_tree thread build-tsan -O1 ON "${thread_suites[@]}" ;;
        *) echo "sanitize.sh: unknown tree '$tree' (address or thread)" >&2; exit 2 ;;
    esac
done
