// ARMv8.2 dot-product (SDOT) kernels. Compiled with -march=armv8.2-a+dotprod
// (see src/CMakeLists.txt) and only called when getauxval(AT_HWCAP) has
// HWCAP_ASIMDDP (and the v8.1/v8.2 features). The table starts from the plain NEON one (make_kernels fills
// that first); only the Q8_0 / Q4_0 block dots change.
#include <arm_neon.h>

#include "kernels/arm/neon_common.h"
#include "kernels/arm/neon_groupq.h"
#include "kernels/kernels_fill.h"

namespace nagi {
namespace {

// SDOT: each int32 lane accumulates four int8 x int8 products, exactly.
inline int32x4_t block_dot_sdot(int8x16x2_t w, int8x16x2_t a) {
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w.val[0], a.val[0]), w.val[1], a.val[1]);
}

}  // namespace

void fill_kernels_neon_dot(Kernels& k) {
  k.isa = "neondot";
  k.dot_rows_q8_0 = neon_dot_rows_quant<34, neon_load_q8_0, block_dot_sdot>;
  k.dot_rows_q4_0 = neon_dot_rows_quant<18, neon_load_q4_0, block_dot_sdot>;
  neon_fill_groupq<block_dot_sdot>(k);
}

}  // namespace nagi
