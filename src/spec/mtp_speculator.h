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
// target): the entries whose hidden states arrived since the last proposal
// are evaluated in one batch, the last of them ((h_{L-2}, x_{L-1})) gives the
// logits of token L; each further draft token feeds the head's own output
// state back with the token just drafted, as vLLM's proposer does for
// num_speculative_tokens > 1. Tokens are drawn by DraftSampler (the target's
// Gumbel noise). Draft steps are dropped from the cache (truncation) before
// the next proposal: the accepted positions get entries rebuilt from the
// target's real hidden states.
#pragma once

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
  MtpSpeculator(const ModelSpec& spec, const TensorStore& store, const std::string& what,
                const SamplingParams& sampling, bool independent_noise, int n_ctx, ThreadPool& pool);

  void propose(std::span<const int32_t> context, int max_tokens, Draft& out) override;
  bool wants_hidden_states() const override { return true; }
  void on_hidden_states(std::span<const float> hidden, int n_embd, int pos0) override;

  // Entries in the head's cache built from the target's hidden states (the
  // draft steps of the last proposal come after them). For tests.
  int committed_entries() const { return committed_; }

 private:
  void restart(int pos0);

  MtpHead head_;
  ModelState state_;
  Workspace ws_;
  DraftSampler sampler_;
  ThreadPool& pool_;
  std::vector<int> eos_ids_;
  int first_ = -1;                // context position of entry 0's hidden state; -1: none yet
  int committed_ = 0;             // entries from target hidden states
  std::vector<float> pending_;    // head inputs for positions first_ + committed_ ..
  std::vector<float> step_in_, step_out_, logits_;
  std::vector<int32_t> tokens_, history_;
};

}  // namespace nagi
