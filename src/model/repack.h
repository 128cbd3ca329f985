// Kernel-friendly weight layouts made at load: where the selected kernels
// read a format faster in another arrangement of the same bits, the
// store's tensors are rewritten once (Q4_0 / Q8_0 -> their x16 superblock
// layouts) and the
// file's pages released, so memory stays one copy of the weights.
#pragma once

#include "format/tensor_store.h"
#include "kernels/kernels.h"

namespace nagi {

// Unless NAGI_REPACK is "0" (keep the file's layout): rewrites every 2-D
// Q4_0 / I4G32 (Q8_0 / I8G32) tensor whose rows are whole 512-value
// superblocks as Q4_0x16 (Q8_0x16) when `k.repack_q4_0` (`k.repack_q8_0`),
// or with NAGI_REPACK=x16 wherever `k` has x16 paths for it,
// and, the other way, tensors a file stores as Q4_0x16 / Q8_0x16 (`nagi
// repack`) back into plain blocks for kernels without x16 row and GEMM
// kernels for them. Returns how many tensors were rewritten.
int repack_for_kernels(TensorStore& store, const Kernels& k);

// Whether `k` has vector row and GEMM kernels for `x16` (Q4_0x16 or
// Q8_0x16), so a tensor stored that way is kept as it is at load.
bool has_x16_paths(const Kernels& k, DType x16);

}  // namespace nagi
