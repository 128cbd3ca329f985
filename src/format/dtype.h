// Element types of stored tensors, including GGML's block-quantized formats.
// A quantized type stores blocks of `block_elems` values in `block_bytes`
// bytes; rows are always a whole number of blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nagi {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kF64,
  kI8,
  kI16,
  kI32,
  kI64,
  kU8,
  kBool,
  // GGML block formats (dequantized by dequantize_row).
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ8_0,
  kQ4_K,
  kQ5_K,
  kQ6_K,
  // nagi's in-memory layout of Q4_0 (never stored in files): superblocks of
  // 16 Q4_0 blocks (512 values, 288 bytes, like 16 blocks) holding the 16
  // f16 scales first, then the 16 blocks' 16 nibble bytes back to back, so
  // the decode kernel reads scales with one load and nibbles in aligned
  // 64-byte runs instead of gathering them out of 18-byte blocks. Loaders
  // convert Q4_0 matrices to it (repack_x16) where the kernels want it.
  kQ4_0x16,
  // The same for Q8_0: 16 f16 scales, then 16 x 32 int8 values (544 bytes).
  kQ8_0x16,
  // nagi's own symmetric group-quantized formats (see format/group_quant.h):
  // int8 or int4 codes, one f16 scale per group of 32, 64 or 128 values.
  kI8G32,
  kI8G64,
  kI8G128,
  kI4G32,
  kI4G64,
  kI4G128,
};

struct DTypeInfo {
  std::string_view name;  // "F32", "Q4_K", ...
  int block_elems;        // 1 for plain types
  int block_bytes;        // bytes per block (element size for plain types)
  bool is_float;          // can be turned into f32 by dequantize_row
};

const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }

// Bytes taken by `n` consecutive elements; nullopt if n is not a whole number
// of blocks or the size overflows.
std::optional<size_t> dtype_bytes(DType t, uint64_t n);

// GGML type id (as stored in GGUF) <-> DType. nullopt for ids nagi cannot read.
// nagi's group-quantized types have ids in a private range (kNagiGgufTypeBase
// + 0..7, far above GGML's ids) that GGML will not reuse; see docs/KERNELS.md.
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);
uint32_t dtype_to_ggml(DType t);  // precondition: t has a GGML id

inline constexpr uint32_t kNagiGgufTypeBase = 0x4E410000;  // "NA" in the top bytes

// Converts `n` elements (a whole number of blocks) of type `t` to float32.
// Precondition: dtype_info(t).is_float.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// Q4_0 (or I4G32) -> Q4_0x16, Q8_0 (or I8G32) -> Q8_0x16 for n values (a
// multiple of 512): the same bits, reordered.
void repack_x16(DType from, const void* src, void* dst, int64_t n);
// The superblock type repack_x16 makes of `from`.
DType x16_of(DType from);
// The inverse: Q4_0x16 -> Q4_0, Q8_0x16 -> Q8_0 (for kernels without x16
// paths, reading a file stored in superblocks).
void unpack_x16(DType x16, const void* src, void* dst, int64_t n);
DType blocks_of_x16(DType x16);

// Quantizes `n` floats (a whole number of blocks) into type `t`, the same way
// llama.cpp's reference quantizers do. Supported: F32, F16, BF16, Q8_0, Q4_0,
// Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K and the I8G*/I4G* group types. Used by
// the model-writing tool.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace nagi
