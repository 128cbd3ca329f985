#!/usr/bin/env bash
# Cross-builds the kernels and their tests for ARM64 (Debian's aarch64 cross
# compiler, GoogleTest from /usr/src/googletest) into build-arm64/ and runs
# them under qemu-user: with every extension qemu has (-cpu max: NEON + SDOT
# + I8MM + BF16), with NAGI_ISA forcing each lower level, on a CPU model with SDOT
# but no I8MM (cortex-a76), and on one without the dot-product extension
# (cortex-a53) to check detection.
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
# No weak symbols in the objects built with extension flags (docs/KERNELS.md,
# "Dispatch").
tests/kernels/check_simd_objects.sh aarch64-linux-gnu-nm $(find "$dir/src" -path '*/kernels/arm/*' -name '*.o')

run() {  # run CPU FILTER [VAR=VALUE...]
  local cpu="$1" filter="$2"; shift 2
  echo "== test_kernels on qemu-aarch64 -cpu $cpu ${*:-} ($filter)"
  env "$@" qemu-aarch64 -cpu "$cpu" -L "$sysroot" "$test_bin" --gtest_brief=1 --gtest_filter="$filter"
}
# The parameterised tests (Isas/*) run every level the CPU has, so the
# whole suite runs once on -cpu max; the other runs repeat only the tests
# of the selected table (matmul dispatch, attention, activations, ...).
run max '*'
run max '-Isas/*' NAGI_ISA=neoni8mm
run max '-Isas/*' NAGI_ISA=neondot
run max '-Isas/*' NAGI_ISA=neon
run max '-Isas/*' NAGI_ISA=scalar
run cortex-a76 '-Isas/*'
run cortex-a53 '-Isas/*'

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
check_levels max "neon neonbf16 neondot neoni8mm scalar"
check_levels cortex-a76 "neon neondot scalar"
check_levels cortex-a53 "neon scalar"
echo "test-arm64: all passed"
