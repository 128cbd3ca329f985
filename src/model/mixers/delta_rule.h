// The gated delta rule of Gated DeltaNet (Yang, Kautz, Hatamizadeh 2024), for
// one value head with state S [dk, dv] (row i = key dimension):
//   S <- exp(g_t) S;  delta_t = beta_t (v_t - S^T k_t);  S <- S + k_t delta_t^T;
//   o_t = scale * S^T q_t
// in two forms that compute the same thing: the recurrence, one token at a
// time (decode), and a chunked form for prefill that turns the work into small
// dense products (within a chunk the deltas solve a unit lower-triangular
// system, the "WY/UT" form of the fla kernels).
#pragma once

#include <cstddef>

namespace nagi {

struct DeltaRuleHead {
  int dk = 0, dv = 0;
  const float* q = nullptr;  // token t at q + t*qk_stride (dk values, L2-normalised)
  const float* k = nullptr;
  size_t qk_stride = 0;
  const float* v = nullptr;  // token t at v + t*v_stride (dv values)
  size_t v_stride = 0;
  const float* g = nullptr;  // log decay (<= 0) of token t at g[t*gate_stride]
  const float* beta = nullptr;
  size_t gate_stride = 0;
  float scale = 1.f;
  float* out = nullptr;  // token t at out + t*out_stride (dv values)
  size_t out_stride = 0;
};

// A token's update of a head's state, S <- decay S + k delta^T, not yet
// written into S: decode leaves each token's update for the next token's
// pass over S to apply while it reads (one pass over the state a token,
// where applying it at once took a second).
struct DeferredUpdate {
  float* k = nullptr;      // dk values
  float* delta = nullptr;  // dv values
  float* decay = nullptr;  // one value
};

// Runs tokens [0, n) through the recurrence, updating S in place.
void delta_rule_recurrent(const DeltaRuleHead& h, int n, float* S);

// Token 0 of h through the recurrence on the state S with `pending` (when
// `apply`) not yet in it: applies it, then leaves this token's update in
// `pending` instead of S. S followed by delta_rule_apply is then bit for bit
// what delta_rule_recurrent gives.
void delta_rule_step_deferred(const DeltaRuleHead& h, float* S, const DeferredUpdate& pending, bool apply);

// Writes `pending` into S ([dk, dv]).
void delta_rule_apply(float* S, int dk, int dv, const DeferredUpdate& pending);

// Same result by chunks of `chunk` tokens (the last one may be shorter).
void delta_rule_chunked(const DeltaRuleHead& h, int n, float* S, int chunk = 64);

}  // namespace nagi
