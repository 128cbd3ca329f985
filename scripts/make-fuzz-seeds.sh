#!/usr/bin/env bash
# Writes the seeds of fuzz_gguf_model (fuzz/seeds/gguf_model/): tiny
# random-weight models of every architecture and several dtypes, each under
# the fuzzers' 64 KiB input limit. Needs a release build (scripts/build.sh).
# Usage: scripts/make-fuzz-seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mk=build/bin/nagi-mkmodel
out=fuzz/seeds/gguf_model
mkdir -p "$out"
tiny=(--preset tiny --n-vocab 360 --n-head 2 --n-head-kv 1 --n-ff 32 --n-ctx 64)
"$mk" "${tiny[@]}" --n-embd 24 --head-dim 12 --n-layer 1 --arch llama --dtype f32 -o "$out/llama_f32.gguf"
"$mk" "${tiny[@]}" --n-embd 32 --head-dim 16 --n-layer 2 --arch llama --dtype i4g32 -o "$out/llama_i4g32.gguf"
"$mk" "${tiny[@]}" --n-embd 32 --head-dim 16 --n-layer 2 --arch qwen2 --dtype q4_0 --tied false -o "$out/qwen2_q4_0.gguf"
"$mk" "${tiny[@]}" --n-embd 32 --head-dim 16 --n-layer 2 --arch qwen3 --dtype q8_0 -o "$out/qwen3_q8_0.gguf"
"$mk" "${tiny[@]}" --n-embd 32 --head-dim 16 --n-layer 2 --arch lfm2 --dtype f16 --attn-layers 1 -o "$out/lfm2_f16.gguf"
"$mk" "${tiny[@]}" --n-embd 32 --head-dim 16 --n-layer 2 --arch qwen35 --dtype f16 --full-attention-interval 2 \
  --linear-k-heads 1 --linear-v-heads 2 --linear-head-dim 16 --n-rot 8 -o "$out/qwen35_f16.gguf"
"$mk" "${tiny[@]}" --n-embd 32 --head-dim 16 --n-layer 2 --arch gemma3 --dtype bf16 --sliding-window 4 --swa-pattern 2 \
  -o "$out/gemma3_bf16.gguf"
ls -l "$out"
