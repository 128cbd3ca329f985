#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace nagi {
namespace {

constexpr int kTile = 64;  // keys per tile
constexpr int kMaxGroup = 16;

inline const uint8_t* kv_row(const void* base, const AttentionParams& p, int64_t pos, int g) {
  const size_t elem = p.kv_type == KvType::kF32 ? 4 : 2;
  return static_cast<const uint8_t*>(base) + (static_cast<size_t>(pos) * p.kv_stride + size_t(g) * p.head_dim) * elem;
}

// One (KV head g, token t): the `group` q heads of g over keys [lo, hi].
void flash_one(const Kernels& k, const AttentionParams& p, int g, int t, int group, float* scores, float* acc) {
  const int hd = p.head_dim;
  const int64_t pos = int64_t(p.pos0) + t;
  const int64_t lo = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0, hi = pos;
  float m[kMaxGroup], l[kMaxGroup];
  for (int i = 0; i < group; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.f;
  }
  std::fill(acc, acc + size_t(group) * hd, 0.f);
  const float* q0 = p.q + int64_t(t) * p.q_stride + int64_t(g) * group * hd;
  const bool f16 = p.kv_type == KvType::kF16;
  for (int64_t j0 = lo; j0 <= hi; j0 += kTile) {
    const int n = static_cast<int>(std::min<int64_t>(kTile, hi - j0 + 1));
    // Scores of the tile: each K row is loaded once for the whole group.
    for (int j = 0; j < n; ++j) {
      const uint8_t* kr = kv_row(p.k, p, j0 + j, g);
      for (int i = 0; i < group; ++i) {
        const float* qi = q0 + i * hd;
        const float s = f16 ? k.dot_f16(reinterpret_cast<const uint16_t*>(kr), qi, hd)
                            : k.dot_f32(reinterpret_cast<const float*>(kr), qi, hd);
        scores[i * kTile + j] = s * p.scale;
      }
    }
    // Online softmax: rescale the running sums once per tile.
    for (int i = 0; i < group; ++i) {
      float* si = scores + i * kTile;
      float mx = m[i];
      for (int j = 0; j < n; ++j) mx = std::max(mx, si[j]);
      const float corr = std::exp(m[i] - mx);  // 0 on the first tile (m = -inf)
      float sum = 0.f;
      for (int j = 0; j < n; ++j) {
        si[j] = std::exp(si[j] - mx);
        sum += si[j];
      }
      l[i] = l[i] * corr + sum;
      m[i] = mx;
      if (corr != 1.f) {
        float* ai = acc + size_t(i) * hd;
        for (int d = 0; d < hd; ++d) ai[d] *= corr;
      }
    }
    // Weighted V rows, each loaded once for the group.
    for (int j = 0; j < n; ++j) {
      const uint8_t* vr = kv_row(p.v, p, j0 + j, g);
      for (int i = 0; i < group; ++i) {
        float* ai = acc + size_t(i) * hd;
        if (f16) {
          k.axpy_f16(scores[i * kTile + j], reinterpret_cast<const uint16_t*>(vr), ai, hd);
        } else {
          k.axpy_f32(scores[i * kTile + j], reinterpret_cast<const float*>(vr), ai, hd);
        }
      }
    }
  }
  for (int i = 0; i < group; ++i) {
    float* o = p.out + int64_t(t) * p.out_stride + (int64_t(g) * group + i) * hd;
    const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
    const float* ai = acc + size_t(i) * hd;
    for (int d = 0; d < hd; ++d) o[d] = ai[d] * inv;
  }
}

}  // namespace

void attention_flash(const AttentionParams& p, ThreadPool& pool) { attention_flash_with(kernels(), p, pool); }

void attention_flash_with(const Kernels& k, const AttentionParams& p, ThreadPool& pool) {
  if (p.n_tok <= 0) return;
  const int group = p.n_head / p.n_kv_head;
  if (group > kMaxGroup) return attention_reference(p);  // no such model yet (> 16 q heads per KV head)
  const int64_t items = int64_t(p.n_kv_head) * p.n_tok;
  pool.parallel_for(items, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores, acc;
    scores.resize(size_t(kMaxGroup) * kTile);
    acc.resize(size_t(group) * p.head_dim);
    for (int64_t it = begin; it < end; ++it) {
      // Token-major order: neighbouring items share a token's q rows and the KV rows stay hot.
      const int t = static_cast<int>(it / p.n_kv_head), g = static_cast<int>(it % p.n_kv_head);
      flash_one(k, p, g, t, group, scores.data(), acc.data());
    }
  });
}

void attention_reference(const AttentionParams& p) {
  const int group = p.n_head / p.n_kv_head;
  const int hd = p.head_dim;
  std::vector<double> s;
  std::vector<float> kr(hd), vr(hd);
  auto load = [&](const void* base, int64_t pos, int g, float* dst) {
    const uint8_t* r = kv_row(base, p, pos, g);
    if (p.kv_type == KvType::kF32) {
      std::memcpy(dst, r, size_t(hd) * 4);
    } else {
      for (int d = 0; d < hd; ++d) dst[d] = fp16_to_f32(uint16_t(r[2 * d] | (r[2 * d + 1] << 8)));
    }
  };
  for (int t = 0; t < p.n_tok; ++t) {
    const int64_t pos = int64_t(p.pos0) + t;
    const int64_t lo = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
    for (int h = 0; h < p.n_head; ++h) {
      const int g = h / group;
      const float* qh = p.q + int64_t(t) * p.q_stride + int64_t(h) * hd;
      s.assign(size_t(pos - lo + 1), 0.0);
      double mx = -INFINITY;
      for (int64_t j = lo; j <= pos; ++j) {
        load(p.k, j, g, kr.data());
        double d = 0;
        for (int i = 0; i < hd; ++i) d += double(qh[i]) * kr[i];
        s[j - lo] = d * p.scale;
        mx = std::max(mx, s[j - lo]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      std::vector<double> o(hd, 0.0);
      for (int64_t j = lo; j <= pos; ++j) {
        load(p.v, j, g, vr.data());
        for (int i = 0; i < hd; ++i) o[i] += s[j - lo] / sum * vr[i];
      }
      float* out = p.out + int64_t(t) * p.out_stride + int64_t(h) * hd;
      for (int i = 0; i < hd; ++i) out[i] = static_cast<float>(o[i]);
    }
  }
}

}  // namespace nagi
