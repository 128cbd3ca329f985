// Gemma 3 from a Hugging Face folder, following transformers'
// configuration_gemma3.py / modeling_gemma3.py. Fields a config leaves out take
// Gemma3TextConfig's defaults (the multimodal checkpoints' text_config lists
// only what differs from them, e.g. no head counts for the 4B model).
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>

#include "base/half.h"
#include "model/arch/config_reader.h"
#include "model/arch/hf_tensor_names.h"
#include "model/arch/gemma3.h"
#include "nagi/error.hpp"

namespace nagi {
using nlohmann::json;
namespace {

// RoPE of one attention type: base frequency plus "default" or "linear".
std::vector<double> rope_frequencies(const ConfigReader& r, const json& params, const std::string& field,
                                     double theta, int n_rot) {
  if (!params.is_object()) r.fail(field, "expected an object or null");
  ConfigReader p{params, r.path};
  theta = p.get_float_or("rope_theta", theta);
  if (!(theta > 1.0)) r.fail(field + ".rope_theta", "must be > 1");
  std::vector<double> f = rope_inv_freq(theta, n_rot);
  std::string type = "default";
  if (p.has("rope_type")) type = p.get_string("rope_type");
  else if (p.has("type")) type = p.get_string("type");
  if (type == "linear") {
    const double factor = p.get_float_or("factor", -1.0);
    if (!(factor > 0)) r.fail(field + ".factor", "missing or not positive");
    for (double& x : f) x /= factor;
  } else if (type != "default") {
    r.fail(field, "rope type '" + type + "' is not supported (default, linear)");
  }
  return f;
}

// transformers multiplies the embedding by sqrt(hidden_size) cast to the
// weight dtype, so a bf16 checkpoint scales by bf16(sqrt(640)) = 25.25, not
// 25.298. We mirror that rounding for bf16/f16 checkpoints (their config's
// torch_dtype / dtype) so that nagi computes what transformers computes.
float embedding_scale(const ConfigReader& outer, const ConfigReader& text, int hidden) {
  const float s = std::sqrt(static_cast<float>(hidden));
  std::string dtype;
  for (const ConfigReader* r : {&text, &outer}) {
    for (const char* f : {"dtype", "torch_dtype"}) {
      if (dtype.empty() && r->has(f) && r->j.at(f).is_string()) dtype = r->get_string(f);
    }
  }
  if (dtype == "bfloat16") return bf16_to_f32(f32_to_bf16(s));
  if (dtype == "float16") return fp16_to_f32(f32_to_fp16(s));
  return s;
}

}  // namespace

ModelSpec gemma3_spec_from_hf(const json& config, const std::string& path) {
  if (!config.is_object()) throw Error(ErrorCode::kFormat, path + ": expected a JSON object");
  ConfigReader outer{config, path};
  const std::string model_type = outer.get_string("model_type");
  if (model_type != "gemma3" && model_type != "gemma3_text") {
    throw Error(ErrorCode::kUnsupported, path + ": field 'model_type': '" + model_type + "' is not a Gemma 3 model");
  }
  // gemma3 (Gemma3ForConditionalGeneration): only the language model is loaded.
  static const json empty = json::object();
  const json& text_json = model_type == "gemma3" ? (config.contains("text_config") ? config["text_config"] : empty) : config;
  if (!text_json.is_object()) outer.fail("text_config", "expected an object");
  const std::string text_path = model_type == "gemma3" ? path + " (text_config)" : path;
  ConfigReader r{text_json, text_path};

  ModelSpec spec;
  spec.arch = "gemma3";
  spec.format = "safetensors";
  spec.n_vocab = r.get_int_or("vocab_size", 262208);
  spec.n_embd = r.get_int_or("hidden_size", 2304);
  const int n_layer = r.get_layer_count_or("num_hidden_layers", 26, kMaxLayerCount);
  const int n_ff = r.get_int_or("intermediate_size", 9216);
  const int n_head = r.get_int_or("num_attention_heads", 8);
  const int n_head_kv = r.get_int_or("num_key_value_heads", 4);
  if (n_head % n_head_kv != 0) r.fail("num_key_value_heads", "does not divide num_attention_heads");
  const int head_dim = r.get_int_or("head_dim", 256);
  spec.n_ctx_train = r.get_int_or("max_position_embeddings", 131072);
  spec.norm_eps = static_cast<float>(r.get_float_or("rms_norm_eps", 1e-6));
  if (!(spec.norm_eps > 0.f)) r.fail("rms_norm_eps", "must be positive");
  spec.tied_embeddings = r.get_bool_or("tie_word_embeddings", outer.get_bool_or("tie_word_embeddings", true));
  for (const char* act : {"hidden_activation", "hidden_act"}) {
    if (r.has(act) && r.get_string(act) != "gelu_pytorch_tanh") {
      r.fail(act, "'" + r.get_string(act) + "' is not supported (only gelu_pytorch_tanh)");
    }
  }
  if (r.get_bool_or("attention_bias", false)) r.fail("attention_bias", "attention biases are not supported");
  spec.embed_scale = embedding_scale(outer, r, spec.n_embd);
  spec.final_logit_softcap = static_cast<float>(r.get_float_or("final_logit_softcapping", 0.0));
  if (spec.final_logit_softcap < 0) r.fail("final_logit_softcapping", "must be positive or null");

  AttentionSpec global;
  global.n_head = n_head;
  global.n_head_kv = n_head_kv;
  global.head_dim = head_dim;
  global.qk_norm = true;
  const double scalar = r.get_float_or("query_pre_attn_scalar", 256.0);
  if (!(scalar > 0)) r.fail("query_pre_attn_scalar", "must be positive");
  global.scale = static_cast<float>(1.0 / std::sqrt(scalar));
  global.softcap = static_cast<float>(r.get_float_or("attn_logit_softcapping", 0.0));
  if (global.softcap < 0) r.fail("attn_logit_softcapping", "must be positive or null");
  global.rope.style = RopeStyle::kHalfSplit;
  global.rope.n_rot = head_dim;
  AttentionSpec local = global;
  local.window = r.get_int_or("sliding_window", 4096);

  // RoPE: rope_theta + rope_scaling for global layers, rope_local_base_freq
  // (no scaling) for local ones; newer configs give both under
  // rope_parameters.{full_attention, sliding_attention}.
  const double theta = r.get_float_or("rope_theta", 1000000.0);
  const double local_theta = r.get_float_or("rope_local_base_freq", 10000.0);
  if (r.has("rope_parameters") && text_json["rope_parameters"].is_object() &&
      text_json["rope_parameters"].contains("full_attention")) {
    const json& rp = text_json["rope_parameters"];
    global.rope.inv_freq = rope_frequencies(r, rp["full_attention"], "rope_parameters.full_attention", theta, head_dim);
    local.rope.inv_freq = rp.contains("sliding_attention")
                              ? rope_frequencies(r, rp["sliding_attention"], "rope_parameters.sliding_attention", local_theta, head_dim)
                              : rope_inv_freq(local_theta, head_dim);
  } else {
    const json scaling = r.has("rope_scaling") ? text_json["rope_scaling"] : json::object();
    global.rope.inv_freq = rope_frequencies(r, scaling, "rope_scaling", theta, head_dim);
    if (!(local_theta > 1.0)) r.fail("rope_local_base_freq", "must be > 1");
    local.rope.inv_freq = rope_inv_freq(local_theta, head_dim);
  }

  // layer_types (newer configs) or the sliding_window_pattern period.
  std::vector<bool> is_local(n_layer);
  if (r.has("layer_types")) {
    const json& types = text_json["layer_types"];
    if (!types.is_array() || static_cast<int>(types.size()) != n_layer) {
      r.fail("layer_types", "expected a list of num_hidden_layers entries");
    }
    for (int il = 0; il < n_layer; ++il) {
      const std::string t = types[il].is_string() ? types[il].get<std::string>() : "";
      if (t != "sliding_attention" && t != "full_attention") {
        r.fail("layer_types", "entry " + std::to_string(il) + ": expected \"sliding_attention\" or \"full_attention\"");
      }
      is_local[il] = t == "sliding_attention";
    }
  } else {
    const int pattern = r.get_int_or("sliding_window_pattern", 6);
    for (int il = 0; il < n_layer; ++il) is_local[il] = gemma3_layer_is_local(il, pattern);
  }
  for (int il = 0; il < n_layer; ++il) {
    spec.layers.push_back(LayerSpec{.attn = is_local[il] ? local : global,
                                    .n_ff = n_ff,
                                    .ffn_act = FfnActivation::kGeluTanh,
                                    .post_norms = true});
  }
  auto bos = int_or_list(r, "bos_token_id");
  if (bos.empty()) bos = int_or_list(outer, "bos_token_id");
  spec.bos_id = bos.empty() ? 2 : bos[0];
  spec.eos_ids = int_or_list(r, "eos_token_id");
  if (spec.eos_ids.empty()) spec.eos_ids = int_or_list(outer, "eos_token_id");
  if (spec.eos_ids.empty()) spec.eos_ids = {1};
  return spec;
}

void gemma3_map_hf_tensors(const TensorStore& hf, const ModelSpec& spec, TensorStore& out) {
  // Gemma3ForCausalLM: model.*; Gemma3ForConditionalGeneration: language_model.model.*
  // (original checkpoints) or model.language_model.* (transformers >= 4.52).
  static const std::regex layer_re(R"((?:model\.|language_model\.model\.|model\.language_model\.)layers\.(\d+)\.(.+))");
  static const std::map<std::string, std::string> layer_names = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "post_attention_norm.weight"},
      {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
      {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  static const std::map<std::string, std::string> global_names = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"language_model.model.embed_tokens.weight", "token_embd.weight"},
      {"model.language_model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"language_model.model.norm.weight", "output_norm.weight"},
      {"model.language_model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"language_model.lm_head.weight", "output.weight"},
  };
  static const std::regex skipped_re(R"((model\.)?(vision_tower|multi_modal_projector)\..*)");
  for (const auto& [name, view] : hf.all()) {
    const auto found = hf_canonical_name(name, layer_re, layer_names, global_names, spec.n_layer());
    if (!found && (std::regex_match(name, skipped_re) || name.find("rotary_emb.inv_freq") != std::string::npos)) {
      continue;  // the vision tower is not loaded; cached RoPE buffers are recomputed
    }
    const std::string canonical = found.value_or("");
    if (canonical.empty()) throw Error(ErrorCode::kFormat, view.source + ": unexpected tensor for a gemma3 model");
    if (canonical == "output.weight" && spec.tied_embeddings) continue;
    TensorView v = view;
    v.name = canonical;
    if (canonical.find("norm.weight") != std::string::npos) {
      // Gemma3RMSNorm: x_normed * (1 + w), with 1 + w computed in f32.
      if (!dtype_info(view.dtype).is_float || view.shape.size() != 1 ||
          dtype_bytes(view.dtype, static_cast<uint64_t>(view.numel())) != view.nbytes) {
        throw Error(ErrorCode::kFormat, view.source + ": expected a float vector, found " + view.shape_str() + " " +
                                            std::string(dtype_name(view.dtype)));
      }
      std::vector<float> w(static_cast<size_t>(view.numel()));
      dequantize_row(view.dtype, view.data, w.data(), view.numel());
      for (float& x : w) x = 1.f + x;
      std::vector<uint8_t> bytes(w.size() * sizeof(float));
      std::memcpy(bytes.data(), w.data(), bytes.size());
      v.dtype = DType::kF32;
      v.nbytes = bytes.size();
      v.data = out.own(std::move(bytes));
    }
    out.add(std::move(v));
  }
}

}  // namespace nagi
