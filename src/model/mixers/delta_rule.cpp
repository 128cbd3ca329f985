#include "model/mixers/delta_rule.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

// The library is compiled for baseline x86-64; these loops are plain C++ that
// vectorises well, so GCC builds AVX-512 and AVX2 clones of the two entry
// points and picks one when the program loads (the helpers are inlined into
// each clone).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NAGI_DELTA_RULE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NAGI_DELTA_RULE_CLONES
#endif

namespace nagi {
namespace {

// 16 floats: a zmm in the AVX-512 clone, two ymm in the AVX2 one (GCC
// vector extension).
typedef float v16f __attribute__((vector_size(64), aligned(4)));

// Whether this CPU has AVX-512's 32 vector registers (gemm_rows' panels).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// __builtin_cpu_init first: this initializer may run before libgcc's.
const bool kWidePanels = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
}();
#else
constexpr bool kWidePanels = false;
#endif

// 16 independent partial sums: vectorises without -ffast-math (a single
// running sum would be one long dependent chain of scalar adds).
[[gnu::always_inline]] inline float dot(const float* a, const float* b, int n) {
  float acc[16] = {};
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int l = 0; l < 16; ++l) acc[l] += a[i + l] * b[i + l];
  }
  float s = 0.f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

// C[r][j0, j0 + 16 NT) += sum_{i<k} A[r][i] * B[i][j0, ..) for MR rows of A
// (lda apart) and C (ldc apart): MR x NT vector accumulators stay in
// registers while B's rows stream once.
template <int MR, int NT>
[[gnu::always_inline]] inline void gemm_panel(const float* A, size_t lda, const float* B, size_t ldb, float* C,
                                              size_t ldc, int k, int j0) {
  v16f acc[MR][NT];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NT; ++c) std::memcpy(&acc[r][c], C + r * ldc + j0 + 16 * c, sizeof(v16f));
  for (int i = 0; i < k; ++i) {
    v16f b[NT];
    for (int c = 0; c < NT; ++c) std::memcpy(&b[c], B + i * ldb + j0 + 16 * c, sizeof(v16f));
    for (int r = 0; r < MR; ++r) {
      const float a = A[r * lda + i];
      for (int c = 0; c < NT; ++c) acc[r][c] += a * b[c];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NT; ++c) std::memcpy(C + r * ldc + j0 + 16 * c, &acc[r][c], sizeof(v16f));
}

// C[r][0, n) += sum_{i<k} A[r][i] * B[i][0, n) for the MR rows r. Panels of
// 64 columns with AVX-512 (16 accumulators of 32 registers), else of 16
// (the AVX2 clone's v16f is two ymm and it has 16 registers).
template <int MR>
[[gnu::always_inline]] inline void gemm_rows(const float* A, size_t lda, const float* B, size_t ldb, float* C,
                                             size_t ldc, int k, int n) {
  int j0 = 0;
  for (; kWidePanels && j0 + 64 <= n; j0 += 64) gemm_panel<MR, 4>(A, lda, B, ldb, C, ldc, k, j0);
  for (; j0 + 16 <= n; j0 += 16) gemm_panel<MR, 1>(A, lda, B, ldb, C, ldc, k, j0);
  for (int r = 0; r < MR && j0 < n; ++r) {
    for (int i = 0; i < k; ++i) {
      for (int j = j0; j < n; ++j) C[r * ldc + j] += A[r * lda + i] * B[i * ldb + j];
    }
  }
}

