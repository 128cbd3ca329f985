// The BPE merge loop. Symbols live in a doubly linked list over one vector
// and candidate pairs in a priority queue, so a word of n characters costs
// O(n log n) rather than the O(n^2) of rescanning and rebuilding strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace nagi {

// Merge table of a rank-based BPE (Hugging Face "merges"): (left id, right
// id) -> rank (lower merges first) and the id of the merged piece.
struct MergeRule {
  int32_t rank;
  int32_t new_id;
};
inline uint64_t merge_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// Open-addressing hash table of merges: the merge loop looks a pair up for
// every candidate, and std::unordered_map's node chasing was the single
// largest cost of encoding. Keys are merge_key(left, right) of non-negative
// ids, so the all-ones key is free to mark empty slots.
class MergeTable {
 public:
  void reserve(size_t n);
  // Keeps the first rule of a pair (Hugging Face ranks a pair by its first listing).
  void emplace(uint64_t key, MergeRule rule);
  const MergeRule* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.rule;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    MergeRule rule{};
  };
  static size_t hash(uint64_t k) { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 20); }
  void rehash(size_t capacity);

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

struct BpeOptions {
  bool byte_fallback = true;
  bool fuse_unk = false;
  bool ignore_merges = false;  // a word that is itself in the vocab is kept whole
};

// Hugging Face BPE model: characters map to ids (unknown ones to byte tokens
// or unk), then the pair with the lowest merge rank is merged first, leftmost
// on ties. Appends the ids of `word` to out.
void bpe_encode_ranked(std::string_view word, const Vocab& vocab, const MergeTable& merges,
                       const BpeOptions& opts, std::vector<int32_t>& out);

// SentencePiece/llama.cpp BPE: repeatedly merge the adjacent pair whose
// concatenation is a vocabulary piece with the highest score (leftmost on
// ties); characters left unmerged and absent from the vocabulary become byte
// tokens (or unk). Appends the ids of `word` to out.
void bpe_encode_scored(std::string_view word, const Vocab& vocab, std::vector<int32_t>& out);

}  // namespace nagi
