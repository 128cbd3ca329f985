#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "runtime/philox.h"

namespace nagi {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

template <class T>
[[noreturn]] void invalid(const char* what, const char* rule, T value) {
  std::ostringstream os;
  os << "sampling: " << what << ": " << rule << ", got " << value;
  throw Error(ErrorCode::kInvalidArgument, os.str());
}

// The first sorted run grows geometrically from here; most top-p cuts of a
// peaked distribution finish inside it, so a 150k vocabulary is never fully
// sorted unless the distribution really is that flat.
constexpr size_t kFirstSortedRun = 64;

}  // namespace

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab) : params_(params), n_vocab_(n_vocab) {
  const auto& p = params_;
  if (n_vocab <= 0) invalid("n_vocab", "must be > 0", n_vocab);
  if (!std::isfinite(p.temperature)) invalid("temperature", "must be a finite number", p.temperature);
  if (!(p.top_p > 0.f && p.top_p <= 1.f)) invalid("top_p", "must be in (0, 1]", p.top_p);
  // <= 0 means off (as documented on SamplingParams), so only NaN and > 1 are meaningless.
  if (std::isnan(p.min_p) || p.min_p > 1.f) invalid("min_p", "must be <= 1 (<= 0: off)", p.min_p);
  if (!(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0.f))
    invalid("repeat_penalty", "must be a finite number > 0", p.repeat_penalty);
  if (p.repeat_last_n < -1) invalid("repeat_last_n", "must be >= -1 (-1: all)", p.repeat_last_n);
  if (!std::isfinite(p.presence_penalty))
    invalid("presence_penalty", "must be a finite number", p.presence_penalty);
  if (!std::isfinite(p.frequency_penalty))
    invalid("frequency_penalty", "must be a finite number", p.frequency_penalty);

  const bool penalties = p.repeat_last_n != 0 && (p.repeat_penalty != 1.f || p.presence_penalty != 0.f ||
                                                  p.frequency_penalty != 0.f);
  if (penalties) counts_.assign(static_cast<size_t>(n_vocab), 0);
  if (p.temperature > 0.f) cand_.reserve(static_cast<size_t>(n_vocab));
}

