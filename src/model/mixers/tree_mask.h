// Attention masks for tree batches (speculative decoding verifies several
// candidate continuations in one pass; see Batch in mixer.h).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "model/mixer.h"

namespace nagi {

// mask[t * n + j] = 1 when batch entry j is t itself or one of its ancestors.
inline std::vector<uint8_t> ancestor_mask(const Batch& b) {
  const size_t n = static_cast<size_t>(b.n);
  std::vector<uint8_t> mask(n * n, 0);
  for (int t = 0; t < b.n; ++t) {
    for (int j = t; j >= 0; j = b.parent[j]) mask[size_t(t) * n + size_t(j)] = 1;
  }
  return mask;
}

// Sets the scores of the batch entries t may not see (columns 0..t of the
// batch, starting at `scores`) to -inf: softmax gives them weight exactly 0,
// so the visible rows are weighted exactly as in a chain of the same path.
inline void mask_non_ancestors(const std::vector<uint8_t>& mask, int n, int t, float* scores) {
  for (int j = 0; j <= t; ++j) {
    if (!mask[size_t(t) * size_t(n) + size_t(j)]) scores[j] = -std::numeric_limits<float>::infinity();
  }
}

}  // namespace nagi
