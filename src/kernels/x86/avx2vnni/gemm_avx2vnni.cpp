// x86/avx2/gemm_avx2.cpp built for the avx2vnni level (AVX2 + AVX-VNNI:
// Alder Lake and later Intel cores, Zen 5): its int8 products become
// vpdpbusd (x86/avx2/avx2_util.h), with the same int32 sums as the AVX2 build.
#define NAGI_AVX_VNNI 1
#include "../avx2/gemm_avx2.cpp"
