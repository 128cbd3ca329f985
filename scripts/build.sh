#!/usr/bin/env bash
# Configures and builds nagi. Usage: scripts/build.sh [release|debug|asan|fuzz]
# (build folders: build/, build-debug/, build-asan/, build-fuzz/). `fuzz`
# builds only the libFuzzer targets of fuzz/ with clang++-14, ASan and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-release}"
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug) dir=build-debug; flags=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DNAGI_SANITIZE=ON -DNAGI_BUILD_BENCH=OFF) ;;
  fuzz) dir=build-fuzz; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAGI_FUZZ=ON -DNAGI_BUILD_TESTS=OFF -DNAGI_BUILD_BENCH=OFF
                               -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14) ;;
  *) echo "usage: $0 [release|debug|asan|fuzz]" >&2; exit 2 ;;
esac
scripts/setup.sh "$kind"
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
if [ "$kind" = fuzz ]; then
  targets=()
  for f in fuzz/fuzz_*.cpp; do targets+=(--target "$(basename "$f" .cpp)"); done
  cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
else
  cmake --build "$dir" -j "$(nproc)"
fi
