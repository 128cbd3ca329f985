#include "base/stream_history.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "nagi/error.hpp"

namespace nagi {

StreamHistory::Entry& StreamHistory::slot(const void* key) {
  const uint64_t h = (uint64_t(reinterpret_cast<uintptr_t>(key)) >> 6) * 0x9E3779B97F4A7C15ull;
  const size_t home = size_t(h >> 54) & (kSlots - 1);
  for (size_t i = 0; i < kProbe; ++i) {
    Entry& e = table_[(home + i) & (kSlots - 1)];
    if (e.key == key || e.key == nullptr) return e;
  }
  return table_[home];  // full neighbourhood: forget its oldest tenant
}

void StreamHistory::note(const void* p, size_t bytes) {
  if (!fresh_) return;
  fresh_ = false;
  if (last_key_ != nullptr) {
    Entry& prev = slot(last_key_);
    prev = {last_key_, static_cast<const uint8_t*>(p), bytes};
  }
  last_key_ = p;
  const Entry& e = slot(p);
  if (e.key == p) {
    ahead_ = e.next;
    ahead_bytes_ = std::min(e.next_bytes, max_bytes_);
  } else {
    ahead_ = nullptr;
    ahead_bytes_ = 0;
  }
  ahead_done_ = 0;
}

void StreamHistory::load_lines(const uint8_t* p, size_t n) {
  // Nothing waits on these loads; they only have to happen.
  uint8_t any = 0;
  for (size_t o = 0; o < n; o += 64) any |= static_cast<const volatile uint8_t*>(p)[o];
  asm volatile("" ::"r"(any));
}

size_t StreamHistory::default_max_bytes() {
  long l2 = -1;
#ifdef _SC_LEVEL2_CACHE_SIZE
  l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
  return l2 > 0 ? size_t(l2) / 2 : size_t(256) << 10;
}

size_t StreamHistory::max_bytes_from_env() {
  const char* v = std::getenv("NAGI_READ_AHEAD");
  if (v == nullptr || *v == '\0') return default_max_bytes();
  char* end = nullptr;
  const unsigned long long bytes = std::strtoull(v, &end, 10);
  if (*end != '\0' || *v == '-' || bytes > (64ull << 20)) {
    throw Error(ErrorCode::kInvalidArgument, std::string("NAGI_READ_AHEAD=") + v +
                                                 ": expected a byte count in [0, 67108864] (0: off)");
  }
  return size_t(bytes);
}

}  // namespace nagi
