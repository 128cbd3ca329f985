// Named tensors as loaded from model files, before any model logic sees them.
// Views point into memory-mapped files (or buffers the store owns), so a
// tensor is never copied unless a loader must transform it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "format/dtype.h"

namespace nagi {

// "[512, 64]": how shapes appear in error messages.
std::string shape_string(const std::vector<int64_t>& shape);

struct TensorView {
  std::string name;            // canonical (GGUF-style) name, e.g. "blk.0.attn_q.weight"
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, outermost first (PyTorch/numpy order): a
                               // Linear weight is [out_features, in_features]
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string source;          // the file it came from (and its name there), for errors

  int64_t numel() const;
  std::string shape_str() const;  // "[512, 64]"
};

class TensorStore {
 public:
  // Keeps `file` alive as long as the store lives (views point into it).
  void keep_alive(std::shared_ptr<const MappedFile> file);
  // Takes ownership of a buffer created by a loader (e.g. a permuted tensor);
  // returns a stable pointer to its bytes.
  const uint8_t* own(std::vector<uint8_t> bytes);
  // A writable, 64-byte-aligned, uninitialized buffer of n bytes the store
  // owns (kernel-friendly copies of tensors made at load).
  uint8_t* own_buffer(size_t n);
  // Points tensor `name` at new bytes of another dtype (same shape; the
  // caller checked the size). Where the old bytes were in a mapped file,
  // their pages are released. Throws Error(kFormat) if there is no such tensor.
  void replace(const std::string& name, DType dtype, const uint8_t* data, size_t nbytes);
  // Releases the mapped-file pages wholly inside [p, p + n) (a part already
  // copied elsewhere); bytes not in a mapped file are left alone. A later
  // read of them faults the pages back in.
  void release_file_pages(const uint8_t* p, size_t n) const;
  // Shares `other`'s mappings and buffers, so views copied from it stay valid.
  void keep_alive_all(const TensorStore& other);

  // Throws Error(kFormat) naming both sources if `name` is already present.
  void add(TensorView view);

  const TensorView* find(const std::string& name) const;
  // Throws Error(kFormat) "<what>: missing tensor '<name>'".
  const TensorView& get(const std::string& name, const std::string& what) const;

  const std::map<std::string, TensorView>& all() const { return tensors_; }
  size_t total_bytes() const;

 private:
  std::map<std::string, TensorView> tensors_;
  std::vector<std::shared_ptr<const MappedFile>> files_;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> owned_;
  std::vector<std::shared_ptr<uint8_t>> buffers_;
};

}  // namespace nagi
