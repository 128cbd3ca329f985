// Rolling a session back must leave it exactly as if the dropped tokens had
// never been evaluated, for every kind of layer state. Each model below is
// driven through: evaluate a prefix, evaluate more, roll back k, evaluate a
// different continuation; its logits must equal those of a fresh session fed
// only prefix + continuation. The tolerance is tight (1e-4): the paths differ
// only in how tokens are batched, which moves f32 logits by ~1e-6.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <numeric>

#include "nagi/nagi.hpp"
#include "test_support.h"

namespace nagi {
namespace {

constexpr float kTolerance = 1e-4f;
// f16 / int8 K/V: the batching's ~1e-6 differences can flip a stored value's
// rounding by one step, so the paths agree to a fraction of the storage's
// own error (f16 ~1e-2, int8 ~0.1 on these logits, see
// F16AndInt8KvStayCloseToF32), not to 1e-4.
constexpr float kRoundedKvTolerance = 2e-3f;

std::vector<int32_t> ids_from(int first, int n, int n_vocab) {
  std::vector<int32_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = 3 + (first + 37 * i) % (n_vocab - 3);
  return ids;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class Rollback : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!test::has_shared()) GTEST_SKIP() << "fixtures not found at " << test::shared_dir();
    model_ = Model::load(test::shared_path(GetParam()));
    n_vocab_ = model_->info().n_vocab;
  }
  // For each k: evaluate PREFIX, then DROPPED one token at a time (as
  // generation does), roll the last k tokens back and evaluate NEXT; the
  // logits must match a fresh session fed the kept tokens then NEXT.
  void expect_rollback_matches_fresh(const std::vector<int32_t>& prefix, const std::vector<int32_t>& dropped,
                                     const std::vector<int32_t>& next, std::initializer_list<int> ks) {
    for (int k : ks) {
      Session s(model_, {.n_threads = 2, .kv_cache = kv_});
      s.eval(prefix, false);
      for (int32_t id : dropped) s.eval(std::span<const int32_t>(&id, 1), false);
      const int keep = static_cast<int>(prefix.size() + dropped.size()) - k;
      s.rollback(keep);
      ASSERT_EQ(s.n_past(), keep);
      const std::vector<int32_t> kept(s.tokens().begin(), s.tokens().end());
      const auto got = s.eval(next, true);

      Session fresh(model_, {.n_threads = 2, .kv_cache = kv_});
      fresh.eval(kept, false);
      const auto want = fresh.eval(next, true);
      ASSERT_EQ(got.size(), want.size());
      float diff = 0;
      for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, std::abs(got[i] - want[i]));
      EXPECT_LE(diff, kv_ == KvCacheType::kF16 || kv_ == KvCacheType::kQ8 ? kRoundedKvTolerance : kTolerance) << "rolled back " << k;
    }
  }
  std::shared_ptr<Model> model_;
  int n_vocab_ = 0;
  KvCacheType kv_ = KvCacheType::kAuto;
};

TEST_P(Rollback, RollBackThenContinueEqualsNeverHavingGenerated) {
  const auto prefix = ids_from(11, 9, n_vocab_);
  const auto dropped = ids_from(50, 7, n_vocab_);
  const auto next = ids_from(90, 5, n_vocab_);
  // Keep the first 7-k dropped tokens, forget the last k.
  expect_rollback_matches_fresh(prefix, dropped, next, {1, 3, 7});
}

// A prefix longer than a sliding-window layer's ring (Gemma 3 fixture: window
// 8 + margin 64 = 72 rows), so the ring has wrapped: rolling back within the
// margin truncates, further back the model replays.
TEST_P(Rollback, RollBackAcrossARingWrap) {
  const auto prefix = concat({1}, ids_from(13, 99, n_vocab_));
  const auto dropped = ids_from(60, 7, n_vocab_);
  const auto next = ids_from(95, 5, n_vocab_);
  expect_rollback_matches_fresh(prefix, dropped, next, {1, 7, 70, 100});
}

// A prompt longer than SessionOptions::prefill_batch runs in stretches when
// only the last logits are wanted: the same logits and the same state (the
// next tokens see the same cache) as the prompt in one pass, for every kind
// of layer state (a stretch of 37 also splits DeltaNet's chunked form and
// wraps Gemma's sliding-window ring between stretches).
TEST_P(Rollback, LongPromptInStretchesMatchesOnePass) {
  Session probe(model_, {.n_threads = 1});
  const int n = std::min(200, probe.n_ctx() - 8);
  const auto prompt = concat({1}, ids_from(21, n - 1, n_vocab_));
  const auto next = ids_from(77, 4, n_vocab_);
  Session stretched(model_, {.n_ctx = n + 8, .n_threads = 2, .prefill_batch = 37});
  Session one_pass(model_, {.n_ctx = n + 8, .n_threads = 2, .prefill_batch = 0});
  const auto got = stretched.eval(prompt, false);
  const auto all = one_pass.eval(prompt, true);  // all rows' logits: one pass
  ASSERT_EQ(stretched.n_past(), n);
  const int v = n_vocab_;
  const bool rounded_kv = stretched.kv_cache() != KvCacheType::kF32;
  const float tol = rounded_kv ? kRoundedKvTolerance : kTolerance;
  float diff = 0;
  for (int i = 0; i < v; ++i) diff = std::max(diff, std::abs(got[i] - all[size_t(n - 1) * v + i]));
  EXPECT_LE(diff, tol) << "last prompt row";
  const auto got_next = stretched.eval(next, true), want_next = one_pass.eval(next, true);
  diff = 0;
  for (size_t i = 0; i < got_next.size(); ++i) diff = std::max(diff, std::abs(got_next[i] - want_next[i]));
  EXPECT_LE(diff, tol) << "tokens after the prompt";
}

