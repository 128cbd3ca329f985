// Decides which proposed tokens the target keeps, given the target's logits
// for every node of the draft (one batched forward pass).
//
// Gumbel coupling (the default): walk from the root; at each node sample the
// target's own token with the target's sampler (same penalties history, same
// (seed, position)-keyed Gumbel noise as plain decoding) and move to the
// child proposing that token; stop where no child does. The sampled token at
// that node is the bonus. Every emitted token is therefore exactly the token
// plain decoding would have sampled: the output is identical token for
// token, and a draft whose filtered distribution equals the target's is
// accepted every time.
//
// Rejection (the standard speculative-sampling baseline, chains only):
// accept draft token d with probability min(1, p(d) / q(d)), else sample the
// bonus from the normalised residual max(0, p - q), with noise independent of
// the draft's. The output has the target's distribution but is NOT the token
// sequence plain decoding gives for the same seed.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/sampler.h"
#include "spec/draft.h"

namespace nagi {

enum class AcceptRule { kGumbel, kRejection };

struct Verdict {
  std::vector<int32_t> path;  // indices into the draft of the accepted tokens, root first
  int32_t bonus = 0;          // the target's token after them
};

// `rows` holds n_vocab logits per batch entry: row 0 for the context's last
// token (position `position` - 1), row 1 + i for draft token i. `history` is
// every token up to and including the context's last; `position` is where
// the first draft token sits. Throws Error(kInvalidArgument) for a tree under
// kRejection.
Verdict verify(std::span<const float> rows, int n_vocab, const Draft& draft,
               std::span<const int32_t> history, int64_t position, Sampler& sampler, AcceptRule rule);

}  // namespace nagi
