// The flash attention kernel (every ISA's table) against the plain reference:
// causal limits, sliding windows, GQA groups, odd head sizes, f32/f16/int8 KV,
// decode-shaped (few query rows, keys scored row by row) and prefill-shaped
// (transposed key tiles) work items.
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

// Pointers to the rows of q [rows, hd], as the kernels take query rows.
std::vector<const float*> row_pointers(const std::vector<float>& q, int rows, int hd) {
  std::vector<const float*> out(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) out[size_t(r)] = q.data() + size_t(r) * hd;
  return out;
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
      {1, 300, 16, 8, 64, 0, KvType::kF16},  {4, 90, 8, 4, 32, 0, KvType::kQ8},
      {1, 129, 4, 2, 96, 0, KvType::kQ8},    {17, 3, 6, 2, 64, 9, KvType::kQ8},
      {1, 70, 8, 8, 24, 0, KvType::kF32},
  };
  const Kernels scalar = make_kernels(Isa::kScalar);
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      // Padding between positions (the tile's rows are then apart) and none
      // (the cache's own layout: an f16 tile is read in place).
      for (int pos_pad : {12, 0})
      for (const Case& c : cases) {
        const int n_pos = c.pos0 + c.n_tok;
        // Heads as the cache stores them (each head's positions together),
        // with padding between heads.
        const size_t pos_bytes = kv_head_bytes(c.kv, c.head_dim) + pos_pad;
        const size_t head_stride = size_t(n_pos) * pos_bytes + 20;
        const int64_t q_stride = int64_t(c.n_head) * c.head_dim + 5;
        auto q = randn(size_t(c.n_tok) * q_stride, 1, 1.f);
        auto kf = randn(size_t(n_pos) * c.n_kv_head * c.head_dim, 2, 1.f);
        auto vf = randn(size_t(n_pos) * c.n_kv_head * c.head_dim, 3, 1.f);
        std::vector<uint8_t> kc(c.n_kv_head * head_stride), vc(kc.size());
        for (int pos = 0; pos < n_pos; ++pos) {
          for (int g = 0; g < c.n_kv_head; ++g) {
            const size_t at = (size_t(pos) * c.n_kv_head + g) * c.head_dim, to = g * head_stride + pos * pos_bytes;
            kv_store_head(scalar, c.kv, kf.data() + at, c.head_dim, kc.data() + to);
            kv_store_head(scalar, c.kv, vf.data() + at, c.head_dim, vc.data() + to);
          }
        }
        AttentionParams p;
        p.n_tok = c.n_tok;
        p.n_head = c.n_head;
        p.n_kv_head = c.n_kv_head;
        p.head_dim = c.head_dim;
        p.q = q.data();
        p.q_stride = q_stride;
        p.k = kc.data();
        p.v = vc.data();
        p.kv_pos_bytes = pos_bytes;
        p.kv_head_stride = head_stride;
        p.kv_type = c.kv;
        p.pos0 = c.pos0;
        p.window = c.window;
        p.scale = 1.f / std::sqrt(float(c.head_dim));
        p.out_stride = q_stride;
        std::vector<float> got(q.size(), -7.f), want(q.size(), -7.f);
        p.out = got.data();
        attention_flash_with(k, p, pool);
        // In place (the attention mixer's prefill): the output overwrites
        // the queries and must equal the separate output bit for bit.
        std::vector<float> in_place = q;
        p.q = in_place.data();
        p.out = in_place.data();
        attention_flash_with(k, p, pool);
        p.q = q.data();
        for (int t = 0; t < c.n_tok; ++t) {
          for (int i = 0; i < c.n_head * c.head_dim; ++i) {
            const size_t at = size_t(t) * q_stride + i;
            ASSERT_EQ(in_place[at], got[at]) << isa_name(isa) << " in place, case n_tok " << c.n_tok << " t " << t;
          }
        }
        p.out = want.data();
        attention_reference(p);
        for (size_t i = 0; i < got.size(); ++i) {
          // Outputs are convex combinations of V values (|v| < ~5): absolute bound.
          ASSERT_NEAR(got[i], want[i], 2e-5) << isa_name(isa) << " threads " << threads << " pad " << pos_pad
                                             << " case n_tok " << c.n_tok
                                             << " head_dim " << c.head_dim << " i " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace nagi

namespace nagi {
namespace {

// Storing heads and loading them back: f32 exact, f16 as the scalar
// rounding, int8 within half a quantization step; every ISA's conversions
// agree with the scalar table's bit for bit (f16) or to rounding (int8).
TEST(Attention, KvStoreLoadRoundTrips) {
  const Kernels scalar = make_kernels(Isa::kScalar);
  for (KvType t : {KvType::kF32, KvType::kF16, KvType::kQ8}) {
    for (int hd : {32, 64, 160}) {
      const int heads = 3;
      auto x = randn(size_t(heads) * hd, 9, 2.f);
      std::vector<uint8_t> row(heads * kv_head_bytes(t, hd));
      for (int h = 0; h < heads; ++h) kv_store_head(scalar, t, x.data() + h * hd, hd, row.data() + h * kv_head_bytes(t, hd));
      for (Isa isa : kAllIsas) {
        if (!isa_supported(isa)) continue;
        const Kernels k = make_kernels(isa);
        std::vector<uint8_t> row2(row.size());
        for (int h = 0; h < heads; ++h) kv_store_head(k, t, x.data() + h * hd, hd, row2.data() + h * kv_head_bytes(t, hd));
        if (t != KvType::kQ8) {
          EXPECT_EQ(row, row2) << isa_name(isa);
        }
        for (int h = 0; h < heads; ++h) {
          std::vector<float> y(hd);
          kv_load_head(k, t, row.data() + h * kv_head_bytes(t, hd), hd, y.data());
          for (int d = 0; d < hd; ++d) {
            const float want = x[size_t(h) * hd + d];
            if (t == KvType::kF32) {
              ASSERT_EQ(y[d], want);
            }
            if (t == KvType::kF16) {
              ASSERT_EQ(y[d], fp16_to_f32(f32_to_fp16(want)));
            }
            if (t == KvType::kQ8) {
              float amax = 0.f;
              for (int e = d / 32 * 32; e < d / 32 * 32 + 32; ++e) amax = std::max(amax, std::fabs(x[size_t(h) * hd + e]));
              ASSERT_NEAR(y[d], want, 0.5f * amax / 127.f + 1e-6f) << isa_name(isa);
            }
          }
        }
      }
    }
  }
  EXPECT_FALSE(kv_type_supports(KvType::kQ8, 40));
  EXPECT_TRUE(kv_type_supports(KvType::kF16, 40));
}

}  // namespace
}  // namespace nagi

namespace nagi {
namespace {

// Decode-shaped scores (keys row-major) of every ISA against the scalar
// table, odd head sizes and key counts included.
TEST(Attention, ScoresRowsMatchScalar) {
  const Kernels scalar = make_kernels(Isa::kScalar);
  for (Isa isa : kAllIsas) {
    if (isa == Isa::kScalar || !isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int hd : {1, 7, 16, 33, 128}) {
      for (int n : {1, 3, 5, 64}) {
        for (int rows : {1, 2, 3, 4, 5, 7, 8}) {
          const int64_t k_stride = hd + 3;
          auto q = randn(size_t(rows) * hd, 4, 1.f);
          auto keys = randn(size_t(n) * k_stride, 5, 1.f);
          const std::vector<const float*> q_rows = row_pointers(q, rows, hd);
          std::vector<float> got(size_t(rows) * 70, -1.f), want(got);
          k.attn_scores_rows(q_rows.data(), rows, keys.data(), k_stride, n, hd, 0.3f, got.data(), 70);
          scalar.attn_scores_rows(q_rows.data(), rows, keys.data(), k_stride, n, hd, 0.3f, want.data(), 70);
          for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_NEAR(got[i], want[i], 1e-4f * (1 + std::sqrt(float(hd)))) << isa_name(isa) << " hd " << hd;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace nagi

namespace nagi {
namespace {

// The f16-cache forms of the decode scores and of the P.V sum (every ISA,
// the scalar table included) against the f32 kernels on the widened values,
// odd head sizes and key counts included.
TEST(Attention, F16RowKernelsMatchF32OnWidenedValues) {
  const Kernels scalar = make_kernels(Isa::kScalar);
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    if (k.attn_scores_rows_f16 == nullptr || k.attn_pv_f16 == nullptr) continue;  // the caller converts
    for (int hd : {1, 7, 16, 33, 80, 128}) {
      for (int n : {1, 3, 5, 64}) {
        for (int rows : {1, 2, 4, 5, 7, 9}) {
          const int64_t stride = hd + 3;
          auto q = randn(size_t(rows) * hd, 14, 1.f);
          const auto xf = randn(size_t(n) * stride, 15, 1.f);
          std::vector<uint16_t> xh(xf.size());
          std::vector<float> xw(xf.size());  // the f16 values widened
          for (size_t i = 0; i < xf.size(); ++i) xh[i] = f32_to_fp16(xf[i]), xw[i] = fp16_to_f32(xh[i]);
          const std::vector<const float*> q_rows = row_pointers(q, rows, hd);
          std::vector<float> got(size_t(rows) * 70, -1.f), want(got);
          k.attn_scores_rows_f16(q_rows.data(), rows, xh.data(), stride, n, hd, 0.3f, got.data(), 70);
          scalar.attn_scores_rows(q_rows.data(), rows, xw.data(), stride, n, hd, 0.3f, want.data(), 70);
          for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_NEAR(got[i], want[i], 1e-4f * (1 + std::sqrt(float(hd)))) << isa_name(isa) << " hd " << hd;
          }
          // P.V: probabilities with some exact zeros, onto a running sum.
          auto pr = randn(size_t(rows) * 70, 16, 0.3f);
          for (size_t i = 0; i < pr.size(); i += 4) pr[i] = 0.f;
          auto acc = randn(size_t(rows) * hd, 17, 1.f), acc_want = acc;
          k.attn_pv_f16(pr.data(), 70, rows, xh.data(), stride, n, hd, acc.data());
          scalar.attn_pv(pr.data(), 70, rows, xw.data(), stride, n, hd, acc_want.data());
          for (size_t i = 0; i < acc.size(); ++i) {
            ASSERT_NEAR(acc[i], acc_want[i], 1e-5f * (1 + n)) << isa_name(isa) << " hd " << hd << " n " << n;
          }
        }
      }
    }
  }
}

// The key-tile transposes (f32 rows, and f16 rows widened) of every ISA:
// exactly the stored values at kt[d * stride + j], nothing written past the
// n keys or the hd values; key counts and head sizes around the 16 x 16
// register blocks.
TEST(Attention, TransposeKeysIsExact) {
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int hd : {1, 7, 16, 33, 80, 128, 256}) {
      for (int n : {1, 5, 16, 17, 40, 64}) {
        const int64_t k_stride = hd + 5, kt_stride = 67;
        const auto kf = randn(size_t(n) * k_stride, 31, 1.f);
        std::vector<uint16_t> kh(kf.size());
        for (size_t i = 0; i < kf.size(); ++i) kh[i] = f32_to_fp16(kf[i]);
        std::vector<float> got(size_t(hd + 1) * kt_stride, -7.f), got_h(got);
        k.transpose_keys(kf.data(), k_stride, n, hd, got.data(), kt_stride);
        k.transpose_keys_f16(kh.data(), k_stride, n, hd, got_h.data(), kt_stride);
        for (int d = 0; d <= hd; ++d) {
          for (int j = 0; j < kt_stride; ++j) {
            const size_t at = size_t(d) * kt_stride + j;
            const bool inside = d < hd && j < n;
            const size_t src = size_t(j) * k_stride + d;
            ASSERT_EQ(got[at], inside ? kf[src] : -7.f) << isa_name(isa) << " hd " << hd << " n " << n << " d " << d << " j " << j;
            ASSERT_EQ(got_h[at], inside ? fp16_to_f32(kh[src]) : -7.f)
                << isa_name(isa) << " f16 hd " << hd << " n " << n << " d " << d << " j " << j;
          }
        }
      }
    }
  }
}

// The prefill tile kernels (scores against a transposed key tile, and the
// P.V sum over f32 rows) of every ISA against the scalar table: row counts
// around the kernels' four-row blocks, odd head sizes and key counts.
TEST(Attention, TileKernelsMatchScalar) {
  const Kernels scalar = make_kernels(Isa::kScalar);
  for (Isa isa : kAllIsas) {
    if (isa == Isa::kScalar || !isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int hd : {1, 7, 16, 33, 80, 128}) {
      for (int n : {1, 3, 17, 64}) {
        for (int rows : {1, 2, 3, 4, 5, 8, 9}) {
          const int64_t kt_stride = 67, v_stride = hd + 3;
          auto q = randn(size_t(rows) * hd, 24, 1.f);
          const auto kt = randn(size_t(hd) * kt_stride, 25, 1.f);
          const std::vector<const float*> q_rows = row_pointers(q, rows, hd);
          std::vector<float> got(size_t(rows) * 70, -1.f), want(got);
          k.attn_scores(q_rows.data(), rows, kt.data(), kt_stride, n, hd, 0.3f, got.data(), 70);
          scalar.attn_scores(q_rows.data(), rows, kt.data(), kt_stride, n, hd, 0.3f, want.data(), 70);
          for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_NEAR(got[i], want[i], 1e-4f * (1 + std::sqrt(float(hd))))
                << isa_name(isa) << " hd " << hd << " n " << n << " rows " << rows;
          }
          // P.V with some exact zeros (a whole key column of them too).
          const auto v = randn(size_t(n) * v_stride, 26, 1.f);
          auto pr = randn(size_t(rows) * 70, 27, 0.3f);
          for (size_t i = 0; i < pr.size(); i += 3) pr[i] = 0.f;
          for (int r = 0; r < rows; ++r) pr[size_t(r) * 70 + size_t(n / 2)] = 0.f;
          auto acc = randn(size_t(rows) * hd, 28, 1.f), acc_want = acc;
          k.attn_pv(pr.data(), 70, rows, v.data(), v_stride, n, hd, acc.data());
          scalar.attn_pv(pr.data(), 70, rows, v.data(), v_stride, n, hd, acc_want.data());
          for (size_t i = 0; i < acc.size(); ++i) {
            ASSERT_NEAR(acc[i], acc_want[i], 1e-5f * (1 + n))
                << isa_name(isa) << " hd " << hd << " n " << n << " rows " << rows;
          }
        }
      }
    }
  }
}

// The online-softmax tile step of every ISA against the scalar table: rows
// with hidden keys (-inf), a row with nothing visible yet, first tiles
// (m = -inf) and later ones, odd widths.
TEST(Attention, SoftmaxTileMatchesScalar) {
  const Kernels scalar = make_kernels(Isa::kScalar);
  for (Isa isa : kAllIsas) {
    if (isa == Isa::kScalar || !isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int n : {1, 5, 16, 37, 64}) {
      for (int hd : {8, 33, 128}) {
        const int rows = 6, stride = 70;
        auto s0 = randn(size_t(rows) * stride, 11, 4.f);
        for (int j = 0; j < n; j += 3) s0[size_t(1) * stride + j] = -INFINITY;  // some hidden keys
        for (int j = 0; j < n; ++j) s0[size_t(2) * stride + j] = -INFINITY;     // nothing visible
        s0[size_t(3) * stride] = -200.f;                                       // underflows to 0
        std::vector<float> m0 = {-INFINITY, 1.5f, -INFINITY, 0.3f, 40.f, -2.f};
        std::vector<float> l0 = {0.f, 2.f, 0.f, 1.f, 3.f, 0.5f};
        auto acc0 = randn(size_t(rows) * hd, 12, 1.f);
        auto s1 = s0, m1 = m0, l1 = l0, acc1 = acc0;
        k.attn_softmax_tile(s0.data(), stride, rows, n, m0.data(), l0.data(), acc0.data(), hd);
        scalar.attn_softmax_tile(s1.data(), stride, rows, n, m1.data(), l1.data(), acc1.data(), hd);
        for (int r = 0; r < rows; ++r) {
          ASSERT_EQ(m0[r], m1[r]) << isa_name(isa);
          ASSERT_NEAR(l0[r], l1[r], 1e-6f * std::max(1.f, std::abs(l1[r]))) << isa_name(isa) << " row " << r;
          for (int j = 0; j < n; ++j) ASSERT_NEAR(s0[r * stride + j], s1[r * stride + j], 1e-6f) << isa_name(isa);
          for (int d = 0; d < hd; ++d) ASSERT_NEAR(acc0[r * hd + d], acc1[r * hd + d], 1e-6f) << isa_name(isa);
        }
      }
    }
  }
}

}  // namespace
}  // namespace nagi