// C [m, n) += A [m, k) B [k, n), rows in blocks of four. Where A or the
// wanted part of C is lower triangular (Shape), a block ending at row r_end
// stops at depth r_end, or at width r_end rounded up to whole 16-column
// panels (C and B must have room up to n; columns past a row's own are
// computed and left for the caller to ignore).
enum class Shape { kFull, kDepthToRow, kWidthToRow };
template <Shape S>
[[gnu::always_inline]] inline void gemm_acc(const float* A, size_t lda, const float* B, size_t ldb, float* C,
                                            size_t ldc, int m, int k, int n) {
  auto dims = [&](int r_end) {
    return S == Shape::kDepthToRow ? std::pair{std::min(k, r_end), n}
           : S == Shape::kWidthToRow ? std::pair{k, std::min(n, (r_end + 15) / 16 * 16)}
                                     : std::pair{k, n};
  };
  int r0 = 0;
  for (; r0 + 4 <= m; r0 += 4) {
    const auto [kk, nn] = dims(r0 + 4);
    gemm_rows<4>(A + r0 * lda, lda, B, ldb, C + r0 * ldc, ldc, kk, nn);
  }
  for (; r0 < m; ++r0) {
    const auto [kk, nn] = dims(r0 + 1);
    gemm_rows<1>(A + r0 * lda, lda, B, ldb, C + r0 * ldc, ldc, kk, nn);
  }
}

}  // namespace

// One token's recurrence over the state's columns [j0, j0 + 16 NT):
// with S' = e^g S + k delta^T,  delta = beta (v - e^g S^T k) and
// o = scale (e^g S^T q + (k.q) delta). The state is the bulk of the memory
// traffic and is cold in decode (the weights streamed since the last token
// have evicted it), so it is read row by row, each row's 16 NT columns
// contiguous, with the 2 NT column sums in registers: with NT = 8 (AVX-512's
// 32 registers) a 128-column head is one forward stream that the hardware
// prefetchers follow, where strips of 16 columns walked it 512 bytes apart
// line by line. Rows `ahead` rows on are requested as each row is read (the
// prefetchers stop at page boundaries: 8 KiB ahead read a cold head's 512
// KiB in 20 us on one core against 24-26 without). The second pass rewrites
// the rows from L2. Each column's sums run over i in the same order whatever
// NT is.
template <int NT>
[[gnu::always_inline]] inline void recurrent_panel(float* S, int dk, int dv, int j0, int ahead, const float* next,
                                                   const float* k, const float* q, const float* v, float decay,
                                                   float beta, float kq, float scale, float* o) {
  v16f kv[NT], sq[NT];
#pragma GCC unroll 16
  for (int c = 0; c < NT; ++c) kv[c] = sq[c] = v16f{};
  for (int i = 0; i < dk; ++i) {
    const float* row = S + size_t(i) * dv + j0;
    if (i + ahead < dk) {
#pragma GCC unroll 16
      for (int c = 0; c < NT; ++c) __builtin_prefetch(row + size_t(ahead) * dv + 16 * c);
    }
#pragma GCC unroll 16
    for (int c = 0; c < NT; ++c) {
      v16f x;
      std::memcpy(&x, row + 16 * c, sizeof x);
      kv[c] += k[i] * x;
      sq[c] += q[i] * x;
    }
  }
  v16f delta[NT];
#pragma GCC unroll 16
  for (int c = 0; c < NT; ++c) {
    v16f vt, ot;
    std::memcpy(&vt, v + j0 + 16 * c, sizeof vt);
    delta[c] = beta * (vt - decay * kv[c]);
    ot = scale * (decay * sq[c] + kq * delta[c]);
    std::memcpy(o + j0 + 16 * c, &ot, sizeof ot);
  }
  for (int i = 0; i < dk; ++i) {
    float* row = S + size_t(i) * dv + j0;
    if (next && i < ahead) {
#pragma GCC unroll 16
      for (int c = 0; c < NT; ++c) __builtin_prefetch(next + size_t(i) * dv + 16 * c);
    }
#pragma GCC unroll 16
    for (int c = 0; c < NT; ++c) {
      v16f x;
      std::memcpy(&x, row + 16 * c, sizeof x);
      x = decay * x + k[i] * delta[c];
      std::memcpy(row + 16 * c, &x, sizeof x);
    }
  }
}

