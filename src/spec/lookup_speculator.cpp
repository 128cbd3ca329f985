#include "spec/lookup_speculator.h"

#include <algorithm>
#include <string>

#include "nagi/error.hpp"

namespace nagi {

LookupSpeculator::LookupSpeculator(int max_ngram, int branches)
    : max_ngram_(max_ngram), branches_(branches) {
  if (max_ngram < 1) throw Error(ErrorCode::kInvalidArgument, "lookup: max n-gram must be >= 1, got " + std::to_string(max_ngram));
  if (branches < 1) throw Error(ErrorCode::kInvalidArgument, "lookup: branches must be >= 1, got " + std::to_string(branches));
}

void LookupSpeculator::propose(std::span<const int32_t> context, int max_tokens, Draft& out) {
  out.clear();
  const int len = static_cast<int>(context.size());
  if (max_tokens <= 0 || len < 2) return;
  // The longest n with any earlier match wins; among its matches the most
  // recent comes first (recent text predicts best), and further matches add
  // branches only where they continue differently.
  for (int n = std::min(max_ngram_, len - 1); n >= 1; --n) {
    const auto suffix = context.last(static_cast<size_t>(n));
    int found = 0;
    // Match start s: context[s, s+n) == suffix, with at least one token after it.
    for (int s = len - n - 1; s >= 0 && found < branches_ && out.size() < max_tokens; --s) {
      if (!std::equal(suffix.begin(), suffix.end(), context.begin() + s)) continue;
      ++found;
      // Merge the continuation into the trie of what is already proposed.
      // The most recent match gets the budget less one node reserved for
      // each later branch, so alternatives are short divergence points
      // beside one long chain.
      const int budget = std::max(1, max_tokens - (branches_ - found));
      // The continuation may run past the end of the context into the
      // tokens proposed on this path: a match p tokens back in a loop of
      // period p then proposes the loop again, not just its last p tokens.
      std::vector<int32_t>& seq = path_;
      seq.assign(context.begin(), context.end());
      int node = -1;
      for (int i = s + n; out.size() < budget; ++i) {
        const int32_t tok = seq[static_cast<size_t>(i)];
        seq.push_back(tok);
        int child = -1;
        for (int c = 0; c < out.size(); ++c) {
          if (out.parent[static_cast<size_t>(c)] == node && out.tokens[static_cast<size_t>(c)] == tok) {
            child = c;
            break;
          }
        }
        if (child < 0) {
          out.push(tok, node);
          child = out.size() - 1;
        }
        node = child;
      }
    }
    if (!out.empty()) return;
  }
}

}  // namespace nagi
