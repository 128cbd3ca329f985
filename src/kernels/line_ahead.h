// How far ahead the quantized decode rows request their lines (LineAhead in
// kernels/page_ahead.h), and the tuner that picks it while a model decodes.
//
// The best distance depends on the memory system's state, not only on the
// CPU. On a 2-core Zen 5 whose memory alternated between a contended phase
// (the streaming probe read 46-51 GB/s) and a free one (76-84 GB/s), decode
// A/B in process against 4 KiB: 8 KiB gave +3.3% to +8.3% in the free
// phase (Qwen3-0.6B Q4_0, Q4_K_M, Q8_0, Qwen3.5 Q4_0; 6-8 of 8 rounds) and
// -1.8% / -4.3% in the contended one; 12 KiB +2.8% to +12.2% and -3.9% to
// -4.2%. No fixed distance is best in both, so each model keeps a tuner
// that times one-token forward passes under each candidate in turn, then
// decodes with the fastest until it looks again (docs/KERNELS.md, "The
// distance, tuned while decoding"). Each distance is tried with plain and
// with non-temporal requests (kLineAheadNonTemporal).
// The setting changes only which lines are requested early, and how: every
// result is bit for bit the same whatever it is.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "kernels/line_ahead_bytes.h"

namespace nagi {

// NAGI_LINE_AHEAD=<bytes>[,nt] (a multiple of 64 in [64, 65536]; ",nt":
// non-temporal) fixes the setting and turns the tuners off. Throws
// Error(kInvalidArgument) naming the variable for anything else.
std::optional<uint32_t> line_ahead_from_env();

// A line_ahead_bytes setting as text, in NAGI_LINE_AHEAD's syntax ("8192",
// "12288,nt").
std::string line_ahead_name(uint32_t setting);

class LineAheadTuner {
 public:
  // line_ahead_bytes settings: each distance plain and non-temporal.
  static constexpr uint32_t kNT = kLineAheadNonTemporal;
  static constexpr std::array<uint32_t, 6> kCandidates = {4096, 8192, 12288, 4096 | kNT, 8192 | kNT, 12288 | kNT};
  // One-token passes timed per candidate in a round, the candidates taking
  // turns token by token so that a change of the memory's phase falls on
  // all of them alike.
  static constexpr int kTrials = 8;
  // Passes on the winner before the next round.
  static constexpr int kExploit = 512;

  // fixed: the distance to keep (tuning off); nullopt: tune.
  explicit LineAheadTuner(std::optional<uint32_t> fixed) : fixed_(fixed) {}

  // The setting for the next one-token pass, also stored in line_ahead_bytes.
  uint32_t next();
  // That pass's duration.
  void record(double seconds);
  // The setting that won the last round (the first candidate before any).
  uint32_t chosen() const;

 private:
  const std::optional<uint32_t> fixed_;
  mutable std::mutex mu_;  // sessions of one model may decode on several threads
  int step_ = 0;           // [0, kRound): a round; then kExploit passes on best_
  int current_ = 0;        // the candidate of the pass in flight
  int best_ = 0;
  std::array<std::array<double, kTrials>, kCandidates.size()> seconds_{};
  static constexpr int kRound = kTrials * int(kCandidates.size());
};

}  // namespace nagi
