// Weight layouts fitted to the selected kernels at load: superblock files
// (`nagi repack`) go back to plain blocks for kernels without x16 paths,
// and on request (NAGI_REPACK=x16) Q4_0 / Q8_0 go into superblocks. Tensors
// are rewritten once into store-owned buffers and the file's pages
// released, so memory stays one copy of the weights.
#pragma once

#include "format/tensor_store.h"
#include "kernels/kernels.h"

namespace nagi {

// Unless NAGI_REPACK is "0" (keep the file's layout): rewrites tensors a
// file stores as Q4_0x16 / Q8_0x16 (`nagi repack`) back into plain blocks
// for kernels without x16 row and GEMM kernels for them; with
// NAGI_REPACK=x16 also every 2-D Q4_0 / I4G32 (Q8_0 / I8G32) tensor whose
// rows are whole 512-value superblocks as Q4_0x16 (Q8_0x16) wherever `k`
// has x16 paths for it. Returns how many tensors were rewritten.
int repack_for_kernels(TensorStore& store, const Kernels& k);

// Whether `k` has vector row and GEMM kernels for `x16` (Q4_0x16 or
// Q8_0x16), so a tensor stored that way is kept as it is at load.
bool has_x16_paths(const Kernels& k, DType x16);

}  // namespace nagi
