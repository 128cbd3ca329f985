// Runtime-dispatched compute kernels. `kernels()` returns one table of
// function pointers chosen once from the CPU's features: the scalar table is
// complete, and each instruction-set level overwrites the entries it has a
// faster version of. NAGI_ISA=scalar|avx2|avx512|neon|neondot forces a level
// (falls back, with a message on stderr, when the CPU lacks it).
//
// Only this header and kernels.cpp are compiled for the baseline target
// (x86-64 / ARMv8-A); the per-ISA files live under x86/<isa>/ and
// arm/<isa>/ and are built with their own flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nagi {

// An f32 vector quantized to int8 in blocks of 32 values, like Q8_0 but with
// an f32 scale per block: x[i] ~= qs[i] * d[i / 32], qs in [-127, 127],
// d = max|x| / 127 over the block. Lets Q8_0 / Q4_0 rows be dotted with
// integer multiply-adds. n is a whole number of blocks.
struct QuantizedVector {
  const int8_t* qs = nullptr;
  const float* d = nullptr;
  int64_t n = 0;
};
inline constexpr int kActBlock = 32;

// y[r] = dot(row r of W, x) for r < n_rows; row r starts at w + r * row_bytes
// and holds `cols` values of the entry's dtype.
using DotRowsF32Fn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                              const float* x, float* y);
using DotRowsQ8Fn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, int64_t cols,
                             const QuantizedVector& x, float* y);

struct Kernels {
  const char* isa = "scalar";
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  // Weights F32 / F16 / BF16 against an exact f32 activation (no activation
  // rounding: F32 models must keep matching f32 references to ~1e-5).
  DotRowsF32Fn dot_rows_f32 = nullptr;
  DotRowsF32Fn dot_rows_f16 = nullptr;
  DotRowsF32Fn dot_rows_bf16 = nullptr;
  // Quantizes n floats (a multiple of 32) into qs[n] and d[n / 32].
  void (*quantize_act_q8)(const float* x, int64_t n, int8_t* qs, float* d) = nullptr;
  // Q8_0 / Q4_0 weights against a quantized activation (integer dot per block).
  DotRowsQ8Fn dot_rows_q8_0 = nullptr;
  DotRowsQ8Fn dot_rows_q4_0 = nullptr;
};

// kNeon: ARMv8-A Advanced SIMD (every AArch64 CPU); kNeonDot: plus the
// dot-product extension (SDOT, HWCAP_ASIMDDP).
enum class Isa { kScalar, kAvx2, kAvx512, kNeon, kNeonDot };

std::string_view isa_name(Isa isa);
std::optional<Isa> isa_from_name(std::string_view name);
// Whether this build has kernels for `isa` and the CPU can run them.
bool isa_supported(Isa isa);
// The table for one level (scalar entries where the level has none).
// Precondition: isa_supported(isa).
Kernels make_kernels(Isa isa);
// The best supported level, or the one forced by NAGI_ISA.
Isa selected_isa();

// The process-wide table, filled on first use.
const Kernels& kernels();

}  // namespace nagi