TEST_P(Rollback, RollBackToZeroAndPastTheEndIsRejected) {
  Session s(model_, {.n_threads = 1});
  s.eval(ids_from(5, 4, n_vocab_), false);
  EXPECT_THROW(s.rollback(5), Error);
  EXPECT_THROW(s.rollback(-1), Error);
  s.rollback(0);
  EXPECT_EQ(s.n_past(), 0);
  EXPECT_TRUE(s.tokens().empty());
}

TEST_P(Rollback, GenerateWithPrefixReuseMatchesFreshGeneration) {
  const auto turn1 = concat({1}, ids_from(7, 10, n_vocab_));
  GenerateOptions opt;
  opt.max_tokens = 12;
  opt.ignore_eos = true;
  opt.sampling.temperature = 0;
  opt.reuse_prefix = true;
  Session s(model_, {.n_threads = 2});
  const auto r1 = s.generate(turn1, opt);
  // The next turn: the first prompt, what was generated, and new text.
  const auto turn2 = concat(concat(turn1, r1.ids), ids_from(200, 6, n_vocab_));
  const auto r2 = s.generate(turn2, opt);
  // Only the last generated token (sampled but never evaluated) and the new
  // text are prefilled.
  EXPECT_EQ(r2.n_reused, static_cast<int>(turn1.size() + r1.ids.size()) - 1);
  EXPECT_EQ(r2.n_prefill, static_cast<int>(turn2.size()) - r2.n_reused);

  Session fresh(model_, {.n_threads = 2});
  opt.reuse_prefix = false;
  const auto want = fresh.generate(turn2, opt);
  EXPECT_EQ(r2.ids, want.ids);
  EXPECT_EQ(want.n_reused, 0);

  // A turn that diverges early reuses only the shared part.
  const auto turn3 = concat(std::vector<int32_t>(turn1.begin(), turn1.begin() + 4), ids_from(300, 5, n_vocab_));
  opt.reuse_prefix = true;
  const auto r3 = s.generate(turn3, opt);
  EXPECT_EQ(r3.n_reused, 4);
  const auto want3 = fresh.generate(turn3, {.max_tokens = 12, .ignore_eos = true, .sampling = {.temperature = 0}});
  EXPECT_EQ(r3.ids, want3.ids);
}

// f16 and int8 K/V rows roll back exactly too (rows are stored and restored
// as bytes, rings included); heads that int8 cannot hold are refused.
TEST_P(Rollback, F16AndInt8KvRollBackExactly) {
  for (KvCacheType kv : {KvCacheType::kF16, KvCacheType::kQ8}) {
    kv_ = kv;
    if (kv == KvCacheType::kQ8 && model_->info().head_dim % 32 != 0) {
      EXPECT_THROW(Session(model_, {.kv_cache = kv}), Error);
      continue;
    }
    Session probe(model_, {.n_threads = 1, .kv_cache = kv});
    EXPECT_EQ(probe.kv_cache(), kv);
    expect_rollback_matches_fresh(ids_from(11, 9, n_vocab_), ids_from(50, 7, n_vocab_), ids_from(90, 5, n_vocab_),
                                  {1, 7});
    expect_rollback_matches_fresh(concat({1}, ids_from(13, 99, n_vocab_)), ids_from(60, 7, n_vocab_),
                                  ids_from(95, 5, n_vocab_), {3, 100});
  }
}

// What storing K/V in f16 or int8 costs in logits, against f32 rows: a
// fraction of the logits' spread, growing with the coarser type.
TEST_P(Rollback, F16AndInt8KvStayCloseToF32) {
  const auto ids = concat({1}, ids_from(21, 40, n_vocab_));
  Session exact(model_, {.n_threads = 2, .kv_cache = KvCacheType::kF32});
  const auto want = exact.eval(ids, true);
  float spread = 0;
  for (float v : want) spread = std::max(spread, std::abs(v));
  for (auto [kv, rel] : {std::pair{KvCacheType::kF16, 2e-3f}, std::pair{KvCacheType::kQ8, 5e-2f}}) {
    if (kv == KvCacheType::kQ8 && model_->info().head_dim % 32 != 0) continue;
    Session s(model_, {.n_threads = 2, .kv_cache = kv});
    const auto got = s.eval(ids, true);
    float diff = 0;
    for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, std::abs(got[i] - want[i]));
    EXPECT_LE(diff, rel * spread) << kv_cache_type_name(kv);
    EXPECT_GT(diff, 0.f) << kv_cache_type_name(kv) << ": rows not stored as " << kv_cache_type_name(kv) << "?";
    std::printf("[ kv %s ] max |logit diff| %.3g of spread %.3g\n", std::string(kv_cache_type_name(kv)).c_str(), diff,
                spread);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Rollback,
                         ::testing::ValuesIn(test::fixture_models()),
                         [](const auto& info) { return test::model_param_name(info.param); });

}  // namespace
}  // namespace nagi
