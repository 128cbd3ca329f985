// The activation kernels (silu_mul, silu, sigmoid_mul, gelu_tanh_mul) of
// every ISA against float64 references, and the SIMD forms against the
// scalar table: lengths around the 16-wide loop's tails, gates from tiny to
// far beyond exp's range, in-place use, infinities and NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
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

// One two-input activation: its kernel, and its value in float64.
struct Activation2 {
  const char* name;
  void (*Kernels::*fn)(const float*, const float*, float*, int64_t);
  std::function<double(double g, double u)> want;
  // Slack at (g, u): the kernels' exp/sigmoid is within a few ulp, but an
  // argument computed in f32 (GELU's polynomial) carries its own rounding
  // into the result, amplified by the slope of log(sigmoid) there; and the
  // scalar GELU's 1 + tanh(y), computed as transformers does, keeps only an
  // ulp of 1 in absolute terms where tanh(y) nears -1.
  std::function<double(double g, double u, double want)> tol;
};

std::vector<Activation2> activations2() {
  const double c = std::sqrt(2.0 / M_PI);
  auto sigmoid = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  return {
      {"silu_mul", &Kernels::silu_mul, [=](double g, double u) { return g * sigmoid(g) * u; },
       [](double, double, double want) { return 1e-6 * std::fabs(want); }},
      {"sigmoid_mul", &Kernels::sigmoid_mul, [=](double g, double u) { return sigmoid(g) * u; },
       [](double, double, double want) { return 1e-6 * std::fabs(want); }},
      {"gelu_tanh_mul", &Kernels::gelu_tanh_mul,
       [=](double g, double u) { return 0.5 * g * (1.0 + std::tanh(c * (g + 0.044715 * g * g * g))) * u; },
       [=](double g, double u, double want) {
         return 1e-6 * (1.0 + 2.0 * c * std::fabs(g + 3 * 0.044715 * g * g * g)) * std::fabs(want) +
                1.2e-7 * std::fabs(g * u);
       }},
  };
}

TEST(Activation, GatedActivationsMatchFloat64Reference) {
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.f, 4.f);
  for (const Activation2& a : activations2()) {
    for (Isa isa : kAllIsas) {
      if (!isa_supported(isa)) continue;
      const Kernels k = make_kernels(isa);
      for (int64_t n : {1, 7, 16, 17, 33, 3072}) {
        std::vector<float> g(static_cast<size_t>(n)), u(g.size()), out(g.size());
        for (float& v : g) v = dist(rng);
        for (float& v : u) v = dist(rng);
        const float edge[] = {-200.f, -30.f, -9.f, -1e-30f, 0.f, 1e-30f, 9.f, 30.f, 200.f};
        for (size_t i = 0; i < std::size(edge) && i < g.size(); ++i) g[i] = edge[i];
        (k.*a.fn)(g.data(), u.data(), out.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          const double want = a.want(g[i], u[i]);
          // Below g ~ -87 the SIMD exp gives 0 where the true value is a
          // subnormal-sized ~1e-36: the absolute slack.
          ASSERT_NEAR(out[i], want, a.tol(g[i], u[i], want) + 1e-30)
              << a.name << " " << isa_name(isa) << " n " << n << " g " << g[i];
        }
        // In place over either input.
        std::vector<float> in_g = g, in_u = u;
        (k.*a.fn)(in_g.data(), u.data(), in_g.data(), n);
        (k.*a.fn)(g.data(), in_u.data(), in_u.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(in_g[i], out[i]) << a.name << " " << isa_name(isa) << " i " << i;
          ASSERT_EQ(in_u[i], out[i]) << a.name << " " << isa_name(isa) << " i " << i;
        }
      }
    }
  }
}

TEST(Activation, SiluMatchesFloat64Reference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.f, 6.f);
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (int64_t n : {1, 5, 16, 31, 6144}) {
      std::vector<float> x(static_cast<size_t>(n)), out(x.size());
      for (float& v : x) v = dist(rng);
      const float edge[] = {-200.f, -88.f, -87.f, 0.f, 88.f, 200.f};
      for (size_t i = 0; i < std::size(edge) && i < x.size(); ++i) x[i] = edge[i];
      k.silu(x.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double xd = x[i], want = xd / (1.0 + std::exp(-xd));
        ASSERT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-30) << isa_name(isa) << " x " << x[i];
      }
      k.silu(x.data(), x.data(), n);  // in place
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(x[i], out[i]) << isa_name(isa) << " i " << i;
    }
  }
}

TEST(Activation, InfinitiesAndNanAsScalar) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> g = {inf, -inf, nan, 1.f, -1.f, 0.f}, u = {2.f, 2.f, 2.f, inf, nan, 3.f};
  const Kernels scalar = make_kernels(Isa::kScalar);
  auto same = [](const std::vector<float>& want, const std::vector<float>& got, const std::string& what) {
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(got[i])) << what << " i " << i;
      } else {
        EXPECT_EQ(got[i], want[i]) << what << " i " << i;
      }
    }
  };
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    for (const Activation2& a : activations2()) {
      std::vector<float> want(g.size()), got(g.size());
      (scalar.*a.fn)(g.data(), u.data(), want.data(), int64_t(g.size()));
      (k.*a.fn)(g.data(), u.data(), got.data(), int64_t(g.size()));
      same(want, got, std::string(a.name) + " " + std::string(isa_name(isa)));
    }
    std::vector<float> want(g.size()), got(g.size());
    scalar.silu(g.data(), want.data(), int64_t(g.size()));
    k.silu(g.data(), got.data(), int64_t(g.size()));
    same(want, got, "silu " + std::string(isa_name(isa)));
  }
}

// mul_add (a convolution tap, y += a * b) of every ISA against float64, at
// lengths around each vector width's tails: the SIMD forms round once (a
// fused multiply-add), the scalar one twice, so within 2 ulp of y's scale.
TEST(Activation, MulAddMatchesFloat64Reference) {
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.f, 2.f);
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const Kernels k = make_kernels(isa);
    ASSERT_NE(k.mul_add, nullptr) << isa_name(isa);
    for (int64_t n : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 3072}) {
      std::vector<float> a(static_cast<size_t>(n)), b(a.size()), y(a.size());
      for (float& v : a) v = dist(rng);
      for (float& v : b) v = dist(rng);
      for (float& v : y) v = dist(rng);
      std::vector<float> got = y;
      k.mul_add(a.data(), b.data(), got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = double(y[i]) + double(a[i]) * double(b[i]);
        const double scale = std::fabs(double(y[i])) + std::fabs(double(a[i]) * double(b[i]));
        EXPECT_NEAR(got[i], want, 2.5e-7 * scale) << isa_name(isa) << " n " << n << " i " << i;
      }
    }
  }
}

}  // namespace
}  // namespace nagi
