// GGUF byte-level ("gpt2") vocabularies: a GGUF written from a real
// tokenizer.json (as llama.cpp's converter does) must encode and decode every
// fixture case exactly as the tokenizer.json itself.
#include <gtest/gtest.h>

#include <fstream>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "nagi/error.hpp"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixtures.h"

namespace nagi {
namespace {

using nlohmann::json;
using test::read_json_file;

// Converts tokenizer.json + tokenizer_config.json into GGUF tokenizer
// metadata: tokens by id, merges as "left right", token types (special
// added tokens are control, other added tokens user-defined), BOS/EOS.
GgufWriter gguf_from_tokenizer_json(const std::string& name, const std::string& pre, bool add_bos) {
  const std::string dir = test::shared_path("tokenizers/" + name);
  const json tj = read_json_file(dir + "/tokenizer.json");
  const json cfg = read_json_file(dir + "/tokenizer_config.json");
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto put = [&](int32_t id, const std::string& piece, int32_t type) {
    if (id >= static_cast<int32_t>(tokens.size())) {
      tokens.resize(id + 1);
      types.resize(id + 1, 5);  // gaps: unused
    }
    tokens[id] = piece;
    types[id] = type;
  };
  for (auto it = tj["model"]["vocab"].begin(); it != tj["model"]["vocab"].end(); ++it) put(it->get<int32_t>(), it.key(), 1);
  std::map<std::string, int32_t> added;
  for (const json& a : tj["added_tokens"]) {
    put(a["id"].get<int32_t>(), a["content"], a["special"].get<bool>() ? 3 : 4);
    added[a["content"]] = a["id"];
  }
  std::vector<std::string> merges;
  for (const json& m : tj["model"]["merges"]) {
    merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_string_array("tokenizer.ggml.merges", merges);
  for (const char* key : {"bos_token", "eos_token"}) {
    if (cfg.contains(key) && cfg[key].is_string()) {
      w.set_u32(std::string("tokenizer.ggml.") + key + "_id", added.at(cfg[key].get<std::string>()));
    }
  }
  w.set_bool("tokenizer.ggml.add_bos_token", add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  return w;
}

std::unique_ptr<Tokenizer> write_and_load(const GgufWriter& w, const std::string& file) {
  const std::string path = test::temp_dir() + "/" + file;
  w.write(path);
  return load_gguf_tokenizer(*GgufFile::open(path));
}

void expect_same_as_tokenizer_json(const std::string& name, const std::string& pre) {
  const auto gguf_tok = write_and_load(gguf_from_tokenizer_json(name, pre, false), name + ".gguf");
  const auto hf_tok = load_hf_tokenizer(test::shared_path("tokenizers/" + name));
  EXPECT_EQ(gguf_tok->n_vocab(), hf_tok->n_vocab());
  EXPECT_EQ(gguf_tok->bos_id(), hf_tok->bos_id());
  EXPECT_EQ(gguf_tok->eos_id(), hf_tok->eos_id());
  for (int32_t id = 0; id < hf_tok->n_vocab(); ++id) {
    ASSERT_EQ(gguf_tok->is_special(id), hf_tok->is_special(id)) << name << " id " << id;
  }
  size_t encode_ok = 0, encode_total = 0;
  for (const json& row : test::read_jsonl(test::shared_path("tokenizers/" + name + "/encode_cases.jsonl"))) {
    const std::string text = row["text"];
    const bool add = row["add_special_tokens"].get<bool>();
    const auto want = row["ids"].get<std::vector<int32_t>>();
    ++encode_total;
    const auto got = gguf_tok->encode(text, add, /*parse_special=*/true);
    if (got == want) ++encode_ok;
    else ADD_FAILURE() << name << " encode " << json(text).dump() << "\n got: " << json(got).dump() << "\nwant: " << json(want).dump();
    // Without special-token parsing, both paths must agree too.
    EXPECT_EQ(gguf_tok->encode(text, add, false), hf_tok->encode(text, add, false)) << json(text).dump();
  }
  size_t decode_ok = 0, decode_total = 0;
  for (const json& row : test::read_jsonl(test::shared_path("tokenizers/" + name + "/decode_cases.jsonl"))) {
    const auto ids = row["ids"].get<std::vector<int32_t>>();
    ++decode_total;
    const std::string got = gguf_tok->decode(ids, row["skip_special_tokens"].get<bool>());
    if (got == row["text"].get<std::string>()) ++decode_ok;
    else ADD_FAILURE() << name << " decode " << row["ids"].dump() << " got " << json(got).dump();
    for (int32_t id : ids) EXPECT_EQ(gguf_tok->token_bytes(id), hf_tok->token_bytes(id)) << id;
  }
  std::printf("%s (GGUF gpt2, pre %s): encode %zu/%zu, decode %zu/%zu\n", name.c_str(), pre.c_str(), encode_ok,
              encode_total, decode_ok, decode_total);
  EXPECT_GT(encode_total, 50u);
  EXPECT_GT(decode_total, 50u);
}

TEST(GgufBpeVocab, Qwen3MatchesTokenizerJson) {
  REQUIRE_SHARED();
  expect_same_as_tokenizer_json("qwen3", "qwen2");
}

TEST(GgufBpeVocab, Llama3MatchesTokenizerJson) {
  REQUIRE_SHARED();
  expect_same_as_tokenizer_json("llama3", "llama-bpe");
}

TEST(GgufBpeVocab, AddBosFlagAndAliases) {
  REQUIRE_SHARED();
  const auto tok = write_and_load(gguf_from_tokenizer_json("llama3", "llama3", true), "llama3-bos.gguf");
  EXPECT_EQ(tok->encode("Hello world", true), (std::vector<int32_t>{128000, 9906, 1917}));
  EXPECT_EQ(tok->encode("Hello world", false), (std::vector<int32_t>{9906, 1917}));
  EXPECT_EQ(tok->decode(std::vector<int32_t>{128000, 9906, 1917}, true), "Hello world");
}

TEST(GgufBpeVocab, PreTokenizerNameMatters) {
  REQUIRE_SHARED();
  // Llama 3 cuts digits in groups of three and lets punctuation open a
  // word; GPT-2's split keeps digit runs whole, so the wrong preset gives
  // other ids.
  const auto llama = write_and_load(gguf_from_tokenizer_json("llama3", "llama-bpe", false), "llama-pre.gguf");
  const auto gpt2 = write_and_load(gguf_from_tokenizer_json("llama3", "gpt2", false), "llama-gpt2-pre.gguf");
  const std::string text = "In 2024 we paid 1234567 dollars.\n\n  $Hello";
  EXPECT_EQ(llama->encode(text, false), load_hf_tokenizer(test::shared_path("tokenizers/llama3"))->encode(text, false));
  EXPECT_NE(gpt2->encode(text, false), llama->encode(text, false));
}

TEST(GgufBpeVocab, UnknownPreTokenizerIsRefused) {
  REQUIRE_SHARED();
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "no-such-pre");
  w.set_string_array("tokenizer.ggml.tokens", {"a", "b", "ab"});
  w.set_string_array("tokenizer.ggml.merges", {"a b"});
  const std::string path = test::temp_dir() + "/badpre.gguf";
  w.write(path);
  try {
    load_gguf_tokenizer(*GgufFile::open(path));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("tokenizer.ggml.pre"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no-such-pre"), std::string::npos) << msg;
  }
  // A merge naming a piece that is not a token.
  w.set_string("tokenizer.ggml.pre", "gpt2");
  w.set_string_array("tokenizer.ggml.merges", {"a c"});
  w.write(path);
  try {
    load_gguf_tokenizer(*GgufFile::open(path));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.merges'[0]"), std::string::npos) << e.what();
  }
  // A tiny vocabulary works end to end.
  w.set_string_array("tokenizer.ggml.merges", {"a b"});
  w.write(path);
  const auto tok = load_gguf_tokenizer(*GgufFile::open(path));
  EXPECT_EQ(tok->encode("abab", false), (std::vector<int32_t>{2, 2}));
}

}  // namespace
}  // namespace nagi
