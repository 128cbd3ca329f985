#!/usr/bin/env bash
# Builds nagi and runs every test. Usage: scripts/test.sh [release|debug|asan]
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-release}"
scripts/build.sh "$kind"
case "$kind" in
  release) dir=build ;;
  debug) dir=build-debug ;;
  asan) dir=build-asan ;;
esac
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)"
