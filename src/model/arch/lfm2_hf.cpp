#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "model/arch/config_reader.h"
#include "model/arch/hf_tensor_names.h"
#include "model/arch/lfm2.h"
#include "nagi/error.hpp"

namespace nagi {
using nlohmann::json;

int lfm2_feed_forward_size(int ff, bool auto_adjust, std::optional<double> multiplier, int multiple_of) {
  if (!auto_adjust) return ff;
  // Python int() truncates toward zero; every value here is positive.
  int size = static_cast<int>(2.0 * ff / 3.0);
  if (multiplier) {
    size = static_cast<int>(*multiplier * size);
    size = multiple_of * ((size + multiple_of - 1) / multiple_of);
  }
  return size;
}

namespace {

// transformers' Lfm2Config: layer_types, else full_attn_idxs, else every
// layer attends. Returns true for attention layers.
std::vector<bool> attention_layers(const ConfigReader& r, int n_layer) {
  std::vector<bool> attn(n_layer, true);
  if (r.has("layer_types")) {
    const json& v = r.j.at("layer_types");
    if (!v.is_array() || static_cast<int>(v.size()) != n_layer) {
      r.fail("layer_types", "expected a list of " + std::to_string(n_layer) + " layer types");
    }
    for (int i = 0; i < n_layer; ++i) {
      const std::string t = v[i].is_string() ? v[i].get<std::string>() : "";
      if (t == "full_attention") attn[i] = true;
      else if (t == "conv") attn[i] = false;
      else r.fail("layer_types", "entry " + std::to_string(i) + " must be \"full_attention\" or \"conv\"");
    }
  } else if (r.has("full_attn_idxs")) {
    const json& v = r.j.at("full_attn_idxs");
    if (!v.is_array()) r.fail("full_attn_idxs", "expected a list of layer indices");
    attn.assign(n_layer, false);
    for (const json& x : v) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= n_layer) {
        r.fail("full_attn_idxs", "expected layer indices below num_hidden_layers");
      }
      attn[x.get<int>()] = true;
    }
  }
  return attn;
}

}  // namespace

ModelSpec lfm2_spec_from_hf(const json& config, const std::string& path) {
  if (!config.is_object()) throw Error(ErrorCode::kFormat, path + ": expected a JSON object");
  ConfigReader r{config, path};
  ModelSpec spec;
  spec.arch = "lfm2";
  spec.format = "safetensors";
  spec.n_vocab = r.get_int("vocab_size");
  spec.n_embd = r.get_int("hidden_size");
  const int n_layer = r.get_layer_count("num_hidden_layers", kMaxLayerCount);
  const int n_head = r.get_int("num_attention_heads");
  const int n_head_kv = r.get_int_or("num_key_value_heads", 8);
  if (n_head % n_head_kv != 0) r.fail("num_key_value_heads", "does not divide num_attention_heads");
  const int head_dim = r.get_int_or("head_dim", spec.n_embd / n_head);
  if (head_dim < 2 || head_dim % 2 != 0) r.fail("head_dim", "must be even");
  spec.n_ctx_train = r.get_int_or("max_position_embeddings", 128000);
  spec.norm_eps = static_cast<float>(r.get_float_or("norm_eps", 1e-5));
  if (!(spec.norm_eps > 0.f)) r.fail("norm_eps", "must be positive");
  // The original LFM2 keys (block_ff_dim, tie_embedding, theta) win over the
  // transformers names, as in Lfm2Config.
  spec.tied_embeddings = r.has("tie_embedding") ? r.get_bool_or("tie_embedding", true)
                                                : r.get_bool_or("tie_word_embeddings", true);

  const std::string ff_field = r.has("block_ff_dim") ? "block_ff_dim" : "intermediate_size";
  const int ff_raw = r.get_int_or(ff_field, 12288);
  std::optional<double> multiplier = 1.0;
  if (config.contains("block_ffn_dim_multiplier")) {
    const json& m = config["block_ffn_dim_multiplier"];
    if (m.is_null()) multiplier.reset();
    else if (m.is_number() && m.get<double>() > 0) multiplier = m.get<double>();
    else r.fail("block_ffn_dim_multiplier", "expected a positive number or null");
  }
  const int n_ff = lfm2_feed_forward_size(ff_raw, r.get_bool_or("block_auto_adjust_ff_dim", true), multiplier,
                                          r.get_int_or("block_multiple_of", 256));
  if (n_ff <= 0) r.fail(ff_field, "gives an empty feed-forward layer");

  const int l_cache = r.get_int_or("conv_L_cache", 3);
  const bool conv_bias = r.get_bool_or("conv_bias", false);

  // Newer transformers nest rope_theta under rope_parameters.
  const json rope = config.contains("rope_parameters") && config["rope_parameters"].is_object()
                        ? config["rope_parameters"] : json::object();
  ConfigReader rr{rope, path};
  const double theta = r.get_float_or("theta", r.get_float_or("rope_theta", rr.get_float_or("rope_theta", 1000000.0)));
  if (!(theta > 1.0)) r.fail("rope_theta", "must be > 1");
  if (rr.has("rope_type") && rr.get_string("rope_type") != "default") {
    r.fail("rope_parameters.rope_type", "'" + rr.get_string("rope_type") + "' is not supported");
  }
  if (r.has("rope_scaling")) r.fail("rope_scaling", "RoPE scaling is not supported for LFM2");

  const std::vector<bool> attn = attention_layers(r, n_layer);
  for (int il = 0; il < n_layer; ++il) {
    LayerSpec L;
    L.n_ff = n_ff;
    if (attn[il]) {
      L.attn.n_head = n_head;
      L.attn.n_head_kv = n_head_kv;
      L.attn.head_dim = head_dim;
      L.attn.qk_norm = true;  // q_layernorm / k_layernorm
      L.attn.scale = static_cast<float>(1.0 / std::sqrt(double(head_dim)));
      L.attn.rope.style = RopeStyle::kHalfSplit;  // rotate_half
      L.attn.rope.n_rot = head_dim;
      L.attn.rope.inv_freq = rope_inv_freq(theta, head_dim);
    } else {
      L.mixer = MixerKind::kShortConv;
      L.conv.l_cache = l_cache;
      L.conv.bias = conv_bias;
    }
    spec.layers.push_back(L);
  }
  auto bos = int_or_list(r, "bos_token_id");
  spec.bos_id = bos.empty() ? -1 : bos[0];
  spec.eos_ids = int_or_list(r, "eos_token_id");
  return spec;
}

