// What one thread of a pool streamed region after region, so that when it
// is left waiting it can load the start of its next region's data.
//
// A decode step is a chain of parallel regions (the matmuls), each split
// into one contiguous run of rows per thread, and the threads seldom finish
// a region together: in a traced Qwen3-0.6B Q4_0 token on a 2-core Zen 5
// their chunk ends differed by 540-650 us summed over the 138 regions, and
// between regions the caller alone runs the small passes (norms, the
// activation quantizer, RoPE: 240-390 us), so one core streams while the
// other waits for 10-15% of the step. The step repeats token after token,
// and with it which rows each thread streams after which. So a thread that
// waits loads the start of what it streamed after this region last time:
// one plain load per 64-byte line (a burst of software prefetches is mostly
// dropped once the core's miss buffers are full), until the wait ends or
// max_bytes are in its cache. Its next chunk then starts from cache.
// Decode, in-process A/B on that Zen 5 with its memory free: Qwen3-0.6B
// Q4_0 +3.0% (+8.5% in another pass), Q8_0 +1.5%, LFM2-350M Q8_0 +5.0%,
// Gemma-3-270M Q8_0 +2.7%; F16 and Qwen3.5 within noise
// (docs/PERFORMANCE.md).
//
// One instance per thread, touched only by that thread (bytes_read_ahead()
// aside, which any thread may read). The memory noted
// must stay mapped as long as the instance lives: it is read again later,
// from the next token on (a session's pool and its model's weights).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace nagi {

class StreamHistory {
 public:
  explicit StreamHistory(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The thread starts work in a new region: its next note is that region's
  // first stream, the one the history keys by.
  void begin_region() { fresh_ = true; }

  // The thread is about to stream [p, p + bytes). The first note of a
  // region is recorded as what followed the thread's previous region, and
  // what followed p last time becomes the span to read ahead.
  void note(const void* p, size_t bytes);

  // Loads the predicted span line by line, 4 KiB at a time while stop() is
  // false; resumes where the last call stopped if no region began since.
  template <class Stop>
  void read_ahead(Stop&& stop) {
    while (ahead_done_ < ahead_bytes_ && !stop()) {
      const size_t n = ahead_bytes_ - ahead_done_ < kBurst ? ahead_bytes_ - ahead_done_ : kBurst;
      load_lines(ahead_ + ahead_done_, n);
      ahead_done_ += n;
      bytes_read_ahead_.store(bytes_read_ahead_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
  }

  // The span the next read_ahead() loads (nullptr, 0: none predicted).
  const uint8_t* predicted() const { return ahead_; }
  size_t predicted_bytes() const { return ahead_bytes_; }
  // Total bytes loaded by read_ahead() so far (any thread may ask).
  uint64_t bytes_read_ahead() const { return bytes_read_ahead_.load(std::memory_order_relaxed); }

  // Half the core's L2 (the rest keeps the stream it is running and its
  // neighbours' data), 256 KiB where the size cannot be read.
  static size_t default_max_bytes();
  // NAGI_READ_AHEAD=<bytes> (0: off, at most 64 MiB) if set, else
  // default_max_bytes(). Throws Error(kInvalidArgument) naming the variable
  // for anything else.
  static size_t max_bytes_from_env();

 private:
  static constexpr size_t kBurst = 4096;
  static void load_lines(const uint8_t* p, size_t n);

  struct Entry {
    const void* key = nullptr;  // the first stream of a region
    const uint8_t* next = nullptr;  // the thread's first stream of the region after it
    size_t next_bytes = 0;
  };
  // Open addressing with a short probe; a model's step has a few hundred
  // regions at most (Qwen3-0.6B: 113 with a noted stream).
  static constexpr size_t kSlots = 1024, kProbe = 8;
  Entry& slot(const void* key);

  const size_t max_bytes_;
  std::array<Entry, kSlots> table_{};
  bool fresh_ = false;
  const void* last_key_ = nullptr;
  const uint8_t* ahead_ = nullptr;
  size_t ahead_bytes_ = 0, ahead_done_ = 0;
  std::atomic<uint64_t> bytes_read_ahead_{0};  // written by the owning thread only
};

}  // namespace nagi
