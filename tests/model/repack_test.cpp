// Q4_0 matrices rewritten as Q4_0x16 at load (model/repack.h) compute the
// same model: logits of a Q4_0 GGUF with and without the repacking, batched
// (GEMM) and token by token (GEMV). The kernels themselves are checked
// against the scalar references in tests/kernels.
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/kernels.h"
#include "model_compare.h"
#include "nagi/nagi.hpp"

namespace nagi {
namespace {

std::vector<float> logits_with_repack(const std::string& path, const std::vector<int32_t>& ids, bool repack,
                                      int chunk) {
  if (repack) {
    unsetenv("NAGI_REPACK");
  } else {
    setenv("NAGI_REPACK", "0", 1);
  }
  auto model = Model::load(path);
  unsetenv("NAGI_REPACK");
  Session session(model, {.n_threads = 2});
  std::vector<float> all;
  for (size_t i = 0; i < ids.size(); i += chunk) {
    const size_t n = std::min(ids.size() - i, size_t(chunk));
    auto rows = session.eval(std::span<const int32_t>(ids.data() + i, n), true);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  return all;
}

TEST(Repack, Q4_0ModelComputesTheSameAfterRepacking) {
  if (!kernels().repack_q4_0) GTEST_SKIP() << "the " << kernels().isa << " kernels use Q4_0 as stored";
  const std::string path = test::temp_dir() + "/q4_0_512.gguf";
  // 512-wide rows (one superblock), 1536-wide FFN rows (three): repacked;
  // the 1536-row down projection's 1536 columns too.
  test::mkmodel("--arch qwen3 --n-vocab 400 --n-embd 512 --n-layer 2 --n-head 4 --n-head-kv 2 --head-dim 128 "
          "--n-ff 1536 --n-ctx 64 --dtype q4_0 --format gguf -o " + path);
  const auto ids = test::random_prompt(20, 400, 3);
  for (int chunk : {20, 1}) {
    const auto plain = logits_with_repack(path, ids, false, chunk);
    const auto repacked = logits_with_repack(path, ids, true, chunk);
    ASSERT_EQ(plain.size(), repacked.size());
    float spread = 0, diff = 0;
    for (size_t i = 0; i < plain.size(); ++i) {
      spread = std::max(spread, std::abs(plain[i]));
      diff = std::max(diff, std::abs(plain[i] - repacked[i]));
    }
    // One batch runs the prefill GEMM, which reads both layouts into the
    // same panels: identical. Token by token, the GEMV kernels add the
    // per-block terms in another order; the ~1e-7 differences then flip
    // some int8 roundings of the next layers' activations, which moves the
    // logits about as much as batching does (plain Q4_0, 20 tokens at once
    // vs one by one: 1.2% of the spread), so that is the bound.
    EXPECT_LE(diff, (chunk == 20 ? 1e-6f : 3e-2f) * spread) << "chunk " << chunk;
  }
  // The model still reports what the file holds.
  const auto model = Model::load(path);
  bool saw_q4_0 = false;
  for (const auto& [name, count] : model->info().dtype_counts) saw_q4_0 |= name == "Q4_0";
  EXPECT_TRUE(saw_q4_0);
}

}  // namespace
}  // namespace nagi
