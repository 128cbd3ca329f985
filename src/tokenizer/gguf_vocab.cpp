// Tokenizer from GGUF metadata (tokenizer.ggml.*). Kept in its own file so
// that only programs that load GGUF tokenizers link the GGUF reader.
#include "format/gguf.h"
#include "nagi/error.hpp"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace nagi {

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  const std::string model = gguf.get_string("tokenizer.ggml.model");
  if (model != "llama") {
    throw Error(ErrorCode::kUnsupported,
                path + ": metadata 'tokenizer.ggml.model': '" + model +
                    "' is not supported (only 'llama' SentencePiece vocabularies so far)");
  }
  Vocab vocab;
  vocab.pieces = gguf.get_string_array("tokenizer.ggml.tokens");
  const auto n = static_cast<int32_t>(vocab.pieces.size());
  if (n == 0) throw Error(ErrorCode::kFormat, path + ": metadata 'tokenizer.ggml.tokens': empty");

  vocab.scores.assign(n, 0.0f);
  if (gguf.has("tokenizer.ggml.scores")) {
    const std::vector<double> scores = gguf.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != vocab.pieces.size()) {
      throw Error(ErrorCode::kFormat, path + ": metadata 'tokenizer.ggml.scores': " +
                                          std::to_string(scores.size()) + " entries, expected " +
                                          std::to_string(n));
    }
    for (int32_t i = 0; i < n; ++i) vocab.scores[i] = static_cast<float>(scores[i]);
  }
  vocab.types.assign(n, TokenType::kNormal);
  if (gguf.has("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = gguf.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != vocab.pieces.size()) {
      throw Error(ErrorCode::kFormat, path + ": metadata 'tokenizer.ggml.token_type': " +
                                          std::to_string(types.size()) + " entries, expected " +
                                          std::to_string(n));
    }
    for (int32_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > 6) {
        throw Error(ErrorCode::kFormat, path + ": metadata 'tokenizer.ggml.token_type'[" +
                                            std::to_string(i) + "]: unknown type " +
                                            std::to_string(types[i]));
      }
      vocab.types[i] = static_cast<TokenType>(types[i]);
    }
  }
  // Ids outside the vocabulary (llama.cpp writes 0xFFFFFFFF for "none") mean
  // no such token.
  auto special_id = [&](const char* key, int64_t fallback) -> int32_t {
    const int64_t v = gguf.get_int_or(key, fallback);
    return v >= 0 && v < n ? static_cast<int32_t>(v) : -1;
  };
  const int32_t bos = special_id("tokenizer.ggml.bos_token_id", 1);
  const int32_t eos = special_id("tokenizer.ggml.eos_token_id", 2);
  const int32_t unk = special_id("tokenizer.ggml.unknown_token_id", 0);
  if (unk >= 0 && vocab.types[unk] == TokenType::kNormal) vocab.types[unk] = TokenType::kUnknown;
  const bool add_bos = gguf.get_bool_or("tokenizer.ggml.add_bos_token", true);
  const bool add_eos = gguf.get_bool_or("tokenizer.ggml.add_eos_token", false);
  const bool add_space_prefix = gguf.get_bool_or("tokenizer.ggml.add_space_prefix", true);
  return make_bpe_tokenizer(
      make_spm_spec(path, std::move(vocab), bos, eos, add_bos, add_eos, add_space_prefix));
}

}  // namespace nagi
