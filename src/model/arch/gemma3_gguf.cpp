// Gemma 3 from GGUF metadata as llama.cpp's converter writes it. Norm weights
// already hold Gemma's 1 + w, so they are bound as they are.
#include <cmath>

#include "model/arch/gemma3.h"
#include "model/arch/gguf_reader.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

[[noreturn]] void bad(const GgufFile& g, const std::string& key, const std::string& what) {
  throw Error(ErrorCode::kFormat, g.path() + ": metadata '" + key + "': " + what);
}

int positive(const GgufFile& g, const std::string& key, int64_t v) {
  if (v <= 0 || v > (int64_t(1) << 30)) bad(g, key, std::to_string(v) + " is out of range");
  return static_cast<int>(v);
}

// attention.sliding_window_pattern: a period (u32) or, in newer files, one
// bool per layer (true = sliding window). Absent: llama.cpp's Gemma 3 default 6.
std::vector<bool> local_layers(const GgufFile& g, const std::string& key, int n_layer) {
  std::vector<bool> local(n_layer);
  const GgufValue* v = g.find(key);
  if (v != nullptr && v->type == GgufType::kArray) {
    // Bools or integers (nonzero: sliding window), one per layer.
    if (gguf_array_store(v->elem_type) != GgufArrayStore::kInts) bad(g, key, "expected bools");
    const std::vector<int64_t>& flags = std::get<GgufArray>(v->value).ints;
    if (static_cast<int>(flags.size()) != n_layer) bad(g, key, "expected one entry per layer");
    for (int il = 0; il < n_layer; ++il) local[il] = flags[il] != 0;
    return local;
  }
  const int64_t pattern = g.get_int_or(key, 6);
  if (pattern < 0 || pattern > (int64_t(1) << 20)) bad(g, key, std::to_string(pattern) + " is out of range");
  for (int il = 0; il < n_layer; ++il) local[il] = gemma3_layer_is_local(il, static_cast<int>(pattern));
  return local;
}

}  // namespace

bool gemma3_layer_is_local(int layer, int pattern) {
  // llama.cpp's set_swa_pattern and transformers' layer_types agree: pattern 0
  // makes every layer local, pattern 1 none.
  return pattern == 0 || layer % pattern < pattern - 1;
}

ModelSpec gemma3_spec_from_gguf(const GgufFile& g, const TensorStore& tensors) {
  const std::string a = "gemma3.";
  auto req = [&](const std::string& k) { return positive(g, a + k, g.get_int(a + k)); };
  auto opt = [&](const std::string& k, int64_t def) { return positive(g, a + k, g.get_int_or(a + k, def)); };

  ModelSpec spec;
  spec.arch = "gemma3";
  spec.format = "gguf";
  spec.name = g.get_string_or("general.name", "");
  spec.n_embd = req("embedding_length");
  const int n_layer = read_block_count(g, tensors, a + "block_count");
  const int n_ff = req("feed_forward_length");
  const int n_head = req("attention.head_count");
  const int n_head_kv = opt("attention.head_count_kv", n_head);
  const int head_dim = opt("attention.key_length", spec.n_embd / n_head);
  if (n_head % n_head_kv != 0) bad(g, a + "attention.head_count_kv", "does not divide the head count");
  if (opt("attention.value_length", head_dim) != head_dim) {
    throw Error(ErrorCode::kUnsupported, g.path() + ": metadata '" + a + "attention.value_length' differs from key_length");
  }
  spec.n_ctx_train = opt("context_length", 131072);
  spec.norm_eps = static_cast<float>(g.get_float(a + "attention.layer_norm_rms_epsilon"));
  if (!(spec.norm_eps > 0.f)) bad(g, a + "attention.layer_norm_rms_epsilon", "must be positive");

  read_gguf_vocab(g, tensors, a + "vocab_size", [&] { return req("vocab_size"); }, spec);
  // llama.cpp scales by sqrtf(n_embd) in f32 whatever the weight type.
  spec.embed_scale = std::sqrt(static_cast<float>(spec.n_embd));
  spec.final_logit_softcap = static_cast<float>(g.get_float_or(a + "final_logit_softcapping", 0.0));

  AttentionSpec global;
  global.n_head = n_head;
  global.n_head_kv = n_head_kv;
  global.head_dim = head_dim;
  global.qk_norm = true;
  // llama.cpp scales queries by 1/sqrt(head_dim), except for the 27B model
  // (62 layers), whose query_pre_attn_scalar is n_embd / n_head.
  const double scalar = g.has(a + "attention.scale") ? 0.0 : n_layer == 62 ? double(spec.n_embd) / n_head : head_dim;
  global.scale = scalar > 0 ? static_cast<float>(1.0 / std::sqrt(scalar))
                            : static_cast<float>(g.get_float(a + "attention.scale"));
  global.softcap = static_cast<float>(g.get_float_or(a + "attn_logit_softcapping", 0.0));
  global.rope.style = RopeStyle::kHalfSplit;  // llama.cpp NEOX
  global.rope.n_rot = opt("rope.dimension_count", head_dim);
  if (global.rope.n_rot > head_dim || global.rope.n_rot % 2 != 0) {
    bad(g, a + "rope.dimension_count", "must be an even number <= head_dim");
  }
  const double base = g.get_float_or(a + "rope.freq_base", 1000000.0);
  const double base_swa = g.get_float_or(a + "rope.freq_base_swa", 10000.0);
  if (!(base > 1.0)) bad(g, a + "rope.freq_base", "must be > 1");
  if (!(base_swa > 1.0)) bad(g, a + "rope.freq_base_swa", "must be > 1");
  AttentionSpec local = global;
  global.rope.inv_freq = rope_inv_freq(base, global.rope.n_rot);
  local.rope.inv_freq = rope_inv_freq(base_swa, local.rope.n_rot);
  // Linear scaling (4B and larger) stretches only the global layers.
  const std::string scaling = g.get_string_or(a + "rope.scaling.type", "none");
  if (scaling == "linear") {
    const double factor = g.get_float(a + "rope.scaling.factor");
    if (!(factor > 0)) bad(g, a + "rope.scaling.factor", "must be positive");
    for (double& f : global.rope.inv_freq) f /= factor;
  } else if (scaling != "none") {
    throw Error(ErrorCode::kUnsupported, g.path() + ": metadata '" + a + "rope.scaling.type': '" + scaling + "' is not supported");
  }
  local.window = req("attention.sliding_window");

  const std::vector<bool> is_local = local_layers(g, a + "attention.sliding_window_pattern", n_layer);
  for (int il = 0; il < n_layer; ++il) {
    spec.layers.push_back(LayerSpec{.attn = is_local[il] ? local : global,
                                    .n_ff = n_ff,
                                    .ffn_act = FfnActivation::kGeluTanh,
                                    .post_norms = true});
  }
  spec.bos_id = static_cast<int>(g.get_int_or("tokenizer.ggml.bos_token_id", -1));
  if (g.has("tokenizer.ggml.eos_token_id")) spec.eos_ids.push_back(static_cast<int>(g.get_int("tokenizer.ggml.eos_token_id")));
  if (g.has("tokenizer.ggml.eot_token_id")) spec.eos_ids.push_back(static_cast<int>(g.get_int("tokenizer.ggml.eot_token_id")));
  return spec;
}

}  // namespace nagi
