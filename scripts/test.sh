#!/usr/bin/env bash
# Set-up, then the checks of docs/testing.md: every suite through ctest (unit, store conformance on SQLite and
# MariaDB, HTTP end to end); with BRIDGE_TEST_STEPS="suites address thread fuzz" also the suites under
# AddressSanitizer + UBSan and under ThreadSanitizer, and the fuzz targets.
set -euo pipefail
cd "$(dirname "$0")/.."

# The sanitizer and fuzz steps are not yet in the default: with them .ci/run would pass its 20 minutes on 2 cores
# (docs/testing.md, "Time").
steps="${BRIDGE_TEST_STEPS:-suites}"
wants() { [[ " $steps " == *" $1 "* ]]; }
timed() {
    local name="$1" start=$SECONDS
    shift
    "$@"
    echo "== step $name: $((SECONDS - start)) s"
}

# The build step is always taken: the suites run from build/, and setup.sh installs what every step needs.
BRIDGE_SETUP_BROWSER=1 timed build scripts/setup.sh
if wants suites; then
    timed suites ctest --test-dir build --output-on-failure --timeout 600 -j "$(nproc)" "$@"
fi
if wants address; then timed address scripts/sanitize.sh address; fi
if wants thread; then timed thread scripts/sanitize.sh thread; fi
if wants fuzz; then timed fuzz scripts/fuzz.sh; fi
echo "== browser screenshots (CI artifact): $PWD/build/tests/integration/browser-screenshots"
echo "== all steps passed in $SECONDS s"
