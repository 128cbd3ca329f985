#!/usr/bin/env bash
# Builds the libFuzzer targets (scripts/build.sh fuzz -> build-fuzz/) and runs
# each for a bounded time, seeded from fuzz/seeds/ and the fixtures. Fails on
# any crash, sanitizer report, leak, hang (-timeout) or out-of-memory.
# Usage: scripts/fuzz.sh [seconds per target, default 60] [target ...]
# Findings are written to build-fuzz/artifacts/ (reproduce: build-fuzz/bin/TARGET FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(fuzz_tokenizer_json fuzz_encode fuzz_chat_template fuzz_gguf_model); fi
export NAGI_SHARED="${NAGI_SHARED:-$(cd .. && pwd)/shared}"

scripts/build.sh fuzz
mkdir -p build-fuzz/artifacts
for target in "${targets[@]}"; do
  seeds="fuzz/seeds/${target#fuzz_}"
  corpus="build-fuzz/corpus/$target"   # grows across runs; not committed
  mkdir -p "$corpus"
  echo "== $target: ${secs}s"
  # -max_len: seeds (e.g. tokenizer.json files) can be large; mutations stay near them.
  log="build-fuzz/artifacts/$target.log"
  status=0
  "build-fuzz/bin/$target" -max_total_time="$secs" -timeout=5 -rss_limit_mb=3072 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$target-" \
    "$corpus" "$seeds" >"$log" 2>&1 || status=$?
  tail -n 12 "$log"
  if [ "$status" -ne 0 ]; then
    grep -m1 -A30 "ERROR:\|runtime error\|Timeout\|out-of-memory" "$log" >&2 || true
    echo "fuzz: $target failed (exit $status); see build-fuzz/artifacts/" >&2
    exit 1
  fi
done
echo "fuzz: all targets ran ${secs}s without a finding"
