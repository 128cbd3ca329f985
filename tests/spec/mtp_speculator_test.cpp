// MtpSpeculator's bookkeeping: which of the head's cache entries survive a
// verification pass. A speculator that went through proposals whose drafts
// were (partly) rejected must propose exactly what a fresh one proposes when
// it is given the same hidden states at once: the draft steps are rolled back
// and the accepted positions rebuilt from the target's real hidden states.
#include <gtest/gtest.h>

#include <random>

#include "base/thread_pool.h"
#include "model/load.h"
#include "model/transformer.h"
#include "nagi/error.hpp"
#include "spec/mtp_speculator.h"
#include "test_support.h"

namespace nagi {
namespace {

const std::string kTiny =
    "--arch qwen35 --n-vocab 400 --n-embd 64 --n-layer 4 --n-head 4 --n-head-kv 2 --head-dim 16 --n-rot 8 "
    "--n-ff 96 --linear-k-heads 2 --linear-v-heads 4 --linear-head-dim 16 --full-attention-interval 2 "
    "--tied false --mtp-layers 1 --seed 4";

class MtpSpeculatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = test::temp_dir();
    ASSERT_EQ(test::run_mkmodel(kTiny + " --format gguf -o " + dir + "/m.gguf"), 0);
    path_ = dir + "/m.gguf";
    m_ = load_model(path_);
    target_ = std::make_unique<Transformer>(m_.spec, m_.tensors, path_);
    std::mt19937 rng(2);
    for (int i = 0; i < 40; ++i) ids_.push_back(3 + int(rng() % 397u));
    hidden_ = hidden_of(ids_);
  }
  // The target's hidden states of a whole sequence, one forward pass.
  std::vector<float> hidden_of(const std::vector<int32_t>& ids) {
    ModelState st = target_->new_state(128);
    Workspace ws;
    target_->forward(ids, st, ws, nullptr, false, pool_);
    const float* h = target_->last_hidden(ws, int(ids.size()));
    return std::vector<float>(h, h + ids.size() * size_t(d()));
  }
  int d() const { return m_.spec.n_embd; }
  std::span<const float> rows(int from, int n) const {
    return std::span<const float>(hidden_.data() + size_t(from) * d(), size_t(n) * d());
  }
  std::span<const int32_t> context(int len) const { return std::span<const int32_t>(ids_.data(), size_t(len)); }
  std::unique_ptr<MtpSpeculator> make(const SamplingParams& sp) {
    auto s = std::make_unique<MtpSpeculator>(m_.spec, m_.tensors, path_, 128, pool_);
    s->set_sampling(sp, false);
    return s;
  }

  std::string path_;
  LoadedModel m_;
  std::unique_ptr<Transformer> target_;
  ThreadPool pool_{2};
  std::vector<int32_t> ids_;
  std::vector<float> hidden_;
};

TEST_F(MtpSpeculatorTest, RolledBackHeadProposesLikeAFreshOne) {
  SamplingParams greedy;
  greedy.temperature = 0;
  SamplingParams hot;
  hot.temperature = 1.0f;
  hot.top_k = 0;
  hot.seed = 99;
  for (const SamplingParams& sp : {greedy, hot}) {
    // Prefill of 20 tokens, then verification passes keeping 1 + 3, 1 + 0
    // and 1 + 2 rows, each after a proposal of 5 tokens.
    auto a = make(sp);
    a->on_hidden_states(rows(0, 20), d(), 0);
    Draft draft;
    int len = 21;  // the context: prompt + the first sampled token
    for (int kept : {4, 1, 3}) {
      a->propose(context(len), 5, draft);
      EXPECT_EQ(draft.size(), 5);
      EXPECT_EQ(a->committed_entries(), len - 1);
      a->on_hidden_states(rows(len - 1, kept), d(), len - 1);
      len += kept;
    }
    a->propose(context(len), 5, draft);

    auto b = make(sp);
    b->on_hidden_states(rows(0, len - 1), d(), 0);
    Draft fresh;
    b->propose(context(len), 5, fresh);
    EXPECT_EQ(draft.tokens, fresh.tokens) << "temperature " << sp.temperature;
    EXPECT_EQ(a->entry_tokens(), b->entry_tokens());
    EXPECT_EQ(a->committed_entries(), b->committed_entries());
    EXPECT_EQ(a->committed_entries(), len - 1);
  }
}

