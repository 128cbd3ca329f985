#include "model/weights.h"

#include "nagi/error.hpp"

namespace nagi {

const TensorView& expect_weight(const TensorStore& store, const std::string& name,
                                const std::vector<int64_t>& shape, const std::string& what) {
  const TensorView& t = store.get(name, what);
  if (t.shape != shape) {
    throw Error(ErrorCode::kFormat, t.source + ": shape " + t.shape_str() + ", expected " +
                                        shape_string(shape));
  }
  if (!dtype_info(t.dtype).is_float) {
    throw Error(ErrorCode::kFormat, t.source + ": dtype " + std::string(dtype_name(t.dtype)) +
                                        " cannot be used as a weight");
  }
  auto bytes = dtype_bytes(t.dtype, static_cast<uint64_t>(t.numel()));
  if (!bytes || *bytes != t.nbytes) {
    throw Error(ErrorCode::kFormat, t.source + ": " + std::to_string(t.nbytes) +
                                        " bytes do not hold " + t.shape_str() + " of " +
                                        std::string(dtype_name(t.dtype)));
  }
  return t;
}

Matrix bind_matrix(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols,
                   const std::string& what) {
  const TensorView& t = expect_weight(store, name, {rows, cols}, what);
  auto row_bytes = dtype_bytes(t.dtype, static_cast<uint64_t>(cols));
  if (!row_bytes) {
    throw Error(ErrorCode::kFormat, t.source + ": rows of " + std::to_string(cols) +
                                        " values are not whole " +
                                        std::string(dtype_name(t.dtype)) + " blocks");
  }
  return Matrix{t.dtype, rows, cols, *row_bytes, t.data};
}

std::vector<float> bind_floats(const TensorStore& store, const std::string& name,
                               const std::vector<int64_t>& shape, const std::string& what) {
  const TensorView& t = expect_weight(store, name, shape, what);
  std::vector<float> v(static_cast<size_t>(t.numel()));
  dequantize_row(t.dtype, t.data, v.data(), t.numel());
  return v;
}

}  // namespace nagi
