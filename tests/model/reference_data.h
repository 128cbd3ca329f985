// Reading reference tensors (fixtures) for the model tests.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "format/tensor_store.h"

namespace nagi::test {

inline std::vector<float> tensor_f32(const TensorView& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  dequantize_row(t.dtype, t.data, v.data(), t.numel());
  return v;
}

inline std::vector<int32_t> tensor_i32(const TensorView& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  std::memcpy(v.data(), t.data, v.size() * sizeof(int32_t));
  return v;
}

inline float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0.f;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

inline int argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

}  // namespace nagi::test