TEST_F(MtpSpeculatorTest, ResentPositionsReplaceEarlierOnes) {
  // Rows sent again from an earlier position (a caller that re-evaluated
  // them) replace the head's entries from there on.
  SamplingParams greedy;
  greedy.temperature = 0;
  auto a = make(greedy);
  a->on_hidden_states(rows(0, 30), d(), 0);
  Draft draft;
  a->propose(context(31), 4, draft);
  std::vector<float> noise(rows(10, 20).begin(), rows(10, 20).end());
  for (float& v : noise) v = -v;
  a->on_hidden_states(noise, d(), 10);
  a->on_hidden_states(rows(10, 20), d(), 10);
  Draft again;
  a->propose(context(31), 4, again);
  EXPECT_EQ(a->committed_entries(), 30);
  auto b = make(greedy);
  b->on_hidden_states(rows(0, 30), d(), 0);
  Draft fresh;
  b->propose(context(31), 4, fresh);
  EXPECT_EQ(again.tokens, fresh.tokens);
}

TEST_F(MtpSpeculatorTest, NextTurnKeepsTheSharedPrefixAndRebuildsWhatChanged) {
  // A chat's next turn: the session rolls back to the prefix the new prompt
  // shares (15 tokens) and evaluates the rest; entry 14 paired h_14 with the
  // old token 15 and must be rebuilt, entries 0..13 stay.
  SamplingParams greedy;
  greedy.temperature = 0;
  std::vector<int32_t> ids2(ids_.begin(), ids_.begin() + 15);
  for (int i = 0; i < 10; ++i) ids2.push_back(3 + (ids_[size_t(15 + i)] + 50) % 397);
  const std::vector<float> hidden2 = hidden_of(ids2);
  const auto rows2 = [&](int from, int n) {
    return std::span<const float>(hidden2.data() + size_t(from) * d(), size_t(n) * d());
  };
  const auto context2 = std::span<const int32_t>(ids2.data(), ids2.size());

  auto a = make(greedy);
  a->on_hidden_states(rows(0, 20), d(), 0);
  Draft draft;
  a->propose(context(21), 4, draft);
  ASSERT_EQ(a->committed_entries(), 20);
  a->forget_from(15);
  a->on_hidden_states(rows2(15, 9), d(), 15);
  a->propose(context2, 4, draft);

  auto b = make(greedy);
  b->on_hidden_states(rows2(0, 24), d(), 0);
  Draft fresh;
  b->propose(context2, 4, fresh);
  EXPECT_EQ(draft.tokens, fresh.tokens);
  EXPECT_EQ(a->committed_entries(), 24);
  // Entries pair the right tokens (the drafts alone might not show a stale one).
  EXPECT_EQ(a->entry_tokens(), b->entry_tokens());
  EXPECT_EQ(std::vector<int32_t>(a->entry_tokens().begin(), a->entry_tokens().begin() + 24),
            std::vector<int32_t>(ids2.begin() + 1, ids2.end()));
}

TEST_F(MtpSpeculatorTest, ProposesNothingWithoutHiddenStatesForTheContextEnd) {
  SamplingParams greedy;
  greedy.temperature = 0;
  auto a = make(greedy);
  Draft draft;
  a->propose(context(10), 4, draft);
  EXPECT_TRUE(draft.empty()) << "no hidden states at all";
  a->on_hidden_states(rows(0, 5), d(), 0);
  a->propose(context(10), 4, draft);
  EXPECT_TRUE(draft.empty()) << "hidden states end at 4, the context at 9";
  a->propose(context(6), 4, draft);
  EXPECT_EQ(draft.size(), 4);
}

TEST_F(MtpSpeculatorTest, WrongHiddenWidthIsAnError) {
  auto a = make(SamplingParams{});
  std::vector<float> wrong(10, 0.f);
  EXPECT_THROW(a->on_hidden_states(wrong, 5, 0), Error);
}

}  // namespace
}  // namespace nagi
