// Speculation with a smaller draft model sharing the target's vocabulary. The
// draft keeps its own session (KV cache), re-synchronised with the context
// before every proposal, and samples its tokens with the target's sampler
// settings and — under Gumbel coupling — the target's (seed, position)-keyed
// noise: wherever the draft's filtered distribution equals the target's,
// it proposes exactly the token the target will sample.
#pragma once

#include <memory>

#include "nagi/nagi.hpp"
#include "runtime/sampler.h"
#include "spec/speculator.h"

namespace nagi {

class DraftModelSpeculator final : public Speculator {
 public:
  // Throws Error(kInvalidArgument) naming both models when the draft's
  // vocabulary size differs from target_n_vocab. `independent_noise` (the
  // rejection baseline) draws with a different seed and records q.
  DraftModelSpeculator(std::shared_ptr<Model> draft, int target_n_vocab, const SamplingParams& sampling,
                       bool independent_noise, int n_ctx, int n_threads);

  void propose(std::span<const int32_t> context, int max_tokens, Draft& out) override;

 private:
  std::shared_ptr<Model> model_;
  Session session_;
  Sampler sampler_;
  bool record_q_;
  std::vector<int32_t> history_;
  std::vector<float> work_;
};

}  // namespace nagi
