#include "model_writer.h"

#include "gemma3_tensors.h"
#include "hf_vocab.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "base/half.h"
#include "format/gguf_writer.h"
#include "format/group_quant.h"
#include "format/safetensors.h"
#include "lfm2_tensors.h"
#include "nagi/error.hpp"

namespace nagi::mkmodel {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// xoshiro256** + Box-Muller: fast enough for a 0.6B-parameter model and fully
// determined by (seed, tensor name), so HF and GGUF outputs hold equal weights.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& x : s_) x = seed = splitmix(seed);
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {
    const double u1 = uniform() + 1e-300, u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3], s_[2] ^= t, s_[3] = rotl(s_[3], 45);
    return r;
  }
  uint64_t s_[4];
};

uint64_t name_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

struct Tensor {
  std::string name;             // canonical name
  std::vector<int64_t> shape;   // [out, in]
  std::vector<float> values;
  bool is_matrix;
};

// Generates every tensor of the model in canonical naming. Matrices are
// N(0, 1/fan_in); norm weights 1 + N(0, 0.1^2); biases N(0, 0.02^2).
void for_each_tensor(const ModelConfig& c, const std::function<void(Tensor&&)>& emit) {
  auto make = [&](const std::string& name, std::vector<int64_t> shape, double mean, double std, bool matrix) {
    Rng rng(name_seed(c.seed, name));
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    Tensor t{name, std::move(shape), std::vector<float>(size_t(n)), matrix};
    for (float& v : t.values) v = static_cast<float>(mean + std * rng.normal());
    emit(std::move(t));
  };
  if (c.arch == "lfm2") return for_each_lfm2_tensor(c, make);
  const int64_t d = c.n_embd, nq = int64_t(c.n_head) * c.head_dim, nkv = int64_t(c.n_head_kv) * c.head_dim;
  // Embedding scale keeps logits of a tied model at a sane magnitude.
  make("token_embd.weight", {c.n_vocab, d}, 0.0, c.tied ? 1.0 / std::sqrt(double(d)) : 0.05, true);
  if (!c.tied) make("output.weight", {c.n_vocab, d}, 0.0, 1.0 / std::sqrt(double(d)), true);
  make("output_norm.weight", {d}, 1.0, 0.1, false);
  for (int il = 0; il < c.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    make(p + "attn_norm.weight", {d}, 1.0, 0.1, false);
    make(p + "attn_q.weight", {nq, d}, 0.0, 1.0 / std::sqrt(double(d)), true);
    make(p + "attn_k.weight", {nkv, d}, 0.0, 1.0 / std::sqrt(double(d)), true);
    make(p + "attn_v.weight", {nkv, d}, 0.0, 1.0 / std::sqrt(double(d)), true);
    if (c.arch == "qwen2") {
      make(p + "attn_q.bias", {nq}, 0.0, 0.02, false);
      make(p + "attn_k.bias", {nkv}, 0.0, 0.02, false);
      make(p + "attn_v.bias", {nkv}, 0.0, 0.02, false);
    }
    if (c.arch == "qwen3" || c.arch == "gemma3") {
      make(p + "attn_q_norm.weight", {c.head_dim}, 1.0, 0.1, false);
      make(p + "attn_k_norm.weight", {c.head_dim}, 1.0, 0.1, false);
    }
    make(p + "attn_output.weight", {d, nq}, 0.0, 1.0 / std::sqrt(double(nq)), true);
    make(p + "ffn_norm.weight", {d}, 1.0, 0.1, false);
    make(p + "ffn_gate.weight", {c.n_ff, d}, 0.0, 1.0 / std::sqrt(double(d)), true);
    make(p + "ffn_up.weight", {c.n_ff, d}, 0.0, 1.0 / std::sqrt(double(d)), true);
    make(p + "ffn_down.weight", {d, c.n_ff}, 0.0, 1.0 / std::sqrt(double(c.n_ff)), true);
    if (c.arch == "gemma3") {  // sandwich norms
      make(p + "post_attention_norm.weight", {d}, 1.0, 0.1, false);
      make(p + "post_ffw_norm.weight", {d}, 1.0, 0.1, false);
    }
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

// Hugging Face Llama checkpoints order q/k rows for rotate_half; GGUF llama
// wants adjacent pairs. This is llama.cpp's converter permutation, so a GGUF
// written here computes exactly what the HF folder computes.
std::vector<float> permute_for_interleaved_rope(const std::vector<float>& w, int64_t rows, int64_t cols, int n_heads) {
  std::vector<float> out(w.size());
  const int64_t hd = rows / n_heads, half = hd / 2;
  for (int h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int j = 0; j < 2; ++j) {
        const int64_t src = h * hd + j * half + i, dst = h * hd + 2 * i + j;
        std::copy_n(w.begin() + src * cols, cols, out.begin() + dst * cols);
      }
    }
  }
  return out;
}