size_t Sampler::filter(std::span<float> logits, std::span<const int32_t> history, int64_t position,
                      int32_t* greedy) {
  const auto& p = params_;
  if (logits.size() != static_cast<size_t>(n_vocab_))
    invalid("logits", "size must equal n_vocab", logits.size());
  if (position < 0) invalid("position", "must be >= 0", position);

  // (1) Penalties. counts_ is empty exactly when they are all off.
  if (!counts_.empty()) {
    const size_t n = history.size();
    const size_t w = p.repeat_last_n < 0 ? n : std::min(n, static_cast<size_t>(p.repeat_last_n));
    const auto window = history.last(w);
    for (int32_t t : window)
      if (t < 0 || t >= n_vocab_) invalid("history", "token id out of range", t);
    for (int32_t t : window) ++counts_[static_cast<size_t>(t)];
    // Each distinct token is penalised at its first occurrence and its count
    // reset there, which both deduplicates and leaves counts_ zeroed for the
    // next call without an O(n_vocab) clear.
    for (int32_t t : window) {
      int32_t& c = counts_[static_cast<size_t>(t)];
      if (c == 0) continue;
      float& l = logits[static_cast<size_t>(t)];
      l = l > 0.f ? l / p.repeat_penalty : l * p.repeat_penalty;
      l -= static_cast<float>(c) * p.frequency_penalty + p.presence_penalty;
      c = 0;
    }
  }

  // Make the logits orderable (NaN -> -inf, +inf -> max float so that
  // differences stay finite in the softmax), and find the argmax on the way.
  int32_t best = 0;
  float best_logit = kNegInf;
  for (int32_t i = 0; i < n_vocab_; ++i) {
    float v = logits[static_cast<size_t>(i)];
    if (std::isnan(v)) v = kNegInf;
    else if (v == kPosInf) v = std::numeric_limits<float>::max();
    logits[static_cast<size_t>(i)] = v;
    if (v > best_logit) {
      best_logit = v;
      best = i;
    }
  }
  // (2) Greedy; also the answer when nothing has any probability at all.
  if (p.temperature <= 0.f || best_logit == kNegInf) {
    *greedy = best;
    return 0;
  }
  best_logit_ = best_logit;

  // -inf logits have probability exactly 0 and are never candidates.
  cand_.clear();
  for (int32_t i = 0; i < n_vocab_; ++i) {
    const float v = logits[static_cast<size_t>(i)];
    if (v != kNegInf) cand_.push_back({v, 0.f, i});
  }

  // (3) top-k: a linear-time selection; the k survivors are ordered later
  // only as far as top-p needs.
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < cand_.size()) {
    const auto by_logit = [](const Candidate& a, const Candidate& b) {
      return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    std::nth_element(cand_.begin(), cand_.begin() + p.top_k, cand_.end(), by_logit);
    cand_.resize(static_cast<size_t>(p.top_k));
  }

  // (4) Temperature and softmax, kept unnormalised: the max weight is exactly
  // exp(0) = 1, which makes the min-p test a plain comparison. Sums are in
  // double so that 150k small terms do not lose the tail.
  const float inv_t = 1.f / p.temperature;
  double total = 0.0;
  for (auto& c : cand_) {
    c.w = std::exp((c.logit - best_logit) * inv_t);
    total += c.w;
  }

  // (6) before (5): both keep a prefix of the (prob desc, id asc) order, so
  // the result is their intersection whichever runs first, and min-p is a
  // linear partition that can shrink what top-p has to sort. top-p still
  // measures against `total`, the mass before min-p.
  size_t m = cand_.size();
  if (p.min_p > 0.f) {
    const float threshold = p.min_p;  // min_p * max weight, and max weight == 1
    const auto kept = std::partition(cand_.begin(), cand_.end(),
                                     [threshold](const Candidate& c) { return c.w >= threshold; });
    m = static_cast<size_t>(kept - cand_.begin());
  }

  // (5) top-p. cand_[0, sorted) is in final order and precedes everything in
  // cand_[sorted, m); the sorted prefix grows geometrically on demand, so a
  // peaked distribution over 150k tokens is never fully sorted.
  double kept_mass = 0.0;
  if (p.top_p < 1.f) {
    const auto by_prob = [](const Candidate& a, const Candidate& b) {
      return a.w > b.w || (a.w == b.w && a.id < b.id);
    };
    size_t sorted = 0;
    const double target = static_cast<double>(p.top_p) * total;
    size_t i = 0;
    for (; i < m; ++i) {
      if (i == sorted) {
        const size_t next = std::min(m, std::max(kFirstSortedRun, sorted * 4));
        const auto first = cand_.begin() + static_cast<std::ptrdiff_t>(sorted);
        const auto mid = cand_.begin() + static_cast<std::ptrdiff_t>(next);
        const auto last = cand_.begin() + static_cast<std::ptrdiff_t>(m);
        if (mid != last) std::nth_element(first, mid, last, by_prob);
        std::sort(first, mid, by_prob);
        sorted = next;
      }
      kept_mass += cand_[i].w;
      if (kept_mass >= target) break;
    }
    m = std::min(m, i + 1);
  } else {
    for (size_t i = 0; i < m; ++i) kept_mass += cand_[i].w;
  }
  kept_mass_ = kept_mass;
  return m;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history, int64_t position) {
  int32_t greedy = 0;
  const size_t m = filter(logits, history, position, &greedy);
  if (m == 0) return greedy;
  // (7) Gumbel-max: noise only for the survivors (40 Philox calls with the
  // default top-k, not one per vocabulary entry).
  const double inv_t = 1.0 / static_cast<double>(params_.temperature);
  const auto pos = static_cast<uint64_t>(position);
  int32_t chosen = -1;
  double chosen_score = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < m; ++i) {
    const Candidate& c = cand_[i];
    const double score = (static_cast<double>(c.logit) - static_cast<double>(best_logit_)) * inv_t +
                         gumbel_at(params_.seed, pos, c.id);
    if (score > chosen_score || (score == chosen_score && c.id < chosen)) {
      chosen_score = score;
      chosen = c.id;
    }
  }
  return chosen;
}

void Sampler::distribution(std::span<float> logits, std::span<const int32_t> history,
                           int64_t position, std::vector<Prob>& out) {
  out.clear();
  int32_t greedy = 0;
  const size_t m = filter(logits, history, position, &greedy);
  if (m == 0) {
    out.push_back({greedy, 1.0});
    return;
  }
  for (size_t i = 0; i < m; ++i) out.push_back({cand_[i].id, cand_[i].w / kept_mass_});
}

double uniform_at(uint64_t seed, uint64_t position, uint64_t stream) {
  const auto lo = [](uint64_t v) { return static_cast<uint32_t>(v); };
  const auto hi = [](uint64_t v) { return static_cast<uint32_t>(v >> 32); };
  const auto out = philox4x32({lo(position), hi(position), lo(stream), hi(stream)}, {lo(seed), hi(seed)});
  const uint64_t bits = ((static_cast<uint64_t>(out[0]) << 32) | out[1]) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

}  // namespace nagi

namespace nagi {

double gumbel_at(uint64_t seed, uint64_t position, int32_t token) {
  const auto out = philox4x32({static_cast<uint32_t>(position), static_cast<uint32_t>(position >> 32),
                               static_cast<uint32_t>(token), kGumbelDomain},
                              {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  const uint64_t bits = ((static_cast<uint64_t>(out[0]) << 32) | out[1]) >> 11;
  const double u = (static_cast<double>(bits) + 0.5) * 0x1.0p-53;
  return -std::log(-std::log(u));
}

}  // namespace nagi
