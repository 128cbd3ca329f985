// Speculative decoding verifies a chain of tokens in one pass and must get,
// bit for bit, the logits plain decoding gets one token at a time; a
// rollback's replay must leave the state plain decoding would have. With
// int8-quantized activations the usual batch kernels (GEMMs, attention
// tiles, the chunked delta rule) round differently, and one rounding
// difference that flips a quantization step moves a quantized model's
// logits by up to ~0.1. Transformer::forward(..., per_token = true) must
// avoid all of them. The models are random and quantized, shaped so that
// every batch path would be taken: 9 tokens of 2 q heads per KV head are 18
// query rows (the attention's row-by-row scoring stops at 8), the GEMMs start
// at 4 or 8 tokens, and 256 columns admit the K-quants.
#include <gtest/gtest.h>

#include <cstring>

#include "api/model_impl.h"
#include "base/thread_pool.h"
#include "nagi/nagi.hpp"
#include "test_support.h"

namespace nagi {
namespace {

struct Case {
  const char* name;
  const char* args;
};

constexpr const char* kDims = " --n-vocab 400 --n-embd 256 --n-head 4 --n-head-kv 2 --head-dim 64 --n-ff 512 --seed 5";
const Case kCases[] = {
    {"qwen3_q4_0", "--arch qwen3 --n-layer 3 --dtype q4_0"},
    {"llama_q4_k_m", "--arch llama --n-layer 3 --dtype q4_k_m"},
    {"lfm2_q8_0", "--arch lfm2 --n-layer 3 --attn-layers 1 --dtype q8_0"},
    {"qwen35_q4_0", "--arch qwen35 --n-layer 4 --n-rot 32 --linear-k-heads 2 --linear-v-heads 4 "
                    "--linear-head-dim 64 --full-attention-interval 2 --dtype q4_0"},
    {"gemma3_q4_0", "--arch gemma3 --n-layer 3 --sliding-window 8 --swa-pattern 2 --dtype q4_0"},
};

class PerTokenBatch : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const std::string path = test::temp_dir() + "/m.gguf";
    ASSERT_EQ(test::run_mkmodel(std::string(GetParam().args) + kDims + " --format gguf -o " + path), 0);
    model_ = Model::load(path);
  }
  const Transformer& tf() const { return *model_->impl().transformer; }
  int n_vocab() const { return tf().spec().n_vocab; }
  // The prompt as one batch (a prefill), into a fresh state.
  ModelState prefilled() {
    ModelState st = tf().new_state(64);
    tf().forward(prompt_, st, ws_, nullptr, false, pool_);
    return st;
  }
  // Logits of `ids` evaluated one token at a time on top of `st`.
  std::vector<float> one_by_one(ModelState& st, const std::vector<int32_t>& ids) {
    std::vector<float> out(ids.size() * size_t(n_vocab()));
    for (size_t i = 0; i < ids.size(); ++i) {
      tf().forward(std::span<const int32_t>(&ids[i], 1), st, ws_, out.data() + i * n_vocab(), true, pool_);
    }
    return out;
  }
  static bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  }

  std::shared_ptr<Model> model_;
  Workspace ws_;
  ThreadPool pool_{2};
  // A gemma3 window of 8 is passed by prompt and chain together.
  const std::vector<int32_t> prompt_ = {1, 17, 250, 3, 99, 42, 7, 180, 64, 5, 11, 200};
  const std::vector<int32_t> chain_ = {8, 150, 33, 270, 2, 91, 123, 45, 6};
};

TEST_P(PerTokenBatch, ChainMatchesOneTokenPassesBitForBit) {
  ModelState a = prefilled(), b = prefilled();
  std::vector<float> batched(chain_.size() * size_t(n_vocab()));
  tf().forward(chain_, a, ws_, batched.data(), true, pool_, {}, /*per_token=*/true);
  EXPECT_TRUE(same_bits(batched, one_by_one(b, chain_)));
  // The state it leaves is the same too: the next token's logits agree.
  const std::vector<int32_t> next = {77, 3};
  EXPECT_TRUE(same_bits(one_by_one(a, next), one_by_one(b, next)));
}

TEST_P(PerTokenBatch, RollbackLeavesTheStateOfOneTokenPasses) {
  // Plain: the first 5 chain tokens one by one. Speculative: all 9 verified
  // in a per-token batch, then rolled back to 5 (recurrent layers replay
  // the kept tokens from a snapshot).
  ModelState plain = prefilled(), spec = prefilled();
  const std::vector<int32_t> kept(chain_.begin(), chain_.begin() + 5);
  one_by_one(plain, kept);
  spec.snapshot();
  std::vector<float> rows(chain_.size() * size_t(n_vocab()));
  tf().forward(chain_, spec, ws_, rows.data(), true, pool_, {}, true);
  tf().rollback(spec, static_cast<int>(prompt_.size() + kept.size()), ws_, pool_, /*per_token=*/true);
  ASSERT_EQ(spec.tokens(), plain.tokens());
  const std::vector<int32_t> next = {77, 3, 260};
  EXPECT_TRUE(same_bits(one_by_one(spec, next), one_by_one(plain, next)));
}

TEST_P(PerTokenBatch, TreeNodesMatchTheirPathsBitForBit) {
  // Tree: a(-1) -> b, c ; b -> d ; c -> e -> f. Each node's logits must be
  // those of its root-to-node path evaluated one token at a time, and after
  // keeping a path the cache continues as that chain's would.
  ModelState tree = prefilled();
  if (!tree.can_keep_path()) GTEST_SKIP() << "recurrent or sliding-window layers verify chains only";
  const std::vector<int32_t> toks = {100, 101, 102, 103, 104, 105};
  const std::vector<int32_t> parents = {-1, 0, 0, 1, 2, 4};
  std::vector<float> rows(toks.size() * size_t(n_vocab()));
  tf().forward(toks, tree, ws_, rows.data(), true, pool_, parents, /*per_token=*/true);
  for (size_t t = 0; t < toks.size(); ++t) {
    std::vector<int32_t> path;
    for (int j = static_cast<int>(t); j >= 0; j = parents[size_t(j)]) path.insert(path.begin(), toks[size_t(j)]);
    ModelState chain = prefilled();
    const std::vector<float> want = one_by_one(chain, path);
    const std::vector<float> got(rows.begin() + t * n_vocab(), rows.begin() + (t + 1) * n_vocab());
    const std::vector<float> last(want.end() - n_vocab(), want.end());
    EXPECT_TRUE(same_bits(got, last)) << "node " << t;
  }
  tf().keep_path(tree, static_cast<int>(prompt_.size()), {0, 2, 4});
  ModelState chain = prefilled();
  one_by_one(chain, {100, 102, 104});
  const std::vector<int32_t> next = {77, 3};
  EXPECT_TRUE(same_bits(one_by_one(tree, next), one_by_one(chain, next)));
}

INSTANTIATE_TEST_SUITE_P(Models, PerTokenBatch, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace nagi
