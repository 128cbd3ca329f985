#include "kernels/line_ahead.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "nagi/error.hpp"

namespace nagi {

uint32_t line_ahead_bytes = LineAheadTuner::kCandidates[0];

std::optional<uint32_t> line_ahead_from_env() {
  const char* v = std::getenv("NAGI_LINE_AHEAD");
  if (v == nullptr || *v == '\0') return std::nullopt;
  char* end = nullptr;
  const unsigned long bytes = std::strtoul(v, &end, 10);
  const bool nt = std::string(end) == ",nt";
  if (end == v || (*end != '\0' && !nt) || bytes < 64 || bytes > 65536 || bytes % 64 != 0) {
    throw Error(ErrorCode::kInvalidArgument, std::string("NAGI_LINE_AHEAD=") + v +
                                                 ": expected a multiple of 64 bytes in [64, 65536], then ,nt or nothing");
  }
  return static_cast<uint32_t>(bytes) | (nt ? kLineAheadNonTemporal : 0);
}

std::string line_ahead_name(uint32_t setting) {
  return std::to_string(setting & ~kLineAheadNonTemporal) + ((setting & kLineAheadNonTemporal) != 0 ? ",nt" : "");
}

uint32_t LineAheadTuner::next() {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t bytes;
  if (fixed_) {
    bytes = *fixed_;
  } else {
    current_ = step_ < kRound ? step_ % int(kCandidates.size()) : best_;
    bytes = kCandidates[size_t(current_)];
  }
  __atomic_store_n(&line_ahead_bytes, bytes, __ATOMIC_RELAXED);
  return bytes;
}

void LineAheadTuner::record(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fixed_) return;
  if (step_ < kRound) {
    seconds_[size_t(current_)][size_t(step_ / int(kCandidates.size()))] = seconds;
  }
  if (++step_ == kRound) {
    // The median of each candidate's passes: one slow pass (a page fault,
    // the OS taking the core) does not decide the round.
    double best_median = 0;
    for (size_t c = 0; c < kCandidates.size(); ++c) {
      std::array<double, kTrials> s = seconds_[c];
      std::nth_element(s.begin(), s.begin() + kTrials / 2, s.end());
      if (c == 0 || s[kTrials / 2] < best_median) {
        best_median = s[kTrials / 2];
        best_ = int(c);
      }
    }
  } else if (step_ == kRound + kExploit) {
    step_ = 0;
  }
}

uint32_t LineAheadTuner::chosen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fixed_ ? *fixed_ : kCandidates[size_t(best_)];
}

}  // namespace nagi
