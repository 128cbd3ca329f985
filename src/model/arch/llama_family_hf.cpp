#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "model/arch/config_reader.h"
#include "model/arch/hf_tensor_names.h"
#include "model/arch/llama_family.h"
#include "nagi/error.hpp"

namespace nagi {
using nlohmann::json;

ModelSpec llama_family_spec_from_hf(const json& config, const std::string& path) {
  if (!config.is_object()) throw Error(ErrorCode::kFormat, path + ": expected a JSON object");
  ConfigReader r{config, path};
  const std::string model_type = r.get_string("model_type");
  if (model_type != "llama" && model_type != "qwen2" && model_type != "qwen3") {
    throw Error(ErrorCode::kUnsupported, path + ": field 'model_type': '" + model_type +
                                             "' is not supported (supported: llama, qwen2, qwen3)");
  }
  ModelSpec spec;
  spec.arch = model_type;
  spec.format = "safetensors";
  spec.n_vocab = r.get_int("vocab_size");
  spec.n_embd = r.get_int("hidden_size");
  const int n_layer = r.get_layer_count("num_hidden_layers", kMaxLayerCount);
  const int n_ff = r.get_int("intermediate_size");
  const int n_head = r.get_int("num_attention_heads");
  const int n_head_kv = r.get_int_or("num_key_value_heads", n_head);
  if (n_head % n_head_kv != 0) r.fail("num_key_value_heads", "does not divide num_attention_heads");
  const int head_dim = r.get_int_or("head_dim", spec.n_embd / n_head);
  spec.n_ctx_train = r.get_int_or("max_position_embeddings", 2048);
  spec.norm_eps = static_cast<float>(r.get_float_or("rms_norm_eps", 1e-6));
  if (!(spec.norm_eps > 0.f)) r.fail("rms_norm_eps", "must be positive");
  // transformers' defaults: Llama/Qwen2/Qwen3 configs all default to untied.
  spec.tied_embeddings = r.get_bool_or("tie_word_embeddings", false);
  if (r.has("hidden_act") && r.get_string("hidden_act") != "silu") {
    r.fail("hidden_act", "'" + r.get_string("hidden_act") + "' is not supported (only silu)");
  }
  if (r.get_bool_or("mlp_bias", false)) r.fail("mlp_bias", "MLP biases are not supported");

  AttentionSpec attn;
  attn.n_head = n_head;
  attn.n_head_kv = n_head_kv;
  attn.head_dim = head_dim;
  // Qwen2 always has q/k/v biases; Llama has them when attention_bias is set.
  attn.qkv_bias = model_type == "qwen2" || (model_type == "llama" && r.get_bool_or("attention_bias", false));
  if (model_type == "qwen3" && r.get_bool_or("attention_bias", false)) {
    r.fail("attention_bias", "Qwen3 attention biases are not supported");
  }
  attn.qk_norm = model_type == "qwen3";
  attn.scale = static_cast<float>(1.0 / std::sqrt(double(head_dim)));
  attn.rope.style = RopeStyle::kHalfSplit;  // Hugging Face rotate_half
  attn.rope.n_rot = head_dim;

  // Newer transformers nest RoPE settings under rope_parameters.
  json rope = config.contains("rope_parameters") && config["rope_parameters"].is_object()
                  ? config["rope_parameters"]
                  : (r.has("rope_scaling") ? config["rope_scaling"] : json::object());
  if (!rope.is_object()) r.fail("rope_scaling", "expected an object or null");
  ConfigReader rr{rope, path};
  double theta = r.get_float_or("rope_theta", rr.get_float_or("rope_theta", 10000.0));
  if (!(theta > 1.0)) r.fail("rope_theta", "must be > 1");
  attn.rope.inv_freq = rope_inv_freq(theta, attn.rope.n_rot);
  std::string rope_type = "default";
  if (rr.has("rope_type")) rope_type = rr.get_string("rope_type");
  else if (rr.has("type")) rope_type = rr.get_string("type");
  if (rope_type == "llama3") {
    auto need = [&](const char* f) {
      double v = rr.get_float_or(f, -1.0);
      if (!(v > 0)) r.fail(std::string("rope_scaling.") + f, "missing or not positive");
      return v;
    };
    apply_llama3_rope_scaling(attn.rope.inv_freq, need("factor"), need("low_freq_factor"),
                              need("high_freq_factor"), need("original_max_position_embeddings"));
  } else if (rope_type == "linear") {
    const double factor = rr.get_float_or("factor", -1.0);
    if (!(factor > 0)) r.fail("rope_scaling.factor", "missing or not positive");
    for (double& f : attn.rope.inv_freq) f /= factor;
  } else if (rope_type != "default") {
    r.fail("rope_scaling", "rope type '" + rope_type + "' is not supported");
  }

  spec.layers.assign(n_layer, LayerSpec{.attn = attn, .n_ff = n_ff});
  auto bos = int_or_list(r, "bos_token_id");
  spec.bos_id = bos.empty() ? -1 : bos[0];
  spec.eos_ids = int_or_list(r, "eos_token_id");
  return spec;
}

void map_hf_tensor_names(const TensorStore& hf, const ModelSpec& spec, TensorStore& out) {
  static const std::regex layer_re(R"(model\.layers\.(\d+)\.(.+))");
  static const std::map<std::string, std::string> layer_names = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  static const std::map<std::string, std::string> global_names = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (const auto& [name, view] : hf.all()) {
    const auto found = hf_canonical_name(name, layer_re, layer_names, global_names, spec.n_layer());
    if (!found && name.find("rotary_emb.inv_freq") != std::string::npos) {
      continue;  // a cached buffer some exporters keep; recomputed from the config
    }
    const std::string canonical = found.value_or("");
    if (canonical.empty()) {
      throw Error(ErrorCode::kFormat, view.source + ": unexpected tensor for a " + spec.arch + " model");
    }
    // A tied checkpoint may still carry lm_head; the spec decides which is used.
    if (canonical == "output.weight" && spec.tied_embeddings) continue;
    TensorView v = view;
    v.name = canonical;
    out.add(std::move(v));
  }
}

}  // namespace nagi
