// A read-only memory-mapped file. Model weights are used in place from the
// mapping, so loading costs page-table setup, not a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace nagi {

class MappedFile {
 public:
  // Throws Error(kIo) naming the path if it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool contains(const void* p, size_t n) const {
    const auto* b = static_cast<const uint8_t*>(p);
    return b >= data_ && n <= size_ && b - data_ <= static_cast<ptrdiff_t>(size_ - n);
  }
  // Drops this process's pages of [p, p + n) (whole pages inside it): after
  // the bytes were copied elsewhere they no longer count towards the RSS. A
  // later read faults them back in from the file. Precondition: contains(p, n).
  void release(const void* p, size_t n) const;
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nagi
