// Speculation with a smaller draft model sharing the target's vocabulary. The
// draft keeps its own session (KV cache), re-synchronised with the context
// before every proposal, and samples its tokens as draft_sampler.h describes.
#pragma once

#include <memory>

#include "nagi/nagi.hpp"
#include "spec/draft_sampler.h"
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
  // Catch-up stretches up to this long are evaluated token by token (see propose).
  static constexpr size_t kMaxCatchUpSingly = 16;
  std::shared_ptr<Model> model_;
  Session session_;
  DraftSampler sampler_;
  std::vector<int32_t> history_;
  std::vector<float> work_;
};

}  // namespace nagi
