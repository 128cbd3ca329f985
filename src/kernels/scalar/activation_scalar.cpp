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

void silu(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] / (1.f + std::exp(-x[i]));
}

void sigmoid_mul(const float* gate, const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] / (1.f + std::exp(-gate[i]));
}

// Evaluated as transformers does, in f32 with tanh. llama.cpp instead rounds
// the input to fp16 and reads a table, which moves Gemma logits by a few
// 1e-3; we keep the exact formula.
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = 0.5f * g * (1.f + std::tanh(kSqrt2OverPi * (g + 0.044715f * g * g * g))) * up[i];
  }
}

void mul_add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a[i] * b[i];
}

}  // namespace

void fill_kernels_scalar_activation(Kernels& k) {
  k.mul_add = mul_add;
  k.silu_mul = silu_mul;
  k.silu = silu;
  k.sigmoid_mul = sigmoid_mul;
  k.gelu_tanh_mul = gelu_tanh_mul;
}

}  // namespace nagi
