#!/usr/bin/env bash
# Set-up, then `bridge demo`: an embedded store, the built-in Salesforce stand-in and the server, with what to try.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/bridge/main/bridge demo "$@"
