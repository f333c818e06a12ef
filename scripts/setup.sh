#!/usr/bin/env bash
# Installs what is missing on a Debian 12 machine (idempotent), then configures and builds into build/.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake g++ pkg-config libpoco-dev libspdlog-dev libmysqlcppconn-dev libgtest-dev googletest
          libssl-dev libsqlite3-dev mariadb-server mariadb-client wrk clang-format clang libclang-rt-14-dev)
# The console's browser test drives Debian's chromium; scripts/test.sh asks for it, the demo never needs it.
if [ "${BRIDGE_SETUP_BROWSER:-0}" = 1 ]; then packages+=(chromium chromium-driver python3-selenium); fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build_type="${BRIDGE_BUILD_TYPE:-RelWithDebInfo}"
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" ${BRIDGE_SANITIZER:+-DBRIDGE_SANITIZER=$BRIDGE_SANITIZER} >/dev/null
cmake --build build -j "$(nproc)"
