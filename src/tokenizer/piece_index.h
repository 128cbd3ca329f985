// Piece text -> id, for vocabularies of a few hundred thousand pieces.
//
// std::unordered_map<std::string, int32_t> costs a heap node per piece
// (~64 bytes: link, std::string, id, cached hash) plus its bucket array:
// about 10.5 MiB for Qwen3's 151,936 pieces, all of it resident beside the
// weights for as long as the model is loaded. Here the texts sit end to end
// in one buffer (a StringTable, with the ids beside it) and an open-addressing
// table holds (entry, hash) pairs: about 4.5 MiB for the same vocabulary,
// and a miss usually ends at the first slot without touching any text.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/string_table.h"

namespace nagi {

class PieceIndex {
 public:
  // Adds piece -> id unless the piece is already present (the first listing
  // wins, as for std::unordered_map::emplace). Returns whether it was added.
  bool emplace(std::string_view piece, int32_t id);
  // emplace(pieces[id], id) for every id of `ids` (each < pieces.size()),
  // in that order. A vocabulary's table (4 MiB for 262k pieces) is far
  // larger than L2, and one insert at a time waits out a cache miss each;
  // here the slots of the inserts a few places ahead are prefetched while
  // the current one runs.
  void emplace_ids(const StringTable& pieces, std::span<const int32_t> ids);
  // The id of `piece`, or -1.
  int32_t find(std::string_view piece) const;
  bool contains(std::string_view piece) const { return find(piece) >= 0; }

  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }
  void clear();
  void reserve(size_t n);

  // f(std::string_view piece, int32_t id) for every entry, in insertion
  // order; an f returning bool stops the walk by returning false.
  template <class F>
  void for_each(F&& f) const {
    for (size_t e = 0; e < ids_.size(); ++e) {
      if constexpr (std::is_same_v<std::invoke_result_t<F&, std::string_view, int32_t>, bool>) {
        if (!f(texts_[e], ids_[e])) return;
      } else {
        f(texts_[e], ids_[e]);
      }
    }
  }

 private:
  // entry + 1 (0: empty) and the high half of the piece's hash, so that a
  // probe compares text only when the hashes agree.
  struct Slot {
    uint32_t entry = 0;
    uint32_t tag = 0;
  };

  static uint64_t hash(std::string_view s);
  // The slot holding `piece`, or the empty slot where it would go.
  size_t probe(std::string_view piece, uint64_t h) const;
  // emplace with the hash given and the table already large enough.
  bool emplace_hashed(std::string_view piece, int32_t id, uint64_t h);
  void rehash(size_t capacity);

  StringTable texts_;          // by entry, in insertion order
  std::vector<int32_t> ids_;  // by entry
  std::vector<Slot> slots_;  // a power of two in size, at most 3/4 full
  size_t mask_ = 0;
};

}  // namespace nagi
