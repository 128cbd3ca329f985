#include "lfm2_tensors.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "nagi/error.hpp"

namespace nagi::mkmodel {

int lfm2_ff_size(const ModelConfig& c) {
  if (!c.ff_auto_adjust) return c.n_ff;
  int ff = static_cast<int>(2.0 * c.n_ff / 3.0);
  if (c.ff_multiplier > 0) {
    ff = static_cast<int>(c.ff_multiplier * ff);
    ff = c.ff_multiple_of * ((ff + c.ff_multiple_of - 1) / c.ff_multiple_of);
  }
  return ff;
}

bool lfm2_is_attention(const ModelConfig& c, int layer) {
  return std::find(c.attn_layers.begin(), c.attn_layers.end(), layer) != c.attn_layers.end();
}

void for_each_lfm2_tensor(const ModelConfig& c, const MakeTensor& make) {
  for (int l : c.attn_layers) {
    if (l < 0 || l >= c.n_layer) throw Error(ErrorCode::kInvalidArgument, "--attn-layers: layer " + std::to_string(l) + " does not exist");
  }
  const int64_t d = c.n_embd, nq = int64_t(c.n_head) * c.head_dim, nkv = int64_t(c.n_head_kv) * c.head_dim;
  const int64_t ff = lfm2_ff_size(c);
  const double s = 1.0 / std::sqrt(double(d));
  make("token_embd.weight", {c.n_vocab, d}, 0.0, c.tied ? s : 0.05, true);
  if (!c.tied) make("output.weight", {c.n_vocab, d}, 0.0, s, true);
  make("output_norm.weight", {d}, 1.0, 0.1, false);
  for (int il = 0; il < c.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    make(p + "attn_norm.weight", {d}, 1.0, 0.1, false);
    if (lfm2_is_attention(c, il)) {
      make(p + "attn_q.weight", {nq, d}, 0.0, s, true);
      make(p + "attn_k.weight", {nkv, d}, 0.0, s, true);
      make(p + "attn_v.weight", {nkv, d}, 0.0, s, true);
      make(p + "attn_q_norm.weight", {c.head_dim}, 1.0, 0.1, false);
      make(p + "attn_k_norm.weight", {c.head_dim}, 1.0, 0.1, false);
      make(p + "attn_output.weight", {d, nq}, 0.0, 1.0 / std::sqrt(double(nq)), true);
    } else {
      // B and x are each ~N(0,1) per channel, so B⊙x keeps unit scale.
      make(p + "shortconv.in_proj.weight", {3 * d, d}, 0.0, s, true);
      make(p + "shortconv.conv.weight", {d, c.conv_l_cache}, 0.0, 1.0 / std::sqrt(double(c.conv_l_cache)), false);
      make(p + "shortconv.out_proj.weight", {d, d}, 0.0, s, true);
      if (c.conv_bias) {
        make(p + "shortconv.in_proj.bias", {3 * d}, 0.0, 0.1, false);
        make(p + "shortconv.conv.bias", {d}, 0.0, 0.1, false);
        make(p + "shortconv.out_proj.bias", {d}, 0.0, 0.1, false);
      }
    }
    make(p + "ffn_norm.weight", {d}, 1.0, 0.1, false);
    make(p + "ffn_gate.weight", {ff, d}, 0.0, s, true);
    make(p + "ffn_up.weight", {ff, d}, 0.0, s, true);
    make(p + "ffn_down.weight", {d, ff}, 0.0, 1.0 / std::sqrt(double(ff)), true);
  }
}

std::string lfm2_hf_name(const std::string& canonical, std::vector<int64_t>& shape) {
  static const std::map<std::string, std::string> layer = {
      {"attn_norm.weight", "operator_norm.weight"}, {"ffn_norm.weight", "ffn_norm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"}, {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"}, {"attn_output.weight", "self_attn.out_proj.weight"},
      {"attn_q_norm.weight", "self_attn.q_layernorm.weight"}, {"attn_k_norm.weight", "self_attn.k_layernorm.weight"},
      {"shortconv.in_proj.weight", "conv.in_proj.weight"}, {"shortconv.in_proj.bias", "conv.in_proj.bias"},
      {"shortconv.conv.weight", "conv.conv.weight"}, {"shortconv.conv.bias", "conv.conv.bias"},
      {"shortconv.out_proj.weight", "conv.out_proj.weight"}, {"shortconv.out_proj.bias", "conv.out_proj.bias"},
      {"ffn_gate.weight", "feed_forward.w1.weight"}, {"ffn_up.weight", "feed_forward.w3.weight"},
      {"ffn_down.weight", "feed_forward.w2.weight"}};
  if (canonical == "token_embd.weight") return "model.embed_tokens.weight";
  if (canonical == "output.weight") return "lm_head.weight";
  if (canonical == "output_norm.weight") return "model.embedding_norm.weight";
  const size_t dot = canonical.find('.', 4);
  const std::string rest = canonical.substr(dot + 1);
  if (rest == "shortconv.conv.weight") shape = {shape[0], 1, shape[1]};  // nn.Conv1d (channels, 1, taps)
  return "model.layers." + canonical.substr(4, dot - 4) + "." + layer.at(rest);
}

nlohmann::json lfm2_hf_config(const ModelConfig& c) {
  nlohmann::json layer_types = nlohmann::json::array();
  for (int il = 0; il < c.n_layer; ++il) layer_types.push_back(lfm2_is_attention(c, il) ? "full_attention" : "conv");
  nlohmann::json multiplier = c.ff_multiplier > 0 ? nlohmann::json(c.ff_multiplier) : nlohmann::json(nullptr);
  // The keys LiquidAI/LFM2-350M's config.json has (the block_* / conv_* ones
  // are the original training config; transformers reads the ones it knows).
  return nlohmann::json{
      {"architectures", {"Lfm2ForCausalLM"}}, {"model_type", "lfm2"},
      {"block_auto_adjust_ff_dim", c.ff_auto_adjust}, {"block_dim", c.n_embd}, {"block_ff_dim", c.n_ff},
      {"block_ffn_dim_multiplier", multiplier}, {"block_mlp_init_scale", 1.0}, {"block_multiple_of", c.ff_multiple_of},
      {"block_norm_eps", c.norm_eps}, {"block_out_init_scale", 1.0}, {"block_use_swiglu", true},
      {"block_use_xavier_init", true}, {"bos_token_id", 1}, {"conv_L_cache", c.conv_l_cache},
      {"conv_bias", c.conv_bias}, {"conv_dim", c.n_embd}, {"conv_dim_out", c.n_embd}, {"conv_use_xavier_init", true},
      {"eos_token_id", 2}, {"hidden_size", c.n_embd}, {"initializer_range", 0.02}, {"intermediate_size", c.n_ff},
      {"layer_types", layer_types}, {"max_position_embeddings", c.n_ctx}, {"norm_eps", c.norm_eps},
      {"num_attention_heads", c.n_head}, {"num_heads", c.n_head}, {"num_hidden_layers", c.n_layer},
      {"num_key_value_heads", c.n_head_kv}, {"pad_token_id", 0}, {"rope_theta", c.rope_theta},
      {"tie_embedding", c.tied}, {"torch_dtype", "float32"}, {"use_cache", true}, {"use_pos_enc", true},
      {"vocab_size", c.n_vocab}};
}

void lfm2_gguf_metadata(const ModelConfig& c, GgufWriter& w) {
  w.set_u32("lfm2.context_length", c.n_ctx);
  w.set_u32("lfm2.embedding_length", c.n_embd);
  w.set_u32("lfm2.block_count", c.n_layer);
  w.set_u32("lfm2.feed_forward_length", lfm2_ff_size(c));  // the converter writes the adjusted size
  w.set_u32("lfm2.attention.head_count", c.n_head);
  std::vector<int32_t> kv(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) kv[il] = lfm2_is_attention(c, il) ? c.n_head_kv : 0;
  w.set_i32_array("lfm2.attention.head_count_kv", kv);
  w.set_u32("lfm2.attention.key_length", c.head_dim);
  w.set_u32("lfm2.attention.value_length", c.head_dim);
  w.set_u32("lfm2.rope.dimension_count", c.head_dim);
  w.set_f32("lfm2.rope.freq_base", static_cast<float>(c.rope_theta));
  w.set_f32("lfm2.attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
  w.set_u32("lfm2.vocab_size", c.n_vocab);
  w.set_u32("lfm2.shortconv.l_cache", c.conv_l_cache);
}

std::string lfm2_gguf_name(const std::string& canonical) {
  return canonical == "output_norm.weight" ? "token_embd_norm.weight" : canonical;
}

}  // namespace nagi::mkmodel
