// An independent float64 evaluation of Qwen3.5's multi-token-prediction head,
// written from vLLM's Qwen3NextMultiTokenPredictor.forward
// (vllm/model_executor/models/qwen3_next_mtp.py) and its proposer
// (vllm/v1/spec_decode): reads the HF mtp.* tensors directly, uses
// Qwen35Reference for the main model and for the head's decoder layer.
//
// Entry i pairs the main model's output hidden state at position i (after
// model.norm: what the model's forward returns and the proposer hands the
// drafter) with the token at i + 1, at position i:
//   z = fc([pre_fc_norm_embedding(embed(x_{i+1})) ; pre_fc_norm_hidden(h_i)])
//   z = mtp.layers.0(z);  g = mtp.norm(z);  logits = lm_head(g)
// A draft chain continues with entries whose hidden state is the previous
// entry's g (for "mtp" the proposer feeds back the hidden state the logits
// were computed from).
#pragma once

#include <vector>

#include "qwen35_reference.h"

namespace nagi::test {

class Qwen35MtpReference {
 public:
  // Deliberate mistakes, to show that the comparisons can fail.
  enum class Mistake { kNone, kHiddenFirst, kPreNormHidden };
  Qwen35MtpReference(const nlohmann::json& config, const TensorStore& weights, Mistake m = Mistake::kNone)
      : c_(config), w_(weights), main_(config, weights), mistake_(m) {}

  // Logits [entries, vocab]: entries 0 .. ids.size() - 2 from the main
  // model's hidden states, then one per token of `chain`.
  std::vector<double> logits(const std::vector<int32_t>& ids, const std::vector<int32_t>& chain) const {
    using Vec = std::vector<double>;
    const int d = c_["hidden_size"], vocab = c_["vocab_size"];
    const double eps = c_["rms_norm_eps"];
    const auto h = main_.residual(ids);
    std::vector<Vec> z;  // the layer's inputs, one per entry
    auto fc_input = [&](int32_t token, const Vec& hidden) {
      const Vec e = main_.rmsnorm1p(ref::embed(main_.get("model.embed_tokens.weight"), {token}, d)[0],
                                    main_.get("mtp.pre_fc_norm_embedding.weight"), eps);
      const Vec hn = main_.rmsnorm1p(hidden, main_.get("mtp.pre_fc_norm_hidden.weight"), eps);
      Vec cat = mistake_ == Mistake::kHiddenFirst ? hn : e;
      const Vec& second = mistake_ == Mistake::kHiddenFirst ? e : hn;
      cat.insert(cat.end(), second.begin(), second.end());
      return main_.linear(cat, "mtp.fc.weight");
    };
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const Vec target = mistake_ == Mistake::kPreNormHidden
                             ? h[i]
                             : main_.rmsnorm1p(h[i], main_.get("model.norm.weight"), eps);
      z.push_back(fc_input(ids[i + 1], target));
    }
    // Causal attention: an entry's output does not depend on later entries,
    // so each chain step re-runs the layer over the entries so far.
    auto outputs = [&] {
      std::vector<Vec> y = z;
      main_.layer(y, "mtp.layers.0.", true);
      for (Vec& v : y) v = main_.rmsnorm1p(v, main_.get("mtp.norm.weight"), eps);
      return y;
    };
    for (int32_t token : chain) z.push_back(fc_input(token, outputs().back()));
    const auto g = outputs();
    const bool tied = c_.value("tie_word_embeddings", false);
    const auto lm = ref::load_unembedding(w_, tied ? "model.embed_tokens.weight" : "lm_head.weight");
    std::vector<double> out(g.size() * size_t(vocab));
    for (size_t t = 0; t < g.size(); ++t) ref::unembed(lm, g[t], vocab, static_cast<int>(t), out);
    return out;
  }

 private:
  const nlohmann::json& c_;
  const TensorStore& w_;
  Qwen35Reference main_;
  Mistake mistake_;
};

}  // namespace nagi::test
