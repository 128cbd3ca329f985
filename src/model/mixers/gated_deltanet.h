// Gated DeltaNet, the linear-attention mixer of Qwen3.5 (Qwen3-Next):
//   qkv = attn_qkv·x -> causal depthwise conv (ssm_conv1d) -> SiLU, split
//   [q | k | v]; q and k L2-normalised per head; beta = sigmoid(ssm_beta·x);
//   g = softplus(ssm_alpha·x + ssm_dt.bias) · ssm_a (ssm_a = -exp(A_log));
//   the gated delta rule per value head (delta_rule.h), scale 1/sqrt(dk);
//   out = ssm_out · (RMSNorm(o; ssm_norm) ⊙ silu(attn_gate·x)) per head.
// State: the last conv_kernel-1 inputs of the convolution and one [dk, dv]
// matrix per value head. Prefill uses the chunked form, decode the recurrence.
#pragma once

#include <utility>
#include <vector>

#include "format/tensor_store.h"
#include "kernels/ops.h"
#include "model/mixer.h"
#include "model/mixers/delta_rule.h"
#include "model/spec.h"

namespace nagi {

class DeltaNetState final : public LayerState {
 public:
  DeltaNetState(size_t conv_floats, int n_v_heads, int dk, int dv)
      : conv_(conv_floats, 0.f),
        recurrent_(size_t(n_v_heads) * dk * dv, 0.f),
        pending_(size_t(n_v_heads) * (dk + dv + 1), 0.f),
        n_heads_(n_v_heads),
        dk_(dk),
        dv_(dv) {}
  // [conv_kernel-1, conv_dim], oldest first, channels in the mixer's key-head
  // order (GatedDeltaNetMixer::conv_channel_at).
  float* conv() { return conv_.data(); }
  // Value head h's state [dk, dv] (heads back to back); while deferred(),
  // without the last token's update, which pending(h) holds (delta_rule.h
  // DeferredUpdate).
  float* head(int h) { return recurrent_.data() + size_t(h) * dk_ * dv_; }
  DeferredUpdate pending(int h) { return pending_at(h); }
  bool deferred() const { return deferred_; }
  void set_deferred(bool d) { deferred_ = d; }

  // Only the present is known: truncation works only when nothing is dropped.
  bool truncate(int n_past, int n) override { return n == n_past; }
  void save(std::vector<float>& out) const override;
  void restore(const std::vector<float>& in) override;
  void clear() override;
  size_t bytes() const override { return (conv_.size() + recurrent_.size() + pending_.size()) * sizeof(float); }

 private:
  // Head h's pending update: k, delta and decay in one slice of pending_.
  DeferredUpdate pending_at(int h) const {
    float* p = const_cast<float*>(pending_.data()) + size_t(h) * (dk_ + dv_ + 1);
    return {p, p + dk_, p + dk_ + dv_};
  }

  std::vector<float> conv_, recurrent_, pending_;
  int n_heads_, dk_, dv_;
  bool deferred_ = false;
};

class GatedDeltaNetMixer final : public Mixer {
 public:
  // Binds blk.<layer>.{attn_qkv, attn_gate, ssm_conv1d, ssm_a, ssm_dt.bias,
  // ssm_alpha, ssm_beta, ssm_norm, ssm_out}.
  GatedDeltaNetMixer(const ModelSpec& spec, int layer, const TensorStore& store,
                     const std::string& what);

  void forward(const float* xn, float* out, const Batch& batch, LayerState& state, Workspace& ws,
               ThreadPool& pool) const override;
  std::unique_ptr<LayerState> new_state(int n_ctx, KvType kv) const override;
  size_t state_bytes_read(int n_past, KvType kv) const override;

  // Chunk length of the chunked (prefill) form; batches of at least
  // kChunk / 4 tokens use it, shorter ones (decode, small drafts) the recurrence.
  // 32 rather than 64: the per-token work inside a chunk (K K^T, the
  // triangular solve, Q K^T) grows with the chunk, and with GEMM-shaped
  // products the state terms run as fast either way (bench_deltanet:
  // 12.4-13.3 ms at 64, 10.8-12.5 at 32 on Zen 4).
  static constexpr int kChunk = 32;

 private:
  std::pair<int64_t, int64_t> conv_channel_at(int64_t pos) const;
  void convolve_positions(float* qkv, int n, DeltaNetState& st, int64_t p0, int64_t p1) const;
  void convolve_one(float* qkv, DeltaNetState& st, int64_t p0, int64_t p1) const;
  void normalize_qk(float* qkv, int64_t t, int kh) const;
  void head_gates(float* alpha, float* beta, int64_t t, int h) const;
  void run_head(const float* qkv, const float* alpha, const float* beta, float* o, int n, int h, bool chunked,
                DeltaNetState& st) const;
  void gated_norm(float* o, const float* z, int64_t t, int h) const;
  // Which key head value head h reads, and the j-th value head of key head
  // kh (see DeltaNetSpec::v_heads_grouped).
  int key_head(int h) const {
    return s_.v_heads_grouped ? h / (s_.n_v_heads / s_.n_k_heads) : h % s_.n_k_heads;
  }
  int value_head(int kh, int j) const {
    return s_.v_heads_grouped ? kh * (s_.n_v_heads / s_.n_k_heads) + j : kh + j * s_.n_k_heads;
  }

  DeltaNetSpec s_;
  int n_embd_;
  float norm_eps_;
  int key_dim_, value_dim_, conv_dim_;
  Matrix w_qkv_, w_gate_, w_alpha_, w_beta_, w_out_;
  std::vector<float> conv_wt_;  // ssm_conv1d weights transposed: [kernel][position], key-head order
  std::vector<float> a_, dt_bias_, norm_w_;
};

}  // namespace nagi
