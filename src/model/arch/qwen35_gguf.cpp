#include <cmath>

#include "model/arch/gguf_reader.h"
#include "model/arch/qwen35.h"
#include "nagi/error.hpp"

namespace nagi {

ModelSpec qwen35_spec_from_gguf(const GgufFile& g, const TensorStore& tensors) {
  const std::string arch = "qwen35";
  auto key = [&](const std::string& k) { return arch + "." + k; };
  auto fail = [&](const std::string& k, const std::string& why) -> Error {
    return Error(ErrorCode::kFormat, g.path() + ": metadata '" + key(k) + "': " + why);
  };
  auto checked = [&](const std::string& k, int64_t v) {
    if (v <= 0 || v > (int64_t(1) << 30)) throw fail(k, std::to_string(v) + " is out of range");
    return static_cast<int>(v);
  };
  auto req_int = [&](const std::string& k) { return checked(k, g.get_int(key(k))); };
  auto opt_int = [&](const std::string& k, int64_t def) { return checked(k, g.get_int_or(key(k), def)); };

  ModelSpec spec;
  spec.arch = arch;
  spec.format = "gguf";
  spec.name = g.get_string_or("general.name", "");
  spec.n_embd = req_int("embedding_length");
  const int block_count = read_block_count(g, tensors, key("block_count"));
  // Newer converters append the MTP block(s) to block_count.
  const int64_t nextn = g.get_int_or(key("nextn_predict_layers"), 0);
  if (nextn < 0 || nextn >= block_count) throw fail("nextn_predict_layers", "out of range");
  const int n_layer = block_count - static_cast<int>(nextn);
  spec.n_mtp_layers = static_cast<int>(nextn);
  const int n_ff = req_int("feed_forward_length");
  spec.n_ctx_train = opt_int("context_length", 4096);
  spec.norm_eps = static_cast<float>(g.get_float(key("attention.layer_norm_rms_epsilon")));
  if (!(spec.norm_eps > 0.f)) throw fail("attention.layer_norm_rms_epsilon", "must be positive");
  spec.ffn_norm_name = "post_attention_norm.weight";

  read_gguf_vocab(g, tensors, key("vocab_size"), [&] { return req_int("vocab_size"); }, spec);

  AttentionSpec attn;
  attn.n_head = req_int("attention.head_count");
  attn.n_head_kv = opt_int("attention.head_count_kv", attn.n_head);
  if (attn.n_head % attn.n_head_kv != 0) throw fail("attention.head_count_kv", "does not divide head_count");
  attn.head_dim = opt_int("attention.key_length", spec.n_embd / attn.n_head);
  if (opt_int("attention.value_length", attn.head_dim) != attn.head_dim) {
    throw fail("attention.value_length", "differs from key_length");
  }
  attn.qk_norm = true;
  attn.output_gate = true;
  attn.scale = static_cast<float>(1.0 / std::sqrt(double(attn.head_dim)));
  // IMROPE with every section at the same (text) position is NEOX rotation of
  // the first n_rot dimensions.
  attn.rope.style = RopeStyle::kHalfSplit;
  attn.rope.n_rot = opt_int("rope.dimension_count", attn.head_dim);
  if (attn.rope.n_rot > attn.head_dim || attn.rope.n_rot % 2 != 0) {
    throw fail("rope.dimension_count", "must be an even number <= key_length");
  }
  const double theta = g.get_float_or(key("rope.freq_base"), 10000000.0);
  if (!(theta > 1.0)) throw fail("rope.freq_base", "must be > 1");
  attn.rope.inv_freq = rope_inv_freq(theta, attn.rope.n_rot);

  DeltaNetSpec dn;
  dn.n_k_heads = req_int("ssm.group_count");
  dn.n_v_heads = req_int("ssm.time_step_rank");
  dn.head_k_dim = req_int("ssm.state_size");
  const int inner = req_int("ssm.inner_size");
  if (inner % dn.n_v_heads != 0) throw fail("ssm.inner_size", "is not a multiple of ssm.time_step_rank");
  dn.head_v_dim = inner / dn.n_v_heads;
  if (dn.n_v_heads % dn.n_k_heads != 0) throw fail("ssm.group_count", "does not divide ssm.time_step_rank");
  dn.conv_kernel = req_int("ssm.conv_kernel");
  dn.v_heads_grouped = false;  // llama.cpp's converter tiles the value heads
  const int interval = opt_int("full_attention_interval", 4);

  for (int il = 0; il < n_layer; ++il) {
    LayerSpec L;
    L.n_ff = n_ff;
    if ((il + 1) % interval == 0) {
      L.mixer = MixerKind::kAttention;
      L.attn = attn;
    } else {
      L.mixer = MixerKind::kDeltaNet;
      L.deltanet = dn;
    }
    spec.layers.push_back(std::move(L));
  }
  spec.bos_id = static_cast<int>(g.get_int_or("tokenizer.ggml.bos_token_id", -1));
  if (g.has("tokenizer.ggml.eos_token_id")) spec.eos_ids.push_back(static_cast<int>(g.get_int("tokenizer.ggml.eos_token_id")));
  if (g.has("tokenizer.ggml.eot_token_id")) spec.eos_ids.push_back(static_cast<int>(g.get_int("tokenizer.ggml.eot_token_id")));
  return spec;
}

}  // namespace nagi
