// GPT-2's byte <-> unicode mapping used by ByteLevel pre-tokenizers and
// decoders: every byte gets a printable character so that BPE vocabularies
// never contain raw control bytes or spaces. Printable Latin-1 bytes map to
// themselves, the rest to U+0100 onwards in byte order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/utf8.h"

namespace nagi::byte_level {

struct Tables {
  std::array<std::string, 256> byte_to_char;  // UTF-8 of the character for each byte
  std::array<int16_t, 324> char_to_byte;       // by code point (< 324), -1 if unmapped

  Tables() {
    char_to_byte.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const uint32_t cp = printable ? b : next++;
      byte_to_char[b].clear();
      utf8::append_code_point(byte_to_char[b], cp);
      char_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

inline const Tables& tables() {
  static const Tables t;
  return t;
}

// Maps every byte of s to its character.
inline std::string encode(std::string_view s) {
  const Tables& t = tables();
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char b : s) out += t.byte_to_char[b];
  return out;
}

// Appends the bytes a token stands for. A token with any character outside
// the mapping (an added token such as "<think>" is normally all ASCII, but
// not necessarily) is kept verbatim, as Hugging Face's decoder does.
inline void decode_token(std::string_view token, std::string& out) {
  const Tables& t = tables();
  const size_t mark = out.size();
  for (size_t i = 0; i < token.size();) {
    const size_t n = utf8::valid_char_len(token, i);
    const uint32_t cp = n ? utf8::decode_at(token, i, n) : 0xFFFFFFFF;
    if (n == 0 || cp >= t.char_to_byte.size() || t.char_to_byte[cp] < 0) {
      out.resize(mark);
      out.append(token);
      return;
    }
    out.push_back(static_cast<char>(t.char_to_byte[cp]));
    i += n;
  }
}

}  // namespace nagi::byte_level
