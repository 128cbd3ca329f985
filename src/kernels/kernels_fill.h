// Internal: per-ISA table fillers. Each overwrites the entries its ISA
// implements and leaves the rest. The x86 ones exist only on x86-64 builds,
// the ARM ones only on AArch64 builds.
#pragma once

#include "kernels/kernels.h"

namespace nagi {

void fill_kernels_scalar(Kernels& k);
void fill_kernels_scalar_kquant(Kernels& k);  // called by fill_kernels_scalar
void fill_kernels_scalar_q451(Kernels& k);    // called by fill_kernels_scalar
void fill_kernels_scalar_kv(Kernels& k);      // called by fill_kernels_scalar
void fill_kernels_scalar_x16(Kernels& k);     // called by fill_kernels_scalar
void fill_kernels_scalar_groupq(Kernels& k);  // called by fill_kernels_scalar
void fill_kernels_scalar_activation(Kernels& k);  // called by fill_kernels_scalar
#if defined(__x86_64__) || defined(_M_X64)
#define NAGI_HAVE_X86_KERNELS 1
void fill_kernels_avx2(Kernels& k);
// The avx2vnni level: x86/avx2vnni/ compiles dot_avx2.cpp, groupq_avx2.cpp
// and gemm_avx2.cpp again with AVX-VNNI (x86/avx2/avx2_util.h).
void fill_kernels_avx2_vnni(Kernels& k);
void fill_kernels_avx2_groupq_vnni(Kernels& k);  // called by fill_kernels_avx2_vnni
void fill_kernels_avx2_gemm_vnni(Kernels& k);    // called by fill_kernels_avx2_vnni
void fill_kernels_avx512(Kernels& k);
void fill_kernels_avx512_vbmi(Kernels& k);   // after fill_kernels_avx512
void fill_kernels_avx512_bf16(Kernels& k);   // after fill_kernels_avx512_vbmi
void fill_kernels_avx512vbmi_kquant(Kernels& k);  // called by fill_kernels_avx512_vbmi
void fill_kernels_avx2_kquant(Kernels& k);    // called by fill_kernels_avx2
void fill_kernels_avx2_q451(Kernels& k);      // called by fill_kernels_avx2
void fill_kernels_avx512_kquant(Kernels& k);  // called by fill_kernels_avx512
void fill_kernels_avx512_gemm(Kernels& k);    // called by fill_kernels_avx512
void fill_kernels_avx2_kv(Kernels& k);        // called by fill_kernels_avx2
void fill_kernels_avx512_kv(Kernels& k);      // called by fill_kernels_avx512
void fill_kernels_avx512_x16(Kernels& k);     // called by fill_kernels_avx512
void fill_kernels_avx2_groupq(Kernels& k);    // called by fill_kernels_avx2
void fill_kernels_avx512_groupq(Kernels& k);  // called by fill_kernels_avx512
void fill_kernels_avx2_activation(Kernels& k);    // called by fill_kernels_avx2
void fill_kernels_avx2_gemm(Kernels& k);          // called by fill_kernels_avx2
void fill_kernels_avx512_activation(Kernels& k);  // called by fill_kernels_avx512
#endif
#if defined(__aarch64__)
#define NAGI_HAVE_NEON_KERNELS 1
void fill_kernels_neon(Kernels& k);
void fill_kernels_neon_gemm(Kernels& k);  // called by fill_kernels_neon
void fill_kernels_neon_activation(Kernels& k);  // called by fill_kernels_neon
void fill_kernels_neon_kv(Kernels& k);          // called by fill_kernels_neon
void fill_kernels_neon_dot(Kernels& k);
void fill_kernels_neon_dot_gemm(Kernels& k);  // called by fill_kernels_neon_dot
void fill_kernels_neon_i8mm(Kernels& k);  // after fill_kernels_neon_dot
void fill_kernels_neon_bf16(Kernels& k);  // after fill_kernels_neon_i8mm
#endif

}  // namespace nagi
