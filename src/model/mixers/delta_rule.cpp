#include "model/mixers/delta_rule.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nagi {
namespace {

inline void axpy(float a, const float* x, float* y, int n) {
  for (int j = 0; j < n; ++j) y[j] += a * x[j];
}

inline float dot(const float* a, const float* b, int n) {
  float s = 0.f;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

void delta_rule_recurrent(const DeltaRuleHead& h, int n, float* S) {
  const int dk = h.dk, dv = h.dv;
  thread_local std::vector<float> buf;
  buf.resize(size_t(3) * dv);
  float* kv = buf.data();
  float* sq = kv + dv;
  float* delta = sq + dv;
  for (int t = 0; t < n; ++t) {
    const float* q = h.q + t * h.qk_stride;
    const float* k = h.k + t * h.qk_stride;
    const float* v = h.v + t * h.v_stride;
    const float decay = std::exp(h.g[t * h.gate_stride]);
    const float beta = h.beta[t * h.gate_stride];
    float* o = h.out + t * h.out_stride;
    // The state is the bulk of the memory traffic, so it is read once and
    // written once per token. With S' = e^g S + k delta^T:
    //   delta = beta (v - e^g S^T k),
    //   o = scale (e^g S^T q + (k.q) delta).
    std::fill(kv, kv + dv, 0.f);
    std::fill(sq, sq + dv, 0.f);
    for (int i = 0; i < dk; ++i) {
      const float* row = S + size_t(i) * dv;
      const float ki = k[i], qi = q[i];
      for (int j = 0; j < dv; ++j) {
        kv[j] += row[j] * ki;
        sq[j] += row[j] * qi;
      }
    }
    const float kq = dot(k, q, dk);
    for (int j = 0; j < dv; ++j) {
      delta[j] = beta * (v[j] - decay * kv[j]);
      o[j] = h.scale * (decay * sq[j] + kq * delta[j]);
    }
    for (int i = 0; i < dk; ++i) {
      float* row = S + size_t(i) * dv;
      const float ki = k[i];
      for (int j = 0; j < dv; ++j) row[j] = decay * row[j] + ki * delta[j];
    }
  }
}

void delta_rule_chunked(const DeltaRuleHead& h, int n, float* S, int chunk) {
  const int dk = h.dk, dv = h.dv, C = std::max(1, chunk);
  thread_local std::vector<float> buf;
  // G [C], KS/QS/delta [C, dv], kk/qk [C, C]
  buf.resize(size_t(C) + size_t(3) * C * dv + size_t(2) * C * C);
  float* G = buf.data();
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
    std::fill(KS, KS + size_t(L) * dv, 0.f);
    std::fill(QS, QS + size_t(L) * dv, 0.f);
    for (int t = 0; t < L; ++t) {
      const float* kt = k(t);
      const float* qt = q(t);
      float* ks = KS + size_t(t) * dv;
      float* qs = QS + size_t(t) * dv;
      for (int i = 0; i < dk; ++i) {
        const float* row = S + size_t(i) * dv;
        axpy(kt[i], row, ks, dv);
        axpy(qt[i], row, qs, dv);
      }
    }
    for (int t = 0; t < L; ++t) {
      for (int s = 0; s <= t; ++s) {
        kk[size_t(t) * C + s] = dot(k(t), k(s), dk);
        qk[size_t(t) * C + s] = dot(q(t), k(s), dk);
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
      for (int s = 0; s < t; ++s) {
        axpy(-std::exp(G[t] - G[s]) * kk[size_t(t) * C + s], delta + size_t(s) * dv, dt, dv);
      }
      const float b = beta(t);
      for (int j = 0; j < dv; ++j) dt[j] *= b;
    }
    // o_t = scale (e^{G_t} S0^T q_t + sum_{s<=t} e^{G_t-G_s} (q_t.k_s) delta_s)
    for (int t = 0; t < L; ++t) {
      float* o = h.out + (c0 + t) * h.out_stride;
      const float* qs = QS + size_t(t) * dv;
      const float eg = std::exp(G[t]);
      for (int j = 0; j < dv; ++j) o[j] = eg * qs[j];
      for (int s = 0; s <= t; ++s) {
        axpy(std::exp(G[t] - G[s]) * qk[size_t(t) * C + s], delta + size_t(s) * dv, o, dv);
      }
      for (int j = 0; j < dv; ++j) o[j] *= h.scale;
    }
    // S <- e^{G_last} S0 + sum_s e^{G_last-G_s} k_s delta_s^T
    const float last = G[L - 1];
    const float e_last = std::exp(last);
    for (size_t x = 0; x < size_t(dk) * dv; ++x) S[x] *= e_last;
    for (int s = 0; s < L; ++s) {
      const float w = std::exp(last - G[s]);
      const float* ks = k(s);
      const float* ds = delta + size_t(s) * dv;
      for (int i = 0; i < dk; ++i) axpy(w * ks[i], ds, S + size_t(i) * dv, dv);
    }
  }
}

}  // namespace nagi
