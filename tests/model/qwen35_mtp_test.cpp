// Qwen3.5's multi-token-prediction head (model/mtp_head.h) on a random-weight
// model written by nagi-mkmodel --mtp-layers 1, HF folder and GGUF, against
// the float64 reference in qwen35_mtp_reference.h: the head's logits for the
// prompt's entries and for a draft chain that feeds its own hidden state
// back, its KV cache rolled back by truncation, and the errors a model
// without (or with a broken) head gives.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/thread_pool.h"
#include "model/load.h"
#include "model/mtp_head.h"
#include "model/transformer.h"
#include "model_compare.h"
#include "nagi/error.hpp"
#include "qwen35_mtp_reference.h"
#include "test_support.h"

namespace nagi {
namespace {

// The qwen35 shape of qwen35_test.cpp (grouped != tiled value heads, partial
// rotary, full attention at layers 2 and 5), untied so the head's logits go
// through output.weight.
const std::string kTiny =
    "--arch qwen35 --n-vocab 400 --n-embd 64 --n-layer 6 --n-head 4 --n-head-kv 2 --head-dim 32 --n-rot 8 "
    "--n-ff 96 --linear-k-heads 2 --linear-v-heads 4 --linear-head-dim 16 --full-attention-interval 3 "
    "--rope-theta 10000000 --tied false --seed 9";

using test::max_diff;
using test::random_prompt;

// f32 weights and activations against float64: logits are of magnitude ~1-3
// and agree to 1.3e-5 at worst (measured); 1e-4 leaves a 7x margin, while the
// reference's deliberate mistakes move them by more than 0.05.
constexpr double kTolerance = 1e-4;

// nagi's target model and MTP head loaded from one file.
struct NagiMtp {
  explicit NagiMtp(const std::string& path)
      : m(load_model(path)), target(m.spec, m.tensors, path), head(m.spec, m.tensors, path), pool(2) {}

  // The target's hidden states of `ids` as head inputs [T, n_embd].
  std::vector<float> target_inputs(const std::vector<int32_t>& ids) {
    ModelState st = target.new_state(256);
    Workspace ws;
    target.forward(ids, st, ws, nullptr, false, pool);
    std::vector<float> in(ids.size() * size_t(head.n_embd()));
    head.target_input(target.last_hidden(ws, int(ids.size())), int(ids.size()), in.data());
    return in;
  }

  // Logits of the entries of `ids` (evaluated in batches of `batch`) and
  // then of the chain, as Qwen35MtpReference::logits orders them.
  std::vector<float> logits(const std::vector<int32_t>& ids, const std::vector<int32_t>& chain, int batch) {
    const int d = head.n_embd(), vocab = head.n_vocab();
    const auto in = target_inputs(ids);
    ModelState st = head.new_state(256);
    Workspace ws;
    std::vector<float> all, rows, g;
    const int entries = int(ids.size()) - 1;
    for (int i = 0; i < entries; i += batch) {
      const int n = std::min(batch, entries - i);
      rows.resize(size_t(n) * vocab);
      g.resize(size_t(n) * d);
      head.forward(std::span<const int32_t>(ids.data() + i + 1, size_t(n)), in.data() + size_t(i) * d, st, ws,
                   g.data(), rows.data(), true, pool);
      all.insert(all.end(), rows.begin(), rows.end());
    }
    std::vector<float> h(g.end() - d, g.end());
    for (int32_t tok : chain) {
      rows.resize(size_t(vocab));
      head.forward(std::span<const int32_t>(&tok, 1), h.data(), st, ws, g.data(), rows.data(), false, pool);
      all.insert(all.end(), rows.begin(), rows.end());
      h.assign(g.begin(), g.begin() + d);
    }
    return all;
  }

  LoadedModel m;
  Transformer target;
  MtpHead head;
  ThreadPool pool;
};

class Qwen35Mtp : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    test::mkmodel(kTiny + " --mtp-layers 1 --format hf -o " + dir_ + "/hf");
    test::mkmodel(kTiny + " --mtp-layers 1 --format gguf -o " + dir_ + "/m.gguf");
    load_safetensors_folder(dir_ + "/hf", weights_);
    config_ = test::read_config(dir_ + "/hf");
  }
  std::vector<double> reference(const std::vector<int32_t>& ids, const std::vector<int32_t>& chain,
                                test::Qwen35MtpReference::Mistake m = test::Qwen35MtpReference::Mistake::kNone) {
    return test::Qwen35MtpReference(config_, weights_, m).logits(ids, chain);
  }
  std::string dir_;
  TensorStore weights_;
  nlohmann::json config_;
};

TEST_F(Qwen35Mtp, HfAndGgufMatchFloat64Reference) {
  const auto ids = random_prompt(30, 400, 21);
  const std::vector<int32_t> chain = {17, 250, 3};
  const auto want = reference(ids, chain);
  for (const std::string& path : {dir_ + "/hf", dir_ + "/m.gguf"}) {
    NagiMtp nagi(path);
    const double diff = max_diff(nagi.logits(ids, chain, 64), want);
    std::printf("%s: max |dlogit| %.3g\n", path.c_str(), diff);
    EXPECT_LE(diff, kTolerance) << path << " entries as one batch";
    EXPECT_LE(max_diff(nagi.logits(ids, chain, 1), want), kTolerance) << path << " entry by entry";
    EXPECT_LE(max_diff(nagi.logits(ids, chain, 11), want), kTolerance) << path << " in batches of 11";
  }
}

