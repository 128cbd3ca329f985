#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <array>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

#include "nagi/error.hpp"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace nagi {
namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  if (pos == 0) return;
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Leftmost-longest matcher over the added tokens: a byte trie stored as one
// hash map of edges, so thousands of added tokens (gemma3 has 6k) cost one
// walk per text position.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() { terminal_.push_back(-1); }
  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens) {
    terminal_.push_back(-1);
    for (size_t t = 0; t < tokens.size(); ++t) {
      const std::string& c = tokens[t].content;
      if (c.empty()) continue;
      first_byte_[static_cast<unsigned char>(c[0])] = true;
      uint32_t node = 0;
      for (unsigned char b : c) {
        const uint64_t key = (static_cast<uint64_t>(node) << 8) | b;
        auto it = edges_.find(key);
        if (it == edges_.end()) {
          const auto next = static_cast<uint32_t>(terminal_.size());
          terminal_.push_back(-1);
          edges_.emplace(key, next);
          node = next;
        } else {
          node = it->second;
        }
      }
      // On duplicate contents the first listed token wins.
      if (terminal_[node] < 0) terminal_[node] = static_cast<int32_t>(t);
    }
  }

  bool empty() const { return edges_.empty(); }

  // Longest eligible token starting at text[pos]: returns its index (or -1)
  // and sets len.
  int32_t match(std::string_view text, size_t pos, const std::vector<AddedToken>& tokens,
                bool parse_special, size_t& len) const {
    // Most positions cannot start any added token: one table read instead
    // of a hash lookup per byte of text.
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) return -1;
    uint32_t node = 0;
    int32_t best = -1;
    for (size_t i = pos; i < text.size(); ++i) {
      auto it = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]));
      if (it == edges_.end()) break;
      node = it->second;
      const int32_t t = terminal_[node];
      if (t >= 0 && (parse_special || !tokens[t].special)) {
        best = t;
        len = i + 1 - pos;
      }
    }
    return best;
  }

 private:
  std::unordered_map<uint64_t, uint32_t> edges_;
  std::vector<int32_t> terminal_;  // by node: token index ending there, or -1
  std::array<bool, 256> first_byte_{};  // bytes some token starts with
};

// Word characters as the `\w` of Rust's regex crate (Alphabetic, marks,
// decimal digits, connector punctuation, ZWNJ/ZWJ), which Hugging Face uses
// to decide whether a single_word added token stands alone.
bool is_word_char(std::string_view ch) {
  static const Regex word(R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])", false, "word characters");
  return word.matches_exactly(ch);
}

