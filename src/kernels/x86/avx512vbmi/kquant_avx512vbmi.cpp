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
}

}  // namespace nagi
