// Small UTF-8 helpers shared by the tokenizer pieces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nagi::utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// What a lead byte allows: the sequence length and the range of the second
// byte (narrowed after E0/ED/F0/F4 to exclude overlong forms, surrogates and
// code points past U+10FFFF). n == 0 for bytes that cannot start a character.
struct Utf8Lead {
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xBF;
};

inline Utf8Lead utf8_lead(uint8_t b0) {
  Utf8Lead l;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    l.n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    l.n = 3;
    if (b0 == 0xE0) l.lo = 0xA0;
    if (b0 == 0xED) l.hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    l.n = 4;
    if (b0 == 0xF0) l.lo = 0x90;
    if (b0 == 0xF4) l.hi = 0x8F;
  }
  return l;
}

// True when the `count` bytes of s from i (i + count <= s.size()) are a valid
// start of the character `lead` describes.
inline bool utf8_tail_ok(std::string_view s, size_t i, size_t count, const Utf8Lead& lead) {
  if (count >= 2) {
    const auto b1 = static_cast<uint8_t>(s[i + 1]);
    if (b1 < lead.lo || b1 > lead.hi) return false;
  }
  for (size_t k = 2; k < count; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return false;
  }
  return true;
}

// Length of the well-formed character at s[i], or 0 if none starts there.
inline size_t valid_char_len(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) return 1;
  const Utf8Lead lead = utf8_lead(b0);
  if (lead.n == 0 || i + lead.n > s.size()) return 0;
  return utf8_tail_ok(s, i, lead.n, lead) ? lead.n : 0;
}

// True when s[i..] is a proper prefix of some well-formed character, i.e.
// more bytes could still complete it (used to hold bytes in a stream).
inline bool is_incomplete_prefix(std::string_view s, size_t i) {
  const size_t avail = s.size() - i;
  const Utf8Lead lead = utf8_lead(static_cast<uint8_t>(s[i]));
  if (lead.n == 0 || avail >= lead.n) return false;
  return utf8_tail_ok(s, i, avail, lead);
}

// Length used to step over one "character" of possibly invalid input: a
// well-formed character, else a single byte (so invalid bytes fall back to
// byte tokens one by one).
inline size_t char_len_lossy(std::string_view s, size_t i) {
  const size_t n = valid_char_len(s, i);
  return n == 0 ? 1 : n;
}

inline bool is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = valid_char_len(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Appends s to out with every byte that is not part of a well-formed
// character replaced by U+FFFD (one per byte, as Hugging Face's ByteFallback
// does for an invalid run). With hold_tail, a trailing incomplete character
// is not consumed; returns the number of bytes consumed.
inline size_t append_lossy(std::string_view s, std::string& out, bool hold_tail) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = valid_char_len(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else if (hold_tail && is_incomplete_prefix(s, i)) {
      break;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return i;
}

// Appends s to out with each maximal ill-formed subsequence replaced by one
// U+FFFD (Unicode's recommended practice, and what Rust's
// String::from_utf8_lossy does for Hugging Face's ByteLevel decoder).
inline void append_lossy_maximal(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = valid_char_len(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    const auto b0 = static_cast<uint8_t>(s[i]);
    size_t want = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      want = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      want = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      want = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    }
    size_t k = 1;
    if (want > 0 && i + 1 < s.size()) {
      const auto b1 = static_cast<uint8_t>(s[i + 1]);
      if (b1 >= lo && b1 <= hi) {
        k = 2;
        while (k < want && i + k < s.size() && (static_cast<uint8_t>(s[i + k]) & 0xC0) == 0x80) ++k;
      }
    }
    out.append(kReplacement);
    i += k;
  }
}

inline void append_code_point(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the well-formed character of length n at s[i].
inline uint32_t decode_at(std::string_view s, size_t i, size_t n) {
  const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[i + k])); };
  switch (n) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

// Unicode White_Space (what Rust's char::is_whitespace tests), used for the
// lstrip/rstrip options of added tokens.
inline bool is_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace nagi::utf8