// A synthetic SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte
// tokens, "▁" and printable ASCII, then filler pieces up to n_vocab.
std::vector<std::string> synthetic_vocab(int n_vocab) {
  if (n_vocab < 3 + 256 + 96) throw Error(ErrorCode::kInvalidArgument, "mkmodel: n_vocab must be at least 355");
  std::vector<std::string> v = {"<unk>", "<s>", "</s>"};
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.push_back(buf);
  }
  v.push_back("\xe2\x96\x81");  // ▁
  for (char ch = 33; ch < 127; ++ch) v.push_back(std::string(1, ch));
  v.push_back("\xe2\x96\x81t");  // one learned merge: ▁ + t
  for (int i = 0; int(v.size()) < n_vocab; ++i) v.push_back("<filler_" + std::to_string(i) + ">");
  return v;
}

json hf_config(const ModelConfig& c) {
  if (c.arch == "lfm2") return lfm2_hf_config(c);
  const char* cls = c.arch == "llama" ? "LlamaForCausalLM" : c.arch == "qwen2" ? "Qwen2ForCausalLM" : "Qwen3ForCausalLM";
  return json{{"architectures", {cls}}, {"model_type", c.arch}, {"vocab_size", c.n_vocab},
              {"hidden_size", c.n_embd}, {"intermediate_size", c.n_ff}, {"num_hidden_layers", c.n_layer},
              {"num_attention_heads", c.n_head}, {"num_key_value_heads", c.n_head_kv}, {"head_dim", c.head_dim},
              {"hidden_act", "silu"}, {"max_position_embeddings", c.n_ctx}, {"rms_norm_eps", c.norm_eps},
              {"rope_theta", c.rope_theta}, {"rope_scaling", nullptr}, {"tie_word_embeddings", c.tied},
              {"bos_token_id", 1}, {"eos_token_id", 2}, {"torch_dtype", "float32"}};
}

