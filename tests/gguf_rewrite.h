// Rewriting a GGUF file for the bad-input tests of the model layer. Header
// only: test_support.cpp is linked into every test binary, including the
// kernels-only ARM64 build, which has no format code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "format/gguf_writer.h"

namespace nagi::test {

// Copies the GGUF file `from` to `to` with metadata `key` replaced by *value
// (removed when value is null) and tensor `drop_tensor` left out.
inline void rewrite_gguf(const std::string& from, const std::string& to, const std::string& key,
                         const GgufValue* value, const std::string& drop_tensor = "") {
  auto g = GgufFile::open(from);
  GgufWriter w;
  for (const auto& [k, v] : g->metadata()) {
    if (k == key) {
      if (value) w.set(k, *value);
    } else {
      w.set(k, v);
    }
  }
  for (const GgufTensorInfo& t : g->tensors()) {
    if (t.name == drop_tensor) continue;
    const uint8_t* p = g->tensor_data(t);
    w.add_tensor(t.name, t.dtype, t.shape, std::vector<uint8_t>(p, p + t.nbytes));
  }
  w.write(to);
}

}  // namespace nagi::test
