// Quantizers and dequantizers of the I8G*/I4G* block formats (layout in
// group_quant.h).
#include "format/group_quant.h"

#include <algorithm>
#include <cmath>

#include "base/half.h"

namespace nagi {

namespace {

inline uint16_t load_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline void store_u16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}

float max_abs(const float* x, int n) {
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax;
}

// int8: d = max|x| / 127; codes are rounded against d as stored (f16), so
// the scale's rounding does not bias them.
void quantize_i8(const float* x, int group, uint8_t* b) {
  const uint16_t d_bits = f32_to_fp16(max_abs(x, group) / 127.0f);
  store_u16(b, d_bits);
  const float d = fp16_to_f32(d_bits);
  for (int i = 0; i < group; ++i) {
    const int q = d > 0 ? int(std::lround(x[i] / d)) : 0;
    b[2 + i] = uint8_t(int8_t(std::clamp(q, -127, 127)));
  }
}

int code_i4(float x, float d) { return d != 0 ? std::clamp(int(std::lround(x / d)), -8, 7) : 0; }

// int4: codes -8..7 are lopsided, so no single rule is best: max|x| / 7 wastes
// code -8, max|x| / 8 clips +max to 7. Try both signs of a few divisors in
// [7, 8] (the sign decides which end gets the extra code) and keep the
// scale, as stored in f16, with the smallest squared error.
void quantize_i4(const float* x, int group, uint8_t* b) {
  const float amax = max_abs(x, group);
  uint16_t best_bits = 0;
  double best_err = INFINITY;
  for (const float divisor : {7.0f, 7.25f, 7.5f, 7.75f, 8.0f}) {
    for (const float sign : {1.0f, -1.0f}) {
      const uint16_t bits = f32_to_fp16(sign * amax / divisor);
      const float d = fp16_to_f32(bits);
      double err = 0;
      for (int i = 0; i < group; ++i) {
        const double e = double(x[i]) - double(d) * code_i4(x[i], d);
        err += e * e;
      }
      if (err < best_err) {
        best_err = err;
        best_bits = bits;
      }
    }
  }
  store_u16(b, best_bits);
  const float d = fp16_to_f32(best_bits);
  uint8_t* nib = b + 2;
  for (int c0 = 0; c0 < group; c0 += 64) {
    const int half = std::min(64, group - c0) / 2;
    for (int j = 0; j < half; ++j) {
      const int lo = code_i4(x[c0 + j], d) + 8, hi = code_i4(x[c0 + half + j], d) + 8;
      nib[c0 / 2 + j] = uint8_t(lo | (hi << 4));
    }
  }
}

}  // namespace

std::optional<GroupQuant> group_quant_of(DType t) {
  switch (t) {
    case DType::kI8G32: return GroupQuant{8, 32};
    case DType::kI8G64: return GroupQuant{8, 64};
    case DType::kI8G128: return GroupQuant{8, 128};
    case DType::kI4G32: return GroupQuant{4, 32};
    case DType::kI4G64: return GroupQuant{4, 64};
    case DType::kI4G128: return GroupQuant{4, 128};
    default: return std::nullopt;
  }
}

void unpack_int4_group(const uint8_t* nibbles, int group, int8_t* q) {
  for (int c0 = 0; c0 < group; c0 += 64) {
    const int half = std::min(64, group - c0) / 2;
    for (int j = 0; j < half; ++j) {
      const uint8_t byte = nibbles[c0 / 2 + j];
      q[c0 + j] = int8_t((byte & 0x0f) - 8);
      q[c0 + half + j] = int8_t((byte >> 4) - 8);
    }
  }
}

void dequantize_groups(DType t, const uint8_t* src, float* dst, int64_t n_groups) {
  const GroupQuant gq = *group_quant_of(t);
  int8_t q[128];
  for (int64_t g = 0; g < n_groups; ++g, src += gq.block_bytes(), dst += gq.group) {
    const float d = fp16_to_f32(load_u16(src));
    if (gq.bits == 8) {
      for (int i = 0; i < gq.group; ++i) dst[i] = d * float(int8_t(src[2 + i]));
    } else {
      unpack_int4_group(src + 2, gq.group, q);
      for (int i = 0; i < gq.group; ++i) dst[i] = d * float(q[i]);
    }
  }
}

void quantize_groups(DType t, const float* src, uint8_t* dst, int64_t n_groups) {
  const GroupQuant gq = *group_quant_of(t);
  for (int64_t g = 0; g < n_groups; ++g, src += gq.group, dst += gq.block_bytes()) {
    if (gq.bits == 8) {
      quantize_i8(src, gq.group, dst);
    } else {
      quantize_i4(src, gq.group, dst);
    }
  }
}

}  // namespace nagi
