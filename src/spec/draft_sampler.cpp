#include "spec/draft_sampler.h"

namespace nagi {
namespace {

SamplingParams draft_params(SamplingParams p, bool independent) {
  // The rejection baseline needs the draft's randomness independent of the
  // target's; any fixed remapping of the seed gives that.
  if (independent) p.seed = p.seed * 0x9E3779B97F4A7C15ull + 0xD1B54A32D192ED03ull;
  return p;
}

}  // namespace

DraftSampler::DraftSampler(const SamplingParams& target, int n_vocab, bool independent_noise)
    : sampler_(draft_params(target, independent_noise), n_vocab), record_q_(independent_noise) {}

int32_t DraftSampler::draw(std::span<float> logits, std::span<const int32_t> history, int64_t position,
                           int32_t parent, Draft& out) {
  if (record_q_) {
    // q must be the distribution the token was drawn from; distribution()
    // and sample() apply the same filters to the same logits.
    copy_.assign(logits.begin(), logits.end());
    out.q.emplace_back();
    sampler_.distribution(copy_, history, position, out.q.back());
  }
  const int32_t tok = sampler_.sample(logits, history, position);
  out.push(tok, parent);
  return tok;
}

}  // namespace nagi
