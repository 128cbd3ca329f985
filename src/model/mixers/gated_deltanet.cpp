#include "model/mixers/gated_deltanet.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/thread_pool.h"
#include "kernels/matmul_group.h"
#include "model/mixers/delta_rule.h"
#include "model/token_loop.h"
#include "model/weights.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

inline float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }

}  // namespace

// Snapshots hold the state with every update in it.
void DeltaNetState::save(std::vector<float>& out) const {
  out.resize(conv_.size() + recurrent_.size());
  std::copy(conv_.begin(), conv_.end(), out.begin());
  std::copy(recurrent_.begin(), recurrent_.end(), out.begin() + conv_.size());
  if (!deferred_) return;
  for (int h = 0; h < n_heads_; ++h) {
    delta_rule_apply(out.data() + conv_.size() + size_t(h) * dk_ * dv_, dk_, dv_, pending_at(h));
  }
}

void DeltaNetState::restore(const std::vector<float>& in) {
  if (in.size() != conv_.size() + recurrent_.size()) {
    throw Error(ErrorCode::kInternal, "DeltaNetState::restore: snapshot of " + std::to_string(in.size()) +
                                          " floats does not fit this layer");
  }
  std::copy(in.begin(), in.begin() + conv_.size(), conv_.begin());
  std::copy(in.begin() + conv_.size(), in.end(), recurrent_.begin());
  deferred_ = false;
}

void DeltaNetState::clear() {
  std::fill(conv_.begin(), conv_.end(), 0.f);
  std::fill(recurrent_.begin(), recurrent_.end(), 0.f);
  deferred_ = false;
}

GatedDeltaNetMixer::GatedDeltaNetMixer(const ModelSpec& spec, int layer, const TensorStore& store,
                                       const std::string& what)
    : s_(spec.layers[layer].deltanet), n_embd_(spec.n_embd), norm_eps_(spec.norm_eps) {
  const std::string p = "blk." + std::to_string(layer) + ".";
  if (s_.n_k_heads <= 0 || s_.n_v_heads <= 0 || s_.n_v_heads % s_.n_k_heads != 0 ||
      s_.head_k_dim <= 0 || s_.head_v_dim <= 0 || s_.conv_kernel < 1) {
    throw Error(ErrorCode::kFormat, what + ": layer " + std::to_string(layer) +
                                        ": inconsistent gated DeltaNet dimensions");
  }
  key_dim_ = s_.n_k_heads * s_.head_k_dim;
  value_dim_ = s_.n_v_heads * s_.head_v_dim;
  conv_dim_ = 2 * key_dim_ + value_dim_;
  const int64_t d = spec.n_embd;
  w_qkv_ = bind_matrix(store, p + "attn_qkv.weight", conv_dim_, d, what);
  w_gate_ = bind_matrix(store, p + "attn_gate.weight", value_dim_, d, what);
  w_alpha_ = bind_matrix(store, p + "ssm_alpha.weight", s_.n_v_heads, d, what);
  w_beta_ = bind_matrix(store, p + "ssm_beta.weight", s_.n_v_heads, d, what);
  w_out_ = bind_matrix(store, p + "ssm_out.weight", d, value_dim_, what);
  const std::vector<float> conv_w = bind_floats(store, p + "ssm_conv1d.weight", {conv_dim_, s_.conv_kernel}, what);
  conv_wt_.resize(conv_w.size());
  for (int64_t pos = 0; pos < conv_dim_;) {
    const auto [c0, run] = conv_channel_at(pos);
    for (int64_t i = 0; i < run; ++i) {
      for (int k = 0; k < s_.conv_kernel; ++k) {
        conv_wt_[size_t(k) * conv_dim_ + size_t(pos + i)] = conv_w[size_t(c0 + i) * s_.conv_kernel + k];
      }
    }
    pos += run;
  }
  a_ = bind_vector(store, p + "ssm_a", s_.n_v_heads, what);
  dt_bias_ = bind_vector(store, p + "ssm_dt.bias", s_.n_v_heads, what);
  norm_w_ = bind_vector(store, p + "ssm_norm.weight", s_.head_v_dim, what);
}

std::unique_ptr<LayerState> GatedDeltaNetMixer::new_state(int, KvType) const {
  return std::make_unique<DeltaNetState>(size_t(s_.conv_kernel - 1) * conv_dim_, s_.n_v_heads, s_.head_k_dim,
                                         s_.head_v_dim);
}

