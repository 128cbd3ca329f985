#include "format/gguf_repack.h"

#include <filesystem>
#include <vector>

#include "format/dtype.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "nagi/error.hpp"

namespace nagi {

GgufRepackStats repack_gguf(const std::string& in, const std::string& out, const GgufRepackOptions& options) {
  std::error_code ec;
  if (std::filesystem::equivalent(in, out, ec)) {
    throw Error(ErrorCode::kInvalidArgument, "repack: output " + out + " is the input file");
  }
  const auto file = GgufFile::open(in);
  GgufWriter w;
  for (const auto& [key, value] : file->metadata()) w.set(key, value);
  GgufRepackStats stats;
  for (const GgufTensorInfo& t : file->tensors()) {
    const uint8_t* src = file->tensor_data(t);
    std::vector<uint8_t> data(t.nbytes);
    // Q4_0 only when asked (GgufRepackOptions::q4_0).
    const bool blocks = t.dtype == DType::kQ8_0 || t.dtype == DType::kI8G32 ||
                        (options.q4_0 && (t.dtype == DType::kQ4_0 || t.dtype == DType::kI4G32));
    // Rows must be whole superblocks: the kernels index rows by their bytes.
    const bool fits = blocks && t.shape.size() == 2 && t.shape[1] % 512 == 0;
    DType dtype = t.dtype;
    if (fits) {
      const int64_t rows = t.shape[0], cols = t.shape[1];
      const size_t row_bytes = t.nbytes / size_t(rows);
      for (int64_t r = 0; r < rows; ++r) repack_x16(t.dtype, src + r * row_bytes, data.data() + r * row_bytes, cols);
      dtype = x16_of(t.dtype);
      ++stats.repacked;
    } else {
      std::copy(src, src + t.nbytes, data.begin());
    }
    stats.bytes += t.nbytes;
    ++stats.tensors;
    w.add_tensor(t.name, dtype, t.shape, std::move(data));
  }
  w.write(out, static_cast<uint32_t>(file->alignment()));
  return stats;
}

}  // namespace nagi
