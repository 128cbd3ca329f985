// LFM2 (short-convolution hybrid): random-weight models written by
// nagi-mkmodel against an independent float64 implementation of the
// transformers modeling code (lfm2_reference.h), through nagi's Hugging Face
// and GGUF paths; the feed-forward size rule; config errors; rollback deeper
// than the conv state's truncation margin. The synthetic llama.cpp fixture
// runs in synthetic_test.cpp.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "lfm2_reference.h"
#include "model/arch/registry.h"
#include "model/mixers/short_conv.h"
#include "model_compare.h"
#include "nagi/nagi.hpp"
#include "gguf_rewrite.h"
#include "test_support.h"

namespace nagi {
namespace {

using test::max_diff;
using test::mkmodel;
using test::nagi_logits;
using test::random_prompt;
using test::read_config;
const auto reference_logits = test::reference_logits<test::Lfm2Reference>;

// f32 weights: only nagi's float32 rounding separates it from the float64
// reference; logits here have magnitude ~1-5 and agree to ~1e-5, while a
// wrong tap order, gate or norm moves them by O(1).
constexpr float kTolerance = 1e-4f;

TEST(Lfm2, HfAndGgufMatchFloat64Reference) {
  const std::string dir = test::temp_dir();
  // block_ff_dim 300 with auto-adjust: int(2*300/3) = 200, x1.0, rounded up
  // to a multiple of 64 = 256 rows (neither 300 nor 200).
  const std::string common =
      "--arch lfm2 --n-vocab 400 --n-embd 96 --n-layer 5 --n-head 6 --n-head-kv 2 --head-dim 16 --n-ff 300"
      " --ff-auto-adjust true --ff-multiplier 1.0 --ff-multiple-of 64 --attn-layers 1,3 --rope-theta 1000000 --seed 7";
  mkmodel(common + " --format hf -o " + dir + "/hf");
  mkmodel(common + " --format gguf -o " + dir + "/m.gguf");
  TensorStore weights;
  load_safetensors_folder(dir + "/hf", weights);
  ASSERT_EQ(weights.get("model.layers.0.feed_forward.w1.weight", "test").shape, (std::vector<int64_t>{256, 96}));
  ASSERT_EQ(weights.get("model.layers.0.conv.conv.weight", "test").shape, (std::vector<int64_t>{96, 1, 3}));

  const auto ids = random_prompt(29, 400, 11);
  const auto want = reference_logits(dir + "/hf", ids);
  EXPECT_LE(max_diff(nagi_logits(dir + "/hf", ids), want), kTolerance);
  EXPECT_LE(max_diff(nagi_logits(dir + "/hf", ids, 1), want), kTolerance);
  EXPECT_LE(max_diff(nagi_logits(dir + "/m.gguf", ids), want), kTolerance);
  EXPECT_LE(max_diff(nagi_logits(dir + "/m.gguf", ids, 1), want), kTolerance);
}

// Older LFM2 configs list attention layers as full_attn_idxs instead of layer_types.
TEST(Lfm2, FullAttnIdxsConfigMatchesReference) {
  const std::string dir = test::temp_dir() + "/hf";
  mkmodel("--arch lfm2 --n-vocab 400 --n-embd 64 --n-layer 4 --n-head 4 --n-head-kv 2 --head-dim 16 --n-ff 96"
          " --attn-layers 0,3 --seed 12 --format hf -o " + dir);
  auto config = read_config(dir);
  config.erase("layer_types");
  config["full_attn_idxs"] = {0, 3};
  std::ofstream(dir + "/config.json") << config.dump(2);
  const auto ids = random_prompt(12, 400, 8);
  EXPECT_LE(max_diff(nagi_logits(dir, ids), reference_logits(dir, ids)), kTolerance);
}

TEST(Lfm2, ConvBiasUntiedAndNullMultiplierMatchReference) {
  const std::string dir = test::temp_dir();
  // No multiplier: int(2*240/3) = 160 rows, no rounding.
  const std::string common =
      "--arch lfm2 --n-vocab 400 --n-embd 64 --n-layer 3 --n-head 4 --n-head-kv 4 --head-dim 16 --n-ff 240"
      " --ff-auto-adjust true --ff-multiplier 0 --attn-layers 2 --conv-bias true --tied false --seed 5";
  mkmodel(common + " --format hf -o " + dir + "/hf");
  mkmodel(common + " --format gguf -o " + dir + "/m.gguf");
  TensorStore weights;
  load_safetensors_folder(dir + "/hf", weights);
  ASSERT_EQ(weights.get("model.layers.0.feed_forward.w1.weight", "test").shape, (std::vector<int64_t>{160, 64}));
  ASSERT_NE(weights.find("model.layers.0.conv.conv.bias"), nullptr);
  ASSERT_NE(weights.find("lm_head.weight"), nullptr);
  const auto ids = random_prompt(17, 400, 3);
  const auto want = reference_logits(dir + "/hf", ids);
  EXPECT_LE(max_diff(nagi_logits(dir + "/hf", ids), want), kTolerance);
  EXPECT_LE(max_diff(nagi_logits(dir + "/m.gguf", ids, 1), want), kTolerance);
}

int ff_of(nlohmann::json extra) {
  nlohmann::json c = {{"model_type", "lfm2"}, {"vocab_size", 400}, {"hidden_size", 64}, {"num_hidden_layers", 2},
                      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"layer_types", {"conv", "full_attention"}}};
  if (!extra.is_null()) c.update(extra);
  return spec_from_hf(c, "config.json").layers[0].n_ff;
}

// Expected sizes worked out by hand from Lfm2MLP.__init__ (int() truncates).
TEST(Lfm2, FeedForwardSizeRule) {
  // LiquidAI/LFM2-350M: int(2*6656/3) = 4437, x1.0, up to a multiple of 256 = 4608.
  EXPECT_EQ(ff_of({{"block_ff_dim", 6656}, {"intermediate_size", 6656}, {"block_auto_adjust_ff_dim", true},
                   {"block_ffn_dim_multiplier", 1.0}, {"block_multiple_of", 256}}), 4608);
  // LiquidAI/LFM2-1.2B: int(2*12288/3) = 8192, already a multiple of 256.
  EXPECT_EQ(ff_of({{"block_ff_dim", 12288}, {"block_auto_adjust_ff_dim", true}, {"block_ffn_dim_multiplier", 1.0},
                   {"block_multiple_of", 256}}), 8192);
  EXPECT_EQ(ff_of({{"block_ff_dim", 300}, {"block_auto_adjust_ff_dim", false}}), 300);
  EXPECT_EQ(ff_of({{"block_ff_dim", 300}, {"block_ffn_dim_multiplier", nullptr}}), 200);
  EXPECT_EQ(ff_of({{"block_ff_dim", 300}, {"block_ffn_dim_multiplier", 1.5}, {"block_multiple_of", 64}}), 320);
  // block_ff_dim wins over intermediate_size; without it intermediate_size is used.
  EXPECT_EQ(ff_of({{"block_ff_dim", 300}, {"intermediate_size", 999}, {"block_multiple_of", 64}}), 256);
  EXPECT_EQ(ff_of({{"intermediate_size", 600}}), 512);
  // Defaults (transformers): auto-adjust on, multiplier 1.0, multiple of 256, intermediate_size 12288.
  EXPECT_EQ(ff_of(nlohmann::json::object()), 8192);
}

TEST(Lfm2, ConfigErrorsNameTheField) {
  auto message = [](nlohmann::json c) -> std::string {
    try {
      spec_from_hf(c, "/m/config.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  nlohmann::json good = {{"model_type", "lfm2"}, {"vocab_size", 400}, {"hidden_size", 64}, {"num_hidden_layers", 2},
                         {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"layer_types", {"conv", "full_attention"}}};
  EXPECT_EQ(message(good), "no error");
  auto with = [&](const char* k, nlohmann::json v) { auto c = good; c[k] = v; return c; };
  EXPECT_NE(message(with("layer_types", {"conv", "mamba"})).find("'layer_types'"), std::string::npos);
  EXPECT_NE(message(with("layer_types", {"conv"})).find("'layer_types'"), std::string::npos);
  EXPECT_NE(message(with("full_attn_idxs", {0, 7})).find("no error"), std::string::npos);  // layer_types wins
  auto no_types = good;
  no_types.erase("layer_types");
  no_types["full_attn_idxs"] = {0, 7};
  EXPECT_NE(message(no_types).find("'full_attn_idxs'"), std::string::npos);
  EXPECT_NE(message(with("block_ffn_dim_multiplier", "big")).find("'block_ffn_dim_multiplier'"), std::string::npos);
  EXPECT_NE(message(with("conv_L_cache", 0)).find("'conv_L_cache'"), std::string::npos);
  EXPECT_NE(message(with("hidden_size", "64")).find("'hidden_size'"), std::string::npos);
  auto missing = good;
  missing.erase("num_hidden_layers");
  EXPECT_NE(message(missing).find("'num_hidden_layers'"), std::string::npos);
}

TEST(Lfm2, WrongConvKernelShapeIsAnErrorNamingTheTensor) {
  const std::string dir = test::temp_dir();
  mkmodel("--arch lfm2 --n-vocab 400 --n-embd 64 --n-layer 2 --n-head 4 --n-head-kv 2 --head-dim 16 --n-ff 96"
          " --attn-layers 1 --format hf -o " + dir + "/hf");
  auto config = read_config(dir + "/hf");
  config["conv_L_cache"] = 4;  // the stored kernel has 3 taps
  std::ofstream(dir + "/hf/config.json") << config.dump(2);
  try {
    Model::load(dir + "/hf");
    FAIL() << "loaded a conv kernel of the wrong length";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv.conv.weight"), std::string::npos) << e.what();
  }
}

// Truncation is exact while the rows the new end needs are still in the
// ring, and refused (state untouched) beyond the margin; a snapshot holds the
// last l_cache-1 rows and the length.
TEST(Lfm2, ConvStateTruncatesWithinItsMarginOnly) {
  const int m = ShortConvState::kRollbackMargin;
  ShortConvState s(/*n_embd=*/4, /*l_cache=*/3);
  EXPECT_TRUE(s.truncate(10, 0));
  EXPECT_TRUE(s.truncate(m + 2, 1));   // row 0 would be overwritten by position m+2 (capacity)
  EXPECT_FALSE(s.truncate(m + 3, 1));  // ... which has been evaluated
  EXPECT_TRUE(s.truncate(1000, 1000 - m));
  EXPECT_FALSE(s.truncate(1000, 1000 - m - 1));
  EXPECT_FALSE(s.truncate(1000, 500));
  for (int i = 0; i < 4; ++i) s.row(998)[i] = 1.f + i, s.row(999)[i] = 5.f + i;
  ASSERT_TRUE(s.truncate(1000, 1000));
  std::vector<float> saved;
  s.save(saved);
  ASSERT_EQ(saved.size(), 1u + 2 * 4);
  EXPECT_EQ(saved[0], 1000.f);
  EXPECT_EQ(saved[1], 1.f);
  EXPECT_EQ(saved[8], 8.f);
  s.clear();
  EXPECT_EQ(s.row(999)[0], 0.f);
  s.restore(saved);
  EXPECT_EQ(s.row(998)[3], 4.f);
  EXPECT_EQ(s.row(999)[0], 5.f);
}

// The conv state truncates exactly only within its margin; rolling back
// further restores a snapshot (or the empty state) and replays.
TEST(Lfm2, RollbackBeyondTheConvMarginReplays) {
  if (!test::has_shared()) GTEST_SKIP() << "fixtures not found at " << test::shared_dir();
  auto model = Model::load(test::shared_path("models/synthetic/lfm2.gguf"));
  const auto ids = random_prompt(150, 512, 21);
  const auto next = random_prompt(6, 512, 22);
  for (int keep : {0, 1, 2, 20, 149}) {
    Session s(model, {.n_threads = 2});
    s.eval(std::span<const int32_t>(ids).first(100), false);
    for (size_t i = 100; i < ids.size(); ++i) s.eval(std::span<const int32_t>(&ids[i], 1), false);
    s.rollback(keep);
    ASSERT_EQ(s.n_past(), keep);
    const auto got = s.eval(next, true);
    Session fresh(model, {.n_threads = 2});
    if (keep > 0) fresh.eval(std::span<const int32_t>(ids).first(keep), false);
    const auto want = fresh.eval(next, true);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_LE(test::max_abs_diff(got.data(), want.data(), got.size()), 1e-4f) << "kept " << keep;
  }
}

}  // namespace
}  // namespace nagi

namespace nagi {
namespace {

// A chat turn that keeps less than the conv margin allows: generate()
// snapshots after its prefill, so the next turn restores that snapshot (the
// conv rows and the length) and replays only the kept tokens after it.
TEST(Lfm2, NextTurnRestoresThePrefillSnapshot) {
  if (!test::has_shared()) GTEST_SKIP() << "fixtures not found at " << test::shared_dir();
  auto model = Model::load(test::shared_path("models/synthetic/lfm2.gguf"));
  GenerateOptions opt;
  opt.max_tokens = 80;
  opt.ignore_eos = true;
  opt.sampling.temperature = 0;
  opt.reuse_prefix = true;
  const auto turn1 = random_prompt(100, 512, 31);
  Session s(model, {.n_threads = 2});
  const auto r1 = s.generate(turn1, opt);
  ASSERT_EQ(r1.ids.size(), 80u);
  // Keep 110 of the ~179 evaluated tokens: 69 back, beyond the 64-row margin.
  std::vector<int32_t> turn2(turn1);
  turn2.insert(turn2.end(), r1.ids.begin(), r1.ids.begin() + 10);
  const auto more = random_prompt(8, 512, 32);
  turn2.insert(turn2.end(), more.begin() + 1, more.end());
  opt.max_tokens = 20;
  const auto r2 = s.generate(turn2, opt);
  EXPECT_EQ(r2.n_reused, 110);
  Session fresh(model, {.n_threads = 2});
  opt.reuse_prefix = false;
  EXPECT_EQ(fresh.generate(turn2, opt).ids, r2.ids);
  // The same logits, not only the same argmax.
  const auto probe = random_prompt(3, 512, 33);
  const auto got = s.eval(probe, true);
  const auto want = fresh.eval(probe, true);
  EXPECT_LE(test::max_abs_diff(got.data(), want.data(), got.size()), 1e-4f);
}

}  // namespace
}  // namespace nagi

#include "format/gguf_writer.h"

namespace nagi {
namespace {

using test::rewrite_gguf;

std::string load_error(const std::string& path) {
  try {
    Model::load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Lfm2, GgufMetadataErrorsNameTheKey) {
  const std::string dir = test::temp_dir();
  mkmodel("--arch lfm2 --n-vocab 400 --n-embd 64 --n-layer 3 --n-head 4 --n-head-kv 2 --head-dim 16 --n-ff 96"
          " --attn-layers 1 --format gguf -o " + dir + "/m.gguf");
  ASSERT_EQ(load_error(dir + "/m.gguf"), "no error");

  GgufValue short_array{.type = GgufType::kArray, .elem_type = GgufType::kI32,
                        .value = GgufArray{.ints = {0, 2}}};
  rewrite_gguf(dir + "/m.gguf", dir + "/short.gguf", "lfm2.attention.head_count_kv", &short_array);
  EXPECT_NE(load_error(dir + "/short.gguf").find("'lfm2.attention.head_count_kv'"), std::string::npos)
      << load_error(dir + "/short.gguf");

  GgufValue three{.type = GgufType::kI32, .value = int64_t(3)};  // does not divide 4 heads
  rewrite_gguf(dir + "/m.gguf", dir + "/kv3.gguf", "lfm2.attention.head_count_kv", &three);
  EXPECT_NE(load_error(dir + "/kv3.gguf").find("'lfm2.attention.head_count_kv'"), std::string::npos);

  rewrite_gguf(dir + "/m.gguf", dir + "/nocache.gguf", "lfm2.shortconv.l_cache", nullptr);
  EXPECT_NE(load_error(dir + "/nocache.gguf").find("'lfm2.shortconv.l_cache'"), std::string::npos);

  rewrite_gguf(dir + "/m.gguf", dir + "/nonorm.gguf", "", nullptr, "token_embd_norm.weight");
  EXPECT_NE(load_error(dir + "/nonorm.gguf").find("nonorm.gguf: missing tensor 'token_embd_norm.weight'"), std::string::npos)
      << load_error(dir + "/nonorm.gguf");

  rewrite_gguf(dir + "/m.gguf", dir + "/noconv.gguf", "", nullptr, "blk.0.shortconv.conv.weight");
  EXPECT_NE(load_error(dir + "/noconv.gguf").find("blk.0.shortconv.conv.weight"), std::string::npos);
}

}  // namespace
}  // namespace nagi
