// qwen35 models for nagi-mkmodel. The weights are generated once, in Hugging
// Face layout (Qwen3_5ForCausalLM names, grouped value heads, RMSNorm weights
// as the w of (1 + w), A_log, conv1d [C, 1, K]); the GGUF is derived from them
// with llama.cpp's converter conventions: value heads reordered from grouped
// to tiled, 1 added to every norm except linear_attn.norm, ssm_a = -exp(A_log),
// conv kernel as [C, K]. Both files therefore compute the same function.
// --mtp-layers adds the multi-token-prediction head (HF mtp.*, GGUF nextn
// blocks after the main stack).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "format/gguf_writer.h"
#include "format/safetensors.h"
#include "model_writer.h"
#include "nagi/error.hpp"

namespace nagi::mkmodel {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// splitmix64 stream + Box-Muller, seeded by (seed, tensor name).
class NormalStream {
 public:
  NormalStream(uint64_t seed, const std::string& name) : x_(seed * 0x9e3779b97f4a7c15ull) {
    for (unsigned char c : name) x_ = (x_ ^ c) * 1099511628211ull;
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {
    const double u1 = uniform() + 1e-300, u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  uint64_t next() {
    uint64_t z = (x_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t x_;
};

struct HfTensor {
  std::string name;  // Hugging Face name
  std::vector<int64_t> shape;
  std::vector<float> values;
  bool is_matrix;
};

int n_rot_of(const ModelConfig& c) { return c.n_rot > 0 ? c.n_rot : c.head_dim; }
bool is_full_attention(const ModelConfig& c, int il) { return (il + 1) % c.full_attention_interval == 0; }

// Every tensor of the model in Hugging Face layout.
void for_each_hf_tensor(const ModelConfig& c, const std::function<void(HfTensor&&)>& emit) {
  auto make = [&](const std::string& name, std::vector<int64_t> shape, const std::function<double(NormalStream&)>& f,
                  bool matrix) {
    NormalStream rng(c.seed, name);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    HfTensor t{name, std::move(shape), std::vector<float>(size_t(n)), matrix};
    for (float& v : t.values) v = static_cast<float>(f(rng));
    emit(std::move(t));
  };
  auto gauss = [](double std) { return [std](NormalStream& r) { return std * r.normal(); }; };
  auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    make(name, {out, in}, gauss(1.0 / std::sqrt(double(in))), true);
  };
  const int64_t d = c.n_embd;
  make("model.embed_tokens.weight", {c.n_vocab, d}, gauss(c.tied ? 1.0 / std::sqrt(double(d)) : 0.05), true);
  if (!c.tied) linear("lm_head.weight", c.n_vocab, d);
  make("model.norm.weight", {d}, gauss(0.1), false);  // the w of (1 + w)
  const int64_t key_dim = int64_t(c.linear_k_heads) * c.linear_k_dim;
  const int64_t value_dim = int64_t(c.linear_v_heads) * c.linear_v_dim;
  const int64_t conv_dim = 2 * key_dim + value_dim;
  // One decoder layer under prefix p (main stack or MTP block).
  auto layer = [&](const std::string& p, bool full_attention) {
    make(p + "input_layernorm.weight", {d}, gauss(0.1), false);
    if (full_attention) {
      const int64_t nq = int64_t(c.n_head) * c.head_dim, nkv = int64_t(c.n_head_kv) * c.head_dim;
      linear(p + "self_attn.q_proj.weight", 2 * nq, d);  // per head [query | gate]
      linear(p + "self_attn.k_proj.weight", nkv, d);
      linear(p + "self_attn.v_proj.weight", nkv, d);
      linear(p + "self_attn.o_proj.weight", d, nq);
      make(p + "self_attn.q_norm.weight", {c.head_dim}, gauss(0.1), false);
      make(p + "self_attn.k_norm.weight", {c.head_dim}, gauss(0.1), false);
    } else {
      linear(p + "linear_attn.in_proj_qkv.weight", conv_dim, d);
      linear(p + "linear_attn.in_proj_z.weight", value_dim, d);
      linear(p + "linear_attn.in_proj_b.weight", c.linear_v_heads, d);
      linear(p + "linear_attn.in_proj_a.weight", c.linear_v_heads, d);
      make(p + "linear_attn.conv1d.weight", {conv_dim, 1, c.conv_kernel}, gauss(1.0 / std::sqrt(double(c.conv_kernel))), false);
      make(p + "linear_attn.dt_bias", {c.linear_v_heads}, gauss(0.5), false);
      // transformers initialises A_log as log(U(0, 16)); a narrower range keeps decays moderate.
      make(p + "linear_attn.A_log", {c.linear_v_heads}, [](NormalStream& r) { return std::log(0.5 + 3.5 * r.uniform()); }, false);
      make(p + "linear_attn.norm.weight", {c.linear_v_dim}, [](NormalStream& r) { return 1.0 + 0.1 * r.normal(); }, false);
      linear(p + "linear_attn.out_proj.weight", d, value_dim);
    }
    make(p + "post_attention_layernorm.weight", {d}, gauss(0.1), false);
    linear(p + "mlp.gate_proj.weight", c.n_ff, d);
    linear(p + "mlp.up_proj.weight", c.n_ff, d);
    linear(p + "mlp.down_proj.weight", d, c.n_ff);
  };
  for (int il = 0; il < c.n_layer; ++il) layer("model.layers." + std::to_string(il) + ".", is_full_attention(c, il));
  // The multi-token-prediction head of Qwen3.5 checkpoints (mtp.*, as
  // vLLM's qwen3_next_mtp.py loads it): fc over [embedding ; hidden], its
  // pre-fc norms, full-attention decoder layers, a final norm.
  if (c.mtp_layers > 0) {
    linear("mtp.fc.weight", d, 2 * d);
    make("mtp.pre_fc_norm_embedding.weight", {d}, gauss(0.1), false);
    make("mtp.pre_fc_norm_hidden.weight", {d}, gauss(0.1), false);
    make("mtp.norm.weight", {d}, gauss(0.1), false);
    for (int i = 0; i < c.mtp_layers; ++i) layer("mtp.layers." + std::to_string(i) + ".", true);
  }
}

std::vector<uint8_t> encode(DType dtype, const std::vector<float>& v, const std::string& name) {
  auto bytes = dtype_bytes(dtype, v.size());
  if (!bytes) throw Error(ErrorCode::kInvalidArgument, "tensor '" + name + "': " + std::to_string(v.size()) +
                                                          " values are not whole " + std::string(dtype_name(dtype)) + " blocks");
  std::vector<uint8_t> out(*bytes);
  quantize_row(dtype, v.data(), out.data(), static_cast<int64_t>(v.size()));
  return out;
}

json hf_config(const ModelConfig& c) {
  json layer_types = json::array();
  for (int il = 0; il < c.n_layer; ++il) layer_types.push_back(is_full_attention(c, il) ? "full_attention" : "linear_attention");
  return json{{"architectures", {"Qwen3_5ForCausalLM"}}, {"model_type", "qwen3_5_text"},
              {"vocab_size", c.n_vocab}, {"hidden_size", c.n_embd}, {"intermediate_size", c.n_ff},
              {"num_hidden_layers", c.n_layer}, {"num_attention_heads", c.n_head},
              {"num_key_value_heads", c.n_head_kv}, {"head_dim", c.head_dim}, {"hidden_act", "silu"},
              {"max_position_embeddings", c.n_ctx}, {"rms_norm_eps", c.norm_eps},
              {"tie_word_embeddings", c.tied}, {"attention_bias", false}, {"attn_output_gate", true},
              {"full_attention_interval", c.full_attention_interval}, {"layer_types", layer_types},
              {"linear_conv_kernel_dim", c.conv_kernel}, {"linear_key_head_dim", c.linear_k_dim},
              {"linear_value_head_dim", c.linear_v_dim}, {"linear_num_key_heads", c.linear_k_heads},
              {"linear_num_value_heads", c.linear_v_heads}, {"mtp_num_hidden_layers", c.mtp_layers},
              {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", c.rope_theta},
                                   {"partial_rotary_factor", double(n_rot_of(c)) / c.head_dim},
                                   {"mrope_section", {11, 11, 10}}, {"mrope_interleaved", true}}},
              {"bos_token_id", 1}, {"eos_token_id", 2}, {"torch_dtype", "float32"}};
}

// Grouped (HF: the value heads of one key head adjacent) -> tiled (llama.cpp:
// value head h reads key head h % n_k): tiled head h is grouped head
// (h % n_k) * (n_v / n_k) + h / n_k. `unit` values per head, `count` heads
// starting at element `first` of each row of length `row` (rows of `rows`).
void reorder_v_heads(std::vector<float>& x, const ModelConfig& c, int64_t rows, int64_t row, int64_t first,
                     int64_t unit, bool along_rows) {
  const int nk = c.linear_k_heads, nv = c.linear_v_heads, r = nv / nk;
  const std::vector<float> src = x;
  for (int h = 0; h < nv; ++h) {
    const int g = (h % nk) * r + h / nk;
    if (along_rows) {  // heads are blocks of `unit` rows starting at row `first`
      std::copy_n(src.begin() + (first + int64_t(g) * unit) * row, unit * row, x.begin() + (first + int64_t(h) * unit) * row);
    } else {  // heads are blocks of `unit` columns starting at column `first`
      for (int64_t i = 0; i < rows; ++i) {
        std::copy_n(src.begin() + i * row + first + int64_t(g) * unit, unit, x.begin() + i * row + first + int64_t(h) * unit);
      }
    }
  }
}

}  // namespace

void write_qwen35_hf_folder(const ModelConfig& c, const WriteOptions& o, const std::string& dir) {
  fs::create_directories(dir);
  SafetensorsWriter w;
  for_each_hf_tensor(c, [&](HfTensor&& t) {
    // safetensors has no block-quantized types: quantized requests store F32.
    const DType dt = !t.is_matrix ? DType::kF32 : (o.dtype == DType::kF16 || o.dtype == DType::kBF16) ? o.dtype : DType::kF32;
    w.add(t.name, dt, t.shape, encode(dt, t.values, t.name));
  });
  w.set_metadata("format", "pt");
  w.write((fs::path(dir) / "model.safetensors").string());
  std::ofstream(fs::path(dir) / "config.json") << hf_config(c).dump(2) << "\n";
  write_hf_tokenizer_files(c.n_vocab, dir);
}

void write_qwen35_gguf(const ModelConfig& c, const WriteOptions& o, const std::string& path) {
  GgufWriter w;
  const std::string a = "qwen35";  // c.arch
  add_gguf_common_metadata(c, n_rot_of(c), w);
  w.set_i32_array(a + ".rope.dimension_sections", {11, 11, 10, 0});
  w.set_u32(a + ".ssm.conv_kernel", c.conv_kernel);
  w.set_u32(a + ".ssm.state_size", c.linear_k_dim);
  w.set_u32(a + ".ssm.group_count", c.linear_k_heads);
  w.set_u32(a + ".ssm.time_step_rank", c.linear_v_heads);
  w.set_u32(a + ".ssm.inner_size", c.linear_v_heads * c.linear_v_dim);
  w.set_u32(a + ".full_attention_interval", c.full_attention_interval);
  if (c.mtp_layers > 0) {
    // llama.cpp counts the MTP blocks in block_count and says how many there are.
    w.set_u32(a + ".block_count", c.n_layer + c.mtp_layers);
    w.set_u32(a + ".nextn_predict_layers", c.mtp_layers);
  }
  add_gguf_tokenizer(c, o, w);
  if (c.linear_k_dim != c.linear_v_dim) {
    throw Error(ErrorCode::kInvalidArgument, "qwen35 GGUF: linear key and value head sizes must be equal (ssm.state_size)");
  }

  const int64_t key_dim = int64_t(c.linear_k_heads) * c.linear_k_dim;
  const int64_t dv = c.linear_v_dim;
  static const std::map<std::string, std::string> names = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "post_attention_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"}, {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"}, {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"linear_attn.in_proj_qkv.weight", "attn_qkv.weight"}, {"linear_attn.in_proj_z.weight", "attn_gate.weight"},
      {"linear_attn.in_proj_b.weight", "ssm_beta.weight"}, {"linear_attn.in_proj_a.weight", "ssm_alpha.weight"},
      {"linear_attn.conv1d.weight", "ssm_conv1d.weight"}, {"linear_attn.dt_bias", "ssm_dt.bias"},
      {"linear_attn.A_log", "ssm_a"}, {"linear_attn.norm.weight", "ssm_norm.weight"},
      {"linear_attn.out_proj.weight", "ssm_out.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"}, {"mlp.down_proj.weight", "ffn_down.weight"}};
  // llama.cpp's converter: MTP layer i becomes block n_layer + i; fc and the
  // head's norms are copied into every MTP block as nextn.* tensors.
  static const std::map<std::string, std::string> mtp_names = {
      {"mtp.fc.weight", "nextn.eh_proj.weight"},
      {"mtp.pre_fc_norm_embedding.weight", "nextn.enorm.weight"},
      {"mtp.pre_fc_norm_hidden.weight", "nextn.hnorm.weight"},
      {"mtp.norm.weight", "nextn.shared_head_norm.weight"}};
  for_each_hf_tensor(c, [&](HfTensor&& t) {
    std::string name, part;
    std::vector<std::string> copies;  // further names of the same tensor
    if (t.name == "model.embed_tokens.weight") name = "token_embd.weight";
    else if (t.name == "lm_head.weight") name = "output.weight";
    else if (t.name == "model.norm.weight") name = "output_norm.weight";
    else if (auto it = mtp_names.find(t.name); it != mtp_names.end()) {
      name = "blk." + std::to_string(c.n_layer) + "." + it->second;
      for (int i = 1; i < c.mtp_layers; ++i) copies.push_back("blk." + std::to_string(c.n_layer + i) + "." + it->second);
    } else {
      const bool mtp = t.name.starts_with("mtp.layers.");
      const size_t at = mtp ? 11 : 13;  // after "mtp.layers." / "model.layers."
      const size_t dot = t.name.find('.', at);
      part = t.name.substr(dot + 1);
      const int index = std::stoi(t.name.substr(at, dot - at)) + (mtp ? c.n_layer : 0);
      name = "blk." + std::to_string(index) + "." + names.at(part);
    }
    std::vector<float>& x = t.values;
    if (name.ends_with("norm.weight") && part != "linear_attn.norm.weight") {
      for (float& v : x) v += 1.f;
    }
    if (part == "linear_attn.A_log") {
      for (float& v : x) v = -std::exp(v);
    }
    if (part == "linear_attn.conv1d.weight") t.shape = {t.shape[0], t.shape[2]};
    // Value-head order: rows of the v part of qkv (and conv channels), rows of
    // z, b, a, A, dt_bias, columns of out_proj.
    if (part == "linear_attn.in_proj_qkv.weight" || part == "linear_attn.conv1d.weight") {
      reorder_v_heads(x, c, t.shape[0], t.shape[1], 2 * key_dim, dv, true);
    } else if (part == "linear_attn.in_proj_z.weight") {
      reorder_v_heads(x, c, t.shape[0], t.shape[1], 0, dv, true);
    } else if (part == "linear_attn.in_proj_b.weight" || part == "linear_attn.in_proj_a.weight") {
      reorder_v_heads(x, c, t.shape[0], t.shape[1], 0, 1, true);
    } else if (part == "linear_attn.A_log" || part == "linear_attn.dt_bias") {
      reorder_v_heads(x, c, t.shape[0], 1, 0, 1, true);
    } else if (part == "linear_attn.out_proj.weight") {
      reorder_v_heads(x, c, t.shape[0], t.shape[1], 0, dv, false);
    }
    const DType dt = gguf_tensor_dtype(c, o, name, t.shape, t.is_matrix);
    w.add_tensor(name, dt, t.shape, encode(dt, x, name));
    for (const std::string& copy : copies) w.add_tensor(copy, dt, t.shape, encode(dt, x, copy));
  });
  w.write(path);
}

}  // namespace nagi::mkmodel
