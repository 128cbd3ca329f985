#include "model/repack.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "nagi/error.hpp"

namespace nagi {
namespace {

// NAGI_REPACK: unset (or "1"): plain blocks stay as mapped, stored
// superblocks go back to blocks where the table lacks x16 kernels; "0":
// keep the file's layout; "x16": also copy Q4_0 / Q8_0 into superblocks
// wherever the table has x16 kernels for them (to compare layouts, and to
// test the rewrite). No table asks for that copy by default: it cost more
// load time than it saved (docs/KERNELS.md, "Repacked layouts").
enum class RepackMode { kDefault, kOff, kX16 };

RepackMode repack_mode() {
  const char* env = std::getenv("NAGI_REPACK");
  if (env == nullptr || std::strcmp(env, "1") == 0) return RepackMode::kDefault;
  if (std::strcmp(env, "0") == 0) return RepackMode::kOff;
  if (std::strcmp(env, "x16") == 0) return RepackMode::kX16;
  throw Error(ErrorCode::kInvalidArgument,
              std::string("NAGI_REPACK=") + env + ": expected 0 (file layout), 1 (default) or x16");
}

}  // namespace

// Rewrites one 2-D tensor through `convert` (row by row, two halves at once:
// the copy is bound by page faults and memory, and load time counts) into a
// buffer the store owns. The file's pages are released as each stretch is
// copied, so the peak RSS stays one copy of the weights plus a stretch (not
// plus the largest tensor, the 150 MB embedding of a 0.6B model).
template <typename Convert>
void rewrite_rows(TensorStore& store, const std::string& name, DType to, Convert convert) {
  const TensorView& v = *store.find(name);
  uint8_t* dst = store.own_buffer(v.nbytes);
  const int64_t rows = v.shape[0], cols = v.shape[1];
  const size_t row_bytes = v.nbytes / size_t(rows);
  const uint8_t* src = v.data;
  const int64_t stretch = std::max<int64_t>(1, int64_t(4 << 20) / int64_t(row_bytes));  // rows per 4 MiB
  auto part = [&](int64_t r0, int64_t r1) {
    for (int64_t s0 = r0; s0 < r1; s0 += stretch) {
      const int64_t s1 = std::min(r1, s0 + stretch);
      for (int64_t r = s0; r < s1; ++r) convert(src + r * row_bytes, dst + r * row_bytes, cols);
      store.release_file_pages(src + s0 * row_bytes, size_t(s1 - s0) * row_bytes);
    }
  };
  if (rows >= 1024) {
    std::thread helper(part, rows / 2, rows);
    part(0, rows / 2);
    helper.join();
  } else {
    part(0, rows);
  }
  store.replace(name, to, dst, v.nbytes);
}

bool has_x16_paths(const Kernels& k, DType x16) {
  if (x16 == DType::kQ4_0x16) return k.dot_rows_q4_0x16 && k.gemm_q4_0x16;
  if (x16 == DType::kQ8_0x16) return k.dot_rows_q8_0x16 && k.gemm_q8_0x16;
  return false;
}

int repack_for_kernels(TensorStore& store, const Kernels& k) {
  const RepackMode mode = repack_mode();
  if (mode == RepackMode::kOff) return 0;
  std::vector<std::string> to_x16, to_blocks;
  for (const auto& [name, v] : store.all()) {
    if (v.shape.size() != 2) continue;
    const bool q4 = v.dtype == DType::kQ4_0 || v.dtype == DType::kI4G32;  // the same blocks
    const bool q8 = v.dtype == DType::kQ8_0 || v.dtype == DType::kI8G32;
    const bool wanted = mode == RepackMode::kX16 && (q4 || q8) && has_x16_paths(k, x16_of(v.dtype));
    if (wanted && v.shape[1] % 512 == 0) to_x16.push_back(name);
    // A file stored in superblocks (`nagi repack`) is kept where the kernels
    // have vector x16 paths for decode and prefill (`nagi repack --q4-0`
    // asks for Q4_0x16 on purpose); elsewhere it goes back to plain blocks,
    // which those kernels stream fastest.
    if ((v.dtype == DType::kQ4_0x16 || v.dtype == DType::kQ8_0x16) && !has_x16_paths(k, v.dtype)) {
      to_blocks.push_back(name);
    }
  }
  for (const std::string& name : to_x16) {
    const DType from = store.find(name)->dtype;
    rewrite_rows(store, name, x16_of(from), [from](const uint8_t* s, uint8_t* d, int64_t n) { repack_x16(from, s, d, n); });
  }
  for (const std::string& name : to_blocks) {
    const DType from = store.find(name)->dtype;
    rewrite_rows(store, name, blocks_of_x16(from),
                 [from](const uint8_t* s, uint8_t* d, int64_t n) { unpack_x16(from, s, d, n); });
  }
  return static_cast<int>(to_x16.size() + to_blocks.size());
}

}  // namespace nagi
