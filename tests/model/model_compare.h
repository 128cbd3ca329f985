// Shared steps of the tests that write a random-weight model with
// nagi-mkmodel and compare nagi's logits with a float64 reference
// (hf_reference.h, lfm2_reference.h, gemma3_reference.h, qwen35_reference.h).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "nagi/nagi.hpp"
#include "test_support.h"

namespace nagi::test {

// Bound on |nagi - reference| logits for models with BF16 weights (logits of
// magnitude ~1-5). Both round each matmul's input to bf16 (kernels/ops.h,
// round_to_bf16), nagi from its f32 activation and the reference from its
// f64 one. Now and then the two sit on either side of a rounding midpoint
// and round to neighbouring bf16 values, 2^-8 apart relative; a random
// network carries that on (measured up to 8.8e-3 for gemma3's tiny model).
// A wrong layout or kernel gives errors of order 1; that the rounding
// itself is right is checked exactly at the matmul level
// (tests/kernels: Matmul.MatchesReference, FloatGemmMatchesRows).
inline constexpr float kBf16Tolerance = 2.5e-2f;

// Runs nagi-mkmodel ARGS; a non-zero exit fails the test.
inline void mkmodel(const std::string& args) { ASSERT_EQ(run_mkmodel(args), 0) << "nagi-mkmodel " << args; }

// BOS (1) then n-1 ids drawn from [3, vocab).
inline std::vector<int32_t> random_prompt(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids = {1};
  for (int i = 1; i < n; ++i) ids.push_back(3 + int(rng() % uint32_t(vocab - 3)));
  return ids;
}

inline nlohmann::json read_config(const std::string& dir) {
  std::ifstream in(dir + "/config.json");
  return nlohmann::json::parse(in);
}

// Logits of the float64 reference Ref (constructed from config.json and the
// folder's safetensors) for the whole sequence.
template <class Ref>
std::vector<double> reference_logits(const std::string& dir, const std::vector<int32_t>& ids) {
  TensorStore weights;
  load_safetensors_folder(dir, weights);
  const auto config = read_config(dir);
  return Ref(config, weights).forward(ids);
}

inline float max_diff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return static_cast<float>(m);
}

// nagi's logits for every position: one batch (chunk 0) or batches of chunk
// tokens. K/V are kept in f32 unless `kv` says otherwise: the float64
// references these are compared with have no f16 cache rounding.
inline std::vector<float> nagi_logits(const std::string& path, const std::vector<int32_t>& ids, int chunk = 0,
                                      KvCacheType kv = KvCacheType::kF32) {
  auto model = Model::load(path);
  Session session(model, {.n_threads = 2, .kv_cache = kv});
  if (chunk == 0) return session.eval(ids, true);
  std::vector<float> all;
  for (size_t i = 0; i < ids.size(); i += chunk) {
    const size_t n = std::min(ids.size() - i, size_t(chunk));
    auto rows = session.eval(std::span<const int32_t>(ids.data() + i, n), true);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  return all;
}

}  // namespace nagi::test
