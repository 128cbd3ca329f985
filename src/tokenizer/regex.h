// A compiled regular expression with the Unicode semantics Hugging Face's
// tokenizers get from Oniguruma (\p{L}, \s over all of Unicode, (?i:...)),
// backed by PCRE2. Used by the Split and ByteLevel pre-tokenizers.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nagi {

class Regex {
 public:
  // literal: the pattern is plain text (Split's {"String": ...}).
  // Throws Error(kUnsupported) with `what` in the message when PCRE2 cannot
  // compile the pattern.
  Regex(const std::string& pattern, bool literal, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Every non-overlapping match, left to right, as [begin, end) byte offsets
  // (empty matches included; the scan then steps one character on).
  // Invalid UTF-8 in `text` never matches a character class but is skipped
  // over, so arbitrary bytes are safe.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  // True when the whole of `text` matches.
  bool matches_exactly(std::string_view text) const;

  // True when some subject would give an empty match (minimum length 0).
  bool can_match_empty() const;

  // Replaces every (non-empty) match in s with `with`, literally.
  void replace_all(std::string& s, std::string_view with) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nagi
