// The Q4_K and Q6_K row kernels of x86/avx512/kquant_rows_avx512.h at the
// VBMI level, whose CPUs also have GFNI: each byte's high nibble comes from
// one affine op (gfni_nibbles.h) instead of a shift and a mask.
#include "gfni_nibbles.h"
#include "kernels/kernels_fill.h"
#include "../avx512/kquant_rows_avx512.h"

namespace nagi {

void fill_kernels_avx512vbmi_kquant(Kernels& k) {
  k.dot_rows_q4_k = dot_rows_q4_k;
  k.dot_rows_q6_k = dot_rows_q6_k;
  k.dot_rows_q4_k_multi = rows_q4_k;
  k.dot_rows_q6_k_multi = rows_q6_k;
  // The multi-token rows beat the GEMMs below these (bench_ops
  // BM_small_batch, one Zen 4 core: Q4_K 62-68 vs 41-65 GMAC/s at 8-16
  // tokens, Q6_K 62-66 vs 53-61 at 8-12; docs/KERNELS.md).
  k.gemm_q4_k_min_tokens = 16;
  k.gemm_q6_k_min_tokens = 12;
}

}  // namespace nagi
