#!/usr/bin/env bash
# Set-up, then every test suite through ctest (unit, store conformance on SQLite and MariaDB, HTTP end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure --timeout 600 -j "$(nproc)" "$@"
