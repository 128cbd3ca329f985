// A list of strings stored end to end in one buffer: a vocabulary's pieces by
// id, a GGUF file's string arrays.
//
// A std::vector<std::string> spends 32 bytes per string plus a heap block for
// every string longer than 15 bytes: about 7 MiB for a 150k vocabulary, and
// one allocation (and, on a fresh heap, often one page fault) per string
// while it is built. Here a string costs its bytes and 8 bytes of offset and
// length (3.3 MiB for the same vocabulary), and building it appends to two
// buffers.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "nagi/error.hpp"

namespace nagi {

class StringTable {
 public:
  StringTable() = default;
  explicit StringTable(const std::vector<std::string>& pieces) {
    size_t bytes = 0;
    for (const std::string& p : pieces) bytes += p.size();
    chars_.reserve(bytes);
    spans_.reserve(pieces.size());
    for (const std::string& p : pieces) spans_.push_back(append(p));
  }

  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  // New ids get the empty piece.
  void resize(size_t n) { spans_.resize(n, Span{0, 0}); }

  std::string_view operator[](size_t id) const {
    const Span s = spans_[id];
    return std::string_view(chars_).substr(s.offset, s.length);
  }
  // Replacing a piece leaves its old text unreferenced in the buffer; only
  // added tokens that override a vocabulary entry do that, a few at most.
  void set(size_t id, std::string_view text) { spans_[id] = append(text); }
  void push_back(std::string_view text) { spans_.push_back(append(text)); }
  void reserve(size_t n) { spans_.reserve(n); }
  // Room for n strings of `bytes` bytes in all.
  void reserve(size_t n, size_t bytes) {
    spans_.reserve(n);
    chars_.reserve(bytes);
  }

  bool operator==(const StringTable& o) const {
    if (size() != o.size()) return false;
    for (size_t i = 0; i < size(); ++i) {
      if ((*this)[i] != o[i]) return false;
    }
    return true;
  }
  void clear() {
    chars_.clear();
    spans_.clear();
  }

 private:
  struct Span {
    uint32_t offset;
    uint32_t length;
  };
  Span append(std::string_view text) {
    if (chars_.size() + text.size() > std::numeric_limits<uint32_t>::max()) {
      throw Error(ErrorCode::kFormat, "string table: text exceeds 4 GiB");
    }
    const Span s{static_cast<uint32_t>(chars_.size()), static_cast<uint32_t>(text.size())};
    chars_.append(text);
    return s;
  }

  std::string chars_;
  std::vector<Span> spans_;
};

}  // namespace nagi
