// Rewrites a GGUF file with its Q8_0 (and I8G32) matrices, and on request
// its Q4_0 (I4G32) ones, in the x16 superblock layouts (format/dtype.h)
// that nagi's AVX-512 kernels stream, so the file loads by mmap alone: no repacking copy at load time
// (model/repack.h does that copy for plain files). Every other tensor and
// every metadata key is carried over unchanged. The result is nagi's own
// checkpoint: the x16 types have private GGUF ids that GGML does not read.
#pragma once

#include <string>

namespace nagi {

struct GgufRepackStats {
  int tensors = 0;      // tensors written
  int repacked = 0;     // of which rewritten in superblocks
  size_t bytes = 0;     // tensor bytes written
};

struct GgufRepackOptions {
  // Q4_0 in superblocks too. Off by default: on Zen 5 the plain Q4_0 kernel
  // streams faster than the x16 one; on cores that run 512-bit operations as
  // two 256-bit halves (Zen 4) the x16 kernel decodes faster
  // (docs/PERFORMANCE.md has the figures).
  bool q4_0 = false;
};

// Reads `in`, writes `out` (which must differ from `in`). Throws Error naming
// the file on bad input or a failed write.
GgufRepackStats repack_gguf(const std::string& in, const std::string& out, const GgufRepackOptions& options = {});

}  // namespace nagi
