#include "tokenizer/bpe.h"

#include <queue>

#include "nagi/error.hpp"
#include "tokenizer/utf8.h"

namespace nagi {
namespace {

struct Symbol {
  int32_t id;    // -1: not (yet) a vocabulary piece (scored mode only)
  uint32_t off;  // span of the word this symbol covers
  uint32_t len;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct Candidate {
  double key;       // lower merges first (rank, or minus the score)
  int32_t left;     // symbol index; also the leftmost tie-break
  int32_t right;
  uint32_t len;     // left.len + right.len when queued, to spot stale entries
  int32_t new_id;
};

struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.key != b.key) return a.key > b.key;
    return a.left > b.left;
  }
};

// Runs the merge loop. `lookup(left, right, &key, &new_id)` says whether two
// adjacent symbols merge and with what priority.
template <typename Lookup>
void merge_symbols(std::vector<Symbol>& syms, Lookup&& lookup) {
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    double key;
    int32_t new_id;
    if (lookup(syms[l], syms[r], key, new_id)) {
      queue.push({key, l, r, syms[l].len + syms[r].len, new_id});
    }
  };
  for (size_t i = 0; i + 1 < syms.size(); ++i) try_add(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = syms[c.left];
    Symbol& r = syms[c.right];
    // Lengths only grow, so an unchanged sum and adjacency mean neither side
    // was merged since this entry was queued.
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.len + r.len != c.len) continue;
    l.len += r.len;
    l.id = c.new_id;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.left;
    r.len = 0;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }
}

void push_symbol(std::vector<Symbol>& syms, int32_t id, size_t off, size_t len) {
  const auto idx = static_cast<int32_t>(syms.size());
  syms.push_back({id, static_cast<uint32_t>(off), static_cast<uint32_t>(len), idx - 1, -1});
  if (idx > 0) syms[idx - 1].next = idx;
}

}  // namespace

void MergeTable::rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = hash(s.key) & mask_;
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void MergeTable::reserve(size_t n) {
  size_t capacity = 16;
  while (capacity < 2 * n) capacity *= 2;  // load factor <= 1/2
  if (capacity > slots_.size()) rehash(capacity);
}

void MergeTable::emplace(uint64_t key, MergeRule rule) {
  if (key == kEmpty) return;
  if (2 * (size_ + 1) > slots_.size()) rehash(slots_.empty() ? 16 : 2 * slots_.size());
  size_t i = hash(key) & mask_;
  for (; slots_[i].key != kEmpty; i = (i + 1) & mask_) {
    if (slots_[i].key == key) return;
  }
  slots_[i] = {key, rule};
  ++size_;
}

void bpe_encode_ranked(std::string_view word, const Vocab& vocab, const MergeTable& merges,
                       const BpeOptions& opts, std::vector<int32_t>& out) {
  if (word.empty()) return;
  if (opts.ignore_merges) {
    if (int32_t id = vocab.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  bool prev_unk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8::char_len_lossy(word, i);
    const int32_t id = vocab.find_char(word.substr(i, n));
    if (id >= 0) {
      push_symbol(syms, id, i, n);
      prev_unk = false;
    } else {
      bool all_bytes = opts.byte_fallback;
      for (size_t k = 0; all_bytes && k < n; ++k) {
        all_bytes = vocab.byte_to_id[static_cast<uint8_t>(word[i + k])] >= 0;
      }
      if (all_bytes) {
        for (size_t k = 0; k < n; ++k) {
          push_symbol(syms, vocab.byte_to_id[static_cast<uint8_t>(word[i + k])], i + k, 1);
        }
        prev_unk = false;
      } else {
        if (vocab.unk_id < 0) {
          throw Error(ErrorCode::kInvalidArgument,
                      "tokenizer: text has a character outside the vocabulary and no unk token is set");
        }
        if (opts.fuse_unk && prev_unk) {
          syms.back().len += static_cast<uint32_t>(n);
        } else {
          push_symbol(syms, vocab.unk_id, i, n);
        }
        prev_unk = true;
      }
    }
    i += n;
  }
  merge_symbols(syms, [&](const Symbol& a, const Symbol& b, double& key, int32_t& new_id) {
    const MergeRule* rule = merges.find(merge_key(a.id, b.id));
    if (rule == nullptr) return false;
    key = rule->rank;
    new_id = rule->new_id;
    return true;
  });
  for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

void bpe_encode_scored(std::string_view word, const Vocab& vocab, std::vector<int32_t>& out) {
  if (word.empty()) return;
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8::char_len_lossy(word, i);
    push_symbol(syms, vocab.find_char(word.substr(i, n)), i, n);
    i += n;
  }
  merge_symbols(syms, [&](const Symbol& a, const Symbol& b, double& key, int32_t& new_id) {
    // Adjacent symbols are contiguous spans, so their concatenation is a
    // slice of the word: no string is built.
    const int32_t id = vocab.find(word.substr(a.off, a.len + b.len));
    if (id < 0) return false;
    key = -static_cast<double>(vocab.scores[id]);
    new_id = id;
    return true;
  });
  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    // Only single characters can be missing from the vocabulary (every
    // merge produced a piece), so fall back to their bytes.
    for (uint32_t k = 0; k < s.len; ++k) {
      const int32_t b = vocab.byte_to_id[static_cast<uint8_t>(word[s.off + k])];
      if (b >= 0) {
        out.push_back(b);
      } else if (vocab.unk_id >= 0) {
        // SentencePiece emits one unk for the whole character.
        out.push_back(vocab.unk_id);
        break;
      } else {
        throw Error(ErrorCode::kInvalidArgument,
                    "tokenizer: text has a character outside the vocabulary and no unk token is set");
      }
    }
  }
}

}  // namespace nagi