NAGI_DELTA_RULE_CLONES void delta_rule_recurrent(const DeltaRuleHead& h, int n, float* S) {
  const int dk = h.dk, dv = h.dv;
  for (int t = 0; t < n; ++t) {
    const float* q = h.q + t * h.qk_stride;
    const float* k = h.k + t * h.qk_stride;
    const float* v = h.v + t * h.v_stride;
    const float decay = std::exp(h.g[t * h.gate_stride]);
    const float beta = h.beta[t * h.gate_stride];
    float* o = h.out + t * h.out_stride;
    const float kq = dot(k, q, dk);
    const int ahead = std::max(1, 8192 / int(sizeof(float) * size_t(dv)));
    int j0 = 0;
    for (; kWidePanels && j0 + 128 <= dv; j0 += 128) {
      // The next state's first panel once this token's last panel is done.
      const float* next = t + 1 == n && j0 + 256 > dv ? h.next_state : nullptr;
      recurrent_panel<8>(S, dk, dv, j0, ahead, next, k, q, v, decay, beta, kq, h.scale, o);
    }
    for (; j0 + 16 <= dv; j0 += 16) recurrent_panel<1>(S, dk, dv, j0, 0, nullptr, k, q, v, decay, beta, kq, h.scale, o);
    for (int j = j0; j < dv; ++j) {  // columns beyond the last full strip
      float kv = 0.f, sq = 0.f;
      for (int i = 0; i < dk; ++i) {
        kv += S[size_t(i) * dv + j] * k[i];
        sq += S[size_t(i) * dv + j] * q[i];
      }
      const float delta = beta * (v[j] - decay * kv);
      o[j] = h.scale * (decay * sq + kq * delta);
      for (int i = 0; i < dk; ++i) S[size_t(i) * dv + j] = decay * S[size_t(i) * dv + j] + k[i] * delta;
    }
  }
}

