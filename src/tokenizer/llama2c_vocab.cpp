// llama2.c tokenizer.bin: uint32 max_token_length, then per token float32
// score, uint32 byte length, bytes. Spaces are stored as plain spaces and
// BOS/EOS as "\n<s>\n" / "\n</s>\n" (llama2.c's tokenizer.py export).
#include <cstring>
#include <fstream>
#include <iterator>

#include "nagi/error.hpp"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace nagi {
namespace {

std::string replace_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ') out += kSpaceMark;
    else out += c;
  }
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int32_t n_vocab) {
  if (n_vocab < 3) {
    throw Error(ErrorCode::kInvalidArgument,
                path + ": n_vocab " + std::to_string(n_vocab) + " is too small (need <unk>, <s>, </s>)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(ErrorCode::kIo, path + ": read failed");

  size_t pos = 0;
  auto read_u32 = [&](const std::string& field) {
    if (data.size() - pos < 4) {
      throw Error(ErrorCode::kFormat, path + ": " + field + ": file truncated at byte " +
                                          std::to_string(pos) + " (file is " +
                                          std::to_string(data.size()) + " bytes)");
    }
    uint32_t v;
    std::memcpy(&v, data.data() + pos, 4);
    pos += 4;
    return v;
  };
  const uint32_t max_len = read_u32("max_token_length");

  Vocab vocab;
  vocab.pieces.resize(n_vocab);
  vocab.scores.resize(n_vocab);
  vocab.types.resize(n_vocab, TokenType::kNormal);
  for (int32_t id = 0; id < n_vocab; ++id) {
    const std::string field = "token[" + std::to_string(id) + "]";
    const uint32_t score_bits = read_u32(field + ".score");
    float score;
    std::memcpy(&score, &score_bits, 4);
    const uint32_t len = read_u32(field + ".length");
    if (len > max_len) {
      throw Error(ErrorCode::kFormat, path + ": " + field + ".length: " + std::to_string(len) +
                                          " exceeds max_token_length " + std::to_string(max_len));
    }
    if (len > data.size() - pos) {
      throw Error(ErrorCode::kFormat, path + ": " + field + ".length: " + std::to_string(len) +
                                          " bytes at offset " + std::to_string(pos) +
                                          " run past the end of the file (" +
                                          std::to_string(data.size()) + " bytes; n_vocab " +
                                          std::to_string(n_vocab) + ")");
    }
    std::string piece = data.substr(pos, len);
    pos += len;
    vocab.scores[id] = score;
    if (id == 0) {
      vocab.types[id] = TokenType::kUnknown;
    } else if (id == 1 || id == 2) {
      // Stored with newlines around them; they are control tokens <s>/</s>.
      vocab.types[id] = TokenType::kControl;
      if (piece.size() >= 2 && piece.front() == '\n' && piece.back() == '\n') {
        piece = piece.substr(1, piece.size() - 2);
      }
    } else if (parse_byte_piece(piece) >= 0) {
      vocab.types[id] = TokenType::kByte;
    } else {
      piece = replace_spaces(piece);
    }
    vocab.pieces.set(id, piece);
  }
  if (pos != data.size()) {
    throw Error(ErrorCode::kFormat, path + ": n_vocab: " + std::to_string(n_vocab) +
                                        " tokens read but " + std::to_string(data.size() - pos) +
                                        " bytes remain (the file holds more tokens than the model's vocab_size)");
  }
  return make_bpe_tokenizer(make_spm_spec(path, std::move(vocab), 1, 2, /*add_bos=*/true,
                                          /*add_eos=*/false, /*add_space_prefix=*/true));
}

}  // namespace nagi
