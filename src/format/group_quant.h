// nagi's own group-quantized weight formats: I8G32/64/128 and I4G32/64/128.
//
// Symmetric: value = d * q, one f16 scale d per group of G consecutive values
// of a row (G = 32, 64 or 128). Each group is one block of the DType:
//
//   bytes 0-1   d, IEEE f16, little-endian
//   int8 (I8G*) G bytes: q in [-127, 127], value i of the group is byte 2 + i
//   int4 (I4G*) G / 2 bytes of nibbles, each q + 8 with q in [-8, 7], packed in
//               chunks of 64 values (G = 32: one chunk of 32): byte j of a
//               chunk holds value j in its low nibble and value j + chunk / 2
//               in its high nibble.
//
// Why blocks with the scale inline rather than a row of codes followed by a
// row of scales: every path in nagi treats a tensor as a flat run of blocks
// (the model writer quantizes a whole tensor in one quantize_row call, tied
// embeddings and norms are dequantized whole, GGUF checks sizes by block), so
// a layout that depends on the row length would break them silently. Inside
// a block the int4 packing is the one the kernels want: one 32-byte load
// gives 64 consecutive values after an AND and a shift, in activation order.
// G = 32 blocks are byte for byte Q8_0 / Q4_0 blocks, so their kernels serve
// I8G32 / I4G32 (the quantizers differ: see docs/KERNELS.md).
#pragma once

#include <cstdint>
#include <optional>

#include "format/dtype.h"

namespace nagi {

struct GroupQuant {
  int bits;   // 8 or 4
  int group;  // values per scale: 32, 64 or 128
  int block_bytes() const { return 2 + group * bits / 8; }
};

// The parameters of a group-quantized type; nullopt for every other type.
std::optional<GroupQuant> group_quant_of(DType t);

// Block by block (n_groups blocks of t): codes <-> f32. Precondition:
// group_quant_of(t) has a value.
void dequantize_groups(DType t, const uint8_t* src, float* dst, int64_t n_groups);
void quantize_groups(DType t, const float* src, uint8_t* dst, int64_t n_groups);

// The int4 codes (q in [-8, 7]) of one block's nibbles, in value order.
void unpack_int4_group(const uint8_t* nibbles, int group, int8_t* q);

}  // namespace nagi