bool word_char_before(std::string_view text, size_t pos) {
  if (pos == 0) return false;
  size_t start = pos - 1;
  while (start > 0 && pos - start < 4 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  if (utf8::valid_char_len(text, start) != pos - start) return false;
  return is_word_char(text.substr(start, pos - start));
}

bool word_char_at(std::string_view text, size_t pos) {
  if (pos >= text.size()) return false;
  const size_t n = utf8::valid_char_len(text, pos);
  return n > 0 && is_word_char(text.substr(pos, n));
}

// Size of the whitespace character ending at text[end) within [begin, end),
// or 0.
size_t whitespace_before(std::string_view text, size_t begin, size_t end) {
  if (end <= begin) return 0;
  size_t start = end - 1;
  while (start > begin && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  const size_t n = utf8::valid_char_len(text, start);
  if (n == end - start && utf8::is_whitespace(utf8::decode_at(text, start, n))) return n;
  return 0;
}

size_t whitespace_at(std::string_view text, size_t pos) {
  if (pos >= text.size()) return 0;
  const size_t n = utf8::valid_char_len(text, pos);
  if (n > 0 && utf8::is_whitespace(utf8::decode_at(text, pos, n))) return n;
  return 0;
}

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {
    // Hugging Face matches normalized added tokens on the normalized text,
    // against their content normalized the same way; the others on the raw
    // text before anything else runs.
    for (const AddedToken& t : spec_.added) {
      if (!t.normalized) {
        raw_added_.push_back(t);
        continue;
      }
      AddedToken n = t;
      normalize(n.content);
      if (!n.content.empty()) norm_added_.push_back(std::move(n));
    }
    raw_matcher_ = AddedTokenMatcher(raw_added_);
    norm_matcher_ = AddedTokenMatcher(norm_added_);
    init_space_mark_split();
    for (const DecoderStep& step : spec_.decoder) {
      if (step.kind == DecoderStep::Kind::kFuse) fused_ = true;
      if (step.kind == DecoderStep::Kind::kStrip && fused_ && step.content == " ") stream_strip_ += step.start;
      if (step.kind == DecoderStep::Kind::kMetaspace && step.strip_first) stream_strip_ += 1;
    }
  }

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
    std::vector<int32_t> out;
    if (add_special) out = spec_.prefix;
    split_added(text, raw_added_, raw_matcher_, parse_special, out, [&](std::string_view seg, size_t offset) {
      std::string s(seg);
      normalize(s);
      split_added(s, norm_added_, norm_matcher_, parse_special, out, [&](std::string_view piece, size_t sub) {
        // A piece that does not open the normalized text does not open the
        // raw text either (for Metaspace's prepend_scheme "first").
        encode_normalized(piece, offset + sub, out);
      });
    });
    if (add_special) out.insert(out.end(), spec_.suffix.begin(), spec_.suffix.end());
    return out;
  }

  // Cuts text at the added tokens of `tokens` (leftmost-longest, with their
  // lstrip/rstrip), appending each token's id and handing the stretches in
  // between, with their offsets, to on_segment.
  template <typename OnSegment>
  static void split_added(std::string_view text, const std::vector<AddedToken>& tokens, const AddedTokenMatcher& matcher,
                          bool parse_special, std::vector<int32_t>& out, OnSegment&& on_segment) {
    size_t seg_start = 0;
    size_t pos = 0;
    while (pos < text.size() && !matcher.empty()) {
      size_t len = 0;
      const int32_t t = matcher.match(text, pos, tokens, parse_special, len);
      if (t < 0) {
        ++pos;
        continue;
      }
      const AddedToken& tok = tokens[t];
      size_t start = pos;
      size_t end = pos + len;
      if (tok.single_word && (word_char_before(text, start) || word_char_at(text, end))) {
        // Hugging Face drops the match and goes on after it, so the text
        // it covered stays plain text.
        pos = end;
        continue;
      }
      if (tok.lstrip) {
        while (size_t n = whitespace_before(text, seg_start, start)) start -= n;
      }
      if (tok.rstrip) {
        while (size_t n = whitespace_at(text, end)) end += n;
      }
      if (start > seg_start) on_segment(text.substr(seg_start, start - seg_start), seg_start);
      out.push_back(tok.id);
      seg_start = pos = end;
    }
    if (seg_start < text.size()) on_segment(text.substr(seg_start), seg_start);
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
      check_id(id);
      if (skip_special && spec_.special[id]) continue;
      tokens.emplace_back(spec_.vocab.pieces[id]);
    }
    if (!spec_.has_decoder) {
      std::string out;
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i) out += ' ';
        out += tokens[i];
      }
      return out;
    }
    run_decoder(tokens, /*stream=*/false);
    std::string out;
    for (const std::string& t : tokens) out += t;
    return out;
  }

  std::string token_bytes(int32_t id) const override {
    check_id(id);
    std::vector<std::string> tokens{std::string(spec_.vocab.pieces[id])};
    if (!spec_.has_decoder) return tokens[0];
    run_decoder(tokens, /*stream=*/true);
    std::string out;
    for (const std::string& t : tokens) out += t;
    return out;
  }

  size_t stream_strip_leading_spaces() const override { return stream_strip_; }

  int32_t n_vocab() const override { return spec_.vocab.size(); }
  int32_t bos_id() const override { return spec_.bos; }
  int32_t eos_id() const override { return spec_.eos; }
  bool is_special(int32_t id) const override {
    return id >= 0 && id < n_vocab() && spec_.special[id];
  }

 private:
  void check_id(int32_t id) const {
    if (id < 0 || id >= n_vocab()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "tokenizer: token id " + std::to_string(id) + " out of range [0, " +
                      std::to_string(n_vocab()) + ")");
    }
  }

  void normalize(std::string& s) const {
    for (const NormalizerStep& step : spec_.normalizer) {
      switch (step.kind) {
        case NormalizerStep::Kind::kPrepend:
          if (!s.empty()) s.insert(0, step.content);
          break;
        case NormalizerStep::Kind::kReplace:
          if (step.regex) {
            step.regex->replace_all(s, step.content);
          } else {
            replace_all(s, step.pattern, step.content);
          }
          break;
        case NormalizerStep::Kind::kUnicode:
          normalize_unicode(s, step.form);
          break;
        case NormalizerStep::Kind::kLowercase:
          lowercase_unicode(s);
          break;
        case NormalizerStep::Kind::kStrip: {
          size_t begin = 0;
          size_t end = s.size();
          if (step.strip_left) {
            while (size_t n = whitespace_at(s, begin)) begin += n;
          }
          if (step.strip_right) {
            while (size_t n = whitespace_before(s, begin, end)) end -= n;
          }
          s = s.substr(begin, end - begin);
          break;
        }
      }
    }
  }

  // Pre-tokenizer and model for one stretch of normalized text between added
  // tokens; `offset` is > 0 unless it starts the caller's text.
  void encode_normalized(std::string_view piece, size_t offset, std::vector<int32_t>& out) const {
    if (piece.empty()) return;
    std::string s(piece);
    if (!spec_.pre_steps.empty()) {
      std::vector<std::string> pieces{std::move(s)};
      for (const PreTokenizerStep& step : spec_.pre_steps) pieces = apply_pre_step(step, pieces);
      for (const std::string& piece : pieces) encode_word(piece, out);
      return;
    }
    const PreTokenizerSpec& pre = spec_.pre_tokenizer;
    if (pre.kind == PreTokenizerSpec::Kind::kNone) {
      encode_word(s, out);
      return;
    }
    replace_all(s, " ", pre.replacement);
    const bool prepend = pre.prepend == PreTokenizerSpec::Prepend::kAlways ||
                         (pre.prepend == PreTokenizerSpec::Prepend::kFirst && offset == 0);
    if (prepend && !starts_with(s, pre.replacement)) s.insert(0, pre.replacement);
    if (!pre.split) {
      encode_word(s, out);
      return;
    }
    // Split so that each replacement character starts a new word.
    const std::string_view view(s);
    size_t word_start = 0;
    size_t hit = view.find(pre.replacement, 1);
    while (hit != std::string_view::npos) {
      encode_word(view.substr(word_start, hit - word_start), out);
      word_start = hit;
      hit = view.find(pre.replacement, hit + pre.replacement.size());
    }
    encode_word(view.substr(word_start), out);
  }

  // Cuts `s` at the matches of `re` and regroups the parts by `behavior`, as
  // Hugging Face's NormalizedString::split does; empty parts are dropped.
  static void split_by(const std::string& s, const Regex& re, PreTokenizerStep::Behavior behavior, bool invert,
                       std::vector<std::string>& out) {
    using Behavior = PreTokenizerStep::Behavior;
    std::vector<std::pair<size_t, size_t>> hits;
    re.find_all(s, hits);
    struct Part {
      size_t begin, end;
      bool match;
    };
    std::vector<Part> parts;
    parts.reserve(hits.size() * 2 + 1);
    size_t prev = 0;
    for (const auto& [b, e] : hits) {
      if (b > prev) parts.push_back({prev, b, invert});
      parts.push_back({b, e, !invert});
      prev = e;
    }
    if (prev < s.size()) parts.push_back({prev, s.size(), invert});

    std::vector<std::pair<size_t, size_t>> spans;
    spans.reserve(parts.size());
    switch (behavior) {
      case Behavior::kRemoved:
        for (const Part& p : parts) {
          if (!p.match) spans.emplace_back(p.begin, p.end);
        }
        break;
      case Behavior::kIsolated:
        for (const Part& p : parts) spans.emplace_back(p.begin, p.end);
        break;
      case Behavior::kMergedWithPrevious: {
        bool prev_match = false;
        for (const Part& p : parts) {
          if (p.match && !prev_match && !spans.empty()) {
            spans.back().second = p.end;
          } else {
            spans.emplace_back(p.begin, p.end);
          }
          prev_match = p.match;
        }
        break;
      }
      case Behavior::kMergedWithNext: {
        bool prev_match = false;  // looking from the right
        for (size_t k = parts.size(); k-- > 0;) {
          const Part& p = parts[k];
          if (p.match && !prev_match && !spans.empty()) {
            spans.back().first = p.begin;
          } else {
            spans.emplace_back(p.begin, p.end);
          }
          prev_match = p.match;
        }
        std::reverse(spans.begin(), spans.end());
        break;
      }
      case Behavior::kContiguous: {
        bool prev_match = false;
        for (const Part& p : parts) {
          if (p.match && prev_match && !spans.empty()) {
            spans.back().second = p.end;
          } else {
            spans.emplace_back(p.begin, p.end);
          }
          prev_match = p.match;
        }
        break;
      }
    }
    for (const auto& [b, e] : spans) {
      if (e > b) out.emplace_back(s, b, e - b);
    }
  }

  static std::vector<std::string> apply_pre_step(const PreTokenizerStep& step, const std::vector<std::string>& in) {
    std::vector<std::string> out;
    out.reserve(in.size());
    for (const std::string& piece : in) {
      if (step.kind == PreTokenizerStep::Kind::kSplit) {
        split_by(piece, *step.regex, step.behavior, step.invert, out);
        continue;
      }
      // ByteLevel: optional leading space, optional GPT-2 split, then every
      // byte becomes its printable stand-in.
      std::string text = piece;
      if (step.add_prefix_space && (text.empty() || text[0] != ' ')) text.insert(0, 1, ' ');
      const size_t first = out.size();
      if (step.regex) {
        split_by(text, *step.regex, PreTokenizerStep::Behavior::kIsolated, false, out);
      } else if (!text.empty()) {
        out.push_back(std::move(text));
      }
      for (size_t k = first; k < out.size(); ++k) out[k] = byte_level::encode(out[k]);
    }
    return out;
  }

  // SentencePiece-style vocabularies (gemma3) hand BPE whole sentences as
  // one word. A merge can only build a vocabulary piece, so where no piece
  // has "▁" right after another character, nothing can span the boundary
  // before a "▁" that follows another character: the sentence splits there
  // into short words with the same result, and short words hit the cache.
  // The few pieces that do (gemma3 has ">▁</") turn the split off for the
  // words that contain them.
  void init_space_mark_split() {
    if (spec_.bpe.ignore_merges || spec_.vocab.find(kSpaceMark) < 0) return;
    bool too_many = false;
    spec_.vocab.piece_to_id.for_each([&](std::string_view piece, int32_t) {
      for (size_t at = piece.find(kSpaceMark, 1); at != std::string_view::npos; at = piece.find(kSpaceMark, at + 1)) {
        if (at < kSpaceMark.size() || piece.compare(at - kSpaceMark.size(), kSpaceMark.size(), kSpaceMark) != 0) {
          crossing_pieces_.emplace_back(piece);
          break;
        }
      }
      too_many = crossing_pieces_.size() > 64;
      return !too_many;
    });
    if (too_many) {
      crossing_pieces_.clear();
      return;  // too many to check per word: keep whole words
    }
    split_at_space_mark_ = true;
  }

  void encode_word(std::string_view word, std::vector<int32_t>& out) const {
    if (!split_at_space_mark_ || word.size() <= kCacheMaxWordBytes) {
      encode_word_cached(word, out);
      return;
    }
    for (const std::string& p : crossing_pieces_) {
      if (word.find(p) != std::string_view::npos) {
        encode_word_cached(word, out);
        return;
      }
    }
    size_t start = 0;
    for (size_t at = word.find(kSpaceMark, 1); at != std::string_view::npos; at = word.find(kSpaceMark, at + 1)) {
      const bool after_mark = at >= kSpaceMark.size() && word.compare(at - kSpaceMark.size(), kSpaceMark.size(), kSpaceMark) == 0;
      if (after_mark || at == start) continue;
      encode_word_cached(word.substr(start, at - start), out);
      start = at;
    }
    encode_word_cached(word.substr(start), out);
  }

  // Pre-tokenized words repeat a lot in real text ("the", " of", "\n"), and
  // a word always encodes the same, so short words go through a cache shared
  // by all callers (encode() is const and may run on several threads).
  void encode_word_cached(std::string_view word, std::vector<int32_t>& out) const {
    if (word.size() > kCacheMaxWordBytes) {
      encode_word_uncached(word, out);
      return;
    }
    {
      std::shared_lock lock(cache_mutex_);
      auto it = word_cache_.find(word);
      if (it != word_cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    const size_t first = out.size();
    encode_word_uncached(word, out);
    std::unique_lock lock(cache_mutex_);
    // Bounded memory: start over rather than track recency.
    if (word_cache_.size() >= kCacheMaxEntries) word_cache_.clear();
    word_cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + first, out.end()));
  }

  void encode_word_uncached(std::string_view word, std::vector<int32_t>& out) const {
    if (spec_.model == TokenizerSpec::Model::kRankedBpe) {
      bpe_encode_ranked(word, spec_.vocab, spec_.merges, spec_.bpe, out);
    } else {
      bpe_encode_scored(word, spec_.vocab, out);
    }
  }

  // Applies the decoder steps the way Hugging Face chains them. In stream
  // mode a byte token yields its raw byte and whole-text steps (a Strip after
  // Fuse, Metaspace's first-token strip) are left to StreamDecoder.
  void run_decoder(std::vector<std::string>& tokens, bool stream) const {
    bool fused = false;
    for (const DecoderStep& step : spec_.decoder) {
      switch (step.kind) {
        case DecoderStep::Kind::kReplace:
          for (std::string& t : tokens) {
            if (step.regex) {
              step.regex->replace_all(t, step.content);
            } else {
              replace_all(t, step.pattern, step.content);
            }
          }
          break;
        case DecoderStep::Kind::kMetaspace:
          for (size_t i = 0; i < tokens.size(); ++i) {
            replace_all(tokens[i], step.pattern, " ");
            if (!stream && i == 0 && step.strip_first && starts_with(tokens[i], " ")) tokens[i].erase(0, 1);
          }
          break;
        case DecoderStep::Kind::kByteFallback:
          byte_fallback(tokens, stream);
          break;
        case DecoderStep::Kind::kByteLevel: {
          // Hugging Face joins the bytes of all tokens, then converts them
          // lossily; a stream keeps the raw bytes for StreamDecoder.
          std::string bytes;
          for (const std::string& t : tokens) byte_level::decode_token(t, bytes);
          if (stream) {
            tokens.assign(1, std::move(bytes));
          } else {
            std::string text;
            utf8::append_lossy_maximal(bytes, text);
            tokens.assign(1, std::move(text));
          }
          break;
        }
        case DecoderStep::Kind::kFuse: {
          std::string all;
          for (const std::string& t : tokens) all += t;
          tokens.assign(1, std::move(all));
          fused = true;
          break;
        }
        case DecoderStep::Kind::kStrip:
          if (stream && fused) break;
          for (std::string& t : tokens) strip(t, step);
          break;
      }
    }
  }

  static void strip(std::string& t, const DecoderStep& step) {
    const std::string& c = step.content;
    size_t begin = 0;
    for (size_t k = 0; k < step.start && begin + c.size() <= t.size() && t.compare(begin, c.size(), c) == 0; ++k) {
      begin += c.size();
    }
    size_t end = t.size();
    for (size_t k = 0; k < step.stop && end >= begin + c.size() && t.compare(end - c.size(), c.size(), c) == 0; ++k) {
      end -= c.size();
    }
    t = t.substr(begin, end - begin);
  }

  // Consecutive "<0xXX>" tokens are joined; a run that is not valid UTF-8
  // becomes one U+FFFD per byte (Hugging Face's ByteFallback decoder).
  static void byte_fallback(std::vector<std::string>& tokens, bool stream) {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    size_t run_len = 0;
    auto flush = [&] {
      if (run_len == 0) return;
      if (utf8::is_valid(run)) {
        out.push_back(std::move(run));
      } else {
        for (size_t k = 0; k < run_len; ++k) out.emplace_back(utf8::kReplacement);
      }
      run.clear();
      run_len = 0;
    };
    for (std::string& t : tokens) {
      const int b = parse_byte_piece(t);
      if (b >= 0) {
        if (stream) {
          out.emplace_back(1, static_cast<char>(b));
        } else {
          run.push_back(static_cast<char>(b));
          ++run_len;
        }
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

  TokenizerSpec spec_;
  std::vector<AddedToken> raw_added_;   // normalized: false
  std::vector<AddedToken> norm_added_;  // normalized: true, content normalized
  AddedTokenMatcher raw_matcher_;
  AddedTokenMatcher norm_matcher_;
  bool fused_ = false;
  size_t stream_strip_ = 0;
  bool split_at_space_mark_ = false;
  std::vector<std::string> crossing_pieces_;  // pieces with "▁" right after another character
  static constexpr size_t kCacheMaxWordBytes = 64;
  static constexpr size_t kCacheMaxEntries = size_t{1} << 16;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> word_cache_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(TokenizerSpec spec) {
  spec.special.resize(spec.vocab.pieces.size(), false);
  spec.vocab.index_chars();
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

TokenizerSpec make_spm_spec(std::string source, Vocab vocab, int32_t bos, int32_t eos,
                            bool add_bos, bool add_eos, bool add_space_prefix) {
  TokenizerSpec spec;
  spec.source = std::move(source);
  spec.model = TokenizerSpec::Model::kScoredBpe;
  const int32_t n = vocab.size();
  spec.special.assign(n, false);
  vocab.piece_to_id.clear();
  std::vector<int32_t> indexed;  // ids for piece_to_id, inserted in one batch
  indexed.reserve(size_t(n));
  vocab.byte_to_id.fill(-1);
  vocab.unk_id = -1;
  for (int32_t id = 0; id < n; ++id) {
    const std::string_view piece = vocab.pieces[id];
    switch (vocab.types[id]) {
      case TokenType::kNormal:
      case TokenType::kUndefined:
        // Only normal pieces are merge targets: SentencePiece never builds
        // control or byte pieces out of text.
        indexed.push_back(id);
        break;
      case TokenType::kUserDefined:
        indexed.push_back(id);
        spec.added.push_back({id, std::string(piece), false, false, false});
        break;
      case TokenType::kUnknown:
        if (vocab.unk_id < 0) vocab.unk_id = id;
        spec.special[id] = true;
        if (!piece.empty()) spec.added.push_back({id, std::string(piece), true, false, false});
        break;
      case TokenType::kControl:
        spec.special[id] = true;
        if (!piece.empty()) spec.added.push_back({id, std::string(piece), true, false, false});
        break;
      case TokenType::kByte:
        if (int b = parse_byte_piece(piece); b >= 0 && vocab.byte_to_id[b] < 0) vocab.byte_to_id[b] = id;
        break;
      case TokenType::kUnused:
        break;
    }
  }
  vocab.piece_to_id.emplace_ids(vocab.pieces, indexed);
  spec.vocab = std::move(vocab);
  if (add_space_prefix) spec.normalizer.push_back({NormalizerStep::Kind::kPrepend, "", std::string(kSpaceMark)});
  spec.normalizer.push_back({NormalizerStep::Kind::kReplace, " ", std::string(kSpaceMark)});
  spec.decoder.push_back({DecoderStep::Kind::kReplace, std::string(kSpaceMark), " "});
  spec.decoder.push_back({DecoderStep::Kind::kByteFallback, "", ""});
  spec.decoder.push_back({DecoderStep::Kind::kFuse, "", ""});
  if (add_space_prefix) {
    DecoderStep strip{DecoderStep::Kind::kStrip, "", " "};
    strip.start = 1;
    spec.decoder.push_back(strip);
  }
  spec.bos = bos;
  spec.eos = eos;
  if (add_bos && bos >= 0) spec.prefix.push_back(bos);
  if (add_eos && eos >= 0) spec.suffix.push_back(eos);
  return spec;
}

}  // namespace nagi
