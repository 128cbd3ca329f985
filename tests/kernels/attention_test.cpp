// The flash attention kernel (every ISA's table) against the plain reference:
// causal limits, sliding windows, GQA groups, odd head sizes, f32/f16 KV.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

namespace nagi {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

struct Case {
  int n_tok, pos0, n_head, n_kv_head, head_dim, window;
  KvType kv;
};

TEST(Attention, FlashMatchesReference) {
  const Case cases[] = {
      {1, 0, 2, 1, 8, 0, KvType::kF32},      {1, 200, 16, 8, 128, 0, KvType::kF32},
      {5, 37, 4, 2, 40, 0, KvType::kF32},    {70, 0, 8, 2, 64, 0, KvType::kF32},
      {33, 100, 6, 3, 33, 16, KvType::kF32}, {9, 130, 16, 8, 128, 0, KvType::kF16},
      {64, 1, 4, 1, 20, 7, KvType::kF16},    {3, 0, 3, 3, 17, 0, KvType::kF16},
  };
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      for (const Case& c : cases) {
        const int n_pos = c.pos0 + c.n_tok, kv_dim = c.n_kv_head * c.head_dim;
        const int64_t kv_stride = kv_dim + 3;  // padding between positions
        const int64_t q_stride = int64_t(c.n_head) * c.head_dim + 5;
        auto q = randn(size_t(c.n_tok) * q_stride, 1, 1.f);
        auto kf = randn(size_t(n_pos) * kv_stride, 2, 1.f);
        auto vf = randn(size_t(n_pos) * kv_stride, 3, 1.f);
        std::vector<uint16_t> kh(kf.size()), vh(vf.size());
        if (c.kv == KvType::kF16) {
          for (size_t i = 0; i < kf.size(); ++i) kh[i] = f32_to_fp16(kf[i]), vh[i] = f32_to_fp16(vf[i]);
        }
        AttentionParams p;
        p.n_tok = c.n_tok;
        p.n_head = c.n_head;
        p.n_kv_head = c.n_kv_head;
        p.head_dim = c.head_dim;
        p.q = q.data();
        p.q_stride = q_stride;
        p.k = c.kv == KvType::kF16 ? static_cast<const void*>(kh.data()) : kf.data();
        p.v = c.kv == KvType::kF16 ? static_cast<const void*>(vh.data()) : vf.data();
        p.kv_stride = kv_stride;
        p.kv_type = c.kv;
        p.pos0 = c.pos0;
        p.window = c.window;
        p.scale = 1.f / std::sqrt(float(c.head_dim));
        p.out_stride = q_stride;
        std::vector<float> got(q.size(), -7.f), want(q.size(), -7.f);
        p.out = got.data();
        attention_flash_with(k, p, pool);
        p.out = want.data();
        attention_reference(p);
        for (size_t i = 0; i < got.size(); ++i) {
          // Outputs are convex combinations of V values (|v| < ~5): absolute bound.
          ASSERT_NEAR(got[i], want[i], 2e-5) << isa_name(isa) << " threads " << threads << " case n_tok " << c.n_tok
                                             << " head_dim " << c.head_dim << " i " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace nagi
