#include "model/repack.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace nagi {
namespace {

bool repack_enabled() {
  const char* env = std::getenv("NAGI_REPACK");
  return env == nullptr || std::strcmp(env, "0") != 0;
}

}  // namespace

int repack_for_kernels(TensorStore& store, const Kernels& k) {
  if (!repack_enabled()) return 0;
  std::vector<std::string> names;
  for (const auto& [name, v] : store.all()) {
    const bool q4 = v.dtype == DType::kQ4_0 || v.dtype == DType::kI4G32;  // the same blocks
    const bool q8 = v.dtype == DType::kQ8_0 || v.dtype == DType::kI8G32;
    const bool wanted = (q4 && k.repack_q4_0) || (q8 && k.repack_q8_0);
    if (wanted && v.shape.size() == 2 && v.shape[1] % 512 == 0) names.push_back(name);
  }
  for (const std::string& name : names) {
    const TensorView& v = *store.find(name);
    const DType from = v.dtype;
    uint8_t* dst = store.own_buffer(v.nbytes);
    const int64_t rows = v.shape[0], cols = v.shape[1];
    const size_t row_bytes = v.nbytes / size_t(rows);
    const uint8_t* src = v.data;
    // Two halves at once: the copy is bound by page faults and memory, and
    // load time counts.
    auto part = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) repack_x16(from, src + r * row_bytes, dst + r * row_bytes, cols);
    };
    if (rows >= 1024) {
      std::thread helper(part, rows / 2, rows);
      part(0, rows / 2);
      helper.join();
    } else {
      part(0, rows);
    }
    store.replace(name, x16_of(from), dst, v.nbytes);
  }
  return static_cast<int>(names.size());
}

}  // namespace nagi
