#include "api/speculative_decode.h"

#include <algorithm>
#include <string>

#include "spec/draft_model_speculator.h"
#include "spec/lookup_speculator.h"
#include "spec/mtp_speculator.h"
#include "spec/verifier.h"

namespace nagi {
namespace {

// The first root-to-leaf path of a tree draft (following first children):
// what a model that cannot verify trees, or the rejection rule, gets instead.
void reduce_to_chain(Draft& d) {
  Draft chain;
  int node = -1;
  for (int i = 0; i < d.size(); ++i) {
    if (d.parent[size_t(i)] != node) continue;
    chain.push(d.tokens[size_t(i)], chain.size() - 1);
    if (!d.q.empty()) chain.q.push_back(d.q[size_t(i)]);
    node = i;
  }
  d = std::move(chain);
}

}  // namespace

Speculator* make_speculator(const GenerateOptions& options, Session::Impl& s) {
  using Mode = SpeculativeOptions::Mode;
  const SpeculativeOptions& so = options.speculative;
  s.speculator.reset();
  if (so.mode == Mode::kNone) return nullptr;
  if (so.draft_max < 1)
    throw Error(ErrorCode::kInvalidArgument, "speculative: draft_max must be >= 1, got " + std::to_string(so.draft_max));
  const bool rejection = so.accept == SpeculativeOptions::Accept::kRejection;
  switch (so.mode) {
    case Mode::kLookup:
    {
      // Where the model verifies chains only, a tree's budget is better
      // spent on one longer chain.
      const bool trees = !rejection && !s.transformer->has_recurrent_state() && s.state.can_keep_path();
      s.speculator = std::make_unique<LookupSpeculator>(so.lookup_ngram, trees ? so.lookup_branches : 1);
      return s.speculator.get();
    }
    case Mode::kDraft: {
      std::shared_ptr<Model> draft = so.draft;
      if (!draft) {
        if (so.draft_model.empty())
          throw Error(ErrorCode::kInvalidArgument, "speculative: draft mode needs a draft model");
        draft = Model::load(so.draft_model);
      }
      s.speculator = std::make_unique<DraftModelSpeculator>(std::move(draft), s.transformer->spec().n_vocab,
                                                            options.sampling, rejection, s.n_ctx, s.pool->size());
      return s.speculator.get();
    }
    case Mode::kMtp: {
      if (!s.mtp) {
        const LoadedModel& m = s.model->impl().loaded;
        s.mtp = std::make_unique<MtpSpeculator>(m.spec, m.tensors, "speculative mtp: " + s.model->info().path,
                                                s.n_ctx, *s.pool);
      }
      s.mtp->set_sampling(options.sampling, rejection);
      return s.mtp.get();
    }
    case Mode::kNone: break;
  }
  return nullptr;
}

void speculative_decode(Session::Impl& s, const GenerateOptions& options, Sampler& sampler,
                        Speculator& speculator, std::vector<float>& work,
                        std::vector<int32_t>& history, const std::function<bool(int32_t)>& emit,
                        GenerateResult& result) {
  const SpeculativeOptions& so = options.speculative;
  const int n_vocab = s.transformer->spec().n_vocab;
  const AcceptRule rule = so.accept == SpeculativeOptions::Accept::kRejection ? AcceptRule::kRejection
                                                                               : AcceptRule::kGumbel;
  const bool recurrent = s.transformer->has_recurrent_state();
  // Trees need every layer to keep an arbitrary path of its rows; anything
  // else (recurrent states, or a KV layout without keep_rows) gets chains.
  const bool trees_ok = !recurrent && s.state.can_keep_path();
  SpeculativeStats& stats = result.speculative;
  Draft draft;
  std::vector<int32_t> batch, parents, slots;
  std::vector<float> kept_hidden;

  // Draft length adapts to how well proposals fare: a verification pass
  // over k tokens costs up to k single-token passes when the matmul is not
  // yet a GEMM, so proposing 8 tokens that are all rejected is expensive.
  // Grow on full acceptance, shrink to just past the accepted run otherwise.
  // This changes which tokens are proposed, never which are output.
  int k_now = so.draft_max;
  const int d = s.transformer->spec().n_embd;
  // The prefill's hidden states are still in the workspace: nothing has run
  // since. A reused prefix was not evaluated, so they start at n_reused.
  if (speculator.wants_hidden_states() && result.n_prefill > 0) {
    const float* h = s.transformer->last_hidden(s.ws, result.n_prefill);
    speculator.on_hidden_states(std::span<const float>(h, size_t(result.n_prefill) * d), d, result.n_reused);
  }
  // The first token comes from the prefill's logits, exactly as in plain decoding.
  int32_t id = sampler.sample(work, history, static_cast<int64_t>(history.size()));
  for (;;) {
    if (!emit(id)) break;
    if (s.cancel) { result.stop_reason = "cancelled"; break; }
    // `id` sits at position P and is not evaluated yet; the cache holds P positions.
    const int P = static_cast<int>(history.size()) - 1;
    int k = std::min(k_now, s.n_ctx - P - 1);
    // Every pass emits a bonus token, so drafts past max_tokens - 1 are waste.
    if (options.max_tokens >= 0) k = std::min(k, options.max_tokens - static_cast<int>(result.ids.size()) - 1);
    draft.clear();
    if (k > 0) speculator.propose(history, k, draft);
    if (draft.size() > k) draft = Draft{};  // a misbehaving speculator costs speed, never correctness
    if (!draft.is_chain() && (!trees_ok || rule == AcceptRule::kRejection)) reduce_to_chain(draft);
    const bool tree = !draft.is_chain();

    batch.assign(1, id);
    batch.insert(batch.end(), draft.tokens.begin(), draft.tokens.end());
    parents.clear();
    if (tree) {
      parents.push_back(-1);
      for (int32_t p : draft.parent) parents.push_back(p + 1);
    }
    // Recurrent layers roll back by snapshot + replay: snapshot here, so
    // only the accepted tokens are replayed.
    if (recurrent && !draft.empty()) s.state.snapshot();
    // Verified bit for bit as plain decoding evaluates each token, one at a
    // time (a tree node: as the chain of its path), so the target's samples
    // are plain decoding's.
    const float* rows = s.eval(batch, true, parents, true);
    stats.target_passes++;
    stats.proposed += draft.size();

    const Verdict v = verify(std::span<const float>(rows, batch.size() * size_t(n_vocab)), n_vocab, draft,
                             history, P + 1, sampler, rule);
    // Before any rollback: a replay would overwrite the hidden states.
    if (speculator.wants_hidden_states()) {
      const float* h = s.transformer->last_hidden(s.ws, static_cast<int>(batch.size()));
      kept_hidden.assign(h, h + d);  // row 0: the context's last token, at P
      for (int32_t i : v.path) kept_hidden.insert(kept_hidden.end(), h + size_t(i + 1) * d, h + size_t(i + 2) * d);
      speculator.on_hidden_states(kept_hidden, d, P);
    }
    stats.accepted += static_cast<int>(v.path.size());
    if (!draft.empty()) {
      const int got = static_cast<int>(v.path.size());
      int longest = 0;  // a tree is fully accepted when a whole branch is
      for (int i = 0; i < draft.size(); ++i) longest = std::max(longest, draft.depth(i));
      k_now = got == longest ? std::min(so.draft_max, 2 * k_now) : std::max(1, got + 1);
    }
    if (tree) {
      slots.assign(1, 0);
      for (int32_t i : v.path) slots.push_back(i + 1);
      s.transformer->keep_path(s.state, P, slots);
    } else if (s.state.n_past() != P + 1 + static_cast<int>(v.path.size())) {
      // The kept tokens were verified one-token-exact: replayed the same way.
      s.transformer->rollback(s.state, P + 1 + static_cast<int>(v.path.size()), s.ws, *s.pool, true);
    }
    bool go_on = true;
    for (int32_t i : v.path) {
      if (!(go_on = emit(draft.tokens[size_t(i)]))) break;
    }
    if (!go_on) break;
    id = v.bonus;
  }
  // As in plain decoding: every token after the first came out of a decode
  // step, so tokens/s figures compare across modes.
  result.n_decode = std::max(0, static_cast<int>(result.ids.size()) - 1);
  // Accepted tokens after a stop were evaluated but not emitted: keep the
  // cache a prefix of prompt + output, as plain decoding leaves it.
  if (s.state.n_past() > static_cast<int>(history.size()))
    s.transformer->rollback(s.state, static_cast<int>(history.size()), s.ws, *s.pool, true);
}

}  // namespace nagi
