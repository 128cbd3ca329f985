// The vocabulary shared by every tokenizer source: one piece per id (in
// SentencePiece spelling, "▁" for a space), its score and kind.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/piece_index.h"
#include "base/string_table.h"
#include "tokenizer/utf8.h"

namespace nagi {

// Token kinds, numbered as GGUF's tokenizer.ggml.token_type.
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Hash that lets unordered_map<std::string, ...> be searched with a
// string_view without building a std::string per lookup (hot in BPE).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct Vocab {
  StringTable pieces;               // by id; "" for ids a source leaves unused
  std::vector<float> scores;        // by id (0 where the source has none)
  std::vector<TokenType> types;     // by id
  PieceIndex piece_to_id;           // model pieces usable by the BPE model
  std::array<int32_t, 256> byte_to_id;  // "<0xXX>" tokens, -1 where absent
  int32_t unk_id = -1;

  Vocab() { byte_to_id.fill(-1); }

  int32_t size() const { return static_cast<int32_t>(pieces.size()); }

  int32_t find(std::string_view piece) const { return piece_to_id.find(piece); }

  // Ids of the single characters below U+10000 (what BPE starts from), so
  // the first step of every word needs no string hashing. Built by
  // index_chars(); find_char() falls back to find() without it.
  std::vector<int32_t> bmp_char_id;
  void index_chars();
  // `ch` is one character as the BPE loop cuts it (possibly an invalid byte).
  int32_t find_char(std::string_view ch) const {
    if (!bmp_char_id.empty()) {
      const auto b0 = static_cast<uint8_t>(ch[0]);
      if (ch.size() == 1 && b0 < 0x80) return bmp_char_id[b0];
      if (ch.size() == 2 && (b0 & 0xE0) == 0xC0) {
        return bmp_char_id[((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(ch[1]) & 0x3Fu)];
      }
      if (ch.size() == 3 && (b0 & 0xF0) == 0xE0) {
        return bmp_char_id[((b0 & 0x0Fu) << 12) | ((static_cast<uint8_t>(ch[1]) & 0x3Fu) << 6) |
                           (static_cast<uint8_t>(ch[2]) & 0x3Fu)];
      }
    }
    return find(ch);
  }
};

inline void Vocab::index_chars() {
  bmp_char_id.assign(0x10000, -1);
  piece_to_id.for_each([&](std::string_view piece, int32_t id) {
    if (piece.empty() || piece.size() > 3 || utf8::valid_char_len(piece, 0) != piece.size()) return;
    const uint32_t cp = utf8::decode_at(piece, 0, piece.size());
    if (cp < 0x10000) bmp_char_id[cp] = id;
  });
}

// Parses a byte-fallback piece "<0xXX>"; returns the byte or -1.
inline int parse_byte_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = p[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

inline constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // "▁" U+2581

}  // namespace nagi
