#!/usr/bin/env bash
# Fails when a C++ source differs from what .clang-format asks for; prints the places.
# usage: scripts/check-format.sh [clang-format program]
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format="${1:-clang-format}"
find bench bridge legacy mappings migrations modern standin tests -name '*.cpp' -o -name '*.h' | sort |
    xargs "$clang_format" --dry-run --Werror
