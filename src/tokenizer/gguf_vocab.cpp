// Tokenizer from GGUF metadata (tokenizer.ggml.*). Kept in its own file so
// that only programs that load GGUF tokenizers link the GGUF reader.
//
// Two vocabulary models: "llama" (SentencePiece: scores, byte tokens, "▁")
// and "gpt2" (byte-level BPE: merges, plus a pre-tokenizer named by
// tokenizer.ggml.pre, see pretokenizer_presets.h).
#include "format/gguf.h"
#include "nagi/error.hpp"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pretokenizer_presets.h"
#include "tokenizer/tokenizer.h"

namespace nagi {
namespace {

[[noreturn]] void format_error(const GgufFile& gguf, const std::string& key, const std::string& what) {
  throw Error(ErrorCode::kFormat, gguf.path() + ": metadata '" + key + "': " + what);
}

// Pieces and their token types (all normal where the file has no types).
Vocab read_vocab(const GgufFile& gguf) {
  Vocab vocab;
  vocab.pieces = gguf.get_string_array("tokenizer.ggml.tokens");
  const auto n = static_cast<int32_t>(vocab.pieces.size());
  if (n == 0) format_error(gguf, "tokenizer.ggml.tokens", "empty");
  vocab.scores.assign(n, 0.0f);
  vocab.types.assign(n, TokenType::kNormal);
  if (gguf.has("tokenizer.ggml.token_type")) {
    const std::vector<int64_t> types = gguf.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != vocab.pieces.size()) {
      format_error(gguf, "tokenizer.ggml.token_type",
                   std::to_string(types.size()) + " entries, expected " + std::to_string(n));
    }
    for (int32_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > 6) {
        throw Error(ErrorCode::kFormat, gguf.path() + ": metadata 'tokenizer.ggml.token_type'[" +
                                            std::to_string(i) + "]: unknown type " + std::to_string(types[i]));
      }
      vocab.types[i] = static_cast<TokenType>(types[i]);
    }
  }
  return vocab;
}

// Ids outside the vocabulary (llama.cpp writes 0xFFFFFFFF for "none") mean
// no such token.
int32_t special_id(const GgufFile& gguf, const char* key, int64_t fallback, int32_t n) {
  const int64_t v = gguf.get_int_or(key, fallback);
  return v >= 0 && v < n ? static_cast<int32_t>(v) : -1;
}

std::unique_ptr<Tokenizer> load_llama_vocab(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  Vocab vocab = read_vocab(gguf);
  const int32_t n = vocab.size();
  if (gguf.has("tokenizer.ggml.scores")) {
    const std::vector<double> scores = gguf.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != vocab.pieces.size()) {
      format_error(gguf, "tokenizer.ggml.scores",
                   std::to_string(scores.size()) + " entries, expected " + std::to_string(n));
    }
    for (int32_t i = 0; i < n; ++i) vocab.scores[i] = static_cast<float>(scores[i]);
  }
  const int32_t bos = special_id(gguf, "tokenizer.ggml.bos_token_id", 1, n);
  const int32_t eos = special_id(gguf, "tokenizer.ggml.eos_token_id", 2, n);
  const int32_t unk = special_id(gguf, "tokenizer.ggml.unknown_token_id", 0, n);
  if (unk >= 0 && vocab.types[unk] == TokenType::kNormal) vocab.types[unk] = TokenType::kUnknown;
  const bool add_bos = gguf.get_bool_or("tokenizer.ggml.add_bos_token", true);
  const bool add_eos = gguf.get_bool_or("tokenizer.ggml.add_eos_token", false);
  const bool add_space_prefix = gguf.get_bool_or("tokenizer.ggml.add_space_prefix", true);
  return make_bpe_tokenizer(make_spm_spec(path, std::move(vocab), bos, eos, add_bos, add_eos, add_space_prefix));
}

