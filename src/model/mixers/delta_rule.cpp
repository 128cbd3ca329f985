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

namespace {

// One token's pass over the state's columns [j0, j0 + 16 NT): with S' =
// e^g S + k delta^T,  delta = beta (v - e^g S^T k) and o = scale (e^g S^T q
// + (k.q) delta). The state is the bulk of the memory traffic and is cold in
// decode (the weights streamed since the last token have evicted it), so it
// is read row by row, each row's 16 NT columns contiguous, with the 2 NT
// column sums in registers: with NT = 8 (AVX-512's 32 registers) a
// 128-column head is one forward stream that the hardware prefetchers
// follow, where strips of 16 columns walked it 512 bytes apart line by line.
// Rows `ahead` rows on are requested as each row is read (the prefetchers
// stop at page boundaries: 8 KiB ahead read a cold head's 512 KiB in 20 us
// on one core against 24-26 without). The previous token's update, when
// Apply, is written into each row as it is read, so a token takes one pass
// over S, not two (read, then rewrite). Every value is computed by the same
// expressions whatever NT is and whichever function runs them.
struct TokenTerms {
  const float *q, *k, *v;
  float decay, beta, kq, scale;
  float* o;
};

inline TokenTerms token_terms(const DeltaRuleHead& h, int t) {
  TokenTerms tt;
  tt.q = h.q + t * h.qk_stride;
  tt.k = h.k + t * h.qk_stride;
  tt.v = h.v + t * h.v_stride;
  tt.decay = std::exp(h.g[t * h.gate_stride]);
  tt.beta = h.beta[t * h.gate_stride];
  tt.kq = dot(tt.k, tt.q, h.dk);
  tt.scale = h.scale;
  tt.o = h.out + t * h.out_stride;
  return tt;
}

// An update applied to part of a row: x <- decay x + k delta (by reference:
// a v16f returned by value from the baseline-compiled helper would change
// the ABI). One expression for every caller, so every one rounds alike.
// Overloads, not a template: a deduced V drops v16f's aligned(4), and an
// unoptimised build then loads stack values with aligned instructions.
[[gnu::always_inline]] inline void apply_to(v16f& x, float decay, float k, const v16f& delta) {
  x = decay * x + k * delta;
}
[[gnu::always_inline]] inline void apply_to(float& x, float decay, float k, float delta) { x = decay * x + k * delta; }

// Bytes ahead of its reads that a pass requests.
constexpr int kReadAheadBytes = 8192;

// The pass over columns [j0, j0 + 16 NT): applies `pending` (if Apply),
// then leaves this token's delta of these columns in pending.delta.
template <int NT, bool Apply>
[[gnu::always_inline]] inline void recurrent_panel(const TokenTerms& tt, float* S, int dk, int dv, int j0, int ahead,
                                                   const DeferredUpdate& pending) {
  v16f kv[NT], sq[NT], dp[NT];
  float decay_p = 0.f;
#pragma GCC unroll 16
  for (int c = 0; c < NT; ++c) {
    kv[c] = sq[c] = v16f{};
    if (Apply) std::memcpy(&dp[c], pending.delta + j0 + 16 * c, sizeof(v16f));
  }
  if (Apply) decay_p = *pending.decay;
  const float* k_p = pending.k;  // a local: stores to S cannot change it
  for (int i = 0; i < dk; ++i) {
    float* row = S + size_t(i) * dv + j0;
    if (i + ahead < dk) {
#pragma GCC unroll 16
      for (int c = 0; c < NT; ++c) __builtin_prefetch(row + size_t(ahead) * dv + 16 * c);
    }
    const float k = tt.k[i], q = tt.q[i];
#pragma GCC unroll 16
    for (int c = 0; c < NT; ++c) {
      v16f x;
      std::memcpy(&x, row + 16 * c, sizeof x);
      if (Apply) {
        apply_to(x, decay_p, k_p[i], dp[c]);
        std::memcpy(row + 16 * c, &x, sizeof x);
      }
      kv[c] += k * x;
      sq[c] += q * x;
    }
  }
#pragma GCC unroll 16
  for (int c = 0; c < NT; ++c) {
    v16f vt, ot;
    std::memcpy(&vt, tt.v + j0 + 16 * c, sizeof vt);
    const v16f delta = tt.beta * (vt - tt.decay * kv[c]);
    ot = tt.scale * (tt.decay * sq[c] + tt.kq * delta);
    std::memcpy(tt.o + j0 + 16 * c, &ot, sizeof ot);
    std::memcpy(pending.delta + j0 + 16 * c, &delta, sizeof delta);
  }
}

// The same for one column j (the columns past the last 16-wide strip).
template <bool Apply>
inline void recurrent_column(const TokenTerms& tt, float* S, int dk, int dv, int j, const DeferredUpdate& pending) {
  float kv = 0.f, sq = 0.f;
  for (int i = 0; i < dk; ++i) {
    float x = S[size_t(i) * dv + j];
    if (Apply) {
      apply_to(x, *pending.decay, pending.k[i], pending.delta[j]);
      S[size_t(i) * dv + j] = x;
    }
    kv += x * tt.k[i];
    sq += x * tt.q[i];
  }
  const float delta = tt.beta * (tt.v[j] - tt.decay * kv);
  tt.o[j] = tt.scale * (tt.decay * sq + tt.kq * delta);
  pending.delta[j] = delta;
}

// One token's pass over every column, then its k and decay into pending.
template <bool Apply>
[[gnu::always_inline]] inline void recurrent_pass(const TokenTerms& tt, float* S, int dk, int dv,
                                                  const DeferredUpdate& pending) {
  const int ahead = std::max(1, kReadAheadBytes / int(sizeof(float) * size_t(dv)));
  int j0 = 0;
  for (; kWidePanels && j0 + 128 <= dv; j0 += 128) recurrent_panel<8, Apply>(tt, S, dk, dv, j0, ahead, pending);
  for (; j0 + 16 <= dv; j0 += 16) recurrent_panel<1, Apply>(tt, S, dk, dv, j0, 0, pending);
  for (int j = j0; j < dv; ++j) recurrent_column<Apply>(tt, S, dk, dv, j, pending);
  std::memcpy(pending.k, tt.k, sizeof(float) * size_t(dk));
  *pending.decay = tt.decay;
}

// Writes pending into S.
[[gnu::always_inline]] inline void apply_pending(float* S, int dk, int dv, const DeferredUpdate& pending) {
  const float decay = *pending.decay;
  for (int i = 0; i < dk; ++i) {
    float* row = S + size_t(i) * dv;
    const float k = pending.k[i];
    int j = 0;
    for (; j + 16 <= dv; j += 16) {
      v16f x, d;
      std::memcpy(&x, row + j, sizeof x);
      std::memcpy(&d, pending.delta + j, sizeof d);
      apply_to(x, decay, k, d);
      std::memcpy(row + j, &x, sizeof x);
    }
    for (; j < dv; ++j) apply_to(row[j], decay, k, pending.delta[j]);
  }
}

}  // namespace

NAGI_DELTA_RULE_CLONES void delta_rule_recurrent(const DeltaRuleHead& h, int n, float* S) {
  if (n <= 0) return;
  thread_local std::vector<float> buf;
  buf.resize(size_t(h.dk) + size_t(h.dv) + 1);
  const DeferredUpdate pending{buf.data(), buf.data() + h.dk, buf.data() + h.dk + h.dv};
  recurrent_pass<false>(token_terms(h, 0), S, h.dk, h.dv, pending);
  for (int t = 1; t < n; ++t) recurrent_pass<true>(token_terms(h, t), S, h.dk, h.dv, pending);
  apply_pending(S, h.dk, h.dv, pending);
}

NAGI_DELTA_RULE_CLONES void delta_rule_step_deferred(const DeltaRuleHead& h, float* S, const DeferredUpdate& pending,
                                                    bool apply) {
  if (apply) recurrent_pass<true>(token_terms(h, 0), S, h.dk, h.dv, pending);
  else recurrent_pass<false>(token_terms(h, 0), S, h.dk, h.dv, pending);
}

NAGI_DELTA_RULE_CLONES void delta_rule_apply(float* S, int dk, int dv, const DeferredUpdate& pending) {
  apply_pending(S, dk, dv, pending);
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
