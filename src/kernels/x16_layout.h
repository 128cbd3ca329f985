// Byte layout of the x16 superblocks (Q4_0x16 / Q8_0x16, format/dtype.h),
// shared by the scalar and SIMD kernels: 16 blocks of 32 values, their 16
// f16 scales first, then the blocks' payloads back to back. Constants and
// one static function only, so per-ISA files may include it.
#pragma once

namespace nagi::x16 {

inline constexpr int kBlocks = 16;
inline constexpr int kValues = 16 * 32;  // values per superblock
inline constexpr int kScaleBytes = 2 * kBlocks;
inline constexpr int kQ4Payload = 16;  // nibble bytes per block
inline constexpr int kQ8Payload = 32;  // int8 bytes per block

// Bytes of one superblock whose blocks carry `payload` bytes each. Static:
// an inline function here would be emitted as a weak symbol where not
// inlined (debug builds), shared between ISA files and baseline code.
static constexpr int super_bytes(int payload) { return kScaleBytes + kBlocks * payload; }

}  // namespace nagi::x16
