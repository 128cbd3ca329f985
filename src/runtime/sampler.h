// Token sampling: penalties, temperature, top-k, top-p, min-p, then a
// Gumbel-max draw. The noise for token v at absolute position p is a pure
// function of (seed, p, v) (counter-based), so the same seed gives the same
// text whatever the batch shape, thread count or whether tokens were
// speculated — and two models whose filtered distributions are equal pick
// the same token, which is what makes speculative decoding lossless and
// token-identical (src/spec/).
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
//  7. Gumbel-max over the survivors S:
//       return argmax_{v in S} (logit_v - max_logit) / T + G(seed, position, v)
//     with G = gumbel_at() below, computed in double, ties to the lowest id.
//     This is an exact draw from the renormalised softmax over S. Steps 1-6
//     depend only on (logits, history, params): the noise never decides
//     which tokens survive, it only picks among them. So a draft model and a
//     target whose filtered distributions are equal at a position pick the
//     same token there, and speculation with this sampler reproduces plain
//     decoding token for token.
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

  // A token and its probability in the filtered, renormalised distribution.
  struct Prob {
    int32_t id;
    double p;
  };
  // The distribution step 7 draws from (steps 1-6 as in sample(); greedy is a
  // point mass on the argmax), in no particular order. For the rejection
  // baseline of speculative decoding, which needs p and q explicitly.
  void distribution(std::span<float> logits, std::span<const int32_t> history, int64_t position,
                    std::vector<Prob>& out);

  const SamplingParams& params() const { return params_; }

 private:
  // Steps 1-6: leaves the survivors in cand_[0, m) and returns m, or returns 0
  // with *greedy set when the answer is a point mass (greedy, or no finite logit).
  size_t filter(std::span<float> logits, std::span<const int32_t> history, int64_t position,
                int32_t* greedy);

  SamplingParams params_;
  int32_t n_vocab_;
  // scratch buffers reused between calls
  struct Candidate {
    float logit;  // after penalties
    float w;      // unnormalised probability exp((logit - max) / T)
    int32_t id;
  };
  std::vector<Candidate> cand_;
  std::vector<int32_t> counts_;
  float best_logit_ = 0.f;
  double kept_mass_ = 0.0;
};

// Uniform double in [0, 1) from (seed, position, stream): counter-based, no
// state. Philox4x32-10 with key (seed low, seed high) and counter (position
// low, position high, stream low, stream high); the top 53 bits of output
// words 0 (high) and 1 (low) are scaled by 2^-53.
double uniform_at(uint64_t seed, uint64_t position, uint64_t stream);

// The Gumbel noise of token `token` at `position`: G = -log(-log(u)) with
// u in (0, 1) from Philox4x32-10, key (seed low, seed high), counter
// (position low, position high, token, kGumbelDomain); u = (b + 0.5) * 2^-53
// where b is the top 53 bits of output words 0 (high) and 1 (low). The +0.5
// keeps u away from 0 and 1 so G is always finite. kGumbelDomain keeps these
// counters apart from uniform_at()'s streams (< 2^32 in practice).
inline constexpr uint32_t kGumbelDomain = 0x6762'6c00u;  // "gbl"
double gumbel_at(uint64_t seed, uint64_t position, int32_t token);

}  // namespace nagi
