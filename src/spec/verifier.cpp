#include "spec/verifier.h"

#include <algorithm>

#include "nagi/error.hpp"
#include "runtime/sampler.h"

namespace nagi {
namespace {

// uniform_at() streams of the rejection baseline; the Gumbel noise of plain
// sampling lives in its own counter domain, so these are independent of it.
constexpr uint64_t kAcceptStream = 0x5350'4543'0001ull;
constexpr uint64_t kResidualStream = 0x5350'4543'0002ull;

double prob_of(const std::vector<Sampler::Prob>& d, int32_t id) {
  for (const auto& e : d)
    if (e.id == id) return e.p;
  return 0.0;
}

// Inverse CDF over `d` in ascending id order (a fixed order keeps the draw a
// pure function of its inputs).
int32_t draw(std::vector<Sampler::Prob> d, double u) {
  std::sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  double total = 0.0;
  for (const auto& e : d) total += e.p;
  const double target = u * total;
  double cum = 0.0;
  for (const auto& e : d) {
    cum += e.p;
    if (cum > target) return e.id;
  }
  for (auto it = d.rbegin(); it != d.rend(); ++it)
    if (it->p > 0) return it->id;
  return d.empty() ? 0 : d.back().id;
}

Verdict verify_gumbel(std::span<const float> rows, int n_vocab, const Draft& draft,
                      std::vector<int32_t>& hist, int64_t position, Sampler& sampler) {
  Verdict v;
  std::vector<float> work;
  int node = -1;  // -1: the context's last token, row 0
  for (;;) {
    const float* row = rows.data() + size_t(node + 1) * size_t(n_vocab);
    work.assign(row, row + n_vocab);
    const int32_t tok = sampler.sample(work, hist, position + static_cast<int64_t>(v.path.size()));
    int child = -1;
    for (int c = node + 1; c < draft.size(); ++c) {
      if (draft.parent[size_t(c)] == node && draft.tokens[size_t(c)] == tok) {
        child = c;
        break;
      }
    }
    if (child < 0) {
      v.bonus = tok;
      return v;
    }
    v.path.push_back(child);
    hist.push_back(tok);
    node = child;
  }
}

Verdict verify_rejection(std::span<const float> rows, int n_vocab, const Draft& draft,
                         std::vector<int32_t>& hist, int64_t position, Sampler& sampler) {
  if (!draft.is_chain())
    throw Error(ErrorCode::kInvalidArgument, "speculative: rejection sampling verifies chains only");
  Verdict v;
  std::vector<float> work;
  std::vector<Sampler::Prob> p;
  const uint64_t seed = sampler.params().seed;
  for (int i = 0;; ++i) {
    const int64_t pos = position + i;
    const float* row = rows.data() + size_t(i) * size_t(n_vocab);
    work.assign(row, row + n_vocab);
    if (i == draft.size()) {
      // Every proposal accepted: the bonus is a plain draw from p.
      v.bonus = sampler.sample(work, hist, pos);
      return v;
    }
    sampler.distribution(work, hist, pos, p);
    const int32_t d = draft.tokens[size_t(i)];
    const bool point_mass = draft.q.empty();
    const double pd = prob_of(p, d);
    const double qd = point_mass ? 1.0 : prob_of(draft.q[size_t(i)], d);
    const double u = uniform_at(seed, static_cast<uint64_t>(pos), kAcceptStream);
    if (qd > 0 && u < std::min(1.0, pd / qd)) {
      v.path.push_back(i);
      hist.push_back(d);
      continue;
    }
    // Residual max(0, p - q), renormalised by draw().
    std::vector<Sampler::Prob> residual;
    for (const auto& e : p) {
      const double q = point_mass ? (e.id == d ? 1.0 : 0.0) : prob_of(draft.q[size_t(i)], e.id);
      if (e.p > q) residual.push_back({e.id, e.p - q});
    }
    if (residual.empty()) residual = p;  // p == q: unreachable in exact arithmetic
    v.bonus = draw(std::move(residual), uniform_at(seed, static_cast<uint64_t>(pos), kResidualStream));
    return v;
  }
}

}  // namespace

Verdict verify(std::span<const float> rows, int n_vocab, const Draft& draft,
               std::span<const int32_t> history, int64_t position, Sampler& sampler, AcceptRule rule) {
  if (rows.size() < size_t(draft.size() + 1) * size_t(n_vocab))
    throw Error(ErrorCode::kInvalidArgument, "speculative: fewer logit rows than draft tokens + 1");
  std::vector<int32_t> hist(history.begin(), history.end());
  return rule == AcceptRule::kGumbel ? verify_gumbel(rows, n_vocab, draft, hist, position, sampler)
                                     : verify_rejection(rows, n_vocab, draft, hist, position, sampler);
}

}  // namespace nagi
