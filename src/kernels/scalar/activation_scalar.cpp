// Scalar activation kernels: the reference the SIMD forms are tested against.
#include <cmath>

#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

}  // namespace

void fill_kernels_scalar_activation(Kernels& k) { k.silu_mul = silu_mul; }

}  // namespace nagi
