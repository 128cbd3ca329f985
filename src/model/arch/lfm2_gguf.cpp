#include <cmath>

#include "model/arch/gguf_reader.h"
#include "model/arch/lfm2.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

[[noreturn]] void bad(const GgufFile& g, const std::string& key, const std::string& what) {
  throw Error(ErrorCode::kFormat, g.path() + ": metadata '" + key + "': " + what);
}

int checked(const GgufFile& g, const std::string& key, int64_t v, int64_t lo) {
  if (v < lo || v > (int64_t(1) << 30)) bad(g, key, std::to_string(v) + " is out of range");
  return static_cast<int>(v);
}

// A per-layer integer: either one value for every layer or an array of n_layer.
std::vector<int> per_layer(const GgufFile& g, const std::string& key, int n_layer, int64_t lo) {
  const GgufValue* v = g.find(key);
  if (v == nullptr) bad(g, key, "missing");
  std::vector<int> out;
  if (v->type == GgufType::kArray) {
    const auto values = g.get_int_array(key);
    if (static_cast<int>(values.size()) != n_layer) {
      bad(g, key, "has " + std::to_string(values.size()) + " entries for " + std::to_string(n_layer) + " layers");
    }
    for (int64_t x : values) out.push_back(checked(g, key, x, lo));
  } else {
    out.assign(n_layer, checked(g, key, g.get_int(key), lo));
  }
  return out;
}

}  // namespace

ModelSpec lfm2_spec_from_gguf(const GgufFile& g, const TensorStore& tensors) {
  const std::string a = "lfm2.";
  auto req = [&](const std::string& k) { return checked(g, a + k, g.get_int(a + k), 1); };
  ModelSpec spec;
  spec.arch = "lfm2";
  spec.format = "gguf";
  spec.name = g.get_string_or("general.name", "");
  spec.n_embd = req("embedding_length");
  const int n_layer = read_block_count(g, tensors, a + "block_count");
  const std::vector<int> n_ff = per_layer(g, a + "feed_forward_length", n_layer, 1);
  const std::vector<int> n_head = per_layer(g, a + "attention.head_count", n_layer, 1);
  const std::vector<int> n_head_kv = per_layer(g, a + "attention.head_count_kv", n_layer, 0);
  spec.n_ctx_train = checked(g, a + "context_length", g.get_int_or(a + "context_length", 128000), 1);
  spec.norm_eps = static_cast<float>(g.get_float(a + "attention.layer_norm_rms_epsilon"));
  if (!(spec.norm_eps > 0.f)) bad(g, a + "attention.layer_norm_rms_epsilon", "must be positive");
  const double theta = g.get_float_or(a + "rope.freq_base", 1000000.0);
  if (!(theta > 1.0)) bad(g, a + "rope.freq_base", "must be > 1");

  read_gguf_vocab(g, tensors, a + "vocab_size", [&] { return req("vocab_size"); }, spec);

  bool any_conv = false;
  for (int il = 0; il < n_layer; ++il) any_conv |= n_head_kv[il] == 0;
  const int l_cache = any_conv ? req("shortconv.l_cache") : 0;

  for (int il = 0; il < n_layer; ++il) {
    LayerSpec L;
    L.n_ff = n_ff[il];
    if (n_head_kv[il] == 0) {
      L.mixer = MixerKind::kShortConv;
      L.conv.l_cache = l_cache;
      L.conv.bias = tensors.find("blk." + std::to_string(il) + ".shortconv.in_proj.bias") != nullptr;
    } else {
      AttentionSpec& at = L.attn;
      at.n_head = n_head[il];
      at.n_head_kv = n_head_kv[il];
      if (at.n_head % at.n_head_kv != 0) {
        bad(g, a + "attention.head_count_kv", "layer " + std::to_string(il) + ": " + std::to_string(at.n_head_kv) +
                                                  " does not divide " + std::to_string(at.n_head) + " heads");
      }
      at.head_dim = checked(g, a + "attention.key_length", g.get_int_or(a + "attention.key_length", spec.n_embd / at.n_head), 2);
      at.qk_norm = true;
      at.scale = static_cast<float>(1.0 / std::sqrt(double(at.head_dim)));
      at.rope.style = RopeStyle::kHalfSplit;  // llama.cpp runs LFM2 with NEOX RoPE
      at.rope.n_rot = at.head_dim;
      at.rope.inv_freq = rope_inv_freq(theta, at.rope.n_rot);
    }
    spec.layers.push_back(L);
  }
  spec.bos_id = static_cast<int>(g.get_int_or("tokenizer.ggml.bos_token_id", -1));
  if (g.has("tokenizer.ggml.eos_token_id")) spec.eos_ids.push_back(static_cast<int>(g.get_int("tokenizer.ggml.eos_token_id")));
  if (g.has("tokenizer.ggml.eot_token_id")) spec.eos_ids.push_back(static_cast<int>(g.get_int("tokenizer.ggml.eot_token_id")));
  return spec;
}

void lfm2_map_gguf_tensor_names(const ModelSpec&, TensorStore& tensors) {
  if (tensors.find("output_norm.weight") != nullptr) return;
  const TensorView* norm = tensors.find("token_embd_norm.weight");
  if (norm == nullptr) {
    // Name the file through a tensor that exists (its source is "<file>: tensor '<name>'").
    const TensorView* embd = tensors.find("token_embd.weight");
    const std::string file = embd ? embd->source.substr(0, embd->source.rfind(": tensor")) : "model";
    throw Error(ErrorCode::kFormat, file + ": missing tensor 'token_embd_norm.weight' (LFM2's final norm)");
  }
  TensorView v = *norm;
  v.name = "output_norm.weight";
  tensors.add(std::move(v));
}

}  // namespace nagi
