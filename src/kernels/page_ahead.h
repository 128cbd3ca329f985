// Touching the weight stream a few pages ahead of a decode kernel.
//
// A decode matmul streams each weight row once from DRAM. Hardware
// prefetchers generally stop at a 4 KiB page, so the stream restarts at
// every page boundary, and with 4 KiB mappings (a page cache in small folios)
// the page walk for the next page starts only when the kernel reaches it.
// One software prefetch per page, a couple of pages ahead, starts both early
// (that this is the mechanism is our reading of the measurements below:
// denser prefetching gains less, so it is not the data that was missing). Measured on a 2-core Zen 5 (a decode-
// shaped sweep of Qwen3-0.6B's matrices from 4 KiB pages, 2 threads): F16
// 43-44 -> 53-57 GB/s, Q4_0 34-35 -> 40 GB/s. More than one prefetch per
// page, or every second page only, gave less (docs/KERNELS.md).
//
// Included by the x86 kernel files, each compiled with its own ISA flags:
// the anonymous namespace gives every file its own copy, so the linker never
// picks one file's instructions for another's callers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nagi {
namespace {

inline constexpr uintptr_t kPageAheadBytes = 8192;
inline constexpr uintptr_t kStreamPageBytes = 4096;

// Walks one row range: before() is called with the end of the bytes the
// kernel is about to read and prefetches one line of every page up to
// kPageAheadBytes past it. Addresses are kept as integers: the prefetched
// ones may lie past the matrix (a prefetch never faults).
class PageAhead {
 public:
  explicit PageAhead(const uint8_t* start) : next_(reinterpret_cast<uintptr_t>(start)) {}

  void before(const uint8_t* end) {
    for (const uintptr_t e = reinterpret_cast<uintptr_t>(end); next_ < e; next_ += kStreamPageBytes) {
      __builtin_prefetch(reinterpret_cast<const void*>(next_ + kPageAheadBytes));
    }
  }

 private:
  uintptr_t next_;
};

// Calls f(r, row) for the rows [0, n_rows) of w in order, one PageAhead
// step before each: the row loop of the one-row-at-a-time kernels.
template <class F>
inline void for_each_row_ahead(const uint8_t* w, size_t row_bytes, int64_t n_rows, F&& f) {
  PageAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    ahead.before(row + row_bytes);
    f(r, row);
  }
}

}  // namespace
}  // namespace nagi
