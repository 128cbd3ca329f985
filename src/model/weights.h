// Binding weights from a TensorStore with every shape and dtype checked, so a
// lying file fails at load with the tensor's name and source, never later.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/tensor_store.h"
#include "kernels/ops.h"

namespace nagi {

// The tensor `name` with exactly `shape` (numpy order) and a float dtype whose
// byte count matches; throws Error(kFormat) naming the source otherwise.
const TensorView& expect_weight(const TensorStore& store, const std::string& name,
                                const std::vector<int64_t>& shape, const std::string& what);

// A [rows, cols] matrix kept in its stored dtype (rows must be whole blocks).
Matrix bind_matrix(const TensorStore& store, const std::string& name, int64_t rows,
                   int64_t cols, const std::string& what);

// A small tensor of `shape`, converted to f32 (norm weights, biases, conv kernels).
std::vector<float> bind_floats(const TensorStore& store, const std::string& name,
                               const std::vector<int64_t>& shape, const std::string& what);
inline std::vector<float> bind_vector(const TensorStore& store, const std::string& name,
                                      int64_t n, const std::string& what) {
  return bind_floats(store, name, {n}, what);
}

}  // namespace nagi
