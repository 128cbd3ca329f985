// How a speculator with logits of its own (a draft model, an MTP head) picks
// its tokens: with the target's sampler settings and — under Gumbel
// coupling — the target's (seed, position)-keyed noise, so that wherever the
// draft's filtered distribution equals the target's it proposes exactly the
// token the target will sample. The rejection baseline instead needs noise
// independent of the target's and records the distribution q each token was
// drawn from.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/sampler.h"
#include "spec/draft.h"

namespace nagi {

class DraftSampler {
 public:
  DraftSampler(const SamplingParams& target, int n_vocab, bool independent_noise);

  // Draws the token at `position` from `logits` (overwritten) after
  // `history`, appends it to `out` under `parent` (with its q when
  // independent) and returns it.
  int32_t draw(std::span<float> logits, std::span<const int32_t> history, int64_t position, int32_t parent,
               Draft& out);

 private:
  Sampler sampler_;
  bool record_q_;
  std::vector<float> copy_;
};

}  // namespace nagi
