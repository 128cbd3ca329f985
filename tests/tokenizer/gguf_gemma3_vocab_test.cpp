// Gemma 3's GGUF vocabulary: the SentencePiece "llama" model (pieces, scores,
// token types) with no dummy prefix (tokenizer.ggml.add_space_prefix false),
// byte fallback, user-defined pieces matched in raw text and a BOS added. A
// GGUF written from the fixture's tokenizer.json must encode and decode
// every fixture case exactly as the tokenizer.json itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixtures.h"

namespace nagi {
namespace {

using nlohmann::json;
using test::read_json_file;

// GGUF token types, as llama.cpp's converter reads them from the
// SentencePiece model.
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6;

bool is_byte_piece(const std::string& p) { return p.size() == 6 && p.rfind("<0x", 0) == 0 && p.back() == '>'; }

// The tokenizer.ggml.* metadata llama.cpp writes for Gemma 3. The GGUF
// carries SentencePiece scores where tokenizer.json has ranked merges;
// Hugging Face derived those merges from the scores, so a piece scores
// minus the rank of the first merge that builds it (pieces no merge builds
// never win a merge).
GgufWriter gemma3_gguf_vocab(const std::string& dir) {
  const json tj = read_json_file(dir + "/tokenizer.json");
  const json cfg = read_json_file(dir + "/tokenizer_config.json");
  const json& vocab = tj["model"]["vocab"];
  // Added tokens may lie past the model's vocabulary (<image_soft_token>).
  size_t n = vocab.size();
  for (const json& a : tj["added_tokens"]) n = std::max(n, a["id"].get<size_t>() + 1);
  std::vector<std::string> tokens(n);
  std::vector<int32_t> types(n, kNormal);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const auto id = it->get<size_t>();
    tokens.at(id) = it.key();
    if (is_byte_piece(it.key())) types[id] = kByte;
  }
  std::vector<float> scores(tokens.size(), -1e9f);
  const json& merges = tj["model"]["merges"];
  for (size_t rank = merges.size(); rank-- > 0;) {
    scores.at(vocab.at(merges[rank][0].get<std::string>() + merges[rank][1].get<std::string>()).get<size_t>()) =
        -static_cast<float>(rank);
  }
  std::map<std::string, uint32_t> added;
  for (const json& a : tj["added_tokens"]) {
    const auto id = a["id"].get<size_t>();
    tokens.at(id) = a["content"];
    types.at(id) = a["special"].get<bool>() ? kControl : kUserDefined;
    added[a["content"]] = static_cast<uint32_t>(id);
  }
  types.at(vocab.at(tj["model"]["unk_token"].get<std::string>()).get<size_t>()) = kUnknown;
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string("tokenizer.ggml.pre", "default");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", added.at(cfg["bos_token"]));
  w.set_u32("tokenizer.ggml.eos_token_id", added.at(cfg["eos_token"]));
  w.set_u32("tokenizer.ggml.unknown_token_id", added.at(cfg["unk_token"]));
  w.set_u32("tokenizer.ggml.padding_token_id", added.at(cfg["pad_token"]));
  w.set_bool("tokenizer.ggml.add_bos_token", cfg["add_bos_token"].get<bool>());
  w.set_bool("tokenizer.ggml.add_eos_token", cfg["add_eos_token"].get<bool>());
  // Gemma's SentencePiece model adds no dummy prefix.
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  return w;
}

TEST(GgufGemma3Vocab, MatchesTokenizerJson) {
  REQUIRE_SHARED();
  const std::string dir = test::shared_path("tokenizers/gemma3");
  const std::string path = test::temp_dir() + "/gemma3-vocab.gguf";
  gemma3_gguf_vocab(dir).write(path);
  const auto gguf_tok = load_gguf_tokenizer(*GgufFile::open(path));
  const auto hf_tok = load_hf_tokenizer(dir);
  EXPECT_EQ(gguf_tok->n_vocab(), hf_tok->n_vocab());
  EXPECT_EQ(gguf_tok->bos_id(), hf_tok->bos_id());
  size_t encode_total = 0, decode_total = 0;
  for (const json& row : test::read_jsonl(dir + "/encode_cases.jsonl")) {
    const std::string text = row["text"];
    const bool add = row["add_special_tokens"].get<bool>();
    ++encode_total;
    EXPECT_EQ(gguf_tok->encode(text, add, /*parse_special=*/true), row["ids"].get<std::vector<int32_t>>())
        << json(text).dump();
    EXPECT_EQ(gguf_tok->encode(text, add, false), hf_tok->encode(text, add, false)) << json(text).dump();
  }
  for (const json& row : test::read_jsonl(dir + "/decode_cases.jsonl")) {
    const auto ids = row["ids"].get<std::vector<int32_t>>();
    ++decode_total;
    EXPECT_EQ(gguf_tok->decode(ids, row["skip_special_tokens"].get<bool>()), row["text"].get<std::string>())
        << row["ids"].dump();
  }
  EXPECT_GT(encode_total, 50u);
  EXPECT_GT(decode_total, 50u);
}

}  // namespace
}  // namespace nagi
