// Requesting the weight stream ahead of a decode kernel.
//
// A decode matmul streams each weight row once from DRAM. Two ways:
//
// - PageAhead (float rows: F32, F16, BF16): one software prefetch per 4 KiB
//   page, 8 KiB ahead. Hardware prefetchers generally stop at a page, so the
//   stream restarts at every page boundary, and with 4 KiB mappings (a page
//   cache in small folios) the page walk for the next page starts only when
//   the kernel reaches it; one prefetch a couple of pages ahead starts both
//   early. Measured on a 2-core Zen 5 (a decode-shaped sweep of Qwen3-0.6B's
//   matrices from 4 KiB pages, 2 threads): F16 43-44 -> 53-57 GB/s.
//
// - LineAhead (quantized rows): every 64-byte line, line_ahead_bytes ahead
//   (4-12 KiB, plain or non-temporal, tuned while a model decodes:
//   kernels/line_ahead.h). A core
//   streams less from DRAM the more arithmetic it does per byte, even with
//   arithmetic to spare (a synthetic one-thread read with 2-4 vpdpbusd per
//   line lost 7-10% of the bare loop's rate, docs/PERFORMANCE.md), and the
//   quantized kernels do several times the work per byte of the float
//   ones. Requesting every line ahead keeps the lines in flight that the
//   kernel's own loads no longer do. In-process decode A/B on a Zen 5
//   (alternating rounds of 64 tokens, LineAhead at 4 KiB against
//   PageAhead): Qwen3 Q4_0 +7.4%, Q4_K_M +6.8%, Q8_0 +1.9%; LFM2 Q4_0
//   +11%; Qwen3.5 Q4_K_M +5%; Gemma-3 Q8_0 +8%; the AVX2-VNNI level +6.7%
//   to +8.1%. Every other line instead cost 21%. For F16 rows it cost
//   2-6%: they already stream near the bare rate.
//
// Included by the x86 kernel files, each compiled with its own ISA flags:
// the anonymous namespace gives every file its own copy, so the linker never
// picks one file's instructions for another's callers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/line_ahead_bytes.h"

namespace nagi {
namespace {

// Walks one row range: before() is called with the end of the bytes the
// kernel is about to read and prefetches one line every kStep bytes up to
// distance past it. Addresses are kept as integers: the prefetched ones
// may lie past the matrix (a prefetch never faults).
template <uintptr_t kStep>
class StreamAhead {
 public:
  StreamAhead(const uint8_t* start, uintptr_t distance, bool nta = false)
      : next_(reinterpret_cast<uintptr_t>(start)), distance_(distance), nta_(nta) {}

  void before(const uint8_t* end) {
    for (const uintptr_t e = reinterpret_cast<uintptr_t>(end); next_ < e; next_ += kStep) {
      if (nta_) {
        __builtin_prefetch(reinterpret_cast<const void*>(next_ + distance_), 0, 0);
      } else {
        __builtin_prefetch(reinterpret_cast<const void*>(next_ + distance_));
      }
    }
  }

 private:
  uintptr_t next_;
  const uintptr_t distance_;
  const bool nta_;
};

struct PageAhead : StreamAhead<4096> {
  explicit PageAhead(const uint8_t* start) : StreamAhead<4096>(start, 8192) {}
};

struct LineAhead : StreamAhead<64> {
  explicit LineAhead(const uint8_t* start) : LineAhead(start, __atomic_load_n(&line_ahead_bytes, __ATOMIC_RELAXED)) {}

 private:
  LineAhead(const uint8_t* start, uint32_t setting)
      : StreamAhead<64>(start, setting & ~kLineAheadNonTemporal, (setting & kLineAheadNonTemporal) != 0) {}
};

// Calls f(r, row) for the rows [0, n_rows) of w in order, one LineAhead
// step before each: the row loop of the one-row-at-a-time quantized kernels.
template <class F>
inline void for_each_row_ahead(const uint8_t* w, size_t row_bytes, int64_t n_rows, F&& f) {
  LineAhead ahead(w);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    ahead.before(row + row_bytes);
    f(r, row);
  }
}

}  // namespace
}  // namespace nagi