size_t GatedDeltaNetMixer::state_bytes_read(int, KvType) const {
  // The history, the heads' states and their pending updates.
  return (size_t(s_.conv_kernel - 1) * conv_dim_ + size_t(s_.n_v_heads) * s_.head_k_dim * s_.head_v_dim +
          size_t(s_.n_v_heads) * (s_.head_k_dim + s_.head_v_dim + 1)) * sizeof(float);
}

// Key-head order: position p of the convolution's weights and history holds
// qkv channel conv_channel_at(p).first. Key head kh owns the positions
// [kh * per_head, (kh + 1) * per_head): its q channels, its k channels, then
// the v channels of its value heads. Decode runs whole key heads per thread,
// and in this order a thread's weights and history are a few long forward
// streams that the hardware prefetchers follow; in qkv's order they were
// 512-byte pieces 24 KiB apart, each line a cold miss (a Qwen3.5-0.8B decode
// region with the recurrence left out: 15-18 us in qkv's order, 13-14 in
// this one).
// Returns the qkv channel at position pos and how many positions from pos on
// map to consecutive channels.
std::pair<int64_t, int64_t> GatedDeltaNetMixer::conv_channel_at(int64_t pos) const {
  const int dk = s_.head_k_dim, dv = s_.head_v_dim;
  const int64_t per_head = conv_dim_ / s_.n_k_heads;
  const int kh = int(pos / per_head);
  const int64_t o = pos - kh * per_head;
  if (o < dk) return {int64_t(kh) * dk + o, dk - o};
  if (o < 2 * dk) return {key_dim_ + int64_t(kh) * dk + (o - dk), 2 * dk - o};
  const int j = int((o - 2 * dk) / dv);
  const int64_t in_head = (o - 2 * dk) - int64_t(j) * dv;
  return {2 * int64_t(key_dim_) + int64_t(value_head(kh, j)) * dv + in_head, dv - in_head};
}

// Causal depthwise convolution over time of the channels at positions
// [p0, p1) (key-head order, above), in place on qkv [n, conv_dim], then
// SiLU: out[t] = silu(sum_k w[k] u[t + k]), where u holds the channels' K - 1
// inputs before the batch (the state's history) and then the batch's n. The
// history then keeps the last K - 1 inputs. Walked with the taps as the
// outer loop over contiguous channels (weights transposed to [K][position])
// so it vectorises; the sum over taps keeps its order (k = 0..K-1), so a
// channel's value is the same whatever range it is computed in, and disjoint
// ranges may run on different threads.
void GatedDeltaNetMixer::convolve_positions(float* qkv, int n, DeltaNetState& st, int64_t p0, int64_t p1) const {
  if (n == 1) return convolve_one(qkv, st, p0, p1);
  const int K = s_.conv_kernel, H = K - 1, C = conv_dim_;
  const Kernels& kern = kernels();
  thread_local std::vector<float> u, acc;
  while (p0 < p1) {
    const auto [c0, run] = conv_channel_at(p0);
    const int64_t width = std::min(run, p1 - p0);
    const size_t row_bytes = sizeof(float) * size_t(width);
    u.resize(size_t(H + n) * width);
    acc.resize(size_t(width));
    for (int r = 0; r < H; ++r) std::memcpy(u.data() + size_t(r) * width, st.conv() + size_t(r) * C + p0, row_bytes);
    for (int t = 0; t < n; ++t) std::memcpy(u.data() + size_t(H + t) * width, qkv + size_t(t) * C + c0, row_bytes);
    for (int t = 0; t < n; ++t) {
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int k = 0; k < K; ++k) {
        kern.mul_add(conv_wt_.data() + size_t(k) * C + p0, u.data() + size_t(t + k) * width, acc.data(), width);
      }
      kern.silu(acc.data(), qkv + size_t(t) * C + c0, width);
    }
    for (int r = 0; r < H; ++r) std::memcpy(st.conv() + size_t(r) * C + p0, u.data() + size_t(n + r) * width, row_bytes);
    p0 += width;
  }
}

