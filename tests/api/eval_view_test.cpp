// Session::eval_view returns the logits eval would copy out, in the session's
// own buffer: same values, same shape, for the last row and for all rows.
#include <gtest/gtest.h>

#include <vector>

#include "nagi/nagi.hpp"
#include "test_support.h"

namespace nagi {
namespace {

TEST(EvalView, GivesWhatEvalGives) {
  if (!test::has_shared()) GTEST_SKIP() << "fixtures not found at " << test::shared_dir();
  auto model = Model::load(test::shared_path("models/synthetic/qwen35.gguf"));
  const int n_vocab = model->info().n_vocab;
  const std::vector<int32_t> prompt = {5, 17, 3, 42}, next = {7, 11};
  Session a(model, {.n_threads = 2}), b(model, {.n_threads = 2});
  const std::vector<float> want_last = a.eval(prompt, false);
  const std::span<const float> got_last = b.eval_view(prompt, false);
  ASSERT_EQ(got_last.size(), size_t(n_vocab));
  EXPECT_EQ(std::vector<float>(got_last.begin(), got_last.end()), want_last);
  const std::vector<float> want_all = a.eval(next, true);
  const std::span<const float> got_all = b.eval_view(next, true);
  ASSERT_EQ(got_all.size(), next.size() * size_t(n_vocab));
  EXPECT_EQ(std::vector<float>(got_all.begin(), got_all.end()), want_all);
  // One token at a time (decode's deferred state updates) as well.
  for (int32_t id : {9, 2, 30}) {
    const std::vector<float> w = a.eval(std::span<const int32_t>(&id, 1), false);
    const std::span<const float> g = b.eval_view(std::span<const int32_t>(&id, 1), false);
    EXPECT_EQ(std::vector<float>(g.begin(), g.end()), w);
  }
}

}  // namespace
}  // namespace nagi
