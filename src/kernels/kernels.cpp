#include "kernels/kernels.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/kernels_fill.h"

#ifdef NAGI_HAVE_X86_KERNELS
#include <cpuid.h>
#endif
#if defined(NAGI_HAVE_NEON_KERNELS) && defined(__linux__)
#include <sys/auxv.h>  // getauxval, HWCAP_ASIMDDP
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)  // the kernel's value; older glibc headers lack the name
#endif
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1UL << 14)
#endif
#endif

namespace nagi {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx2Vnni: return "avx2vnni";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vbmi: return "avx512vbmi";
    case Isa::kAvx512Bf16: return "avx512bf16";
    case Isa::kNeon: return "neon";
    case Isa::kNeonDot: return "neondot";
    case Isa::kNeonI8mm: return "neoni8mm";
    case Isa::kNeonBf16: return "neonbf16";
  }
  return "?";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (Isa isa : kAllIsas) {
    if (isa_name(isa) == name) return isa;
  }
  return std::nullopt;
}

#ifdef NAGI_HAVE_X86_KERNELS
// clang (14) has no "f16c" for __builtin_cpu_supports, so ask CPUID directly
// (leaf 1, ECX bit 29).
bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
}
// AVX-VNNI (VEX vpdpbusd): leaf 7 subleaf 1, EAX bit 4. Asked directly for
// the same reason (and GCC 12 has no name for it either).
bool cpu_has_avx_vnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) != 0 && (a & (1u << 4)) != 0;
}
#endif

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
#ifdef NAGI_HAVE_X86_KERNELS
    // Every feature the files of a level are compiled with must be present,
    // not just the ones their intrinsics use: the compiler may use any of them.
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case Isa::kAvx2Vnni:
      return isa_supported(Isa::kAvx2) && cpu_has_avx_vnni();
    // No AVX512-BF16 here (it is the avx512bf16 level's), so Ice Lake /
    // Tiger Lake / Cascade Lake (VNNI, no BF16) run this level.
    case Isa::kAvx512:
      return isa_supported(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
    case Isa::kAvx512Vbmi:
      return isa_supported(Isa::kAvx512) && __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("gfni");
    // On top of VBMI: the CPUs with AVX512-BF16 (Zen 4 and 5, Sapphire Rapids
    // and later) have it; Cooper Lake, which lacks VBMI, stays below.
    case Isa::kAvx512Bf16:
      return isa_supported(Isa::kAvx512Vbmi) && __builtin_cpu_supports("avx512bf16");
#endif
#ifdef NAGI_HAVE_NEON_KERNELS
    // arm/neon/ is baseline ARMv8-A; arm/neon_dot/ is built with
    // -march=armv8.2-a+dotprod: SDOT plus what v8.1/v8.2 let the compiler
    // emit unasked (LSE atomics, RDMA, CRC32).
    case Isa::kNeon: return true;
    case Isa::kNeonDot: {
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
      const unsigned long need = HWCAP_ASIMDDP | HWCAP_ATOMICS | HWCAP_ASIMDRDM | HWCAP_CRC32;
      return (getauxval(AT_HWCAP) & need) == need;
#else
      return false;
#endif
    }
    // arm/neon_i8mm/ adds +i8mm to the dot-product level's flags.
    case Isa::kNeonI8mm:
#if defined(__linux__)
      return isa_supported(Isa::kNeonDot) && (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
#else
      return false;
#endif
    // arm/neon_bf16/ adds +bf16 (BFDOT) to the i8mm level's flags; the CPUs
    // with FEAT_BF16 (Armv8.6) have I8MM too.
    case Isa::kNeonBf16:
#if defined(__linux__)
      return isa_supported(Isa::kNeonI8mm) && (getauxval(AT_HWCAP2) & HWCAP2_BF16) != 0;
#else
      return false;
#endif
#endif
    default: return false;
  }
}

Kernels make_kernels(Isa isa) {
  Kernels k;
  fill_kernels_scalar(k);
#ifdef NAGI_HAVE_X86_KERNELS
  // Higher levels build on lower ones so a level only has to provide what it
  // does better.
  // avx2vnni is a whole AVX2 table of its own (its int8 kernels built with
  // vpdpbusd); the AVX-512 levels replace those kernels anyway.
  const bool avx512 = isa == Isa::kAvx512 || isa == Isa::kAvx512Vbmi || isa == Isa::kAvx512Bf16;
  if (isa == Isa::kAvx2 || avx512) fill_kernels_avx2(k);
  if (isa == Isa::kAvx2Vnni) fill_kernels_avx2_vnni(k);
  if (avx512) fill_kernels_avx512(k);
  if (isa == Isa::kAvx512Vbmi || isa == Isa::kAvx512Bf16) fill_kernels_avx512_vbmi(k);
  if (isa == Isa::kAvx512Bf16) fill_kernels_avx512_bf16(k);
#endif
#ifdef NAGI_HAVE_NEON_KERNELS
  if (isa == Isa::kNeon || isa == Isa::kNeonDot || isa == Isa::kNeonI8mm || isa == Isa::kNeonBf16) {
    fill_kernels_neon(k);
  }
  if (isa == Isa::kNeonDot || isa == Isa::kNeonI8mm || isa == Isa::kNeonBf16) fill_kernels_neon_dot(k);
  if (isa == Isa::kNeonI8mm || isa == Isa::kNeonBf16) fill_kernels_neon_i8mm(k);
  if (isa == Isa::kNeonBf16) fill_kernels_neon_bf16(k);
#endif
  return k;
}

Isa selected_isa() {
  Isa best = Isa::kScalar;
  for (Isa isa : kAllIsas) {
    if (isa_supported(isa)) best = isa;
  }
  const char* env = std::getenv("NAGI_ISA");
  if (env == nullptr || *env == '\0') return best;
  const auto forced = isa_from_name(env);
  if (!forced) {
    std::string names;  // from kAllIsas, so a new level is listed without editing this message
    for (Isa isa : kAllIsas) names += (names.empty() ? "" : ", ") + std::string(isa_name(isa));
    std::fprintf(stderr, "nagi: NAGI_ISA=%s is not one of %s; using %s\n", env, names.c_str(),
                 std::string(isa_name(best)).c_str());
    return best;
  }
  if (!isa_supported(*forced)) {
    std::fprintf(stderr, "nagi: NAGI_ISA=%s is not supported by this CPU or build; using %s\n", env,
                 std::string(isa_name(best)).c_str());
    return best;
  }
  return *forced;
}

const Kernels& kernels() {
  static const Kernels table = make_kernels(selected_isa());
  return table;
}

}  // namespace nagi
