#include "spec/mtp_speculator.h"

#include <algorithm>

#include "nagi/error.hpp"

namespace nagi {

MtpSpeculator::MtpSpeculator(const ModelSpec& spec, const TensorStore& store, const std::string& what,
                             const SamplingParams& sampling, bool independent_noise, int n_ctx, ThreadPool& pool)
    : head_(spec, store, what),
      state_(head_.new_state(n_ctx)),
      sampler_(sampling, spec.n_vocab, independent_noise),
      pool_(pool),
      eos_ids_(spec.eos_ids) {}

void MtpSpeculator::restart(int pos0) {
  first_ = pos0;
  committed_ = 0;
  pending_.clear();
  state_.truncate(0);
}

void MtpSpeculator::on_hidden_states(std::span<const float> hidden, int n_embd, int pos0) {
  const int d = head_.n_embd();
  if (n_embd != d || pos0 < 0) {
    throw Error(ErrorCode::kInvalidArgument, "mtp: hidden states of width " + std::to_string(n_embd) +
                                                 " for a head of width " + std::to_string(d));
  }
  const int rows = static_cast<int>(hidden.size() / size_t(d));
  const int known = first_ + committed_ + static_cast<int>(pending_.size() / size_t(d));
  if (first_ < 0 || pos0 < first_ || pos0 > known) {
    restart(pos0);  // nothing usable before pos0 (a gap would leave entries without inputs)
  } else if (pos0 - first_ < committed_) {
    committed_ = pos0 - first_;  // entries built from replaced hidden states go
    pending_.clear();
  } else {
    pending_.resize(size_t(pos0 - first_ - committed_) * d);
  }
  const size_t at = pending_.size();
  pending_.resize(at + size_t(rows) * d);
  head_.target_input(hidden.data(), rows, pending_.data() + at);
}

void MtpSpeculator::propose(std::span<const int32_t> context, int max_tokens, Draft& out) {
  out.clear();
  const int d = head_.n_embd();
  const int len = static_cast<int>(context.size());
  // The last proposal's draft steps are not the context: a KV cache
  // truncates exactly.
  state_.truncate(committed_);
  if (first_ < 0 || max_tokens <= 0) return;
  // Entry j needs the token at first_ + j + 1: entries whose token the
  // context no longer has (it cannot change under decoding; a caller reusing
  // the speculator could) are unrecoverable without their hidden states.
  for (int j = 0; j < committed_; ++j) {
    if (first_ + j + 1 >= len || state_.tokens()[size_t(j)] != context[size_t(first_ + j + 1)]) {
      restart(len);
      return;
    }
  }
  const int n_new = static_cast<int>(pending_.size() / size_t(d));
  // The newest entry must be (h_{len-2}, x_{len-1}): it predicts token len.
  if (n_new == 0 || first_ + committed_ + n_new != len - 1) return;
  if (state_.n_past() + n_new + max_tokens > state_.n_ctx()) return;

  tokens_.assign(context.begin() + first_ + committed_ + 1, context.end());
  step_out_.resize(pending_.size());
  logits_.resize(size_t(head_.n_vocab()));
  head_.forward(tokens_, pending_.data(), state_, ws_, step_out_.data(), logits_.data(), false, pool_);
  committed_ += n_new;
  pending_.clear();
  step_in_.assign(step_out_.end() - d, step_out_.end());

  history_.assign(context.begin(), context.end());
  for (int i = 0; i < max_tokens; ++i) {
    const int32_t tok = sampler_.draw(logits_, history_, static_cast<int64_t>(history_.size()), i - 1, out);
    history_.push_back(tok);
    if (i + 1 == max_tokens || std::find(eos_ids_.begin(), eos_ids_.end(), tok) != eos_ids_.end()) break;
    step_out_.resize(size_t(d));
    head_.forward(std::span<const int32_t>(&tok, 1), step_in_.data(), state_, ws_, step_out_.data(),
                  logits_.data(), false, pool_);
    step_in_.swap(step_out_);
  }
}

}  // namespace nagi
