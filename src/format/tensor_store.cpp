#include "format/tensor_store.h"

#include <sys/mman.h>

#include <cstdlib>

#include "nagi/error.hpp"

namespace nagi {

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string TensorView::shape_str() const { return shape_string(shape); }

void TensorStore::keep_alive(std::shared_ptr<const MappedFile> file) {
  files_.push_back(std::move(file));
}

const uint8_t* TensorStore::own(std::vector<uint8_t> bytes) {
  owned_.push_back(std::make_shared<std::vector<uint8_t>>(std::move(bytes)));
  return owned_.back()->data();
}

uint8_t* TensorStore::own_buffer(size_t n) {
  const size_t rounded = (n + 63) / 64 * 64;
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, rounded == 0 ? 64 : rounded));
  if (p == nullptr) throw Error(ErrorCode::kIo, "out of memory allocating " + std::to_string(n) + " bytes of weights");
#ifdef MADV_HUGEPAGE
  // Large weight copies: fewer page faults and TLB misses with huge pages.
  if (rounded >= (size_t(2) << 20)) ::madvise(p, rounded, MADV_HUGEPAGE);
#endif
  buffers_.emplace_back(p, [](uint8_t* q) { std::free(q); });
  return p;
}

void TensorStore::replace(const std::string& name, DType dtype, const uint8_t* data, size_t nbytes) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(ErrorCode::kFormat, "replace: no tensor '" + name + "'");
  TensorView& v = it->second;
  for (const auto& f : files_) {
    if (f->contains(v.data, v.nbytes)) f->release(v.data, v.nbytes);
  }
  v.dtype = dtype;
  v.data = data;
  v.nbytes = nbytes;
}

void TensorStore::release_file_pages(const uint8_t* p, size_t n) const {
  for (const auto& f : files_) {
    if (f->contains(p, n)) f->release(p, n);
  }
}

void TensorStore::keep_alive_all(const TensorStore& other) {
  files_.insert(files_.end(), other.files_.begin(), other.files_.end());
  owned_.insert(owned_.end(), other.owned_.begin(), other.owned_.end());
  buffers_.insert(buffers_.end(), other.buffers_.begin(), other.buffers_.end());
}

void TensorStore::add(TensorView view) {
  auto it = tensors_.find(view.name);
  if (it != tensors_.end()) {
    throw Error(ErrorCode::kFormat, view.source + ": tensor '" + view.name +
                                        "' defined twice (also in " + it->second.source + ")");
  }
  std::string name = view.name;
  tensors_.emplace(std::move(name), std::move(view));
}

const TensorView* TensorStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& TensorStore::get(const std::string& name, const std::string& what) const {
  const TensorView* t = find(name);
  if (t == nullptr) throw Error(ErrorCode::kFormat, what + ": missing tensor '" + name + "'");
  return *t;
}

size_t TensorStore::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, t] : tensors_) n += t.nbytes;
  return n;
}

}  // namespace nagi
