#include "tokenizer/piece_index.h"

#include <functional>
#include <limits>

#include "nagi/error.hpp"

namespace nagi {

uint64_t PieceIndex::hash(std::string_view s) {
  // std::hash's byte hash mixes every byte; spread it once more so that the
  // low bits (the slot) and the high bits (the tag) are both well mixed.
  const uint64_t h = std::hash<std::string_view>{}(s);
  return (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull;
}

size_t PieceIndex::probe(std::string_view piece, uint64_t h) const {
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = size_t(h) & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.entry == 0) return i;
    if (s.tag == tag && texts_[s.entry - 1] == piece) return i;
  }
}

int32_t PieceIndex::find(std::string_view piece) const {
  if (slots_.empty()) return -1;
  const Slot& s = slots_[probe(piece, hash(piece))];
  return s.entry == 0 ? -1 : ids_[s.entry - 1];
}

bool PieceIndex::emplace(std::string_view piece, int32_t id) {
  if (4 * (ids_.size() + 1) > 3 * slots_.size()) rehash(slots_.empty() ? 16 : 2 * slots_.size());
  return emplace_hashed(piece, id, hash(piece));
}

bool PieceIndex::emplace_hashed(std::string_view piece, int32_t id, uint64_t h) {
  const size_t i = probe(piece, h);
  if (slots_[i].entry != 0) return false;
  // Slots number entries in 32 bits (the texts' own limit is StringTable's).
  if (ids_.size() + 1 >= std::numeric_limits<uint32_t>::max()) {
    throw Error(ErrorCode::kFormat, "tokenizer: more than 4 billion vocabulary pieces");
  }
  texts_.push_back(piece);
  ids_.push_back(id);
  slots_[i] = {static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(h >> 32)};
  return true;
}

void PieceIndex::emplace_ids(const StringTable& pieces, std::span<const int32_t> ids) {
  // Sized once, so that no rehash moves the slots between a prefetch and
  // its insert.
  reserve(size() + ids.size());
  constexpr size_t kAhead = 16;  // ~ the misses a core keeps in flight
  std::vector<uint64_t> hashes(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) hashes[k] = hash(pieces[size_t(ids[k])]);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (k + kAhead < ids.size()) __builtin_prefetch(&slots_[size_t(hashes[k + kAhead]) & mask_], 1);
    emplace_hashed(pieces[size_t(ids[k])], ids[k], hashes[k]);
  }
}

void PieceIndex::rehash(size_t capacity) {
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (size_t e = 0; e < ids_.size(); ++e) {
    const uint64_t h = hash(texts_[e]);
    size_t i = size_t(h) & mask_;
    while (slots_[i].entry != 0) i = (i + 1) & mask_;
    slots_[i] = {static_cast<uint32_t>(e + 1), static_cast<uint32_t>(h >> 32)};
  }
}

void PieceIndex::reserve(size_t n) {
  size_t capacity = 16;
  while (3 * capacity < 4 * n) capacity *= 2;
  texts_.reserve(n);
  ids_.reserve(n);
  if (capacity > slots_.size()) rehash(capacity);
}

void PieceIndex::clear() {
  texts_.clear();
  ids_.clear();
  slots_.clear();
  mask_ = 0;
}

}  // namespace nagi
