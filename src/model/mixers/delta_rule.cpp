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

// y[0, n) += sum_{i<m} a[i] * X[i*ldx + (0, n)]: a small GEMV whose output
// is walked in tiles of 16 floats held in one vector register (GCC vector
// extension: a zmm in the AVX-512 clone, two ymm in the AVX2 one), so X is
// streamed once per tile and y is not reloaded for every i.
typedef float v16f __attribute__((vector_size(64), aligned(4)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// __builtin_cpu_init first: this initializer may run before libgcc's.
const bool kTwoTiles = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
}();
#else
constexpr bool kTwoTiles = false;
#endif

// T tiles of 16 columns at j0: one accumulator chain per tile.
template <int T>
[[gnu::always_inline]] inline void gemv_tiles(const float* a, int m, const float* X, size_t ldx, float* y, int j0) {
  v16f acc[T];
  for (int c = 0; c < T; ++c) std::memcpy(&acc[c], y + j0 + 16 * c, sizeof(v16f));
  for (int i = 0; i < m; ++i) {
    const float ai = a[i];
    for (int c = 0; c < T; ++c) {
      v16f x;
      std::memcpy(&x, X + i * ldx + j0 + 16 * c, sizeof x);
      acc[c] += ai * x;
    }
  }
  for (int c = 0; c < T; ++c) std::memcpy(y + j0 + 16 * c, &acc[c], sizeof(v16f));
}

// Several tiles per pass so that their FMA chains overlap (one tile is one
// chain, bound by the FMA latency): eight with AVX-512 (see kTwoTiles),
// else four (eight ymm chains in the AVX2 clone).
[[gnu::always_inline]] inline void gemv_acc(const float* a, int m, const float* X, size_t ldx, float* y, int n) {
  int j0 = 0;
  for (; kTwoTiles && j0 + 128 <= n; j0 += 128) gemv_tiles<8>(a, m, X, ldx, y, j0);
  for (; j0 + 64 <= n; j0 += 64) gemv_tiles<4>(a, m, X, ldx, y, j0);
  for (; j0 + 16 <= n; j0 += 16) gemv_tiles<1>(a, m, X, ldx, y, j0);
  for (int i = 0; i < m && j0 < n; ++i) {
    for (int j = j0; j < n; ++j) y[j] += a[i] * X[i * ldx + j];
  }
}

// Four outputs at once: y_r[0, n) += sum_{i<m} a_r[i] * X[i*ldx + (0, n)] for
// r < 4, so every strip of X loaded serves four accumulators.
[[gnu::always_inline]] inline void gemv4_acc(const float* const* a, int m, const float* X, size_t ldx,
                                             float* const* y, int n) {
  int j0 = 0;
  // Two tiles per pass where a core retires two 512-bit FMAs per cycle
  // (Zen 5, Intel server cores): with 4-cycle FMA latency the four chains
  // of one tile keep only half of that busy, eight do it all. Only with
  // AVX-512 (32 vector registers); the AVX2 clone's four accumulators are
  // already eight ymm chains, and eight would spill there.
  for (; kTwoTiles && j0 + 32 <= n; j0 += 32) {
    v16f acc[4][2];
    for (int r = 0; r < 4; ++r) {
      std::memcpy(&acc[r][0], y[r] + j0, sizeof(v16f));
      std::memcpy(&acc[r][1], y[r] + j0 + 16, sizeof(v16f));
    }
    for (int i = 0; i < m; ++i) {
      v16f x0, x1;
      std::memcpy(&x0, X + i * ldx + j0, sizeof x0);
      std::memcpy(&x1, X + i * ldx + j0 + 16, sizeof x1);
      for (int r = 0; r < 4; ++r) {
        const float ar = a[r][i];
        acc[r][0] += ar * x0;
        acc[r][1] += ar * x1;
      }
    }
    for (int r = 0; r < 4; ++r) {
      std::memcpy(y[r] + j0, &acc[r][0], sizeof(v16f));
      std::memcpy(y[r] + j0 + 16, &acc[r][1], sizeof(v16f));
    }
  }
  for (; j0 + 16 <= n; j0 += 16) {
    v16f acc[4];
    for (int r = 0; r < 4; ++r) std::memcpy(&acc[r], y[r] + j0, sizeof(v16f));
    for (int i = 0; i < m; ++i) {
      v16f x;
      std::memcpy(&x, X + i * ldx + j0, sizeof x);
      for (int r = 0; r < 4; ++r) acc[r] += a[r][i] * x;
    }
    for (int r = 0; r < 4; ++r) std::memcpy(y[r] + j0, &acc[r], sizeof(v16f));
  }
  for (int r = 0; r < 4; ++r) {
    for (int i = 0; i < m && j0 < n; ++i) {
      for (int j = j0; j < n; ++j) y[r][j] += a[r][i] * X[i * ldx + j];
    }
  }
}

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

}  // namespace

