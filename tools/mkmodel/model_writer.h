// Writes random-weight models of any configuration, as a Hugging Face folder
// (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) or
// as a GGUF file with the tokenizer in its metadata. Tests and benchmarks use
// it for models with real dimensions (e.g. Qwen3-0.6B) without real weights.
#pragma once

#include <cstdint>
#include <string>

#include <optional>

#include "format/dtype.h"

namespace nagi::mkmodel {

struct ModelConfig {
  std::string arch = "llama";  // llama, qwen2, qwen3
  int n_vocab = 512;
  int n_embd = 128;
  int n_layer = 2;
  int n_head = 4;
  int n_head_kv = 2;
  int head_dim = 32;
  int n_ff = 256;
  int n_ctx = 2048;
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  bool tied = true;
  uint64_t seed = 1;
};

struct WriteOptions {
  DType dtype = DType::kF32;  // matrices; norms and biases stay F32
  // llama.cpp's Q4_K_M choices (llama-quantize): output/embedding Q6_K, and
  // attn_v / ffn_down Q6_K on the layers its use_more_bits() picks (first and
  // last eighth, every third in between); every other matrix `dtype` (Q4_K).
  bool q4_k_m = false;
  // Type of the output / token-embedding matrices (GGUF only); unset: `dtype`.
  // llama-quantize's Q4_0 files use Q6_K here: `--dtype q4_0 --output-dtype q6_k`.
  std::optional<DType> output_dtype;
  int shards = 1;             // HF only: >1 writes model-0000i-of-0000n.safetensors + index
};

void write_hf_folder(const ModelConfig& config, const WriteOptions& options, const std::string& dir);
void write_gguf(const ModelConfig& config, const WriteOptions& options, const std::string& path);

}  // namespace nagi::mkmodel
