// Writes random-weight models of any configuration, as a Hugging Face folder
// (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) or
// as a GGUF file with the tokenizer in its metadata. Tests and benchmarks use
// it for models with real dimensions (e.g. Qwen3-0.6B) without real weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <optional>

#include "format/dtype.h"

namespace nagi {
class GgufWriter;
}

namespace nagi::mkmodel {

struct ModelConfig {
  std::string arch = "llama";  // llama, qwen2, qwen3, gemma3
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
  // LFM2 (arch "lfm2"): attention at attn_layers, short convolution with
  // conv_l_cache taps elsewhere. n_ff is config.json's block_ff_dim; the
  // layers' size follows transformers' rule (lfm2_tensors.h).
  std::vector<int> attn_layers{};
  int conv_l_cache = 3;
  bool conv_bias = false;
  bool ff_auto_adjust = false;
  double ff_multiplier = 1.0;  // <= 0 writes null (no rounding to ff_multiple_of)
  int ff_multiple_of = 256;
  // qwen35 (gated DeltaNet + gated attention hybrid); see qwen35_tensors.cpp.
  int n_rot = 0;  // rotated dimensions per attention head (0: head_dim)
  int linear_k_heads = 16, linear_v_heads = 16, linear_k_dim = 128, linear_v_dim = 128;
  int conv_kernel = 4;
  int full_attention_interval = 4;
  int mtp_layers = 0;  // multi-token-prediction layers (Qwen3.5's mtp.*)
  // gemma3: sliding-window layers (every swa_pattern-th layer is global) and their RoPE base.
  int sliding_window = 512;
  int swa_pattern = 6;
  double rope_local_theta = 10000.0;
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
  std::string tokenizer_dir;  // GGUF only: embed this byte-level HF tokenizer (see hf_vocab.h)
  std::string pre;            // its tokenizer.ggml.pre ("" = guess)
};

void write_hf_folder(const ModelConfig& config, const WriteOptions& options, const std::string& dir);

// The stored type of one GGUF tensor (GGUF name and shape) under the options:
// vectors F32; the output/embedding matrix --output-dtype; q4_k_m's
// llama.cpp-style mix (Q6_K output, attn_v / ffn_down of some layers); a
// group type whose group does not divide the row falls back to groups of 32.
DType gguf_tensor_dtype(const ModelConfig& c, const WriteOptions& o, const std::string& name,
                        const std::vector<int64_t>& shape, bool is_matrix);
void write_gguf(const ModelConfig& config, const WriteOptions& options, const std::string& path);

// qwen35 models (qwen35_tensors.cpp); write_hf_folder / write_gguf forward to them.
void write_qwen35_hf_folder(const ModelConfig& config, const WriteOptions& options, const std::string& dir);
void write_qwen35_gguf(const ModelConfig& config, const WriteOptions& options, const std::string& path);

// Pieces the per-architecture writers share with model_writer.cpp.
void write_hf_tokenizer_files(int n_vocab, const std::string& dir);
// The --tokenizer folder's vocabulary (options.tokenizer_dir) when given,
// else the synthetic SentencePiece one.
void add_gguf_tokenizer(const ModelConfig& config, const WriteOptions& options, GgufWriter& w);
// The metadata every architecture's GGUF shares (general.*, sizes, heads,
// RoPE base and rotated dimensions, norm epsilon, vocabulary size).
void add_gguf_common_metadata(const ModelConfig& c, int n_rot, GgufWriter& w);

}  // namespace nagi::mkmodel