NAGI_DELTA_RULE_CLONES void delta_rule_recurrent(const DeltaRuleHead& h, int n, float* S) {
  const int dk = h.dk, dv = h.dv;
  for (int t = 0; t < n; ++t) {
    const float* q = h.q + t * h.qk_stride;
    const float* k = h.k + t * h.qk_stride;
    const float* v = h.v + t * h.v_stride;
    const float decay = std::exp(h.g[t * h.gate_stride]);
    const float beta = h.beta[t * h.gate_stride];
    float* o = h.out + t * h.out_stride;
    // With S' = e^g S + k delta^T:  delta = beta (v - e^g S^T k) and
    // o = scale (e^g S^T q + (k.q) delta). The state is the bulk of the
    // memory traffic, so it is walked in strips of 16 columns: read a strip
    // (S^T k, S^T q), then rewrite it while it is still in L1.
    const float kq = dot(k, q, dk);
    int j0 = 0;
    for (; j0 + 16 <= dv; j0 += 16) {
      v16f kv = {}, sq = {};
      for (int i = 0; i < dk; ++i) {
        v16f x;
        std::memcpy(&x, S + size_t(i) * dv + j0, sizeof x);
        kv += k[i] * x;
        sq += q[i] * x;
      }
      v16f vt, delta, ot;
      std::memcpy(&vt, v + j0, sizeof vt);
      delta = beta * (vt - decay * kv);
      ot = h.scale * (decay * sq + kq * delta);
      std::memcpy(o + j0, &ot, sizeof ot);
      for (int i = 0; i < dk; ++i) {
        float* row = S + size_t(i) * dv + j0;
        v16f x;
        std::memcpy(&x, row, sizeof x);
        x = decay * x + k[i] * delta;
        std::memcpy(row, &x, sizeof x);
      }
    }
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

NAGI_DELTA_RULE_CLONES void delta_rule_chunked(const DeltaRuleHead& h, int n, float* S, int chunk) {
  const int dk = h.dk, dv = h.dv, C = std::max(1, chunk);
  thread_local std::vector<float> buf;
  // coef4 [4, C], coef/wdecay/G [C], KS/QS/delta [C, dv], kk/qk [C, C]
  buf.resize(size_t(7) * C + size_t(3) * C * dv + size_t(2) * C * C);
  float* coef4 = buf.data();  // [4, C]
  float* coef = coef4 + size_t(4) * C;
  float* wdecay = coef + C;
  float* G = wdecay + C;
  float* KS = G + C;
  float* QS = KS + size_t(C) * dv;
  float* delta = QS + size_t(C) * dv;
  float* kk = delta + size_t(C) * dv;
  float* qk = kk + size_t(C) * C;

  for (int c0 = 0; c0 < n; c0 += C) {
    const int L = std::min(C, n - c0);
    auto q = [&](int t) { return h.q + (c0 + t) * h.qk_stride; };
    auto k = [&](int t) { return h.k + (c0 + t) * h.qk_stride; };
    auto v = [&](int t) { return h.v + (c0 + t) * h.v_stride; };
    auto beta = [&](int t) { return h.beta[(c0 + t) * h.gate_stride]; };
    // G_t: log decay accumulated from the chunk start to token t (inclusive).
    float acc = 0.f;
    for (int t = 0; t < L; ++t) G[t] = acc += h.g[(c0 + t) * h.gate_stride];

    // What the chunk-start state S0 contributes: K S0 and Q S0.
    std::fill(KS, KS + size_t(L) * dv, 0.f);  // gemv_acc accumulates
    std::fill(QS, QS + size_t(L) * dv, 0.f);
    int t0 = 0;
    for (; t0 + 2 <= L; t0 += 2) {
      const float* a[4] = {k(t0), q(t0), k(t0 + 1), q(t0 + 1)};
      float* y[4] = {KS + size_t(t0) * dv, QS + size_t(t0) * dv, KS + size_t(t0 + 1) * dv, QS + size_t(t0 + 1) * dv};
      gemv4_acc(a, dk, S, dv, y, dv);
    }
    for (; t0 < L; ++t0) {
      gemv_acc(k(t0), dk, S, dv, KS + size_t(t0) * dv, dv);
      gemv_acc(q(t0), dk, S, dv, QS + size_t(t0) * dv, dv);
    }
    std::fill(qk, qk + size_t(L) * C, 0.f);  // zeros above the diagonal (see the output step)
    for (int t = 0; t < L; ++t) {
      for (int s = 0; s <= t; ++s) {
        // Both products times the decay from token s to token t.
        const float decay = std::exp(G[t] - G[s]);
        kk[size_t(t) * C + s] = decay * dot(k(t), k(s), dk);
        qk[size_t(t) * C + s] = decay * dot(q(t), k(s), dk);
      }
    }
    // delta_t = beta_t (v_t - e^{G_t} S0^T k_t - sum_{s<t} e^{G_t-G_s} (k_t.k_s) delta_s):
    // forward substitution through the unit lower-triangular system.
    for (int t = 0; t < L; ++t) {
      float* dt = delta + size_t(t) * dv;
      const float* vt = v(t);
      const float* ks = KS + size_t(t) * dv;
      const float eg = std::exp(G[t]);
      for (int j = 0; j < dv; ++j) dt[j] = vt[j] - eg * ks[j];
      for (int s = 0; s < t; ++s) coef[s] = -kk[size_t(t) * C + s];
      gemv_acc(coef, t, delta, dv, dt, dv);
      const float b = beta(t);
      for (int j = 0; j < dv; ++j) dt[j] *= b;
    }
    // o_t = scale (e^{G_t} S0^T q_t + sum_{s<=t} e^{G_t-G_s} (q_t.k_s) delta_s)
    for (int t = 0; t < L; ++t) {
      float* o = h.out + (c0 + t) * h.out_stride;
      const float* qs = QS + size_t(t) * dv;
      const float eg = std::exp(G[t]);
      for (int j = 0; j < dv; ++j) o[j] = eg * qs[j];
    }
    int r0 = 0;
    for (; r0 + 4 <= L; r0 += 4) {  // rows r0..r0+3 share deltas 0..r0+3 (qk is 0 past the diagonal)
      const float* a[4] = {qk + size_t(r0) * C, qk + size_t(r0 + 1) * C, qk + size_t(r0 + 2) * C, qk + size_t(r0 + 3) * C};
      float* y[4];
      for (int r = 0; r < 4; ++r) y[r] = h.out + (c0 + r0 + r) * h.out_stride;
      gemv4_acc(a, r0 + 4, delta, dv, y, dv);
    }
    for (; r0 < L; ++r0) gemv_acc(qk + size_t(r0) * C, r0 + 1, delta, dv, h.out + (c0 + r0) * h.out_stride, dv);
    for (int t = 0; t < L; ++t) {
      float* o = h.out + (c0 + t) * h.out_stride;
      for (int j = 0; j < dv; ++j) o[j] *= h.scale;
    }
    // S <- e^{G_last} S0 + sum_s e^{G_last-G_s} k_s delta_s^T
    const float last = G[L - 1];
    const float e_last = std::exp(last);
    for (size_t x = 0; x < size_t(dk) * dv; ++x) S[x] *= e_last;
    for (int s = 0; s < L; ++s) wdecay[s] = std::exp(last - G[s]);
    int i0 = 0;
    for (; i0 + 4 <= dk; i0 += 4) {
      for (int r = 0; r < 4; ++r)
        for (int s = 0; s < L; ++s) coef4[size_t(r) * C + s] = wdecay[s] * k(s)[i0 + r];
      const float* a[4] = {coef4, coef4 + C, coef4 + 2 * C, coef4 + 3 * C};
      float* y[4] = {S + size_t(i0) * dv, S + size_t(i0 + 1) * dv, S + size_t(i0 + 2) * dv, S + size_t(i0 + 3) * dv};
      gemv4_acc(a, L, delta, dv, y, dv);
    }
    for (; i0 < dk; ++i0) {
      for (int s = 0; s < L; ++s) coef[s] = wdecay[s] * k(s)[i0];
      gemv_acc(coef, L, delta, dv, S + size_t(i0) * dv, dv);
    }
  }
}

}  // namespace nagi