// Byte-level BPE as Hugging Face's GPT-2 family: the same spec the model's
// tokenizer.json would give (added tokens, pre-tokenizer, ranked merges,
// ByteLevel decoder).
std::unique_ptr<Tokenizer> load_gpt2_vocab(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  TokenizerSpec spec;
  spec.source = path;
  spec.model = TokenizerSpec::Model::kRankedBpe;
  spec.bpe.byte_fallback = false;
  spec.vocab = read_vocab(gguf);
  Vocab& v = spec.vocab;
  const int32_t n = v.size();
  spec.special.assign(n, false);
  std::vector<int32_t> indexed;  // ids for piece_to_id, inserted in one batch
  indexed.reserve(size_t(n));
  for (int32_t id = 0; id < n; ++id) {
    const std::string_view piece = v.pieces[id];
    switch (v.types[id]) {
      case TokenType::kNormal:
      case TokenType::kUndefined:
      case TokenType::kByte:
        indexed.push_back(id);
        break;
      case TokenType::kUserDefined:
        // Hugging Face's non-special added tokens: matched in any text,
        // kept by decode(skip_special).
        indexed.push_back(id);
        if (!piece.empty()) spec.added.push_back({id, std::string(piece), false, false, false});
        break;
      case TokenType::kUnknown:
      case TokenType::kControl:
        spec.special[id] = true;
        if (!piece.empty()) spec.added.push_back({id, std::string(piece), true, false, false});
        break;
      case TokenType::kUnused:
        break;
    }
  }
  v.piece_to_id.emplace_ids(v.pieces, indexed);
  const int32_t unk = special_id(gguf, "tokenizer.ggml.unknown_token_id", -1, n);
  v.unk_id = unk;

  const char* merges_key = "tokenizer.ggml.merges";
  if (!gguf.has(merges_key)) format_error(gguf, merges_key, "missing (required by tokenizer.ggml.model 'gpt2')");
  const StringTable& merges = gguf.get_string_array(merges_key);
  spec.merges.reserve(merges.size());
  std::string joined;  // reused: a vocabulary has ~150k merges to check
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string_view m = merges[i];
    auto fail = [&](const std::string& what) {
      throw Error(ErrorCode::kFormat,
                  path + ": metadata '" + merges_key + "'[" + std::to_string(i) + "]: " + what);
    };
    const size_t sp = m.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 == m.size() || m.find(' ', sp + 1) != std::string_view::npos) {
      fail("expected \"left right\", found '" + std::string(m) + "'");
    }
    const std::string_view left(m.data(), sp), right(m.data() + sp + 1, m.size() - sp - 1);
    joined.assign(left).append(right);
    const int32_t a = v.find(left), b = v.find(right), c = v.find(joined);
    if (a < 0) fail("'" + std::string(left) + "' is not a token");
    if (b < 0) fail("'" + std::string(right) + "' is not a token");
    if (c < 0) fail("'" + joined + "' is not a token");
    // The first listing of a pair sets its rank, as in Hugging Face.
    spec.merges.emplace(merge_key(a, b), MergeRule{static_cast<int32_t>(i), c});
  }

  // A file without tokenizer.ggml.pre predates the field: llama.cpp treats
  // it as "default" (GPT-2's split).
  apply_pretokenizer_preset(gguf.get_string_or("tokenizer.ggml.pre", "default"), path, "tokenizer.ggml.pre", spec);
  spec.decoder.push_back({DecoderStep::Kind::kByteLevel, "", ""});

  spec.bos = special_id(gguf, "tokenizer.ggml.bos_token_id", -1, n);
  spec.eos = special_id(gguf, "tokenizer.ggml.eos_token_id", -1, n);
  // Byte-level tokenizers add nothing unless the file says so.
  const bool add_bos = gguf.get_bool_or("tokenizer.ggml.add_bos_token", false);
  const bool add_eos = gguf.get_bool_or("tokenizer.ggml.add_eos_token", false);
  if (add_bos) {
    if (spec.bos < 0) format_error(gguf, "tokenizer.ggml.add_bos_token", "true but there is no bos_token_id");
    spec.prefix.push_back(spec.bos);
  }
  if (add_eos) {
    if (spec.eos < 0) format_error(gguf, "tokenizer.ggml.add_eos_token", "true but there is no eos_token_id");
    spec.suffix.push_back(spec.eos);
  }
  return make_bpe_tokenizer(std::move(spec));
}

}  // namespace

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& gguf) {
  const std::string model = gguf.get_string("tokenizer.ggml.model");
  if (model == "llama") return load_llama_vocab(gguf);
  if (model == "gpt2") return load_gpt2_vocab(gguf);
  throw Error(ErrorCode::kUnsupported, gguf.path() + ": metadata 'tokenizer.ggml.model': '" + model +
                                           "' is not supported (only 'llama' and 'gpt2' vocabularies)");
}

}  // namespace nagi
