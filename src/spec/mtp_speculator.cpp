#include "spec/mtp_speculator.h"

#include <algorithm>

#include "nagi/error.hpp"

namespace nagi {

MtpSpeculator::MtpSpeculator(const ModelSpec& spec, const TensorStore& store, const std::string& what, int n_ctx,
                             ThreadPool& pool)
    : head_(spec, store, what),
      state_(head_.new_state(n_ctx)),
      pool_(pool),
      eos_ids_(spec.eos_ids),
      n_vocab_(spec.n_vocab) {}

void MtpSpeculator::set_sampling(const SamplingParams& sampling, bool independent_noise) {
  sampler_.emplace(sampling, n_vocab_, independent_noise);
}

void MtpSpeculator::restart(int pos0) {
  first_ = pos0;
  committed_ = 0;
  inputs_.clear();
  state_.truncate(0);
}

void MtpSpeculator::forget_from(int n) {
  if (first_ < 0) return;
  if (n <= first_) {
    restart(-1);
    return;
  }
  const int rows = std::min(known_rows(), n - first_);
  inputs_.resize(size_t(rows) * head_.n_embd());
  // Entry j also holds the token at first_ + j + 1, which may now change.
  committed_ = std::min(committed_, n - first_ - 1);
}

void MtpSpeculator::on_hidden_states(std::span<const float> hidden, int n_embd, int pos0) {
  const int d = head_.n_embd();
  if (n_embd != d || pos0 < 0) {
    throw Error(ErrorCode::kInvalidArgument, "mtp: hidden states of width " + std::to_string(n_embd) +
                                                 " for a head of width " + std::to_string(d));
  }
  if (first_ < 0 || pos0 < first_ || pos0 > first_ + known_rows()) {
    restart(pos0);  // nothing usable before pos0 (a gap would leave entries without inputs)
  } else {
    // Positions from pos0 on are replaced, with the entries built from them.
    inputs_.resize(size_t(pos0 - first_) * d);
    committed_ = std::min(committed_, pos0 - first_);
  }
  const int rows = static_cast<int>(hidden.size() / size_t(d));
  const size_t at = inputs_.size();
  inputs_.resize(at + size_t(rows) * d);
  head_.target_input(hidden.data(), rows, inputs_.data() + at);
}

void MtpSpeculator::propose(std::span<const int32_t> context, int max_tokens, Draft& out) {
  out.clear();
  const int d = head_.n_embd();
  const int len = static_cast<int>(context.size());
  if (first_ < 0 || max_tokens <= 0 || !sampler_) return;
  // Entry j pairs its input with the token at first_ + j + 1: entries whose
  // token the context no longer has are rebuilt from their inputs.
  int valid = 0;
  while (valid < committed_ && first_ + valid + 1 < len &&
         state_.tokens()[size_t(valid)] == context[size_t(first_ + valid + 1)]) {
    ++valid;
  }
  committed_ = valid;
  // The last proposal's draft steps are not the context: a KV cache
  // truncates exactly.
  state_.truncate(committed_);
  // The newest entry must be (h_{len-2}, x_{len-1}): it predicts token len.
  const int n_new = known_rows() - committed_;
  if (n_new <= 0 || first_ + known_rows() != len - 1) return;
  if (state_.n_past() + n_new + max_tokens > state_.n_ctx()) return;

  tokens_.assign(context.begin() + first_ + committed_ + 1, context.end());
  step_out_.resize(size_t(n_new) * d);
  logits_.resize(size_t(n_vocab_));
  head_.forward(tokens_, inputs_.data() + size_t(committed_) * d, state_, ws_, step_out_.data(), logits_.data(),
                false, pool_);
  committed_ += n_new;
  step_in_.assign(step_out_.end() - d, step_out_.end());

  history_.assign(context.begin(), context.end());
  for (int i = 0; i < max_tokens; ++i) {
    const int32_t tok = sampler_->draw(logits_, history_, static_cast<int64_t>(history_.size()), i - 1, out);
    history_.push_back(tok);
    if (i + 1 == max_tokens || std::find(eos_ids_.begin(), eos_ids_.end(), tok) != eos_ids_.end()) break;
    step_out_.resize(size_t(d));
    head_.forward(std::span<const int32_t>(&tok, 1), step_in_.data(), state_, ws_, step_out_.data(),
                  logits_.data(), false, pool_);
    step_in_.swap(step_out_);
  }
}

}  // namespace nagi
