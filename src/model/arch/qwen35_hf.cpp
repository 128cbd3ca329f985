#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "model/arch/config_reader.h"
#include "model/arch/qwen35.h"
#include "nagi/error.hpp"

namespace nagi {
using nlohmann::json;

ModelSpec qwen35_spec_from_hf(const json& config, const std::string& path) {
  ConfigReader top{config, path};
  const std::string model_type = top.get_string("model_type");
  // qwen3_5 (image-text-to-text) nests the language model's config.
  const bool nested = model_type == "qwen3_5";
  if (nested && (!config.contains("text_config") || !config["text_config"].is_object())) {
    top.fail("text_config", "missing or not an object");
  }
  const json& tc = nested ? config["text_config"] : config;
  ConfigReader r{tc, path};
  auto field = [&](const std::string& f) { return nested ? "text_config." + f : f; };
  auto get_int = [&](const std::string& f) {
    if (!r.has(f)) r.fail(field(f), "missing");
    const json& v = tc.at(f);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (int64_t(1) << 30)) {
      r.fail(field(f), "expected a positive integer");
    }
    return v.get<int>();
  };
  auto get_int_or = [&](const std::string& f, int def) { return r.has(f) ? get_int(f) : def; };

  ModelSpec spec;
  spec.arch = "qwen35";
  spec.format = "safetensors";
  spec.n_vocab = get_int("vocab_size");
  spec.n_embd = get_int("hidden_size");
  const int n_layer = get_int("num_hidden_layers");
  if (n_layer > kMaxLayerCount) {
    r.fail(field("num_hidden_layers"), std::to_string(n_layer) + " is out of range (at most " +
                                           std::to_string(kMaxLayerCount) + " layers)");
  }
  const int n_ff = get_int("intermediate_size");
  spec.n_ctx_train = get_int_or("max_position_embeddings", 32768);
  spec.norm_eps = static_cast<float>(r.get_float_or("rms_norm_eps", 1e-6));
  if (!(spec.norm_eps > 0.f)) r.fail(field("rms_norm_eps"), "must be positive");
  // Qwen3.5 checkpoints put tie_word_embeddings at the top level.
  spec.tied_embeddings = r.has("tie_word_embeddings") ? r.get_bool_or("tie_word_embeddings", false)
                                                      : top.get_bool_or("tie_word_embeddings", false);
  if (r.has("hidden_act") && r.get_string("hidden_act") != "silu") {
    r.fail(field("hidden_act"), "'" + r.get_string("hidden_act") + "' is not supported (only silu)");
  }
  if (r.get_bool_or("attention_bias", false)) r.fail(field("attention_bias"), "attention biases are not supported");
  if (r.has("mtp_num_hidden_layers")) {  // 0 is allowed: no MTP block
    const json& v = tc["mtp_num_hidden_layers"];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 64) {
      r.fail(field("mtp_num_hidden_layers"), "expected a small non-negative integer");
    }
    spec.n_mtp_layers = v.get<int>();
  }

  AttentionSpec attn;
  attn.n_head = get_int("num_attention_heads");
  attn.n_head_kv = get_int_or("num_key_value_heads", attn.n_head);
  if (attn.n_head % attn.n_head_kv != 0) r.fail(field("num_key_value_heads"), "does not divide num_attention_heads");
  attn.head_dim = get_int_or("head_dim", 256);
  attn.qk_norm = true;
  attn.output_gate = r.get_bool_or("attn_output_gate", true);
  attn.scale = static_cast<float>(1.0 / std::sqrt(double(attn.head_dim)));
  attn.rope.style = RopeStyle::kHalfSplit;
  json rope = tc.contains("rope_parameters") && tc["rope_parameters"].is_object() ? tc["rope_parameters"] : json::object();
  ConfigReader rr{rope, path};
  const double theta = r.get_float_or("rope_theta", rr.get_float_or("rope_theta", 10000000.0));
  if (!(theta > 1.0)) r.fail(field("rope_parameters.rope_theta"), "must be > 1");
  const double partial = r.get_float_or("partial_rotary_factor", rr.get_float_or("partial_rotary_factor", 1.0));
  if (!(partial > 0.0 && partial <= 1.0)) r.fail(field("rope_parameters.partial_rotary_factor"), "must be in (0, 1]");
  attn.rope.n_rot = static_cast<int>(attn.head_dim * partial);
  if (attn.rope.n_rot % 2 != 0 || attn.rope.n_rot == 0) {
    r.fail(field("rope_parameters.partial_rotary_factor"), "gives an odd or empty rotary dimension");
  }
  if (rr.has("rope_type") && rr.get_string("rope_type") != "default") {
    r.fail(field("rope_parameters.rope_type"), "'" + rr.get_string("rope_type") + "' is not supported");
  }
  attn.rope.inv_freq = rope_inv_freq(theta, attn.rope.n_rot);

  DeltaNetSpec dn;
  dn.n_k_heads = get_int("linear_num_key_heads");
  dn.n_v_heads = get_int("linear_num_value_heads");
  dn.head_k_dim = get_int("linear_key_head_dim");
  dn.head_v_dim = get_int("linear_value_head_dim");
  dn.conv_kernel = get_int("linear_conv_kernel_dim");
  if (dn.n_v_heads % dn.n_k_heads != 0) r.fail(field("linear_num_value_heads"), "is not a multiple of linear_num_key_heads");
  dn.v_heads_grouped = true;  // transformers' repeat_interleave over key heads

  std::vector<bool> full(n_layer);
  if (r.has("layer_types")) {
    const json& lt = tc["layer_types"];
    if (!lt.is_array() || static_cast<int>(lt.size()) < n_layer) {
      r.fail(field("layer_types"), "expected a list with one entry per layer");
    }
    for (int il = 0; il < n_layer; ++il) {
      const std::string t = lt[il].is_string() ? lt[il].get<std::string>() : "";
      if (t == "full_attention") full[il] = true;
      else if (t != "linear_attention") r.fail(field("layer_types"), "entry " + std::to_string(il) + " is not 'full_attention' or 'linear_attention'");
    }
  } else {
    const int interval = get_int_or("full_attention_interval", 4);
    for (int il = 0; il < n_layer; ++il) full[il] = (il + 1) % interval == 0;
  }
  for (int il = 0; il < n_layer; ++il) {
    LayerSpec L;
    L.n_ff = n_ff;
    L.mixer = full[il] ? MixerKind::kAttention : MixerKind::kDeltaNet;
    if (full[il]) L.attn = attn;
    else L.deltanet = dn;
    spec.layers.push_back(std::move(L));
  }
  auto bos = int_or_list(r, "bos_token_id");
  if (bos.empty()) bos = int_or_list(top, "bos_token_id");
  spec.bos_id = bos.empty() ? -1 : bos[0];
  spec.eos_ids = int_or_list(r, "eos_token_id");
  if (spec.eos_ids.empty()) spec.eos_ids = int_or_list(top, "eos_token_id");
  return spec;
}

