// rmsnorm (partial sums in double, any length) against a float64 reference,
// on lengths that leave every possible tail of its 8-wide loop.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops.h"

namespace nagi {
namespace {

TEST(RmsNorm, MatchesFloat64Reference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.f, 2.f);
  for (int64_t n : {1, 7, 8, 9, 13, 128, 1023, 1031}) {
    std::vector<float> x(static_cast<size_t>(n)), w(x.size()), y(x.size()), y_plain(x.size());
    for (float& v : x) v = dist(rng);
    for (float& v : w) v = dist(rng);
    const float eps = 1e-6f;
    rmsnorm(x.data(), w.data(), y.data(), n, eps);
    rmsnorm(x.data(), nullptr, y_plain.data(), n, eps);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double scale = 1.0 / std::sqrt(ss / double(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      // scale rounded to f32, then two f32 products: <= 3 roundings of 2^-24.
      const double want = double(x[i]) * scale * w[i], want_plain = double(x[i]) * scale;
      EXPECT_NEAR(y[i], want, 4.0 / 16777216.0 * std::fabs(want)) << "n " << n << " i " << i;
      EXPECT_NEAR(y_plain[i], want_plain, 3.0 / 16777216.0 * std::fabs(want_plain)) << "n " << n << " i " << i;
    }
  }
}

}  // namespace
}  // namespace nagi