// Per chunk of L tokens, with G_t the log decay summed from the chunk start
// through token t and S0 the state at the chunk start:
//   delta_t = beta_t (v_t - e^{G_t} S0^T k_t - sum_{s<t} e^{G_t-G_s} (k_t.k_s) delta_s)
//   o_t = scale (e^{G_t} S0^T q_t + sum_{s<=t} e^{G_t-G_s} (q_t.k_s) delta_s)
//   S = e^{G_last} S0 + sum_s e^{G_last-G_s} k_s delta_s^T
// Every product is a small GEMM through gemm_acc: K S0 and Q S0, K K^T and
// Q K^T (lower triangles), the deltas (the triangular system solved four
// rows at a time: a GEMM against the finished rows, then the 4x4 corner),
// the outputs and the state update.
NAGI_DELTA_RULE_CLONES void delta_rule_chunked(const DeltaRuleHead& h, int n, float* S, int chunk) {
  const int dk = h.dk, dv = h.dv, C = std::max(1, chunk);
  thread_local std::vector<float> buf;
  // G/eg/wdecay [C], Kt [dk, C], KS/QS/delta [C, dv], kk/qk [C, C]
  buf.resize(size_t(3) * C + size_t(dk) * C + size_t(3) * C * dv + size_t(2) * C * C);
  float* G = buf.data();
  float* eg = G + C;
  float* wdecay = eg + C;
  float* Kt = wdecay + C;  // K^T of the chunk: Kt[i * C + s] = k_s[i]
  float* KS = Kt + size_t(dk) * C;
  float* QS = KS + size_t(C) * dv;
  float* delta = QS + size_t(C) * dv;
  float* kk = delta + size_t(C) * dv;  // becomes -beta_t e^{G_t-G_s} k_t.k_s, s < t
  float* qk = kk + size_t(C) * C;      // becomes scale e^{G_t-G_s} q_t.k_s, s <= t

  for (int c0 = 0; c0 < n; c0 += C) {
    const int L = std::min(C, n - c0);
    const float* q0 = h.q + c0 * h.qk_stride;
    const float* k0 = h.k + c0 * h.qk_stride;
    auto v = [&](int t) { return h.v + (c0 + t) * h.v_stride; };
    auto beta = [&](int t) { return h.beta[(c0 + t) * h.gate_stride]; };
    float acc = 0.f;
    for (int t = 0; t < L; ++t) {
      G[t] = acc += h.g[(c0 + t) * h.gate_stride];
      eg[t] = std::exp(G[t]);
    }
    for (int i = 0; i < dk; ++i) {  // contiguous stores, strided loads
      for (int t = 0; t < L; ++t) Kt[size_t(i) * C + t] = k0[t * h.qk_stride + i];
    }

    // K S0 and Q S0.
    std::fill(KS, KS + size_t(L) * dv, 0.f);
    std::fill(QS, QS + size_t(L) * dv, 0.f);
    gemm_acc<Shape::kFull>(k0, h.qk_stride, S, dv, KS, dv, L, dk, dv);
    gemm_acc<Shape::kFull>(q0, h.qk_stride, S, dv, QS, dv, L, dk, dv);

    // K K^T and Q K^T, columns up to each 4-row block's end (in whole
    // panels, up to C: Kt's columns past L hold stale values, whose products
    // land past L and are zeroed below); then the decays and coefficients,
    // zero above the diagonal (kk: on it too).
    std::fill(kk, kk + size_t(L) * C, 0.f);
    std::fill(qk, qk + size_t(L) * C, 0.f);
    gemm_acc<Shape::kWidthToRow>(k0, h.qk_stride, Kt, C, kk, C, L, dk, C);
    gemm_acc<Shape::kWidthToRow>(q0, h.qk_stride, Kt, C, qk, C, L, dk, C);
    for (int t = 0; t < L; ++t) {
      float* kkt = kk + size_t(t) * C;
      float* qkt = qk + size_t(t) * C;
      const float b = beta(t);
      for (int s = 0; s <= t; ++s) {
        const float decay = std::exp(G[t] - G[s]);
        kkt[s] = s < t ? -b * decay * kkt[s] : 0.f;
        qkt[s] *= h.scale * decay;
      }
      for (int s = t + 1; s < C; ++s) kkt[s] = qkt[s] = 0.f;
    }

    // delta_t = beta_t (v_t - e^{G_t} (K S0)_t) + sum_{s<t} kk[t][s] delta_s,
    // four rows at a time: first the finished rows [0, t0) by a GEMM, then
    // the rows of the block in order.
    for (int t = 0; t < L; ++t) {
      float* dt = delta + size_t(t) * dv;
      const float* vt = v(t);
      const float* ks = KS + size_t(t) * dv;
      const float b = beta(t), e = eg[t];
      for (int j = 0; j < dv; ++j) dt[j] = b * (vt[j] - e * ks[j]);
    }
    for (int t0 = 0; t0 < L; t0 += 4) {
      const int rows = std::min(4, L - t0);
      if (rows == 4) {
        gemm_rows<4>(kk + size_t(t0) * C, C, delta, dv, delta + size_t(t0) * dv, dv, t0, dv);
      } else {
        for (int r = 0; r < rows; ++r)
          gemm_rows<1>(kk + size_t(t0 + r) * C, C, delta, dv, delta + size_t(t0 + r) * dv, dv, t0, dv);
      }
      for (int r = 1; r < rows; ++r) {
        gemm_rows<1>(kk + size_t(t0 + r) * C + t0, C, delta + size_t(t0) * dv, dv, delta + size_t(t0 + r) * dv, dv,
                     r, dv);
      }
    }

    // o_t = scale e^{G_t} (Q S0)_t + sum_{s<=t} qk[t][s] delta_s
    for (int t = 0; t < L; ++t) {
      float* o = h.out + (c0 + t) * h.out_stride;
      const float* qs = QS + size_t(t) * dv;
      const float e = h.scale * eg[t];
      for (int j = 0; j < dv; ++j) o[j] = e * qs[j];
    }
    gemm_acc<Shape::kDepthToRow>(qk, C, delta, dv, h.out + c0 * h.out_stride, h.out_stride, L, L, dv);

    // S = e^{G_last} S0 + (K^T scaled by e^{G_last-G_s}) delta
    const float last = G[L - 1], e_last = eg[L - 1];
    for (size_t x = 0; x < size_t(dk) * dv; ++x) S[x] *= e_last;
    for (int s = 0; s < L; ++s) wdecay[s] = std::exp(last - G[s]);
    for (int i = 0; i < dk; ++i) {
      for (int s = 0; s < L; ++s) Kt[size_t(i) * C + s] *= wdecay[s];
    }
    gemm_acc<Shape::kFull>(Kt, C, delta, dv, S, dv, dk, L, dv);
  }
}

}  // namespace nagi
