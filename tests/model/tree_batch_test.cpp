// Tree batches (speculative decoding): every node of a tree evaluated in one
// pass must get the logits its root-to-node path gets as a plain chain, and
// keeping one path must leave the cache exactly as if only that path had
// been evaluated. The reference is the chain forward pass, which
// synthetic_test.cpp checks against llama.cpp.
#include <gtest/gtest.h>

#include "api/model_impl.h"
#include "base/thread_pool.h"
#include "nagi/nagi.hpp"
#include "test_support.h"

namespace nagi {
namespace {

class TreeBatch : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!test::has_shared()) GTEST_SKIP() << "fixtures not found at " << test::shared_dir();
    model_ = Model::load(test::shared_path(GetParam()));
  }
  const Transformer& tf() const { return *model_->impl().transformer; }
  std::vector<float> chain(const std::vector<int32_t>& ids) {
    ModelState st = tf().new_state(64);
    std::vector<float> out(ids.size() * size_t(tf().spec().n_vocab));
    tf().forward(ids, st, ws_, out.data(), true, pool_);
    return out;
  }
  std::shared_ptr<Model> model_;
  Workspace ws_;
  ThreadPool pool_{2};
};

TEST_P(TreeBatch, EveryNodeMatchesItsPathAsAChain) {
  const int V = tf().spec().n_vocab;
  const std::vector<int32_t> prefix = {1, 40, 41, 42, 43};
  // Tree: a(-1) -> b, c ; b -> d ; c -> e -> f
  const std::vector<int32_t> toks = {100, 101, 102, 103, 104, 105};
  const std::vector<int32_t> parents = {-1, 0, 0, 1, 2, 4};
  ModelState st = tf().new_state(64);
  tf().forward(prefix, st, ws_, nullptr, false, pool_);
  std::vector<float> rows(toks.size() * size_t(V));
  tf().forward(toks, st, ws_, rows.data(), true, pool_, parents);
  for (size_t t = 0; t < toks.size(); ++t) {
    std::vector<int32_t> path;
    for (int j = static_cast<int>(t); j >= 0; j = parents[size_t(j)]) path.insert(path.begin(), toks[size_t(j)]);
    std::vector<int32_t> ids = prefix;
    ids.insert(ids.end(), path.begin(), path.end());
    const auto want = chain(ids);
    const float* w = want.data() + (ids.size() - 1) * size_t(V);
    float diff = 0;
    for (int v = 0; v < V; ++v) diff = std::max(diff, std::abs(rows[t * size_t(V) + size_t(v)] - w[v]));
    EXPECT_LE(diff, 1e-5f) << "node " << t;
  }

  // Keep the path a -> c -> e, then continue: same as a chain of it.
  tf().keep_path(st, static_cast<int>(prefix.size()), {0, 2, 4});
  ASSERT_EQ(st.n_past(), 8);
  EXPECT_EQ(st.tokens(), (std::vector<int32_t>{1, 40, 41, 42, 43, 100, 102, 104}));
  const std::vector<int32_t> next = {7, 8};
  std::vector<float> got(2 * size_t(V));
  tf().forward(next, st, ws_, got.data(), true, pool_);
  const auto want = chain({1, 40, 41, 42, 43, 100, 102, 104, 7, 8});
  float diff = 0;
  for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, std::abs(got[i] - want[8 * size_t(V) + i]));
  EXPECT_LE(diff, 1e-5f);
}

TEST_P(TreeBatch, MalformedParentsAreRejected) {
  ModelState st = tf().new_state(16);
  std::vector<int32_t> toks = {5, 6};
  EXPECT_THROW(tf().forward(toks, st, ws_, nullptr, false, pool_, std::vector<int32_t>{-1, 1}), Error);
  EXPECT_THROW(tf().forward(toks, st, ws_, nullptr, false, pool_, std::vector<int32_t>{-1}), Error);
}

TEST(TreeBatchRefused, RecurrentAndSlidingWindowModelsVerifyChainsOnly) {
  if (!test::has_shared()) GTEST_SKIP();
  for (const char* name : {"lfm2", "qwen35", "gemma3"}) {
    auto model = Model::load(test::shared_path(std::string("models/synthetic/") + name + ".gguf"));
    const Transformer& tf = *model->impl().transformer;
    Workspace ws;
    ThreadPool pool(1);
    ModelState st = tf.new_state(64);
    tf.forward(std::vector<int32_t>{1, 5, 6}, st, ws, nullptr, false, pool);
    EXPECT_FALSE(st.can_keep_path()) << name;
    try {
      tf.forward(std::vector<int32_t>{7, 8}, st, ws, nullptr, false, pool, std::vector<int32_t>{-1, -1});
      ADD_FAILURE() << name << ": tree batch accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << name;
    }
    EXPECT_EQ(st.n_past(), 3) << name;  // nothing was evaluated
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TreeBatch,
                         ::testing::Values("models/stories260K/stories260K.gguf",
                                           "models/synthetic/llama.gguf",
                                           "models/synthetic/qwen3.gguf"),
                         [](const auto& info) { return test::model_param_name(info.param); });

}  // namespace
}  // namespace nagi
