// Internal to kernels/arm/: vector math shared by the NEON activation and
// attention kernels. Anonymous namespace for the reason given in
// neon_common.h.
#pragma once

#if !defined(__aarch64__)
#error "kernels/arm/ is for AArch64 builds only"
#endif

#include <arm_neon.h>

namespace nagi {
namespace {

// exp(x) for x <= 0, four lanes: x = k ln2 + f with |f| <= ln2/2 (ln2 split
// in two for an exact k ln2), the Taylor series to f^7 (error < 2e-8
// relative), times 2^k built in the exponent bits (k >= -126 above the
// cut-off, so 2^k is a normal float). The x86 forms' method. -inf and
// anything below -87.3 give 0; NaN stays NaN (FMAX propagates it).
inline float32x4_t neon_exp_nonpositive(float32x4_t x) {
  const uint32x4_t zero = vcltq_f32(x, vdupq_n_f32(-87.3f));
  x = vmaxq_f32(vdupq_n_f32(-87.3f), x);
  const float32x4_t k = vrndnq_f32(vmulq_n_f32(x, 1.44269504089f));
  float32x4_t f = vfmsq_f32(x, k, vdupq_n_f32(0.693145751953125f));
  f = vfmsq_f32(f, k, vdupq_n_f32(1.428606765330187e-06f));
  float32x4_t p = vdupq_n_f32(1.f / 5040.f);
  p = vfmaq_f32(vdupq_n_f32(1.f / 720.f), p, f);
  p = vfmaq_f32(vdupq_n_f32(1.f / 120.f), p, f);
  p = vfmaq_f32(vdupq_n_f32(1.f / 24.f), p, f);
  p = vfmaq_f32(vdupq_n_f32(1.f / 6.f), p, f);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, f);
  p = vfmaq_f32(vdupq_n_f32(1.f), p, f);
  p = vfmaq_f32(vdupq_n_f32(1.f), p, f);
  // NaN in k converts to 0; the product below is NaN anyway.
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23);
  const float32x4_t e = vmulq_f32(p, vreinterpretq_f32_s32(bits));
  return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(e), zero));
}

}  // namespace
}  // namespace nagi
