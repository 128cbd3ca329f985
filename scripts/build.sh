#!/usr/bin/env bash
# Configures and builds nagi. Usage: scripts/build.sh [release|debug|asan]
# (build folders: build/, build-debug/, build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-release}"
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug) dir=build-debug; flags=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DNAGI_SANITIZE=ON -DNAGI_BUILD_BENCH=OFF) ;;
  *) echo "usage: $0 [release|debug|asan]" >&2; exit 2 ;;
esac
scripts/setup.sh
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
