// nagi-mkmodel: writes a random-weight model of a given configuration as a
// Hugging Face folder or a GGUF file.
//
//   nagi-mkmodel --preset qwen3-0.6b --format gguf --dtype bf16 -o /tmp/qwen3-0.6b.gguf
//   nagi-mkmodel --arch llama --n-embd 64 --n-layer 2 --format hf -o /tmp/tiny-llama
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "hf_vocab.h"
#include "model_writer.h"
#include "nagi/error.hpp"

using nagi::mkmodel::ModelConfig;

namespace {

// Real dimensions of models nagi targets (from their published config.json).
const std::map<std::string, ModelConfig>& presets() {
  static const std::map<std::string, ModelConfig> p = {
      {"qwen3-0.6b", ModelConfig{.arch = "qwen3", .n_vocab = 151936, .n_embd = 1024, .n_layer = 28, .n_head = 16,
                                 .n_head_kv = 8, .head_dim = 128, .n_ff = 3072, .n_ctx = 40960,
                                 .rope_theta = 1000000.0, .norm_eps = 1e-6, .tied = true}},
      {"qwen2.5-0.5b", ModelConfig{.arch = "qwen2", .n_vocab = 151936, .n_embd = 896, .n_layer = 24, .n_head = 14,
                                   .n_head_kv = 2, .head_dim = 64, .n_ff = 4864, .n_ctx = 32768,
                                   .rope_theta = 1000000.0, .norm_eps = 1e-6, .tied = true}},
      {"smollm2-135m", ModelConfig{.arch = "llama", .n_vocab = 49152, .n_embd = 576, .n_layer = 30, .n_head = 9,
                                   .n_head_kv = 3, .head_dim = 64, .n_ff = 1536, .n_ctx = 8192,
                                   .rope_theta = 100000.0, .norm_eps = 1e-5, .tied = true}},
      {"lfm2-350m", ModelConfig{.arch = "lfm2", .n_vocab = 65536, .n_embd = 1024, .n_layer = 16, .n_head = 16,
                                .n_head_kv = 8, .head_dim = 64, .n_ff = 6656, .n_ctx = 128000,
                                .rope_theta = 1000000.0, .norm_eps = 1e-5, .tied = true,
                                .attn_layers = {2, 5, 8, 10, 12, 14}, .conv_l_cache = 3,
                                .ff_auto_adjust = true, .ff_multiplier = 1.0, .ff_multiple_of = 256}},
      // Qwen3.5-0.8B's text model (no MTP block); rotary 64 of 256, value heads = key heads.
      {"qwen3.5-0.8b", ModelConfig{.arch = "qwen35", .n_vocab = 248320, .n_embd = 1024, .n_layer = 24, .n_head = 8,
                                   .n_head_kv = 2, .head_dim = 256, .n_ff = 3584, .n_ctx = 262144,
                                   .rope_theta = 10000000.0, .norm_eps = 1e-6, .tied = true, .n_rot = 64,
                                   .linear_k_heads = 16, .linear_v_heads = 16, .linear_k_dim = 128,
                                   .linear_v_dim = 128, .conv_kernel = 4, .full_attention_interval = 4}},
      {"gemma3-270m", ModelConfig{.arch = "gemma3", .n_vocab = 262144, .n_embd = 640, .n_layer = 18, .n_head = 4,
                                  .n_head_kv = 1, .head_dim = 256, .n_ff = 2048, .n_ctx = 32768,
                                  .rope_theta = 1000000.0, .norm_eps = 1e-6, .tied = true, .sliding_window = 512,
                                  .swa_pattern = 6, .rope_local_theta = 10000.0}},
      {"tiny", ModelConfig{}},
  };
  return p;
}

nagi::DType parse_dtype(const std::string& s) {
  static const std::map<std::string, nagi::DType> m = {
      {"f32", nagi::DType::kF32}, {"f16", nagi::DType::kF16}, {"bf16", nagi::DType::kBF16},
      {"q8_0", nagi::DType::kQ8_0}, {"q4_0", nagi::DType::kQ4_0}, {"q4_1", nagi::DType::kQ4_1},
      {"q5_0", nagi::DType::kQ5_0}, {"q5_1", nagi::DType::kQ5_1}, {"q4_k", nagi::DType::kQ4_K},
      {"q5_k", nagi::DType::kQ5_K}, {"q6_k", nagi::DType::kQ6_K},
      // nagi's own group-quantized types (GGUF only; docs/KERNELS.md).
      {"i8g32", nagi::DType::kI8G32}, {"i8g64", nagi::DType::kI8G64}, {"i8g128", nagi::DType::kI8G128},
      {"i4g32", nagi::DType::kI4G32}, {"i4g64", nagi::DType::kI4G64}, {"i4g128", nagi::DType::kI4G128}};
  auto it = m.find(s);
  if (it == m.end()) throw nagi::Error(nagi::ErrorCode::kInvalidArgument, "--dtype: unknown type '" + s + "'");
  return it->second;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nagi-mkmodel: write a random-weight model"};
  std::string preset = "tiny", format = "gguf", out, dtype = "f32", output_dtype;
  ModelConfig over;
  int shards = 1;
  std::string tokenizer_dir, pre;
  app.add_option("--preset", preset, "qwen3-0.6b, qwen2.5-0.5b, smollm2-135m, lfm2-350m, qwen3.5-0.8b, gemma3-270m or tiny")->capture_default_str();
  app.add_option("--format", format, "hf or gguf")->capture_default_str();
  app.add_option("-o,--output", out, "Output folder (hf) or file (gguf)")->required();
  app.add_option("--dtype", dtype,
                 "Matrix type: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, q4_k_m "
                 "(llama.cpp's mix: Q4_K, Q6_K output/embedding and some attn_v/ffn_down), or nagi's "
                 "group types i8g32, i8g64, i8g128, i4g32, i4g64, i4g128 (gguf)")->capture_default_str();
  app.add_option("--output-dtype", output_dtype,
                 "gguf: type of the output/embedding matrix, any --dtype type but q4_k_m (llama.cpp's Q4_0 files: q6_k)");
  app.add_option("--shards", shards, "hf: number of safetensors shards");
  app.add_option("--tokenizer", tokenizer_dir, "gguf: embed this byte-level HF tokenizer folder (tokenizer.json, chat template) as a 'gpt2' vocabulary");
  app.add_option("--pre", pre, "gguf with --tokenizer: tokenizer.ggml.pre, e.g. lfm2 (default: guessed: llama-bpe, qwen35, qwen2 or gpt2)");
  auto* o_arch = app.add_option("--arch", over.arch, "llama, qwen2, qwen3, lfm2, qwen35 or gemma3");
  auto* o_vocab = app.add_option("--n-vocab", over.n_vocab);
  auto* o_embd = app.add_option("--n-embd", over.n_embd);
  auto* o_layer = app.add_option("--n-layer", over.n_layer);
  auto* o_head = app.add_option("--n-head", over.n_head);
  auto* o_head_kv = app.add_option("--n-head-kv", over.n_head_kv);
  auto* o_head_dim = app.add_option("--head-dim", over.head_dim);
  auto* o_ff = app.add_option("--n-ff", over.n_ff);
  auto* o_ctx = app.add_option("--n-ctx", over.n_ctx);
  auto* o_theta = app.add_option("--rope-theta", over.rope_theta);
  auto* o_tied = app.add_option("--tied", over.tied, "Tie output and embedding (true/false)");
  auto* o_seed = app.add_option("--seed", over.seed);
  // LFM2 only (see model_writer.h).
  auto* o_attn_layers = app.add_option("--attn-layers", over.attn_layers, "lfm2: attention layers (others short conv)")->delimiter(',');
  auto* o_l_cache = app.add_option("--conv-l-cache", over.conv_l_cache, "lfm2: conv kernel length");
  auto* o_conv_bias = app.add_option("--conv-bias", over.conv_bias, "lfm2: conv biases (true/false)");
  auto* o_ff_auto = app.add_option("--ff-auto-adjust", over.ff_auto_adjust, "lfm2: block_auto_adjust_ff_dim (true/false)");
  auto* o_ff_mult = app.add_option("--ff-multiplier", over.ff_multiplier, "lfm2: block_ffn_dim_multiplier (<= 0: null)");
  auto* o_ff_multiple = app.add_option("--ff-multiple-of", over.ff_multiple_of, "lfm2: block_multiple_of");
  auto* o_rot = app.add_option("--n-rot", over.n_rot, "qwen35: rotated dimensions per head");
  auto* o_lk = app.add_option("--linear-k-heads", over.linear_k_heads, "qwen35: DeltaNet key heads");
  auto* o_lv = app.add_option("--linear-v-heads", over.linear_v_heads, "qwen35: DeltaNet value heads");
  auto* o_ld = app.add_option("--linear-head-dim", over.linear_k_dim, "qwen35: DeltaNet key/value head size");
  auto* o_interval = app.add_option("--full-attention-interval", over.full_attention_interval, "qwen35");
  auto* o_mtp = app.add_option("--mtp-layers", over.mtp_layers, "qwen35: multi-token-prediction layers (random MTP head)");
  auto* o_window = app.add_option("--sliding-window", over.sliding_window, "gemma3: window of the local layers");
  auto* o_pattern = app.add_option("--swa-pattern", over.swa_pattern, "gemma3: every N-th layer is global");
  CLI11_PARSE(app, argc, argv);
  try {
    auto it = presets().find(preset);
    if (it == presets().end()) throw nagi::Error(nagi::ErrorCode::kInvalidArgument, "--preset: unknown preset '" + preset + "'");
    ModelConfig c = it->second;
    if (o_arch->count()) c.arch = over.arch;
    if (o_vocab->count()) c.n_vocab = over.n_vocab;
    if (o_embd->count()) c.n_embd = over.n_embd;
    if (o_layer->count()) c.n_layer = over.n_layer;
    if (o_head->count()) c.n_head = over.n_head;
    if (o_head_kv->count()) c.n_head_kv = over.n_head_kv;
    if (o_head_dim->count()) c.head_dim = over.head_dim;
    if (o_ff->count()) c.n_ff = over.n_ff;
    if (o_ctx->count()) c.n_ctx = over.n_ctx;
    if (o_theta->count()) c.rope_theta = over.rope_theta;
    if (o_tied->count()) c.tied = over.tied;
    if (o_seed->count()) c.seed = over.seed;
    if (o_attn_layers->count()) c.attn_layers = over.attn_layers;
    if (o_l_cache->count()) c.conv_l_cache = over.conv_l_cache;
    if (o_conv_bias->count()) c.conv_bias = over.conv_bias;
    if (o_ff_auto->count()) c.ff_auto_adjust = over.ff_auto_adjust;
    if (o_ff_mult->count()) c.ff_multiplier = over.ff_multiplier;
    if (o_ff_multiple->count()) c.ff_multiple_of = over.ff_multiple_of;
    if (o_rot->count()) c.n_rot = over.n_rot;
    if (o_lk->count()) c.linear_k_heads = over.linear_k_heads;
    if (o_lv->count()) c.linear_v_heads = over.linear_v_heads;
    if (o_ld->count()) c.linear_k_dim = c.linear_v_dim = over.linear_k_dim;
    if (o_interval->count()) c.full_attention_interval = over.full_attention_interval;
    if (o_mtp->count()) c.mtp_layers = over.mtp_layers;
    if (o_window->count()) c.sliding_window = over.sliding_window;
    if (o_pattern->count()) c.swa_pattern = over.swa_pattern;
    if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "qwen3" && c.arch != "lfm2" && c.arch != "qwen35" &&
        c.arch != "gemma3") {
      throw nagi::Error(nagi::ErrorCode::kInvalidArgument,
                        "--arch: '" + c.arch + "' is not one of llama, qwen2, qwen3, lfm2, qwen35, gemma3");
    }
    if (c.mtp_layers < 0 || (c.mtp_layers > 0 && c.arch != "qwen35")) {
      throw nagi::Error(nagi::ErrorCode::kInvalidArgument, "--mtp-layers: a non-negative count, for --arch qwen35 only");
    }
    if (!tokenizer_dir.empty()) {
      if (format != "gguf") throw nagi::Error(nagi::ErrorCode::kInvalidArgument, "--tokenizer: only with --format gguf");
      // The embedding needs a row per token.
      nagi::GgufWriter probe;
      const int n = nagi::mkmodel::write_gpt2_vocab(tokenizer_dir, pre, probe);
      if (!o_vocab->count()) c.n_vocab = n;
    }
    const bool q4_k_m = dtype == "q4_k_m";
    nagi::mkmodel::WriteOptions o;
    o.dtype = parse_dtype(q4_k_m ? "q4_k" : dtype);
    o.shards = shards;
    o.q4_k_m = q4_k_m;
    if (!output_dtype.empty()) o.output_dtype = parse_dtype(output_dtype);
    o.tokenizer_dir = tokenizer_dir;
    o.pre = pre;
    if (format == "hf") {
      nagi::mkmodel::write_hf_folder(c, o, out);
    } else if (format == "gguf") {
      nagi::mkmodel::write_gguf(c, o, out);
    } else {
      throw nagi::Error(nagi::ErrorCode::kInvalidArgument, "--format: must be hf or gguf");
    }
    std::fprintf(stderr, "nagi-mkmodel: wrote %s (%s, %s)\n", out.c_str(), c.arch.c_str(), dtype.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nagi-mkmodel: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
