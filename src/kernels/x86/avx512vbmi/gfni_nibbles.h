// Each byte's high nibble moved to its low four bits (the high four zero) in
// one GFNI affine op, where a shift and a mask take two: a bit matrix per
// byte whose output bit i is input bit i + 4. For the files of this folder
// (the VBMI level's CPUs have GFNI; the level checks it), included before
// x86/avx512/kquant_rows_avx512.h, which calls it.
#pragma once

#include <immintrin.h>

namespace nagi {
namespace {

inline __m512i high_nibbles(__m512i v) {
  return _mm512_gf2p8affine_epi64_epi8(v, _mm512_set1_epi64(0x1020408000000000), 0);
}

}  // namespace
}  // namespace nagi
