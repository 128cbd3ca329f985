// Rewrites a GGUF file with its Q8_0 (and I8G32) matrices in
// the x16 superblock layouts (format/dtype.h) that nagi's AVX-512 kernels
// stream, so the file loads by mmap alone: no repacking copy at load time
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

// Reads `in`, writes `out` (which must differ from `in`). Throws Error naming
// the file on bad input or a failed write.
GgufRepackStats repack_gguf(const std::string& in, const std::string& out);

}  // namespace nagi
