// Prompt lookup (n-gram) speculation: when the last n tokens (n = max_ngram
// down to 1) occurred earlier in the context, propose what followed them
// there. Free to compute and very effective when the output repeats the
// context (summaries, edits, code, "repeat after me").
#pragma once

#include <vector>

#include "spec/speculator.h"

namespace nagi {

class LookupSpeculator final : public Speculator {
 public:
  // max_ngram: longest suffix matched (>= 1). branches: how many distinct
  // continuations to propose as a tree (1: a chain, the most recent match).
  LookupSpeculator(int max_ngram = 3, int branches = 1);

  void propose(std::span<const int32_t> context, int max_tokens, Draft& out) override;

 private:
  int max_ngram_;
  int branches_;
  std::vector<int32_t> path_;  // scratch: context + the path being proposed
};

}  // namespace nagi
