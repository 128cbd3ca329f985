// Token sampling: penalties, temperature, top-k, top-p, min-p, then a draw.
// The randomness for the token at absolute position p is a pure function of
// (seed, p) (counter-based), so the same seed gives the same text whatever
// the batch shape, thread count or whether tokens were speculated.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "nagi/nagi.hpp"

namespace nagi {

class Sampler {
 public:
  Sampler(const SamplingParams& params, int32_t n_vocab);

  // Picks the next token. `logits` (n_vocab entries) is modified in place.
  // `history` is every token before `position` (prompt and generated) that the
  // penalties may look at; `position` is the absolute index of the token being
  // chosen.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, int64_t position);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  int32_t n_vocab_;
  // scratch buffers reused between calls
  struct Candidate {
    float logit;
    int32_t id;
  };
  std::vector<Candidate> cand_;
  std::vector<int32_t> counts_;
};

// Uniform double in [0, 1) from (seed, position, stream): counter-based (a
// Philox-style keyed hash), no state.
double uniform_at(uint64_t seed, uint64_t position, uint64_t stream);

}  // namespace nagi
