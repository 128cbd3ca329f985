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
constexpr int kMaxRows = 64;  // query rows (tokens x group heads) per work item

inline const uint8_t* kv_row(const void* base, const AttentionParams& p, int64_t pos, int g) {
  const size_t elem = p.kv_type == KvType::kF32 ? 4 : 2;
  return static_cast<const uint8_t*>(base) + (static_cast<size_t>(pos) * p.kv_stride + size_t(g) * p.head_dim) * elem;
}

// One (KV head g, tokens [t0, t0 + nt)): the `group` q heads of g for each of
// the nt tokens (rows r = tt * group + i) over their causal key ranges. Each
// K and V row is loaded once for all nt * group query rows.
void flash_block(const Kernels& k, const AttentionParams& p, int g, int t0, int nt, int group, float* scores,
                 float* acc, float* kt, float* vt) {
  const int hd = p.head_dim, rows = nt * group;
  const int64_t pos_first = int64_t(p.pos0) + t0, pos_last = pos_first + nt - 1;
  const int64_t lo_first = p.window > 0 ? std::max<int64_t>(0, pos_first - p.window + 1) : 0;
  float m[kMaxRows], l[kMaxRows];
  for (int r = 0; r < rows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
  }
  std::fill(acc, acc + size_t(rows) * hd, 0.f);
  const bool f16 = p.kv_type == KvType::kF16;
  const float* q_rows[kMaxRows];
  for (int tt = 0; tt < nt; ++tt) {
    for (int i = 0; i < group; ++i) {
      q_rows[tt * group + i] = p.q + int64_t(t0 + tt) * p.q_stride + (int64_t(g) * group + i) * hd;
    }
  }
  for (int64_t j0 = lo_first; j0 <= pos_last; j0 += kTile) {
    const int n = static_cast<int>(std::min<int64_t>(kTile, pos_last - j0 + 1));
    // The tile's keys, transposed (kt[d][j]) and in f32; V rows in f32.
    for (int j = 0; j < n; ++j) {
      const uint8_t* kr = kv_row(p.k, p, j0 + j, g);
      if (f16) {
        const uint16_t* h = reinterpret_cast<const uint16_t*>(kr);
        for (int d = 0; d < hd; ++d) kt[d * kTile + j] = fp16_to_f32(h[d]);
      } else {
        const float* f = reinterpret_cast<const float*>(kr);
        for (int d = 0; d < hd; ++d) kt[d * kTile + j] = f[d];
      }
    }
    // V rows copied contiguous: cache rows are kv_stride apart (often a
    // multiple of 4 KiB), which would map a tile's rows onto few L1 sets.
    for (int j = 0; j < n; ++j) {
      const uint8_t* vr = kv_row(p.v, p, j0 + j, g);
      if (f16) {
        const uint16_t* h = reinterpret_cast<const uint16_t*>(vr);
        for (int d = 0; d < hd; ++d) vt[j * hd + d] = fp16_to_f32(h[d]);
      } else {
        std::memcpy(vt + size_t(j) * hd, vr, size_t(hd) * sizeof(float));
      }
    }
    const float* v = vt;
    const int64_t v_stride = hd;
    k.attn_scores(q_rows, rows, kt, kTile, n, hd, p.scale, scores, kTile);
    // Keys outside a token's range (future, or before its window) -> -inf.
    for (int tt = 0; tt < nt; ++tt) {
      const int64_t pos = pos_first + tt;
      for (int j = 0; j < n; ++j) {
        const int64_t key = j0 + j;
        if (key <= pos && (p.window <= 0 || key > pos - p.window)) continue;
        for (int i = 0; i < group; ++i) scores[(tt * group + i) * kTile + j] = -INFINITY;
      }
    }
    // Online softmax: rescale each row's running sums once per tile.
    for (int r = 0; r < rows; ++r) {
      float* sr = scores + r * kTile;
      float mx = m[r];
      for (int j = 0; j < n; ++j) mx = std::max(mx, sr[j]);
      if (mx == -INFINITY) {  // nothing visible yet in this row
        for (int j = 0; j < n; ++j) sr[j] = 0.f;
        continue;
      }
      const float corr = std::exp(m[r] - mx);  // 0 on the row's first tile (m = -inf)
      float sum = 0.f;
      for (int j = 0; j < n; ++j) {
        sr[j] = std::exp(sr[j] - mx);  // exp(-inf) = 0 for hidden keys
        sum += sr[j];
      }
      l[r] = l[r] * corr + sum;
      m[r] = mx;
      if (corr != 1.f) {
        float* ar = acc + size_t(r) * hd;
        for (int d = 0; d < hd; ++d) ar[d] *= corr;
      }
    }
    k.attn_pv(scores, kTile, rows, v, v_stride, n, hd, acc);
  }
  for (int tt = 0; tt < nt; ++tt) {
    for (int i = 0; i < group; ++i) {
      const int r = tt * group + i;
      float* o = p.out + int64_t(t0 + tt) * p.out_stride + (int64_t(g) * group + i) * hd;
      const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
      const float* ar = acc + size_t(r) * hd;
      for (int d = 0; d < hd; ++d) o[d] = ar[d] * inv;
    }
  }
}

}  // namespace

void attention_flash(const AttentionParams& p, ThreadPool& pool) { attention_flash_with(kernels(), p, pool); }

void attention_flash_with(const Kernels& k, const AttentionParams& p, ThreadPool& pool) {
  if (p.n_tok <= 0) return;
  const int group = p.n_head / p.n_kv_head;
  if (group > kMaxGroup) return attention_reference(p);  // no such model yet (> 16 q heads per KV head)
  // Work items: (KV head, block of bt tokens), bt * group <= kMaxRows query rows.
  const int bt = std::max(1, kMaxRows / group);
  const int64_t n_blocks = (p.n_tok + bt - 1) / bt;
  const int64_t items = int64_t(p.n_kv_head) * n_blocks;
  // Small problems (a few keys, tiny heads) stay on the calling thread.
  const int64_t macs = int64_t(p.n_tok) * p.n_head * (int64_t(p.pos0) + p.n_tok) * p.head_dim * 2;
  const int64_t by_work = std::max<int64_t>(1, macs / (int64_t(1) << 18));
  const int n_threads = static_cast<int>(std::min<int64_t>(std::min<int64_t>(pool.size(), items), by_work));
  auto work = [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores, acc, kt, vt;
    scores.resize(size_t(kMaxRows) * kTile);
    acc.resize(size_t(kMaxRows) * p.head_dim);
    kt.resize(size_t(kTile) * p.head_dim);
    vt.resize(size_t(kTile) * p.head_dim);
    for (int64_t it = begin; it < end; ++it) {
      const int b = static_cast<int>(it / p.n_kv_head), g = static_cast<int>(it % p.n_kv_head);
      const int t0 = b * bt;
      flash_block(k, p, g, t0, std::min(bt, p.n_tok - t0), group, scores.data(), acc.data(), kt.data(), vt.data());
    }
  };
  if (n_threads == 1) {
    work(0, items);
  } else {
    // Chunks are claimed dynamically (4 per thread), which also evens out the
    // causal rows' growing cost.
    pool.parallel_for(items, 1, work);
  }
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
