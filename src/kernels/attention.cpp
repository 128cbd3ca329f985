#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace nagi {
namespace {

constexpr int kTile = 64;  // keys per tile
constexpr int kMaxGroup = 16;
constexpr int kMaxRows = 64;  // query rows (tokens x group heads) per work item

// Up to this many query rows (decode: the q heads of one KV group) score
// the keys row by row; more rows amortize transposing the key tile.
constexpr int kMaxRowsDirect = 8;
constexpr int kMaxQ8HeadDim = 1024;  // bounds the scales kept on the stack

inline const uint8_t* kv_head(const uint8_t* base, const AttentionParams& p, int64_t pos, int g) {
  return base + size_t(g) * p.kv_head_stride + static_cast<size_t>(pos) * p.kv_pos_bytes;
}

}  // namespace

size_t kv_head_bytes(KvType t, int head_dim) {
  switch (t) {
    case KvType::kF32: return size_t(head_dim) * 4;
    case KvType::kF16: return size_t(head_dim) * 2;
    case KvType::kQ8: return size_t(head_dim) + size_t(head_dim) / kActBlock * sizeof(float);
  }
  return 0;
}

bool kv_type_supports(KvType t, int head_dim) {
  return t != KvType::kQ8 || (head_dim % kActBlock == 0 && head_dim <= kMaxQ8HeadDim);
}

void kv_store_head(const Kernels& k, KvType t, const float* src, int head_dim, uint8_t* dst) {
  switch (t) {
    case KvType::kF32: std::memcpy(dst, src, size_t(head_dim) * sizeof(float)); return;
    case KvType::kF16: k.f32_to_f16(src, reinterpret_cast<uint16_t*>(dst), head_dim); return;
    case KvType::kQ8: {
      float scales[kMaxQ8HeadDim / kActBlock];
      k.quantize_act_q8(src, head_dim, reinterpret_cast<int8_t*>(dst), scales);
      std::memcpy(dst + head_dim, scales, size_t(head_dim) / kActBlock * sizeof(float));
      return;
    }
  }
}

void kv_load_head(const Kernels& k, KvType t, const uint8_t* head, int head_dim, float* out) {
  switch (t) {
    case KvType::kF32: std::memcpy(out, head, size_t(head_dim) * sizeof(float)); return;
    case KvType::kF16: k.f16_to_f32(reinterpret_cast<const uint16_t*>(head), out, head_dim); return;
    case KvType::kQ8: {
      float scales[kMaxQ8HeadDim / kActBlock];  // the row's scales may be unaligned
      std::memcpy(scales, head + head_dim, size_t(head_dim) / kActBlock * sizeof(float));
      k.dequantize_q8_32(reinterpret_cast<const int8_t*>(head), scales, out, head_dim);
      return;
    }
  }
}

