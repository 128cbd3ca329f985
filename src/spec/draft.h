// What a speculator proposes for the target to verify in one forward pass: a
// chain or a tree of tokens continuing the context.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/sampler.h"

namespace nagi {

struct Draft {
  // tokens[i] continues the context after its ancestors; parent[i] is the
  // index of its parent in `tokens` (always < i), or -1 when it follows the
  // context directly. A chain has parent[i] == i - 1.
  std::vector<int32_t> tokens;
  std::vector<int32_t> parent;
  // The proposal distribution q each token was drawn from, for the rejection
  // baseline. Empty: every token was proposed deterministically (a point mass).
  std::vector<std::vector<Sampler::Prob>> q;

  int size() const { return static_cast<int>(tokens.size()); }
  bool empty() const { return tokens.empty(); }
  void clear() {
    tokens.clear();
    parent.clear();
    q.clear();
  }
  void push(int32_t token, int32_t parent_index) {
    tokens.push_back(token);
    parent.push_back(parent_index);
  }
  bool is_chain() const {
    for (int i = 0; i < size(); ++i)
      if (parent[static_cast<size_t>(i)] != i - 1) return false;
    return true;
  }
  // Depth of token i below the context (1 for a root).
  int depth(int i) const {
    int d = 0;
    for (; i >= 0; i = parent[static_cast<size_t>(i)]) ++d;
    return d;
  }
};

}  // namespace nagi
