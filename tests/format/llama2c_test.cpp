#include "format/llama2c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <tuple>
#include <fstream>

#include "format/safetensors.h"
#include "nagi/error.hpp"
#include "test_support.h"

namespace nagi {
namespace {

std::vector<float> floats_of(const TensorView& v) {
  std::vector<float> out(v.nbytes / 4);
  std::memcpy(out.data(), v.data, v.nbytes);
  return out;
}

bool bitwise_equal(const TensorView& a, const TensorView& b) {
  return a.shape == b.shape && a.nbytes == b.nbytes && std::memcmp(a.data, b.data, a.nbytes) == 0;
}

TEST(Llama2c, Stories260KHeaderAndShapes) {
  if (!test::has_shared()) GTEST_SKIP() << "no fixtures";
  const std::string path = test::shared_path("models/stories260K/stories260K.bin");
  TensorStore store;
  Llama2cHeader h = load_llama2c(path, store);
  EXPECT_EQ(h.dim, 64);
  EXPECT_EQ(h.hidden_dim, 172);
  EXPECT_EQ(h.n_layers, 5);
  EXPECT_EQ(h.n_heads, 8);
  EXPECT_EQ(h.n_kv_heads, 4);
  EXPECT_EQ(h.vocab_size, 512);
  EXPECT_EQ(h.seq_len, 512);
  EXPECT_TRUE(h.shared_classifier);
  EXPECT_EQ(h.head_dim(), 8);
  EXPECT_EQ(h.kv_dim(), 32);

  EXPECT_EQ(store.all().size(), 1u + 5u * 9u + 1u);
  EXPECT_EQ(store.find("output.weight"), nullptr);
  EXPECT_EQ(store.get("token_embd.weight", "t").shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(store.get("output_norm.weight", "t").shape, (std::vector<int64_t>{64}));
  for (int l = 0; l < 5; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(store.get(b + "attn_norm.weight", "t").shape, (std::vector<int64_t>{64}));
    EXPECT_EQ(store.get(b + "attn_q.weight", "t").shape, (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(store.get(b + "attn_k.weight", "t").shape, (std::vector<int64_t>{32, 64}));
    EXPECT_EQ(store.get(b + "attn_v.weight", "t").shape, (std::vector<int64_t>{32, 64}));
    EXPECT_EQ(store.get(b + "attn_output.weight", "t").shape, (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(store.get(b + "ffn_norm.weight", "t").shape, (std::vector<int64_t>{64}));
    EXPECT_EQ(store.get(b + "ffn_gate.weight", "t").shape, (std::vector<int64_t>{172, 64}));
    EXPECT_EQ(store.get(b + "ffn_down.weight", "t").shape, (std::vector<int64_t>{64, 172}));
    EXPECT_EQ(store.get(b + "ffn_up.weight", "t").shape, (std::vector<int64_t>{172, 64}));
  }
  int64_t params = 0;
  for (const auto& [name, v] : store.all()) {
    EXPECT_EQ(v.dtype, DType::kF32);
    EXPECT_EQ(v.nbytes, size_t(v.numel()) * 4);
    EXPECT_NE(v.source.find(path), std::string::npos) << v.source;
    params += v.numel();
  }
  EXPECT_EQ(params, 260032);
  // Per-layer views are slices of one all-layer array in the mapping, not copies.
  EXPECT_EQ(store.get("blk.1.attn_q.weight", "t").data, store.get("blk.0.attn_q.weight", "t").data + 64 * 64 * 4);
  EXPECT_EQ(store.get("blk.0.attn_norm.weight", "t").data,
            store.get("token_embd.weight", "t").data + 512 * 64 * 4);
}

// The HF copy was written from the .bin: unpermuted tensors are bitwise equal,
// q/k are the rotate-half permutation of the Meta layout.
TEST(Llama2c, Stories260KMatchesHfSafetensors) {
  if (!test::has_shared()) GTEST_SKIP() << "no fixtures";
  TensorStore bin, hf;
  load_llama2c(test::shared_path("models/stories260K/stories260K.bin"), bin);
  load_safetensors_file(test::shared_path("models/stories260K/hf/model.safetensors"), hf);
  EXPECT_TRUE(bitwise_equal(bin.get("token_embd.weight", "t"), hf.get("model.embed_tokens.weight", "t")));
  EXPECT_TRUE(bitwise_equal(bin.get("output_norm.weight", "t"), hf.get("model.norm.weight", "t")));
  const std::pair<const char*, const char*> same[] = {
      {"attn_norm", "input_layernorm"},      {"ffn_norm", "post_attention_layernorm"},
      {"attn_v", "self_attn.v_proj"},        {"attn_output", "self_attn.o_proj"},
      {"ffn_gate", "mlp.gate_proj"},         {"ffn_down", "mlp.down_proj"},
      {"ffn_up", "mlp.up_proj"},
  };
  for (int l = 0; l < 5; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const std::string m = "model.layers." + std::to_string(l) + ".";
    for (const auto& [ours, theirs] : same) {
      EXPECT_TRUE(bitwise_equal(bin.get(b + ours + ".weight", "t"), hf.get(m + theirs + ".weight", "t")))
          << b << ours;
    }
    // HF row h*hd + t*hd/2 + i holds Meta row h*hd + 2*i + t.
    for (auto [ours, theirs, heads] : {std::tuple{"attn_q", "self_attn.q_proj", 8}, std::tuple{"attn_k", "self_attn.k_proj", 4}}) {
      const auto meta = floats_of(bin.get(b + ours + ".weight", "t"));
      const auto rot = floats_of(hf.get(m + theirs + ".weight", "t"));
      ASSERT_EQ(meta.size(), rot.size());
      const int hd = 8, dim = 64;
      int mismatches = 0;
      for (int h = 0; h < heads; ++h)
        for (int t = 0; t < 2; ++t)
          for (int i = 0; i < hd / 2; ++i)
            for (int c = 0; c < dim; ++c) {
              const float a = rot[size_t((h * hd + t * hd / 2 + i) * dim + c)];
              const float e = meta[size_t((h * hd + 2 * i + t) * dim + c)];
              mismatches += std::memcmp(&a, &e, 4) != 0;
            }
      EXPECT_EQ(mismatches, 0) << b << ours;
    }
  }
}

// A synthetic legacy checkpoint whose float k holds the value k, so every
// view's contents reveal its offset.
struct Synthetic {
  int32_t dim = 8, hidden = 12, layers = 2, heads = 4, kv_heads = 2, vocab = 10, seq_len = 6;

  uint64_t floats() const {
    const uint64_t hd = dim / heads, kv = hd * kv_heads;
    uint64_t n = uint64_t(std::abs(vocab)) * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * hidden * dim) +
                 dim + 2 * seq_len * (hd / 2);
    if (vocab < 0) n += uint64_t(-vocab) * dim;
    return n;
  }
  std::string bytes() const {
    std::string s(28 + floats() * 4, '\0');
    const int32_t hdr[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq_len};
    std::memcpy(s.data(), hdr, 28);
    for (uint64_t k = 0; k < floats(); ++k) {
      const float f = float(k);
      std::memcpy(s.data() + 28 + 4 * k, &f, 4);
    }
    return s;
  }
};

std::string write_file(const std::string& bytes, const std::string& name = "model.bin") {
  const std::string path = test::temp_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

void expect_error(const std::string& bytes, ErrorCode code, std::vector<std::string> needles) {
  const std::string path = write_file(bytes);
  TensorStore store;
  try {
    load_llama2c(path, store);
    ADD_FAILURE() << "no error; expected one containing " << (needles.empty() ? "" : needles[0]);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "missing '" << n << "' in: " << msg;
  }
}

TEST(Llama2c, SyntheticOffsets) {
  Synthetic s;
  TensorStore store;
  Llama2cHeader h = load_llama2c(write_file(s.bytes()), store);
  EXPECT_TRUE(h.shared_classifier);
  EXPECT_EQ(h.vocab_size, 10);
  const float emb_end = 10 * 8;                    // tok_embeddings
  const float att_norm = emb_end;                  // rms_att[2, 8]
  const float wq = att_norm + 2 * 8;               // wq[2, 8, 8]
  const float wk = wq + 2 * 64;                    // wk[2, 4, 8]
  const float wv = wk + 2 * 32;                    // wv[2, 4, 8]
  const float wo = wv + 2 * 32;                    // wo[2, 8, 8]
  const float ffn_norm = wo + 2 * 64;              // rms_ffn[2, 8]
  const float w1 = ffn_norm + 2 * 8;               // w1[2, 12, 8]
  const float w2 = w1 + 2 * 96;                    // w2[2, 8, 12]
  const float w3 = w2 + 2 * 96;                    // w3[2, 12, 8]
  const float final_norm = w3 + 2 * 96;            // rms_final[8]
  auto first = [&](const std::string& n) { return floats_of(store.get(n, "t")).front(); };
  auto last = [&](const std::string& n) { return floats_of(store.get(n, "t")).back(); };
  EXPECT_EQ(first("token_embd.weight"), 0.f);
  EXPECT_EQ(last("token_embd.weight"), emb_end - 1);
  EXPECT_EQ(first("blk.1.attn_norm.weight"), att_norm + 8);
  EXPECT_EQ(first("blk.0.attn_q.weight"), wq);
  EXPECT_EQ(first("blk.1.attn_q.weight"), wq + 64);
  EXPECT_EQ(first("blk.1.attn_k.weight"), wk + 32);
  EXPECT_EQ(store.get("blk.1.attn_k.weight", "t").shape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(first("blk.1.attn_v.weight"), wv + 32);
  EXPECT_EQ(first("blk.1.attn_output.weight"), wo + 64);
  EXPECT_EQ(first("blk.1.ffn_norm.weight"), ffn_norm + 8);
  EXPECT_EQ(first("blk.1.ffn_gate.weight"), w1 + 96);
  EXPECT_EQ(store.get("blk.1.ffn_gate.weight", "t").shape, (std::vector<int64_t>{12, 8}));
  EXPECT_EQ(first("blk.1.ffn_down.weight"), w2 + 96);
  EXPECT_EQ(store.get("blk.1.ffn_down.weight", "t").shape, (std::vector<int64_t>{8, 12}));
  EXPECT_EQ(first("blk.1.ffn_up.weight"), w3 + 96);
  EXPECT_EQ(last("blk.1.ffn_up.weight"), final_norm - 1);
  EXPECT_EQ(first("output_norm.weight"), final_norm);
  EXPECT_EQ(store.find("output.weight"), nullptr);
  EXPECT_NE(store.get("blk.1.ffn_up.weight", "t").source.find("w3[1]"), std::string::npos);
}

TEST(Llama2c, SeparateClassifier) {
  Synthetic s;
  s.vocab = -10;
  TensorStore store;
  Llama2cHeader h = load_llama2c(write_file(s.bytes()), store);
  EXPECT_FALSE(h.shared_classifier);
  EXPECT_EQ(h.vocab_size, 10);
  const TensorView& out = store.get("output.weight", "t");
  EXPECT_EQ(out.shape, (std::vector<int64_t>{10, 8}));
  // The classifier is the last array, after the two RoPE tables (6 x 1 each).
  EXPECT_EQ(floats_of(out).back(), float(s.floats() - 1));
  EXPECT_EQ(floats_of(out).front(), float(s.floats() - 80));
  EXPECT_EQ(floats_of(store.get("output_norm.weight", "t")).back() + 1 + 2 * 6, float(s.floats() - 80));
}

TEST(Llama2c, EveryTruncationErrors) {
  Synthetic s;
  const std::string full = s.bytes();
  for (size_t n = 0; n < full.size(); n += (n < 64 ? 1 : 7)) {
    SCOPED_TRACE(n);
    expect_error(full.substr(0, n), ErrorCode::kFormat, {});
  }
  expect_error(full.substr(0, 27), ErrorCode::kFormat, {"header", "28-byte"});
  expect_error(full.substr(0, 100), ErrorCode::kFormat, {"tok_embeddings", "truncated"});
  expect_error(full.substr(0, full.size() - 4), ErrorCode::kFormat, {"freq_cis_imag", "truncated"});
  Synthetic sep = s;
  sep.vocab = -10;
  const std::string sep_full = sep.bytes();
  expect_error(sep_full.substr(0, sep_full.size() - 1), ErrorCode::kFormat, {"wcls"});
}

TEST(Llama2c, TrailingBytesError) { expect_error(Synthetic{}.bytes() + "xxxx", ErrorCode::kFormat, {"header", "trailing"}); }

// A header claiming a different shape than the data must not load.
TEST(Llama2c, LyingHeaders) {
  struct Case {
    void (*mutate)(Synthetic&);
    std::vector<std::string> needles;
  };
  const Case cases[] = {
      {[](Synthetic& s) { s.dim = 0; }, {"header", "dim", "positive"}},
      {[](Synthetic& s) { s.hidden = -12; }, {"header", "hidden_dim", "positive"}},
      {[](Synthetic& s) { s.layers = 0; }, {"header", "n_layers"}},
      {[](Synthetic& s) { s.heads = 0; }, {"header", "n_heads"}},
      {[](Synthetic& s) { s.kv_heads = 0; }, {"header", "n_kv_heads"}},
      {[](Synthetic& s) { s.kv_heads = 8; }, {"header", "n_kv_heads"}},
      {[](Synthetic& s) { s.kv_heads = 3; }, {"header", "n_kv_heads", "multiple"}},
      {[](Synthetic& s) { s.heads = 3; s.kv_heads = 1; }, {"header", "dim", "multiple of n_heads"}},
      {[](Synthetic& s) { s.heads = 8; s.kv_heads = 2; }, {"header", "even"}},
      {[](Synthetic& s) { s.vocab = 0; }, {"header", "vocab_size"}},
      {[](Synthetic& s) { s.seq_len = 0; }, {"header", "seq_len"}},
      {[](Synthetic& s) { s.dim = 1 << 30; }, {"header", "dim", "limit"}},
      {[](Synthetic& s) { s.layers = 1 << 30; }, {"header", "n_layers", "limit"}},
      {[](Synthetic& s) { s.vocab = INT32_MIN; }, {"header", "vocab_size", "limit"}},
  };
  const Synthetic base;
  const std::string data = base.bytes().substr(28);
  for (const Case& c : cases) {
    Synthetic s;
    c.mutate(s);
    std::string bytes(28, '\0');
    const int32_t hdr[7] = {s.dim, s.hidden, s.layers, s.heads, s.kv_heads, s.vocab, s.seq_len};
    std::memcpy(bytes.data(), hdr, 28);
    SCOPED_TRACE(c.needles.back());
    expect_error(bytes + data, ErrorCode::kFormat, c.needles);
  }
  // Plausible headers that disagree with the amount of data.
  for (auto mutate : {+[](Synthetic& s) { s.layers = 3; }, +[](Synthetic& s) { s.hidden = 16; },
                      +[](Synthetic& s) { s.vocab = -10; }, +[](Synthetic& s) { s.seq_len = 7; }}) {
    Synthetic s;
    mutate(s);
    std::string bytes(28, '\0');
    const int32_t hdr[7] = {s.dim, s.hidden, s.layers, s.heads, s.kv_heads, s.vocab, s.seq_len};
    std::memcpy(bytes.data(), hdr, 28);
    expect_error(bytes + data, ErrorCode::kFormat, {"truncated"});
  }
  {
    Synthetic s;
    s.layers = 1;  // claims less data than the file holds
    std::string bytes(28, '\0');
    const int32_t hdr[7] = {s.dim, s.hidden, s.layers, s.heads, s.kv_heads, s.vocab, s.seq_len};
    std::memcpy(bytes.data(), hdr, 28);
    expect_error(bytes + data, ErrorCode::kFormat, {"header", "trailing"});
  }
}

TEST(Llama2c, VersionedExportIsUnsupported) {
  std::string bytes = Synthetic{}.bytes();
  const uint32_t magic = 0x616b3432;
  std::memcpy(bytes.data(), &magic, 4);
  expect_error(bytes, ErrorCode::kUnsupported, {"ak42"});
}

TEST(Llama2c, MissingFileIsIoError) {
  TensorStore store;
  try {
    load_llama2c("/nonexistent/model.bin", store);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.bin"), std::string::npos);
  }
}

}  // namespace
}  // namespace nagi