void lfm2_map_hf_tensor_names(const TensorStore& hf, const ModelSpec& spec, TensorStore& out) {
  static const std::regex layer_re(R"(model\.layers\.(\d+)\.(.+))");
  static const std::map<std::string, std::string> layer_names = {
      {"operator_norm.weight", "attn_norm.weight"},
      {"ffn_norm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.out_proj.weight", "attn_output.weight"},
      {"self_attn.q_layernorm.weight", "attn_q_norm.weight"},
      {"self_attn.k_layernorm.weight", "attn_k_norm.weight"},
      {"conv.in_proj.weight", "shortconv.in_proj.weight"},
      {"conv.in_proj.bias", "shortconv.in_proj.bias"},
      {"conv.conv.weight", "shortconv.conv.weight"},
      {"conv.conv.bias", "shortconv.conv.bias"},
      {"conv.out_proj.weight", "shortconv.out_proj.weight"},
      {"conv.out_proj.bias", "shortconv.out_proj.bias"},
      {"feed_forward.w1.weight", "ffn_gate.weight"},
      {"feed_forward.w3.weight", "ffn_up.weight"},
      {"feed_forward.w2.weight", "ffn_down.weight"},
  };
  static const std::map<std::string, std::string> global_names = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      // Despite its name, transformers applies embedding_norm after the last layer.
      {"model.embedding_norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (const auto& [name, view] : hf.all()) {
    const std::string canonical =
        hf_canonical_name(name, layer_re, layer_names, global_names, spec.n_layer()).value_or("");
    if (canonical.empty()) {
      throw Error(ErrorCode::kFormat, view.source + ": unexpected tensor for an lfm2 model");
    }
    if (canonical == "output.weight" && spec.tied_embeddings) continue;
    TensorView v = view;
    v.name = canonical;
    // nn.Conv1d keeps its depthwise kernel as (channels, 1, taps); the
    // canonical layout drops the singleton (the bytes are the same).
    if (canonical.ends_with("shortconv.conv.weight") && v.shape.size() == 3 && v.shape[1] == 1) {
      v.shape = {v.shape[0], v.shape[2]};
    }
    out.add(std::move(v));
  }
}

}  // namespace nagi
