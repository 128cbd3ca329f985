// Gemma 3 specifics of nagi-mkmodel: Hugging Face tensor names and
// config.json (transformers' Gemma3TextConfig field names), and the GGUF
// metadata llama.cpp's converter writes. Canonical norm weights are the
// multipliers (GGUF convention); Hugging Face stores Gemma norms as w with the
// model computing 1 + w, so the HF writer stores multiplier - 1.
#include "gemma3_tensors.h"

#include <map>

#include "nagi/error.hpp"

namespace nagi::mkmodel {

bool gemma3_layer_local(const ModelConfig& c, int layer) {
  return c.swa_pattern == 0 || layer % c.swa_pattern < c.swa_pattern - 1;
}

std::string gemma3_hf_name(const std::string& canonical) {
  static const std::map<std::string, std::string> layer_names = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"post_attention_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
      {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"}};
  if (canonical == "token_embd.weight") return "model.embed_tokens.weight";
  if (canonical == "output.weight") return "lm_head.weight";
  if (canonical == "output_norm.weight") return "model.norm.weight";
  const size_t dot = canonical.find('.', 4);
  return "model.layers." + canonical.substr(4, dot - 4) + "." + layer_names.at(canonical.substr(dot + 1));
}

bool gemma3_is_norm(const std::string& canonical) { return canonical.ends_with("norm.weight"); }

nlohmann::json gemma3_hf_config(const ModelConfig& c, DType dtype) {
  nlohmann::json layer_types = nlohmann::json::array();
  for (int il = 0; il < c.n_layer; ++il) {
    layer_types.push_back(gemma3_layer_local(c, il) ? "sliding_attention" : "full_attention");
  }
  const char* torch_dtype = dtype == DType::kBF16 ? "bfloat16" : dtype == DType::kF16 ? "float16" : "float32";
  return nlohmann::json{
      {"architectures", {"Gemma3ForCausalLM"}}, {"model_type", "gemma3_text"}, {"vocab_size", c.n_vocab},
      {"hidden_size", c.n_embd}, {"intermediate_size", c.n_ff}, {"num_hidden_layers", c.n_layer},
      {"num_attention_heads", c.n_head}, {"num_key_value_heads", c.n_head_kv}, {"head_dim", c.head_dim},
      {"hidden_activation", "gelu_pytorch_tanh"}, {"max_position_embeddings", c.n_ctx},
      {"rms_norm_eps", c.norm_eps}, {"rope_theta", c.rope_theta}, {"rope_local_base_freq", c.rope_local_theta},
      {"rope_scaling", nullptr}, {"query_pre_attn_scalar", c.head_dim}, {"sliding_window", c.sliding_window},
      {"layer_types", layer_types}, {"_sliding_window_pattern", c.swa_pattern},
      {"final_logit_softcapping", nullptr}, {"attn_logit_softcapping", nullptr}, {"attention_bias", false},
      {"tie_word_embeddings", c.tied}, {"bos_token_id", 1}, {"eos_token_id", 2}, {"pad_token_id", 0},
      {"torch_dtype", torch_dtype}};
}

void gemma3_gguf_metadata(const ModelConfig& c, GgufWriter& w) {
  w.set_u32("gemma3.attention.sliding_window", c.sliding_window);
  w.set_f32("gemma3.rope.freq_base_swa", static_cast<float>(c.rope_local_theta));
  // llama.cpp's converter omits the pattern (readers assume 6); written only when it differs.
  if (c.swa_pattern != 6) w.set_u32("gemma3.attention.sliding_window_pattern", c.swa_pattern);
}

}  // namespace nagi::mkmodel
