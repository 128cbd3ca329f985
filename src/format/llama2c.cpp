#include "format/llama2c.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/mapped_file.h"
#include "nagi/error.hpp"

namespace nagi {

namespace {

constexpr uint64_t kHeaderBytes = 7 * 4;

// llama2.c's versioned exports (v1+) start with this uint32 instead of dim.
constexpr uint32_t kVersionedMagic = 0x616b3432;  // "ak42"

// Upper bounds well beyond any llama2.c model; they exist so that the size
// arithmetic below cannot overflow 64 bits on a corrupt header.
constexpr int64_t kMaxDim = int64_t(1) << 20;
constexpr int64_t kMaxLayers = int64_t(1) << 12;
constexpr int64_t kMaxVocab = int64_t(1) << 24;
constexpr int64_t kMaxSeqLen = int64_t(1) << 24;

[[noreturn]] void format_error(const std::string& msg) { throw Error(ErrorCode::kFormat, msg); }

int32_t read_i32(const uint8_t* p) {
  uint32_t u = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  int32_t v;
  std::memcpy(&v, &u, 4);
  return v;
}

void check_range(const std::string& path, const char* field, int64_t value, int64_t max) {
  if (value <= 0) format_error(path + ": header: " + field + ": must be positive, got " + std::to_string(value));
  if (value > max) {
    format_error(path + ": header: " + field + ": " + std::to_string(value) + " exceeds the limit of " +
                 std::to_string(max) + " (not a llama2.c checkpoint?)");
  }
}

// One float32 array of the file, covering all layers.
struct Array {
  const char* name;
  uint64_t floats;
  uint64_t offset = 0;  // bytes from the start of the file
};

}  // namespace

Llama2cHeader load_llama2c(const std::string& path, TensorStore& store) {
  auto file = MappedFile::open(path);
  const uint8_t* bytes = file->data();
  const uint64_t size = file->size();
  if (size < kHeaderBytes) {
    format_error(path + ": header: file is " + std::to_string(size) + " bytes, shorter than the " +
                 std::to_string(kHeaderBytes) + "-byte llama2.c header");
  }
  if (static_cast<uint32_t>(read_i32(bytes)) == kVersionedMagic) {
    throw Error(ErrorCode::kUnsupported,
                path + ": header: magic 'ak42' marks a versioned llama2.c export; only the legacy (v0) format is supported");
  }

  const int64_t dim = read_i32(bytes + 0);
  const int64_t hidden_dim = read_i32(bytes + 4);
  const int64_t n_layers = read_i32(bytes + 8);
  const int64_t n_heads = read_i32(bytes + 12);
  const int64_t n_kv_heads = read_i32(bytes + 16);
  const int64_t raw_vocab = read_i32(bytes + 20);
  const int64_t seq_len = read_i32(bytes + 24);
  // int64 so that negating INT32_MIN is harmless.
  const int64_t vocab = raw_vocab < 0 ? -raw_vocab : raw_vocab;

  check_range(path, "dim", dim, kMaxDim);
  check_range(path, "hidden_dim", hidden_dim, kMaxDim);
  check_range(path, "n_layers", n_layers, kMaxLayers);
  check_range(path, "n_heads", n_heads, dim > 0 ? dim : 1);
  check_range(path, "n_kv_heads", n_kv_heads, n_heads);
  check_range(path, "vocab_size", vocab, kMaxVocab);
  check_range(path, "seq_len", seq_len, kMaxSeqLen);
  if (dim % n_heads != 0) {
    format_error(path + ": header: dim: " + std::to_string(dim) + " is not a multiple of n_heads " +
                 std::to_string(n_heads));
  }
  if (n_heads % n_kv_heads != 0) {
    format_error(path + ": header: n_kv_heads: n_heads " + std::to_string(n_heads) + " is not a multiple of " +
                 std::to_string(n_kv_heads));
  }
  const int64_t head_dim = dim / n_heads;
  // RoPE rotates pairs of elements, and the legacy tables hold head_dim/2 per position.
  if (head_dim % 2 != 0) {
    format_error(path + ": header: n_heads: head_dim dim/n_heads = " + std::to_string(head_dim) +
                 " must be even for RoPE");
  }
  const int64_t kv_dim = head_dim * n_kv_heads;
  const bool shared = raw_vocab > 0;

  const uint64_t L = static_cast<uint64_t>(n_layers);
  const uint64_t D = static_cast<uint64_t>(dim);
  const uint64_t H = static_cast<uint64_t>(hidden_dim);
  const uint64_t KV = static_cast<uint64_t>(kv_dim);
  const uint64_t V = static_cast<uint64_t>(vocab);
  std::vector<Array> arrays = {
      {"tok_embeddings", V * D},
      {"rms_att_weight", L * D},
      {"wq", L * D * D},
      {"wk", L * KV * D},
      {"wv", L * KV * D},
      {"wo", L * D * D},
      {"rms_ffn_weight", L * D},
      {"w1", L * H * D},
      {"w2", L * D * H},
      {"w3", L * H * D},
      {"rms_final_weight", D},
      {"freq_cis_real", static_cast<uint64_t>(seq_len) * static_cast<uint64_t>(head_dim / 2)},
      {"freq_cis_imag", static_cast<uint64_t>(seq_len) * static_cast<uint64_t>(head_dim / 2)},
  };
  if (!shared) arrays.push_back({"wcls", V * D});

  uint64_t offset = kHeaderBytes;
  for (Array& a : arrays) {
    a.offset = offset;
    const uint64_t end = offset + a.floats * 4;
    if (end > size) {
      format_error(path + ": " + a.name + ": needs bytes [" + std::to_string(offset) + ", " + std::to_string(end) +
                   ") but the file is " + std::to_string(size) + " bytes (truncated, or header does not match)");
    }
    offset = end;
  }
  if (offset != size) {
    format_error(path + ": header: file is " + std::to_string(size) + " bytes but the header implies " +
                 std::to_string(offset) + " (" + std::to_string(size - offset) +
                 " trailing bytes; header does not match the weights)");
  }

  auto array = [&](const char* name) -> const Array& {
    for (const Array& a : arrays) {
      if (std::strcmp(a.name, name) == 0) return a;
    }
    std::abort();  // only called with names from the table above
  };

  store.keep_alive(file);
  // `index` selects one layer's slice of an all-layer array.
  auto add = [&](const std::string& name, const char* array_name, std::vector<int64_t> shape, int64_t index) {
    const Array& a = array(array_name);
    uint64_t per = 1;
    for (int64_t d : shape) per *= static_cast<uint64_t>(d);
    TensorView v;
    v.name = name;
    v.dtype = DType::kF32;
    v.shape = std::move(shape);
    v.data = bytes + a.offset + static_cast<uint64_t>(index) * per * 4;
    v.nbytes = static_cast<size_t>(per * 4);
    v.source = path + ": " + array_name + (index >= 0 && a.floats != per ? "[" + std::to_string(index) + "]" : "");
    store.add(std::move(v));
  };

  add("token_embd.weight", "tok_embeddings", {vocab, dim}, 0);
  for (int64_t l = 0; l < n_layers; ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    add(blk + "attn_norm.weight", "rms_att_weight", {dim}, l);
    add(blk + "attn_q.weight", "wq", {n_heads * head_dim, dim}, l);
    add(blk + "attn_k.weight", "wk", {kv_dim, dim}, l);
    add(blk + "attn_v.weight", "wv", {kv_dim, dim}, l);
    add(blk + "attn_output.weight", "wo", {dim, n_heads * head_dim}, l);
    add(blk + "ffn_norm.weight", "rms_ffn_weight", {dim}, l);
    add(blk + "ffn_gate.weight", "w1", {hidden_dim, dim}, l);
    add(blk + "ffn_down.weight", "w2", {dim, hidden_dim}, l);
    add(blk + "ffn_up.weight", "w3", {hidden_dim, dim}, l);
  }
  add("output_norm.weight", "rms_final_weight", {dim}, 0);
  if (!shared) add("output.weight", "wcls", {vocab, dim}, 0);

  Llama2cHeader h;
  h.dim = static_cast<int>(dim);
  h.hidden_dim = static_cast<int>(hidden_dim);
  h.n_layers = static_cast<int>(n_layers);
  h.n_heads = static_cast<int>(n_heads);
  h.n_kv_heads = static_cast<int>(n_kv_heads);
  h.vocab_size = static_cast<int>(vocab);
  h.seq_len = static_cast<int>(seq_len);
  h.shared_classifier = shared;
  return h;
}

}  // namespace nagi