namespace {

// A float copy of `v` with f applied to every element, owned by `out`.
TensorView transformed(const TensorView& v, TensorStore& out, float (*f)(float)) {
  std::vector<float> x(static_cast<size_t>(v.numel()));
  dequantize_row(v.dtype, v.data, x.data(), v.numel());
  for (float& e : x) e = f(e);
  std::vector<uint8_t> bytes(x.size() * sizeof(float));
  std::memcpy(bytes.data(), x.data(), bytes.size());
  TensorView t = v;
  t.dtype = DType::kF32;
  t.nbytes = bytes.size();
  t.data = out.own(std::move(bytes));
  return t;
}

float plus_one(float w) { return 1.f + w; }
float minus_exp(float a_log) { return -std::exp(a_log); }

}  // namespace

void qwen35_map_hf_tensors(const TensorStore& hf, const ModelSpec& spec, TensorStore& out) {
  static const std::regex layer_re(R"((?:model\.language_model|model)\.layers\.(\d+)\.(.+))");
  enum class Fix { kNone, kPlusOne, kMinusExp, kConv };
  struct Target {
    const char* name;
    Fix fix;
  };
  static const std::map<std::string, Target> layer_names = {
      {"input_layernorm.weight", {"attn_norm.weight", Fix::kPlusOne}},
      {"post_attention_layernorm.weight", {"ffn_norm.weight", Fix::kPlusOne}},
      {"self_attn.q_proj.weight", {"attn_q.weight", Fix::kNone}},
      {"self_attn.k_proj.weight", {"attn_k.weight", Fix::kNone}},
      {"self_attn.v_proj.weight", {"attn_v.weight", Fix::kNone}},
      {"self_attn.o_proj.weight", {"attn_output.weight", Fix::kNone}},
      {"self_attn.q_norm.weight", {"attn_q_norm.weight", Fix::kPlusOne}},
      {"self_attn.k_norm.weight", {"attn_k_norm.weight", Fix::kPlusOne}},
      {"linear_attn.in_proj_qkv.weight", {"attn_qkv.weight", Fix::kNone}},
      {"linear_attn.in_proj_z.weight", {"attn_gate.weight", Fix::kNone}},
      {"linear_attn.in_proj_b.weight", {"ssm_beta.weight", Fix::kNone}},
      {"linear_attn.in_proj_a.weight", {"ssm_alpha.weight", Fix::kNone}},
      {"linear_attn.conv1d.weight", {"ssm_conv1d.weight", Fix::kConv}},
      {"linear_attn.dt_bias", {"ssm_dt.bias", Fix::kNone}},
      {"linear_attn.A_log", {"ssm_a", Fix::kMinusExp}},
      {"linear_attn.norm.weight", {"ssm_norm.weight", Fix::kNone}},  // a plain weight
      {"linear_attn.out_proj.weight", {"ssm_out.weight", Fix::kNone}},
      {"mlp.gate_proj.weight", {"ffn_gate.weight", Fix::kNone}},
      {"mlp.up_proj.weight", {"ffn_up.weight", Fix::kNone}},
      {"mlp.down_proj.weight", {"ffn_down.weight", Fix::kNone}},
  };
  // The MTP head's own tensors (Qwen3NextMultiTokenPredictor in vLLM's
  // qwen3_next_mtp.py); its decoder layer uses the layer names above.
  static const std::regex mtp_layer_re(R"(mtp\.layers\.(\d+)\.(.+))");
  static const std::map<std::string, std::string> mtp_names = {
      {"mtp.fc.weight", "nextn.eh_proj.weight"},
      {"mtp.pre_fc_norm_embedding.weight", "nextn.enorm.weight"},
      {"mtp.pre_fc_norm_hidden.weight", "nextn.hnorm.weight"},
      {"mtp.norm.weight", "nextn.shared_head_norm.weight"},
  };
  for (const auto& [name, view] : hf.all()) {
    Target target{nullptr, Fix::kNone};
    std::string canonical;
    std::smatch m;
    if (name == "model.embed_tokens.weight" || name == "model.language_model.embed_tokens.weight") {
      canonical = "token_embd.weight";
    } else if (name == "model.norm.weight" || name == "model.language_model.norm.weight") {
      canonical = "output_norm.weight";
      target.fix = Fix::kPlusOne;
    } else if (name == "lm_head.weight") {
      if (spec.tied_embeddings) continue;  // the spec decides which is used
      canonical = "output.weight";
    } else if (name.starts_with("model.visual.") || name.starts_with("visual.")) {
      continue;  // the vision tower: only the language model is loaded
    } else if (name.starts_with("mtp.")) {
      // The multi-token-prediction head, under the names llama.cpp's
      // converter gives it (blk.<n_layer + i>.*, see model/mtp_head.h), so
      // both formats bind one set of names. Without mtp_num_hidden_layers
      // in the config nothing uses it: dropped.
      if (spec.n_mtp_layers == 0) continue;
      const std::string mtp_block = "blk." + std::to_string(spec.n_layer()) + ".";
      std::smatch mm;
      if (auto it = mtp_names.find(name); it != mtp_names.end()) {
        canonical = mtp_block + it->second;
        target.fix = canonical.ends_with("norm.weight") ? Fix::kPlusOne : Fix::kNone;
      } else if (std::regex_match(name, mm, mtp_layer_re) && std::stol(mm[1].str()) < spec.n_mtp_layers) {
        auto it2 = layer_names.find(mm[2].str());
        if (it2 != layer_names.end()) {
          canonical = "blk." + std::to_string(spec.n_layer() + std::stoi(mm[1].str())) + "." + it2->second.name;
          target.fix = it2->second.fix;
        }
      }
    } else if (std::regex_match(name, m, layer_re)) {
      auto it = layer_names.find(m[2].str());
      if (it != layer_names.end() && std::stol(m[1].str()) < spec.n_layer()) {
        canonical = "blk." + m[1].str() + "." + it->second.name;
        target.fix = it->second.fix;
      }
    }
    if (canonical.empty()) {
      throw Error(ErrorCode::kFormat, view.source + ": unexpected tensor for a " + spec.arch + " model");
    }
    TensorView v = view;
    if (target.fix == Fix::kPlusOne) v = transformed(view, out, plus_one);
    if (target.fix == Fix::kMinusExp) v = transformed(view, out, minus_exp);
    if (target.fix == Fix::kConv) {
      // [channels, 1, kernel] -> [channels, kernel]: same bytes.
      if (v.shape.size() == 3 && v.shape[1] == 1) v.shape = {v.shape[0], v.shape[2]};
    }
    v.name = canonical;
    out.add(std::move(v));
  }
}

}  // namespace nagi