// The same for one token (decode), without staging the inputs: the history
// taps run over the whole range [p0, p1) at once (weights and history are in
// the same order), only the new input's tap goes segment by segment, and the
// history shifts in place. The taps are applied in the same order with the
// same kernel, so each value is what convolve_positions gives. (A Qwen3.5-0.8B
// decode thread's convolution per layer, trace build: 7.5-8.4 us staged,
// 6.4-7.0 without; what is left is its cold weights and history.)
void GatedDeltaNetMixer::convolve_one(float* qkv, DeltaNetState& st, int64_t p0, int64_t p1) const {
  const int K = s_.conv_kernel, H = K - 1, C = conv_dim_;
  const Kernels& kern = kernels();
  const int64_t width = p1 - p0;
  thread_local std::vector<float> acc;
  acc.assign(size_t(width), 0.f);
  float* hist = st.conv();
  for (int k = 0; k < H; ++k) {
    kern.mul_add(conv_wt_.data() + size_t(k) * C + p0, hist + size_t(k) * C + p0, acc.data(), width);
  }
  for (int r = 0; r + 1 < H; ++r) {
    std::memcpy(hist + size_t(r) * C + p0, hist + size_t(r + 1) * C + p0, sizeof(float) * size_t(width));
  }
  for (int64_t p = p0; p < p1;) {
    const auto [c0, run] = conv_channel_at(p);
    const int64_t w = std::min(run, p1 - p);
    float* a = acc.data() + (p - p0);
    kern.mul_add(conv_wt_.data() + size_t(H) * C + p, qkv + c0, a, w);
    if (H > 0) std::memcpy(hist + size_t(H - 1) * C + p, qkv + c0, sizeof(float) * size_t(w));
    kern.silu(a, qkv + c0, w);
    p += w;
  }
}

// Token t's key head kh: q and k L2-normalised (llama.cpp: x / max(|x|, eps)).
void GatedDeltaNetMixer::normalize_qk(float* qkv, int64_t t, int kh) const {
  const int dk = s_.head_k_dim;
  float* q = qkv + size_t(t) * conv_dim_ + size_t(kh) * dk;
  for (float* x : {q, q + key_dim_}) {
    // The SIMD dot: a plain loop here is one chain of dependent adds.
    const float ss = kernels().dot_f32(x, x, dk);
    const float inv = 1.f / std::max(std::sqrt(ss), norm_eps_);
    for (int i = 0; i < dk; ++i) x[i] *= inv;
  }
}

// Token t's value head h: beta through the sigmoid, alpha into g, the log decay.
void GatedDeltaNetMixer::head_gates(float* alpha, float* beta, int64_t t, int h) const {
  const size_t i = size_t(t) * s_.n_v_heads + h;
  beta[i] = 1.f / (1.f + std::exp(-beta[i]));
  alpha[i] = softplus(alpha[i] + dt_bias_[h]) * a_[h];
}

// Value head h through the delta rule over the batch's n tokens. One token
// (decode) leaves its update of the state pending for the next token's pass
// to apply (DeltaNetState::deferred); anything else first applies what is
// pending.
void GatedDeltaNetMixer::run_head(const float* qkv, const float* alpha, const float* beta, float* o, int n, int h,
                                  bool chunked, DeltaNetState& st) const {
  const int nv = s_.n_v_heads, dk = s_.head_k_dim, dv = s_.head_v_dim;
  DeltaRuleHead head;
  head.dk = dk;
  head.dv = dv;
  const int kh = key_head(h);
  head.q = qkv + size_t(kh) * dk;
  head.k = qkv + key_dim_ + size_t(kh) * dk;
  head.qk_stride = conv_dim_;
  head.v = qkv + 2 * key_dim_ + size_t(h) * dv;
  head.v_stride = conv_dim_;
  head.g = alpha + h;
  head.beta = beta + h;
  head.gate_stride = nv;
  head.scale = 1.f / std::sqrt(float(dk));
  head.out = o + size_t(h) * dv;
  head.out_stride = value_dim_;
  float* S = st.head(h);
  if (n == 1) {  // never chunked
    delta_rule_step_deferred(head, S, st.pending(h), st.deferred());
    return;
  }
  if (st.deferred()) delta_rule_apply(S, dk, dv, st.pending(h));
  // The chunked form rounds differently from the token-by-token one.
  if (chunked) delta_rule_chunked(head, n, S, kChunk);
  else delta_rule_recurrent(head, n, S);
}

