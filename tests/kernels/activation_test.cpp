// silu_mul (SwiGLU's activation) of every ISA against a float64 reference,
// and the SIMD forms against the scalar table: lengths around the 16-wide
// loop's tails, gates from tiny to far beyond exp's range, in-place use.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernels.h"

namespace nagi {
namespace {

TEST(Activation, SiluMulMatchesFloat64Reference) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.f, 4.f);
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int64_t n : {1, 7, 15, 16, 17, 31, 100, 3072}) {
      std::vector<float> g(static_cast<size_t>(n)), u(g.size()), out(g.size());
      for (float& v : g) v = dist(rng);
      for (float& v : u) v = dist(rng);
      // Both tails of the sigmoid, and values past where exp over/underflows.
      const float edge[] = {-200.f, -88.f, -87.f, -30.f, -1e-30f, 0.f, 1e-30f, 30.f, 88.f, 200.f};
      for (size_t i = 0; i < std::size(edge) && i < g.size(); ++i) g[i] = edge[i];
      k.silu_mul(g.data(), u.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double gd = g[i], want = gd / (1.0 + std::exp(-gd)) * double(u[i]);
        // The SIMD exp returns 0 below -87.3 (exp is subnormal there), so
        // silu(g) for g <~ -87 may be 0 instead of ~1e-36: an absolute slack.
        EXPECT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-30) << isa_name(isa) << " n " << n << " g " << g[i];
      }
      // In place (out = gate), as the FFN calls it.
      std::vector<float> inplace = g;
      k.silu_mul(inplace.data(), u.data(), inplace.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(inplace[i], out[i]) << isa_name(isa) << " i " << i;
    }
  }
}

TEST(Activation, SiluMulInfinitiesAndNanAsScalar) {
  const Kernels scalar = make_kernels(Isa::kScalar);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> g = {inf, -inf, nan, 1.f, -1.f}, u = {2.f, 2.f, 2.f, inf, nan};
  std::vector<float> want(g.size()), got(g.size());
  scalar.silu_mul(g.data(), u.data(), want.data(), int64_t(g.size()));
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    make_kernels(isa).silu_mul(g.data(), u.data(), got.data(), int64_t(g.size()));
    for (size_t i = 0; i < g.size(); ++i) {
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(got[i])) << isa_name(isa) << " i " << i;
      } else {
        EXPECT_EQ(got[i], want[i]) << isa_name(isa) << " i " << i;
      }
    }
  }
}

}  // namespace
}  // namespace nagi
