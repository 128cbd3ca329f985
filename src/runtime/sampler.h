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

// Order of operations in sample():
//  1. Penalties over the last repeat_last_n tokens of `history` (-1: all of
//     it, 0: none), once per distinct token t seen c times in that window:
//       logit = logit > 0 ? logit / repeat_penalty : logit * repeat_penalty
//       logit -= frequency_penalty * c + presence_penalty
//     (llama.cpp order, so the same settings mean the same thing there).
//     Afterwards NaN logits count as -inf and +inf as the largest float.
//  2. temperature <= 0: return the argmax, lowest id on ties.
//  3. top_k (<= 0 or >= n_vocab: off): keep the k largest logits, ties at the
//     boundary going to the lower id.
//  4. Divide by temperature, softmax.
//  5. top_p (>= 1: off): keep the shortest run of candidates, in order of
//     (prob desc, id asc), whose cumulative probability reaches top_p; always
//     at least one.
//  6. min_p (<= 0: off): drop candidates with prob < min_p * max prob.
//  7. Renormalise and draw u = uniform_at(seed, position, 0); walk the
//     candidates in (prob desc, id asc) order and return the first whose
//     cumulative probability exceeds u (inverse CDF). A fixed total order
//     makes the choice a pure function of (logits, history, params, position).
// If every logit is -inf or NaN there is nothing to prefer, and sample()
// returns 0, as argmax with ties to the lowest id would.
class Sampler {
 public:
  // Throws Error(kInvalidArgument) for parameters that have no meaning (NaN
  // or infinite temperature, top_p outside (0, 1], min_p > 1 or NaN,
  // repeat_penalty <= 0, repeat_last_n < -1, non-finite penalties, n_vocab <= 0).
  Sampler(const SamplingParams& params, int32_t n_vocab);

  // Picks the next token. `logits` (n_vocab entries) is modified in place.
  // `history` is every token before `position` (prompt and generated) that the
  // penalties may look at; `position` is the absolute index of the token being
  // chosen (>= 0). Throws Error(kInvalidArgument) if logits.size() != n_vocab
  // or, with penalties on, a token in their window is outside [0, n_vocab).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, int64_t position);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  int32_t n_vocab_;
  // scratch buffers reused between calls
  struct Candidate {
    float logit;  // the logit, later overwritten by the unnormalised probability
    int32_t id;
  };
  std::vector<Candidate> cand_;
  std::vector<int32_t> counts_;
};

// Uniform double in [0, 1) from (seed, position, stream): counter-based, no
// state. Philox4x32-10 with key (seed low, seed high) and counter (position
// low, position high, stream low, stream high); the top 53 bits of output
// words 0 (high) and 1 (low) are scaled by 2^-53.
double uniform_at(uint64_t seed, uint64_t position, uint64_t stream);

}  // namespace nagi
