#include <cmath>

#include "model/arch/gguf_reader.h"
#include "model/arch/llama_family.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

int positive_int(const GgufFile& g, const std::string& key, int64_t value) {
  if (value <= 0 || value > (int64_t(1) << 30)) {
    throw Error(ErrorCode::kFormat, g.path() + ": metadata '" + key + "': " +
                                        std::to_string(value) + " is out of range");
  }
  return static_cast<int>(value);
}

}  // namespace

ModelSpec llama_family_spec_from_gguf(const GgufFile& g, const TensorStore& tensors) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3") {
    throw Error(ErrorCode::kUnsupported, g.path() + ": metadata 'general.architecture': '" + arch +
                                             "' is not supported (supported: llama, qwen2, qwen3)");
  }
  auto key = [&](const std::string& k) { return arch + "." + k; };
  auto req_int = [&](const std::string& k) { return positive_int(g, key(k), g.get_int(key(k))); };
  auto opt_int = [&](const std::string& k, int64_t def) {
    return positive_int(g, key(k), g.get_int_or(key(k), def));
  };

  ModelSpec spec;
  spec.arch = arch;
  spec.format = "gguf";
  spec.name = g.get_string_or("general.name", "");
  spec.n_embd = req_int("embedding_length");
  const int n_layer = read_block_count(g, tensors, key("block_count"));
  const int n_ff = req_int("feed_forward_length");
  const int n_head = req_int("attention.head_count");
  const int n_head_kv = opt_int("attention.head_count_kv", n_head);
  const int head_dim = opt_int("attention.key_length", spec.n_embd / n_head);
  if (n_head % n_head_kv != 0) {
    throw Error(ErrorCode::kFormat, g.path() + ": metadata '" + key("attention.head_count_kv") +
                                        "': " + std::to_string(n_head_kv) + " does not divide " +
                                        std::to_string(n_head) + " heads");
  }
  if (g.has(key("attention.value_length")) && g.get_int(key("attention.value_length")) != head_dim) {
    throw Error(ErrorCode::kUnsupported, g.path() + ": metadata '" + key("attention.value_length") +
                                             "' differs from key_length");
  }
  spec.n_ctx_train = opt_int("context_length", 2048);
  spec.norm_eps = static_cast<float>(g.get_float(key("attention.layer_norm_rms_epsilon")));
  if (!(spec.norm_eps > 0.f)) {
    throw Error(ErrorCode::kFormat, g.path() + ": metadata '" + key("attention.layer_norm_rms_epsilon") + "': must be positive");
  }

  read_gguf_vocab(g, tensors, key("vocab_size"), [&] { return req_int("vocab_size"); }, spec);

  AttentionSpec attn;
  attn.n_head = n_head;
  attn.n_head_kv = n_head_kv;
  attn.head_dim = head_dim;
  attn.qkv_bias = tensors.find("blk.0.attn_q.bias") != nullptr;
  attn.qk_norm = tensors.find("blk.0.attn_q_norm.weight") != nullptr;
  attn.scale = static_cast<float>(1.0 / std::sqrt(double(head_dim)));
  // llama.cpp's converter permutes Llama q/k rows into adjacent pairs; Qwen
  // models keep Hugging Face's rotate-half order.
  attn.rope.style = arch == "llama" ? RopeStyle::kInterleaved : RopeStyle::kHalfSplit;
  attn.rope.n_rot = opt_int("rope.dimension_count", head_dim);
  if (attn.rope.n_rot > head_dim || attn.rope.n_rot % 2 != 0) {
    throw Error(ErrorCode::kFormat, g.path() + ": metadata '" + key("rope.dimension_count") + "': " +
                                        std::to_string(attn.rope.n_rot) + " is not an even number <= head_dim " +
                                        std::to_string(head_dim));
  }
  attn.rope.inv_freq = rope_inv_freq(g.get_float_or(key("rope.freq_base"), 10000.0), attn.rope.n_rot);

  const std::string scaling = g.get_string_or(key("rope.scaling.type"), "none");
  if (scaling == "linear") {
    const double factor = g.get_float(key("rope.scaling.factor"));
    if (!(factor > 0)) throw Error(ErrorCode::kFormat, g.path() + ": metadata '" + key("rope.scaling.factor") + "': must be positive");
    for (double& f : attn.rope.inv_freq) f /= factor;
  } else if (scaling != "none") {
    throw Error(ErrorCode::kUnsupported, g.path() + ": metadata '" + key("rope.scaling.type") + "': '" + scaling + "' is not supported");
  }
  // Llama 3 models carry their per-pair frequency divisors as a tensor.
  if (const TensorView* rf = tensors.find("rope_freqs.weight")) {
    if (rf->shape != std::vector<int64_t>{attn.rope.n_rot / 2} || !dtype_info(rf->dtype).is_float) {
      throw Error(ErrorCode::kFormat, rf->source + ": expected " + std::to_string(attn.rope.n_rot / 2) + " float factors");
    }
    std::vector<float> factors(attn.rope.n_rot / 2);
    dequantize_row(rf->dtype, rf->data, factors.data(), rf->numel());
    for (size_t i = 0; i < factors.size(); ++i) attn.rope.inv_freq[i] /= factors[i];
  }

  spec.layers.assign(n_layer, LayerSpec{.attn = attn, .n_ff = n_ff});
  spec.bos_id = static_cast<int>(g.get_int_or("tokenizer.ggml.bos_token_id", -1));
  if (g.has("tokenizer.ggml.eos_token_id")) spec.eos_ids.push_back(static_cast<int>(g.get_int("tokenizer.ggml.eos_token_id")));
  if (g.has("tokenizer.ggml.eot_token_id")) spec.eos_ids.push_back(static_cast<int>(g.get_int("tokenizer.ggml.eot_token_id")));
  return spec;
}

ModelSpec llama_family_spec_from_llama2c(const Llama2cHeader& h) {
  ModelSpec spec;
  spec.arch = "llama";
  spec.format = "llama2c";
  spec.n_vocab = h.vocab_size;
  spec.n_embd = h.dim;
  spec.n_ctx_train = h.seq_len;
  spec.norm_eps = 1e-5f;  // llama2.c's run.c hard-codes this
  spec.tied_embeddings = h.shared_classifier;
  AttentionSpec attn;
  attn.n_head = h.n_heads;
  attn.n_head_kv = h.n_kv_heads;
  attn.head_dim = h.dim / h.n_heads;
  attn.scale = static_cast<float>(1.0 / std::sqrt(double(attn.head_dim)));
  attn.rope.style = RopeStyle::kInterleaved;  // run.c rotates (2i, 2i+1)
  attn.rope.n_rot = attn.head_dim;
  attn.rope.inv_freq = rope_inv_freq(10000.0, attn.head_dim);
  spec.layers.assign(h.n_layers, LayerSpec{.attn = attn, .n_ff = h.hidden_dim});
  spec.bos_id = 1;
  spec.eos_ids = {2};
  return spec;
}

}  // namespace nagi
