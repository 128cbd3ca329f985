#include "model/mixers/short_conv.h"

#include <algorithm>
#include <cstring>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "model/token_loop.h"
#include "model/weights.h"
#include "nagi/error.hpp"

namespace nagi {

bool ShortConvState::truncate(int n_past, int n) {
  // Position q is overwritten by q + capacity_; the rows n needs
  // (n-history_ .. n-1) survive while q + capacity_ >= n_past for all of them.
  if (std::max(0, n - history_) + capacity_ < n_past) return false;
  n_past_ = n;
  return true;
}

void ShortConvState::save(std::vector<float>& out) const {
  // [n_past, then the l_cache-1 rows before it, oldest first]; a position
  // count is exact in a float far beyond any context length.
  out.assign(1 + size_t(history_) * n_embd_, 0.f);
  out[0] = static_cast<float>(n_past_);
  for (int i = 0; i < history_; ++i) {
    const int pos = n_past_ - history_ + i;
    if (pos >= 0) std::memcpy(out.data() + 1 + size_t(i) * n_embd_, row(pos), sizeof(float) * n_embd_);
  }
}

void ShortConvState::restore(const std::vector<float>& in) {
  n_past_ = static_cast<int>(in.at(0));
  for (int i = 0; i < history_; ++i) {
    const int pos = n_past_ - history_ + i;
    if (pos >= 0) std::memcpy(row(pos), in.data() + 1 + size_t(i) * n_embd_, sizeof(float) * n_embd_);
  }
}

void ShortConvState::clear() {
  // Positions < 0 read as zeros in forward, so stale rows are never seen;
  // zeroing keeps snapshots of fresh states deterministic anyway.
  std::fill(rows_.begin(), rows_.end(), 0.f);
  n_past_ = 0;
}

ShortConvMixer::ShortConvMixer(const ModelSpec& spec, int layer, const TensorStore& store,
                               const std::string& what)
    : n_embd_(spec.n_embd), l_cache_(spec.layers[layer].conv.l_cache) {
  const std::string p = "blk." + std::to_string(layer) + ".shortconv.";
  const int64_t d = spec.n_embd;
  if (l_cache_ < 1) {
    throw Error(ErrorCode::kFormat, what + ": layer " + std::to_string(layer) +
                                        ": short-conv kernel length must be >= 1");
  }
  in_proj_ = bind_matrix(store, p + "in_proj.weight", 3 * d, d, what);
  // Stored [channel][tap]; kept [tap][channel] so each tap is one contiguous pass.
  const std::vector<float> k = bind_floats(store, p + "conv.weight", {d, l_cache_}, what);
  kernel_.resize(k.size());
  for (int64_t c = 0; c < d; ++c)
    for (int j = 0; j < l_cache_; ++j) kernel_[size_t(j) * d + c] = k[size_t(c) * l_cache_ + j];
  out_proj_ = bind_matrix(store, p + "out_proj.weight", d, d, what);
  if (spec.layers[layer].conv.bias) {
    in_bias_ = bind_vector(store, p + "in_proj.bias", 3 * d, what);
    conv_bias_ = bind_vector(store, p + "conv.bias", d, what);
    out_bias_ = bind_vector(store, p + "out_proj.bias", d, what);
  }
}

std::unique_ptr<LayerState> ShortConvMixer::new_state(int, KvType) const {
  return std::make_unique<ShortConvState>(n_embd_, l_cache_);
}

size_t ShortConvMixer::state_bytes_read(int, KvType) const {
  return size_t(l_cache_ - 1) * n_embd_ * sizeof(float);
}

void ShortConvMixer::forward(const float* xn, float* out, const Batch& batch, LayerState& state,
                             Workspace& ws, ThreadPool& pool) const {
  auto& ring = static_cast<ShortConvState&>(state);
  const int n = batch.n, pos0 = batch.pos0, d = n_embd_, L = l_cache_;
  float* bcx = ws.get(kMixerSlot0 + 0, size_t(n) * 3 * d);
  float* u = ws.get(kMixerSlot0 + 1, size_t(n) * d);   // B ⊙ x
  float* y = ws.get(kMixerSlot0 + 2, size_t(n) * d);   // C ⊙ conv(u)
  matmul(in_proj_, xn, n, d, bcx, 3 * d, pool);
  // Per token (independent; split over the pool for a prompt): the biases
  // and u = B * x, then, once every u row exists, the convolution.
  for_tokens(n, pool, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* r = bcx + size_t(t) * 3 * d;
      if (!in_bias_.empty()) {
        for (int i = 0; i < 3 * d; ++i) r[i] += in_bias_[i];
      }
      const float* b = r;
      const float* x = r + 2 * d;
      float* ut = u + size_t(t) * d;
      for (int c = 0; c < d; ++c) ut[c] = b[c] * x[c];
    }
  });
  // out[p] = sum_k w[k] * u[p - (L-1) + k]: earlier rows of this batch come
  // from u, rows before the batch from the ring, rows before 0 are zero.
  for_tokens(n, pool, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int p = pos0 + int(t);
      const float* cgate = bcx + size_t(t) * 3 * d + d;
      float* yt = y + size_t(t) * d;
      if (conv_bias_.empty()) {
        std::fill(yt, yt + d, 0.f);
      } else {
        std::copy(conv_bias_.begin(), conv_bias_.end(), yt);
      }
      for (int k = 0; k < L; ++k) {
        const int q = p - (L - 1) + k;
        if (q < 0) continue;
        const float* src = q >= pos0 ? u + size_t(q - pos0) * d : ring.row(q);
        kernels().mul_add(kernel_.data() + size_t(k) * d, src, yt, d);
      }
      for (int c = 0; c < d; ++c) yt[c] *= cgate[c];
    }
  });
  // Only the newest `capacity` rows can ever be read again.
  for (int t = std::max(0, n - ring.capacity()); t < n; ++t) {
    std::memcpy(ring.row(pos0 + t), u + size_t(t) * d, sizeof(float) * d);
  }
  ring.n_past_ = pos0 + n;
  matmul(out_proj_, y, n, d, out, d, pool);
  if (!out_bias_.empty()) {
    for (int t = 0; t < n; ++t)
      for (int c = 0; c < d; ++c) out[size_t(t) * d + c] += out_bias_[c];
  }
}

}  // namespace nagi
