#include "spec/draft_model_speculator.h"

#include <algorithm>
#include <string>

namespace nagi {
namespace {

std::shared_ptr<Model> checked(std::shared_ptr<Model> draft, int target_n_vocab) {
  if (!draft) throw Error(ErrorCode::kInvalidArgument, "speculative: no draft model");
  if (draft->info().n_vocab != target_n_vocab) {
    throw Error(ErrorCode::kInvalidArgument,
                "speculative: draft model " + draft->info().path + " has a vocabulary of " +
                    std::to_string(draft->info().n_vocab) + " tokens, the target has " +
                    std::to_string(target_n_vocab) + "; a draft must share the target's vocabulary");
  }
  return draft;
}

}  // namespace

DraftModelSpeculator::DraftModelSpeculator(std::shared_ptr<Model> draft, int target_n_vocab,
                                           const SamplingParams& sampling, bool independent_noise,
                                           int n_ctx, int n_threads)
    : model_(checked(std::move(draft), target_n_vocab)),
      session_(model_, SessionOptions{.n_ctx = std::min(n_ctx, model_->info().n_ctx_train), .n_threads = n_threads}),
      sampler_(sampling, target_n_vocab, independent_noise) {}

void DraftModelSpeculator::propose(std::span<const int32_t> context, int max_tokens, Draft& out) {
  out.clear();
  const int len = static_cast<int>(context.size());
  // The draft's cache can hold what it drafted last time; keep what still
  // agrees with the context and evaluate the rest (at least the last token,
  // whose logits start the proposal).
  max_tokens = std::min(max_tokens, session_.n_ctx() - len);
  if (max_tokens <= 0 || len == 0) return;
  const std::vector<int32_t>& cached = session_.tokens();
  int keep = 0;
  const int limit = std::min<int>(static_cast<int>(cached.size()), len - 1);
  while (keep < limit && cached[static_cast<size_t>(keep)] == context[static_cast<size_t>(keep)]) ++keep;
  session_.rollback(keep);
  // Evaluated the way the target did, so that a draft equal to the target
  // proposes bit for bit the target's own tokens (batches round differently
  // from single tokens): the first time, the context is the prompt (which
  // the target prefilled as a batch) and the first sampled token (which it
  // verified alone); later, a few accepted tokens, each verified as one
  // token. A long stretch (a new chat turn) is a prefill again.
  const std::span<const int32_t> rest = context.subspan(static_cast<size_t>(keep));
  if (keep == 0 || rest.size() > kMaxCatchUpSingly) {
    if (rest.size() > 1) session_.eval(rest.first(rest.size() - 1), false);
  } else {
    for (size_t i = 0; i + 1 < rest.size(); ++i) session_.eval(rest.subspan(i, 1), false);
  }
  work_ = session_.eval(rest.last(1), false);

  history_.assign(context.begin(), context.end());
  for (int i = 0; i < max_tokens; ++i) {
    const int64_t pos = static_cast<int64_t>(history_.size());
    const int32_t tok = sampler_.draw(work_, history_, pos, i - 1, out);
    history_.push_back(tok);
    if (model_->is_eos(tok) || i + 1 == max_tokens) break;
    work_ = session_.eval(std::span<const int32_t>(&tok, 1), false);
  }
}

}  // namespace nagi
