// nagi-mkmodel: writes a random-weight model of a given configuration as a
// Hugging Face folder or a GGUF file.
//
//   nagi-mkmodel --preset qwen3-0.6b --format gguf --dtype bf16 -o /tmp/qwen3-0.6b.gguf
//   nagi-mkmodel --arch llama --n-embd 64 --n-layer 2 --format hf -o /tmp/tiny-llama
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

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
      {"tiny", ModelConfig{}},
  };
  return p;
}

nagi::DType parse_dtype(const std::string& s) {
  static const std::map<std::string, nagi::DType> m = {
      {"f32", nagi::DType::kF32}, {"f16", nagi::DType::kF16}, {"bf16", nagi::DType::kBF16},
      {"q8_0", nagi::DType::kQ8_0}, {"q4_0", nagi::DType::kQ4_0}, {"q4_1", nagi::DType::kQ4_1},
      {"q5_0", nagi::DType::kQ5_0}, {"q5_1", nagi::DType::kQ5_1}, {"q4_k", nagi::DType::kQ4_K},
      {"q5_k", nagi::DType::kQ5_K}, {"q6_k", nagi::DType::kQ6_K}};
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
  app.add_option("--preset", preset, "qwen3-0.6b, qwen2.5-0.5b, smollm2-135m or tiny")->capture_default_str();
  app.add_option("--format", format, "hf or gguf")->capture_default_str();
  app.add_option("-o,--output", out, "Output folder (hf) or file (gguf)")->required();
  app.add_option("--dtype", dtype,
                 "Matrix type: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, or q4_k_m "
                 "(llama.cpp's mix: Q4_K, Q6_K output/embedding and some attn_v/ffn_down)")->capture_default_str();
  app.add_option("--output-dtype", output_dtype,
                 "gguf: type of the output/embedding matrix (llama.cpp's Q4_0 files: q6_k)");
  app.add_option("--shards", shards, "hf: number of safetensors shards");
  auto* o_arch = app.add_option("--arch", over.arch, "llama, qwen2 or qwen3");
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
    if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "qwen3") {
      throw nagi::Error(nagi::ErrorCode::kInvalidArgument, "--arch: '" + c.arch + "' is not one of llama, qwen2, qwen3");
    }
    const bool q4_k_m = dtype == "q4_k_m";
    nagi::mkmodel::WriteOptions o;
    o.dtype = parse_dtype(q4_k_m ? "q4_k" : dtype);
    o.shards = shards;
    o.q4_k_m = q4_k_m;
    if (!output_dtype.empty()) o.output_dtype = parse_dtype(output_dtype);
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