// Controls: the comparison notices the mistakes an implementation can make.
TEST_F(Qwen35Mtp, MistakesAreSeen) {
  const auto ids = random_prompt(20, 400, 5);
  const std::vector<int32_t> chain = {40, 41};
  NagiMtp nagi(dir_ + "/m.gguf");
  const auto got = nagi.logits(ids, chain, 64);
  using M = test::Qwen35MtpReference::Mistake;
  for (M m : {M::kHiddenFirst, M::kPreNormHidden}) {
    const double diff = max_diff(got, reference(ids, chain, m));
    EXPECT_GT(diff, 0.05) << "mistake " << int(m);
    std::printf("mtp reference with mistake %d: max |dlogit| %.3g\n", int(m), diff);
  }
}

TEST_F(Qwen35Mtp, TruncatingTheHeadsCacheForgetsDraftSteps) {
  // What the speculator does after a verification pass: draft steps go by
  // truncation and the accepted positions get entries from real hidden states.
  const auto ids = random_prompt(24, 400, 8);
  NagiMtp nagi(dir_ + "/hf");
  const int d = nagi.head.n_embd(), vocab = nagi.head.n_vocab();
  const auto in = nagi.target_inputs(ids);
  const int entries = int(ids.size()) - 1, split = 15;
  auto span_of = [&](int from, int n) { return std::span<const int32_t>(ids.data() + from + 1, size_t(n)); };

  ModelState fresh = nagi.head.new_state(64);
  Workspace ws;
  std::vector<float> g(size_t(entries) * d), want(size_t(entries) * vocab);
  nagi.head.forward(span_of(0, entries), in.data(), fresh, ws, g.data(), want.data(), true, nagi.pool);

  ModelState st = nagi.head.new_state(64);
  std::vector<float> g1(size_t(entries) * d), got(size_t(entries) * vocab), scratch(static_cast<size_t>(vocab));
  nagi.head.forward(span_of(0, split), in.data(), st, ws, g1.data(), got.data(), true, nagi.pool);
  // Five draft steps with other tokens and the head's own hidden states.
  std::vector<float> h(g1.begin() + size_t(split - 1) * d, g1.begin() + size_t(split) * d), h2(static_cast<size_t>(d));
  for (int32_t tok : {7, 8, 9, 10, 11}) {
    nagi.head.forward(std::span<const int32_t>(&tok, 1), h.data(), st, ws, h2.data(), scratch.data(), false,
                      nagi.pool);
    h.swap(h2);
  }
  ASSERT_EQ(st.n_past(), split + 5);
  ASSERT_TRUE(st.truncate(split));
  nagi.head.forward(span_of(split, entries - split), in.data() + size_t(split) * d, st, ws, g1.data(),
                    got.data() + size_t(split) * vocab, true, nagi.pool);
  // The same arithmetic on the same rows: equal up to batching's rounding.
  EXPECT_LE(max_diff(got, std::vector<double>(want.begin(), want.end())), 1e-5);
  EXPECT_EQ(st.tokens(), fresh.tokens());
}

TEST_F(Qwen35Mtp, ModelWithoutHeadIsAnError) {
  const std::string path = dir_ + "/plain.gguf";
  test::mkmodel(kTiny + " --format gguf -o " + path);
  const LoadedModel m = load_model(path);
  EXPECT_EQ(m.spec.n_mtp_layers, 0);
  try {
    MtpHead head(m.spec, m.tensors, path);
    ADD_FAILURE() << "no error for a model without an MTP head";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("plain.gguf"), std::string::npos) << e.what();
  }
}

TEST_F(Qwen35Mtp, MissingOrMisshapedHeadTensorIsAFormatError) {
  // HF folders with the head's fc dropped, then with it transposed.
  for (const bool drop : {true, false}) {
    const std::string broken = dir_ + (drop ? "/no_fc" : "/bad_fc");
    std::filesystem::create_directories(broken);
    SafetensorsWriter w;
    for (const auto& [name, view] : weights_.all()) {
      std::vector<int64_t> shape = view.shape;
      if (name == "mtp.fc.weight") {
        if (drop) continue;
        std::swap(shape[0], shape[1]);
      }
      w.add(name, view.dtype, shape, std::vector<uint8_t>(view.data, view.data + view.nbytes));
    }
    w.write(broken + "/model.safetensors");
    for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) {
      std::filesystem::copy_file(dir_ + "/hf/" + f, broken + "/" + f);
    }
    const LoadedModel m = load_model(broken);
    try {
      MtpHead head(m.spec, m.tensors, broken);
      ADD_FAILURE() << "no error for " << broken;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFormat);
      EXPECT_NE(std::string(e.what()).find(drop ? "blk.6.nextn.eh_proj.weight" : "mtp.fc.weight"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace nagi
