#!/usr/bin/env bash
# Cross-builds the kernels and their tests for ARM64 (Debian's aarch64 cross
# compiler, GoogleTest from /usr/src/googletest) into build-arm64/ and runs
# them under qemu-user: with every extension qemu has (-cpu max: NEON + SDOT),
# with NAGI_ISA forcing the plain NEON level and scalar, and on a CPU model
# without the dot-product extension (cortex-a53) to check detection.
# Fails on any failure. qemu timings mean nothing; this checks correctness.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh arm64
dir=build-arm64
sysroot=/usr/aarch64-linux-gnu
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DNAGI_KERNELS_ONLY=ON -DNAGI_GTEST_FROM_SOURCE=ON -DNAGI_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" --target test_kernels
test_bin="$dir/tests/test_kernels"

run() {  # run CPU [VAR=VALUE...]
  local cpu="$1"; shift
  echo "== test_kernels on qemu-aarch64 -cpu $cpu ${*:-}"
  env "$@" qemu-aarch64 -cpu "$cpu" -L "$sysroot" "$test_bin" --gtest_brief=1
}
run max
run max NAGI_ISA=neon
run max NAGI_ISA=scalar
run cortex-a53

# Each CPU model must have run the expected levels (detection works).
check_levels() {  # check_levels CPU EXPECTED
  local got
  got=$(qemu-aarch64 -cpu "$1" -L "$sysroot" "$test_bin" --gtest_list_tests |
        sed -n 's|^  DotF32/\([a-z0-9]*\).*|\1|p' | sort | tr '\n' ' ')
  if [ "$got" != "$2 " ]; then
    echo "test-arm64: -cpu $1 tested levels '$got', expected '$2 '" >&2
    exit 1
  fi
  echo "== -cpu $1 tested levels: $got"
}
check_levels max "neon neondot scalar"
check_levels cortex-a53 "neon scalar"
echo "test-arm64: all passed"