namespace {

// Loads one byte of every 64-byte line of two runs of `bytes` bytes each,
// side by side, before a decode tile's kernels read them. A decode token
// reads each layer's K and V rows once, a whole token of weight streaming
// after the last time, so they come from DRAM; the score and P.V kernels'
// FMA chains keep few of their loads in flight, and a burst of prefetches
// (the next tile, requested ahead, as this did before) is mostly dropped
// once the core's miss buffers are full. Loads that nothing waits on are
// not dropped and stream at the core's rate. bench_ops
// BM_attention_decode (Qwen3-0.6B's heads, one Zen 5 thread), cache
// evicted first: 36.7 -> 19.2 us at 40 positions, 92 -> 46 us at 200, 356
// -> 175 us at 1000; from cache it costs 4.2 -> 5.1, 20.7 -> 22.9 and 111
// -> 120 us. Decode (in-process A/B): Qwen3-0.6B Q4_0 +3.4%, Q4_K_M +5.1%.
inline void pull_lines(const uint8_t* a, const uint8_t* b, size_t bytes) {
  uint8_t any = 0;
  for (size_t o = 0; o < bytes; o += 64) any |= a[o] | b[o];
  asm volatile("" ::"r"(any));
}

// One (KV head g, tokens [t0, t0 + nt)): the `group` q heads of g for each of
// the nt tokens (rows r = tt * group + i) over their causal key ranges. Each
// K and V row is loaded once for all nt * group query rows.
void flash_block(const Kernels& k, const AttentionParams& p, int g, int t0, int nt, int group, float* scores,
                 float* acc, float* kt, float* vt) {
  const int hd = p.head_dim, rows = nt * group;
  // A tree node (nt == 1) sits at the position of its depth and sees the
  // positions before pos0, then its ancestors and itself in root-first
  // order: path[i] is the batch slot of its position pos0 + i.
  thread_local std::vector<int32_t> path;
  path.clear();
  if (p.parent != nullptr) {
    for (int32_t s = t0; s >= 0; s = p.parent[s]) path.push_back(s);
    std::reverse(path.begin(), path.end());
  }
  const int64_t pos_first = p.parent != nullptr ? int64_t(p.pos0) + int64_t(path.size()) - 1 : int64_t(p.pos0) + t0;
  const int64_t pos_last = pos_first + nt - 1;
  const int64_t lo_first = p.window > 0 ? std::max<int64_t>(0, pos_first - p.window + 1) : 0;
  float m[kMaxRows], l[kMaxRows];
  for (int r = 0; r < rows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
  }
  std::fill(acc, acc + size_t(rows) * hd, 0.f);
  const bool direct = rows <= kMaxRowsDirect;
  const float* q_rows[kMaxRows];
  for (int tt = 0; tt < nt; ++tt) {
    for (int i = 0; i < group; ++i) {
      q_rows[tt * group + i] = p.q + int64_t(t0 + tt) * p.q_stride + (int64_t(g) * group + i) * hd;
    }
  }
  for (int64_t j0 = lo_first; j0 <= pos_last; j0 += kTile) {
    const int n = static_cast<int>(std::min<int64_t>(kTile, pos_last - j0 + 1));
    // An f16 cache keeps one head's positions adjacent: the tile is one run
    // of f16 rows, which the f16 kernels read in place where the level has
    // them (no conversion pass, half the bytes).
    const bool f16_rows = p.kv_type == KvType::kF16 && p.kv_pos_bytes == kv_head_bytes(KvType::kF16, hd);
    // Rows j0.. of the tile as one run with the cache's stride: in place, or
    // for a tree node whose tile reaches into the batch, its path's rows
    // gathered into a buffer, so the kernels see the bytes a chain of that
    // path would have in its cache.
    thread_local std::vector<uint8_t> gathered_k, gathered_v;
    const bool gather = p.parent != nullptr && j0 + n > p.pos0;
    auto tile_run = [&](const uint8_t* base) -> const uint8_t* {
      if (!gather) return kv_head(base, p, j0, g);
      std::vector<uint8_t>& buf = base == p.k ? gathered_k : gathered_v;
      buf.resize(size_t(n) * p.kv_pos_bytes);
      const size_t head_bytes = kv_head_bytes(p.kv_type, hd);
      for (int j = 0; j < n; ++j) {
        const int64_t pos = j0 + j;
        const int64_t slot = pos < p.pos0 ? pos : p.pos0 + path[size_t(pos - p.pos0)];
        std::memcpy(buf.data() + size_t(j) * p.kv_pos_bytes, kv_head(base, p, slot, g), head_bytes);
      }
      return buf.data();
    };
    const uint8_t* k_run = tile_run(p.k);
    const uint8_t* v_run = tile_run(p.v);
    const auto f16_tile = [&](const uint8_t* base) {
      return reinterpret_cast<const uint16_t*>(base == p.k ? k_run : v_run);
    };
    // Otherwise the tile's K and V rows as f32: read in place from an f32
    // cache, else converted into the buffers. The keys are then scored row
    // by row (few query rows: decode) or transposed (kt[d][j]) for the tile
    // kernel.
    auto tile_rows = [&](const uint8_t* base, float* buf) -> std::pair<const float*, int64_t> {
      if (p.kv_type == KvType::kF32) {
        return {reinterpret_cast<const float*>(base == p.k ? k_run : v_run), int64_t(p.kv_pos_bytes / sizeof(float))};
      }
      if (f16_rows) {  // one conversion call for the run, not one per row
        k.f16_to_f32(f16_tile(base), buf, int64_t(n) * hd);
        return {buf, hd};
      }
      const uint8_t* run = base == p.k ? k_run : v_run;
      for (int j = 0; j < n; ++j) kv_load_head(k, p.kv_type, run + size_t(j) * p.kv_pos_bytes, hd, buf + size_t(j) * hd);
      return {buf, hd};
    };
    // Decode: the layer's cache rows come from DRAM (see pull_lines).
    if (direct) pull_lines(k_run, v_run, size_t(n) * p.kv_pos_bytes);
    const bool f16_keys = f16_rows && direct && k.attn_scores_rows_f16 != nullptr;
    const bool f16_values = f16_rows && k.attn_pv_f16 != nullptr;
    if (f16_keys) {
      k.attn_scores_rows_f16(q_rows, rows, f16_tile(p.k), hd, n, hd, p.scale, scores, kTile);
    } else if (direct) {
      const auto [kr, kr_stride] = tile_rows(p.k, kt);
      k.attn_scores_rows(q_rows, rows, kr, kr_stride, n, hd, p.scale, scores, kTile);
    } else {
      if (f16_rows) {
        k.transpose_keys_f16(f16_tile(p.k), hd, n, hd, kt, kTile);
      } else {
        // kt has room for the converted keys after the transposed tile.
        const auto [kr, kr_stride] = tile_rows(p.k, kt + size_t(kTile) * hd);
        k.transpose_keys(kr, kr_stride, n, hd, kt, kTile);
      }
      k.attn_scores(q_rows, rows, kt, kTile, n, hd, p.scale, scores, kTile);
    }
    // Keys outside a token's range (future, or before its window) -> -inf;
    // none in a tile that every token sees whole.
    const bool all_visible = j0 + n - 1 <= pos_first && (p.window <= 0 || j0 > pos_last - p.window);
    for (int tt = 0; tt < nt && !all_visible; ++tt) {
      const int64_t pos = pos_first + tt;
      for (int j = 0; j < n; ++j) {
        const int64_t key = j0 + j;
        if (key <= pos && (p.window <= 0 || key > pos - p.window)) continue;
        for (int i = 0; i < group; ++i) scores[(tt * group + i) * kTile + j] = -INFINITY;
      }
    }
    // Online softmax: rescale each row's running sums once per tile.
    k.attn_softmax_tile(scores, kTile, rows, n, m, l, acc, hd);
    if (f16_values) {
      k.attn_pv_f16(scores, kTile, rows, f16_tile(p.v), hd, n, hd, acc);
    } else {
      const auto [v, v_stride] = tile_rows(p.v, vt);
      k.attn_pv(scores, kTile, rows, v, v_stride, n, hd, acc);
    }
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
  const int bt = p.per_token || p.parent != nullptr ? 1 : std::max(1, kMaxRows / group);
  const int64_t n_blocks = (p.n_tok + bt - 1) / bt;
  const int64_t items = int64_t(p.n_kv_head) * n_blocks;
  // Only tiny problems (a few keys) stay on the calling thread: one thread
  // per 2^14 multiply-adds. A decode token of Qwen3-0.6B (16 x 128 heads,
  // f16 cache) at 8 positions took 1.43 us on one Zen 5 thread and 1.04 us
  // on two; at 64, 6.2 vs 3.5 us. The former 2^18 kept decode on one thread
  // below 128 positions; lowering it made 64-token decodes 2.8% (Q4_0, 19 of
  // 20 alternating rounds) and 1.9% (Q8_0, 16 of 16) faster (docs/PERFORMANCE.md).
  const int64_t macs = int64_t(p.n_tok) * p.n_head * (int64_t(p.pos0) + p.n_tok) * p.head_dim * 2;
  const int64_t by_work = std::max<int64_t>(1, macs / (int64_t(1) << 14));
  const int n_threads = static_cast<int>(std::min<int64_t>(std::min<int64_t>(pool.size(), items), by_work));
  auto work = [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores, acc, kt, vt;
    scores.resize(size_t(kMaxRows) * kTile);
    acc.resize(size_t(kMaxRows) * p.head_dim);
    kt.resize(size_t(2) * kTile * p.head_dim);
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
  // Written out here rather than through the kernel table, so the kernels'
  // conversions are checked against it.
  auto load = [&](const uint8_t* base, int64_t pos, int g, float* dst) {
    const uint8_t* r = kv_head(base, p, pos, g);
    switch (p.kv_type) {
      case KvType::kF32: std::memcpy(dst, r, size_t(hd) * 4); break;
      case KvType::kF16:
        for (int d = 0; d < hd; ++d) dst[d] = fp16_to_f32(uint16_t(r[2 * d] | (r[2 * d + 1] << 8)));
        break;
      case KvType::kQ8:
        for (int d = 0; d < hd; ++d) {
          float scale;
          std::memcpy(&scale, r + hd + size_t(d / kActBlock) * sizeof(float), sizeof(float));
          dst[d] = float(int8_t(r[d])) * scale;
        }
        break;
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