// Gated RMSNorm of token t's value head h: RMSNorm(o; ssm_norm) * silu(z).
void GatedDeltaNetMixer::gated_norm(float* o, const float* z, int64_t t, int h) const {
  const int dv = s_.head_v_dim;
  float* oh = o + size_t(t) * value_dim_ + size_t(h) * dv;
  const float* zh = z + size_t(t) * value_dim_ + size_t(h) * dv;
  rmsnorm(oh, norm_w_.data(), oh, dv, norm_eps_);
  kernels().silu_mul(zh, oh, oh, dv);
}

void GatedDeltaNetMixer::forward(const float* xn, float* out, const Batch& batch,
                                 LayerState& state, Workspace& ws, ThreadPool& pool) const {
  auto& st = static_cast<DeltaNetState&>(state);
  const int n = batch.n, d = n_embd_, nv = s_.n_v_heads, nk = s_.n_k_heads;
  float* qkv = ws.get(kMixerSlot0 + 0, size_t(n) * conv_dim_);
  float* z = ws.get(kMixerSlot0 + 1, size_t(n) * value_dim_);
  float* alpha = ws.get(kMixerSlot0 + 2, size_t(n) * nv);
  float* beta = ws.get(kMixerSlot0 + 3, size_t(n) * nv);
  float* o = ws.get(kMixerSlot0 + 4, size_t(n) * value_dim_);
  // The four input projections share xn: one parallel region.
  const MatmulJob in_proj[] = {
      {&w_qkv_, qkv, conv_dim_}, {&w_gate_, z, value_dim_}, {&w_alpha_, alpha, nv}, {&w_beta_, beta, nv}};
  matmul_group(in_proj, xn, n, d, pool);

  const bool chunked = n >= kChunk / 4 && !batch.per_token;
  if (!chunked) {
    // Decode and short batches: a key head's channels, gates, value heads
    // and their norms depend on nothing outside it, so each thread runs
    // whole key heads from the convolution to the gated norm in one region
    // (the convolution, ~15 us a layer on the calling thread alone while
    // the other waited, reads its history and weights from DRAM). One run
    // of key heads per thread, in three passes over it: the convolution of
    // all its positions (a few long streams, key-head order), then the
    // recurrence head after head, then the norms.
    const int ratio = nv / nk;
    const int64_t per_head = conv_dim_ / nk;
    pool.parallel_for(nk, (nk + pool.size() - 1) / pool.size(), [&](int64_t k0, int64_t k1) {
      convolve_positions(qkv, n, st, k0 * per_head, k1 * per_head);
      for (int kh = int(k0); kh < int(k1); ++kh) {
        for (int t = 0; t < n; ++t) normalize_qk(qkv, t, kh);
        for (int j = 0; j < ratio; ++j) {
          for (int t = 0; t < n; ++t) head_gates(alpha, beta, t, value_head(kh, j));
        }
      }
      for (int kh = int(k0); kh < int(k1); ++kh) {
        for (int j = 0; j < ratio; ++j) {
          run_head(qkv, alpha, beta, o, n, value_head(kh, j), false, st);
        }
      }
      for (int kh = int(k0); kh < int(k1); ++kh) {
        for (int j = 0; j < ratio; ++j) {
          for (int t = 0; t < n; ++t) gated_norm(o, z, t, value_head(kh, j));
        }
      }
    });
    st.set_deferred(n == 1);
  } else {
    // Channels are independent: split over the threads in runs of positions.
    pool.parallel_for(conv_dim_, 64, [&](int64_t p0, int64_t p1) { convolve_positions(qkv, n, st, p0, p1); });
    // Tokens are independent, so a prompt splits the gates and the gated
    // norm over the threads (on the calling thread alone they were ~3% of
    // a Qwen3.5 prefill while the other thread waited).
    for_tokens(n, pool, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        for (int kh = 0; kh < nk; ++kh) normalize_qk(qkv, t, kh);
        for (int h = 0; h < nv; ++h) head_gates(alpha, beta, t, h);
      }
    });
    pool.parallel_for(nv, [&](int64_t begin, int64_t end) {
      for (int64_t h = begin; h < end; ++h) run_head(qkv, alpha, beta, o, n, int(h), true, st);
    });
    st.set_deferred(false);
    for_tokens(n, pool, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        for (int h = 0; h < nv; ++h) gated_norm(o, z, t, h);
      }
    });
  }
  matmul(w_out_, o, n, value_dim_, out, d, pool);
}

}  // namespace nagi