json hf_tokenizer(const std::vector<std::string>& vocab) {
  json model_vocab = json::object();
  for (size_t i = 0; i < vocab.size(); ++i) model_vocab[vocab[i]] = i;
  json added = json::array();
  for (int i = 0; i < 3; ++i) {
    added.push_back({{"id", i}, {"content", vocab[i]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  return json{
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", "\xe2\x96\x81"}},
                                                            {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xe2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", {{"type", "TemplateProcessing"},
                          {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                          {"pair", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                    {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
                          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", "\xe2\x96\x81"}}}, {"content", " "}},
                                                       {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                                                       {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
                 {"vocab", model_vocab}, {"merges", {"\xe2\x96\x81 t"}}}}};
}

void write_json(const json& j, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  out << j.dump(2) << "\n";
  if (!out) throw Error(ErrorCode::kIo, path + ": cannot write");
}

}  // namespace

void write_hf_folder(const ModelConfig& c, const WriteOptions& o, const std::string& dir) {
  if (c.arch == "qwen35") return write_qwen35_hf_folder(c, o, dir);
  fs::create_directories(dir);
  static const std::map<std::string, std::string> layer_names = {
      {"attn_norm.weight", "input_layernorm.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"}, {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"}, {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"}, {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"}, {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"}, {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"}, {"ffn_down.weight", "mlp.down_proj.weight"}};
  const int shards = std::max(1, o.shards);
  std::vector<SafetensorsWriter> writers(shards);
  json weight_map = json::object();
  int index = 0;
  for_each_tensor(c, [&](Tensor&& t) {
    std::string hf;
    if (c.arch == "lfm2") {
      hf = lfm2_hf_name(t.name, t.shape);
    } else if (c.arch == "gemma3") {
      hf = gemma3_hf_name(t.name);
      if (gemma3_is_norm(t.name)) for (float& v : t.values) v -= 1.f;
    } else if (t.name == "token_embd.weight") hf = "model.embed_tokens.weight";
    else if (t.name == "output.weight") hf = "lm_head.weight";
    else if (t.name == "output_norm.weight") hf = "model.norm.weight";
    else {
      const size_t dot = t.name.find('.', 4);
      hf = "model.layers." + t.name.substr(4, dot - 4) + "." + layer_names.at(t.name.substr(dot + 1));
    }
    // safetensors has no block-quantized types: quantized requests store BF16.
    DType dt = !t.is_matrix ? DType::kF32 : (o.dtype == DType::kF16 || o.dtype == DType::kBF16) ? o.dtype : DType::kF32;
    const int shard = index++ % shards;
    writers[shard].add(hf, dt, t.shape, encode(dt, t.values, hf));
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", shard + 1, shards);
    weight_map[hf] = name;
  });
  if (shards == 1) {
    writers[0].set_metadata("format", "pt");
    writers[0].write((fs::path(dir) / "model.safetensors").string());
  } else {
    for (int s = 0; s < shards; ++s) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, shards);
      writers[s].set_metadata("format", "pt");
      writers[s].write((fs::path(dir) / name).string());
    }
    write_json(json{{"metadata", json::object()}, {"weight_map", weight_map}},
               (fs::path(dir) / "model.safetensors.index.json").string());
  }
  write_json(c.arch == "gemma3" ? gemma3_hf_config(c, o.dtype) : hf_config(c), (fs::path(dir) / "config.json").string());
  write_json(hf_tokenizer(synthetic_vocab(c.n_vocab)), (fs::path(dir) / "tokenizer.json").string());
  write_json(json{{"add_bos_token", true}, {"add_eos_token", false}, {"bos_token", "<s>"}, {"eos_token", "</s>"},
                  {"unk_token", "<unk>"}, {"tokenizer_class", "LlamaTokenizer"}, {"legacy", true}},
             (fs::path(dir) / "tokenizer_config.json").string());
}

DType gguf_tensor_dtype(const ModelConfig& c, const WriteOptions& o, const std::string& name,
                        const std::vector<int64_t>& shape, bool is_matrix) {
  if (!is_matrix) return DType::kF32;
  const int64_t cols = shape.back();
  const auto fits = [&](DType d) { return cols % dtype_info(d).block_elems == 0; };
  const bool is_output = name == "output.weight" || name == "token_embd.weight";
  // A group type whose group does not divide the row: the same bits with
  // groups of 32 (every preset's rows are whole 32s).
  const auto fitted = [&](DType d) {
    const auto gq = group_quant_of(d);
    if (!gq || fits(d)) return d;
    return gq->bits == 8 ? DType::kI8G32 : DType::kI4G32;
  };
  if (is_output && o.output_dtype) return fitted(*o.output_dtype);
  if (o.q4_k_m) {
    const DType hi = fits(DType::kQ6_K) ? DType::kQ6_K : DType::kQ8_0;
    if (is_output) return hi;
    const bool v = name.ends_with("attn_v.weight"), down = name.ends_with("ffn_down.weight");
    if (v || down) {
      const int layer = std::stoi(name.substr(4, name.find('.', 4) - 4));
      const int n = c.n_layer;
      const bool more_bits = layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2;
      if (more_bits) return hi;
    }
    return fits(o.dtype) ? o.dtype : DType::kQ8_0;
  }
  return fitted(o.dtype);
}

void add_gguf_common_metadata(const ModelConfig& c, int n_rot, GgufWriter& w) {
  const std::string& a = c.arch;
  w.set_string("general.architecture", a);
  w.set_string("general.name", "nagi-mkmodel-" + a);
  w.set_u32(a + ".context_length", c.n_ctx);
  w.set_u32(a + ".embedding_length", c.n_embd);
  w.set_u32(a + ".block_count", c.n_layer);
  w.set_u32(a + ".feed_forward_length", c.n_ff);
  w.set_u32(a + ".attention.head_count", c.n_head);
  w.set_u32(a + ".attention.head_count_kv", c.n_head_kv);
  w.set_u32(a + ".attention.key_length", c.head_dim);
  w.set_u32(a + ".attention.value_length", c.head_dim);
  w.set_u32(a + ".rope.dimension_count", n_rot);
  w.set_f32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
  w.set_u32(a + ".vocab_size", c.n_vocab);
}

void write_gguf(const ModelConfig& c, const WriteOptions& o, const std::string& path) {
  if (c.arch == "qwen35") return write_qwen35_gguf(c, o, path);
  GgufWriter w;
  const std::string& a = c.arch;
  add_gguf_common_metadata(c, c.head_dim, w);
  if (a == "lfm2") lfm2_gguf_metadata(c, w);  // replaces head_count_kv and the ff size
  if (a == "gemma3") gemma3_gguf_metadata(c, w);
  add_gguf_tokenizer(c, o, w);
  for_each_tensor(c, [&](Tensor&& t) {
    std::vector<float> values = std::move(t.values);
    if (a == "llama" && (t.name.ends_with("attn_q.weight") || t.name.ends_with("attn_k.weight"))) {
      const int heads = t.name.ends_with("attn_q.weight") ? c.n_head : c.n_head_kv;
      values = permute_for_interleaved_rope(values, t.shape[0], t.shape[1], heads);
    }
    const DType dt = gguf_tensor_dtype(c, o, t.name, t.shape, t.is_matrix);
    const std::string name = a == "lfm2" ? lfm2_gguf_name(t.name) : t.name;
    w.add_tensor(name, dt, t.shape, encode(dt, values, name));
  });
  w.write(path);
}

void write_hf_tokenizer_files(int n_vocab, const std::string& dir) {
  write_json(hf_tokenizer(synthetic_vocab(n_vocab)), (fs::path(dir) / "tokenizer.json").string());
  write_json(json{{"add_bos_token", true}, {"add_eos_token", false}, {"bos_token", "<s>"}, {"eos_token", "</s>"},
                  {"unk_token", "<unk>"}, {"tokenizer_class", "LlamaTokenizer"}, {"legacy", true}},
             (fs::path(dir) / "tokenizer_config.json").string());
}

void add_gguf_tokenizer(const ModelConfig& c, const WriteOptions& o, GgufWriter& w) {
  if (!o.tokenizer_dir.empty()) {
    if (write_gpt2_vocab(o.tokenizer_dir, o.pre, w) > c.n_vocab) {
      throw Error(ErrorCode::kInvalidArgument, o.tokenizer_dir + ": the tokenizer has more tokens than --n-vocab");
    }
    return;
  }
  const auto vocab = synthetic_vocab(c.n_vocab);
  std::vector<float> scores(vocab.size(), 0.f);
  std::vector<int32_t> types(vocab.size(), 1);
  types[0] = 2;
  types[1] = types[2] = 3;
  for (int b = 0; b < 256; ++b) types[3 + b] = 6;
  scores[3 + 256 + 1 + 94] = 1.f;  // "▁t" outranks nothing else: it is the only merge
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", vocab);
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace nagi::mkmodel
