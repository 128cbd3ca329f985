// ARMv8.2 dot-product (SDOT) kernels. Compiled with -march=armv8.2-a+dotprod
// (see src/CMakeLists.txt) and only called when getauxval(AT_HWCAP) has
// HWCAP_ASIMDDP (and the v8.1/v8.2 features). The table starts from the plain NEON one (make_kernels fills
// that first); only the integer dots change (Q8_0 / Q4_0, the group types, the K-quants),
// and the integer GEMMs are added (gemm_neon_dot.cpp).
#include <arm_neon.h>

#include "kernels/arm/neon_common.h"
#include "kernels/arm/neon_groupq.h"
#include "kernels/arm/neon_kquant.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

// SDOT: each int32 lane accumulates four int8 x int8 products, exactly.
inline int32x4_t block_dot_sdot(int8x16x2_t w, int8x16x2_t a) {
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w.val[0], a.val[0]), w.val[1], a.val[1]);
}

inline int32x4_t dot16_sdot(int32x4_t acc, int8x16_t w, int8x16_t a) { return vdotq_s32(acc, w, a); }

}  // namespace

void fill_kernels_neon_dot(Kernels& k) {
  k.isa = "neondot";
  k.dot_rows_q8_0 = neon_dot_rows_quant<34, neon_load_q8_0, block_dot_sdot>;
  k.dot_rows_q4_0 = neon_dot_rows_quant<18, neon_load_q4_0, block_dot_sdot>;
  neon_fill_groupq<block_dot_sdot>(k);
  neon_fill_kquant<dot16_sdot>(k);
  fill_kernels_neon_dot_gemm(k);
}

}  // namespace nagi
