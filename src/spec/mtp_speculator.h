// Speculation with the target's own multi-token-prediction head (Qwen3.5's
// mtp.*, model/mtp_head.h): no second model, the head drafts from the
// target's hidden states.
//
// The head keeps a KV cache of its own whose entry j pairs the target's
// hidden state at context position f + j with the token at f + j + 1 (f: the
// first position the target reported, 0 unless a reused prompt prefix was
// skipped). This is how vLLM fills it (SpecDecodeBaseProposer.propose: the
// drafter's input ids are the target's shifted left by one, the next token
// appended, at the target's positions); RoPE attention only sees position
// differences, so the offset f changes nothing but rounding.
//
// Proposing at context length L (token L - 1 not yet evaluated by the
// target): the entries whose inputs arrived since the last proposal are
// evaluated in one batch, the last of them ((h_{L-2}, x_{L-1})) gives the
// logits of token L; each further draft token feeds the head's own output
// state back with the token just drafted, as vLLM's proposer does for
// num_speculative_tokens > 1. Tokens are drawn by DraftSampler (the target's
// Gumbel noise). Draft steps are dropped from the cache (truncation) before
// the next proposal: the accepted positions get entries rebuilt from the
// target's real hidden states.
//
// The session keeps one MtpSpeculator across generate() calls, so a chat's
// next turn (which reuses the cached prompt prefix) drafts with the whole
// conversation in the head's cache, as the target has it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "format/tensor_store.h"
#include "model/mtp_head.h"
#include "spec/draft_sampler.h"
#include "spec/speculator.h"

namespace nagi {

class ThreadPool;

class MtpSpeculator final : public Speculator {
 public:
  // Throws Error(kUnsupported) naming `what` when the model has no MTP head
  // (see MtpHead). `store` and `pool` must outlive the speculator.
  MtpSpeculator(const ModelSpec& spec, const TensorStore& store, const std::string& what, int n_ctx,
                ThreadPool& pool);

  // How drafts are drawn from now on (one generate() call's sampling).
  void set_sampling(const SamplingParams& sampling, bool independent_noise);

  // The target forgot positions >= n (a rollback outside speculation).
  void forget_from(int n);

  // Proposes nothing before set_sampling().
  void propose(std::span<const int32_t> context, int max_tokens, Draft& out) override;
  bool wants_hidden_states() const override { return true; }
  void on_hidden_states(std::span<const float> hidden, int n_embd, int pos0) override;

  // Entries in the head's cache built from the target's hidden states (the
  // draft steps of the last proposal come after them). For tests.
  int committed_entries() const { return committed_; }
  // The token of every entry in the head's cache (x_{f+j+1} for entry j, then
  // the last proposal's draft steps). For tests.
  const std::vector<int32_t>& entry_tokens() const { return state_.tokens(); }

 private:
  void restart(int pos0);
  int known_rows() const { return static_cast<int>(inputs_.size() / size_t(head_.n_embd())); }

  MtpHead head_;
  ModelState state_;
  Workspace ws_;
  std::optional<DraftSampler> sampler_;
  ThreadPool& pool_;
  std::vector<int> eos_ids_;
  int n_vocab_;
  int first_ = -1;              // context position of entry 0's hidden state; -1: none yet
  int committed_ = 0;           // entries evaluated from target hidden states
  std::vector<float> inputs_;   // head inputs for positions first_ .. (entries and those still to come)
  std::vector<float> step_in_, step_out_, logits_;
  std::vector<int32_t> tokens_, history_;
};

}  // namespace nagi
