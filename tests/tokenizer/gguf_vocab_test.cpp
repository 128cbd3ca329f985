// Tokenizers built from GGUF metadata (needs the GGUF reader).
#include <gtest/gtest.h>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "nagi/error.hpp"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixtures.h"

namespace nagi {
namespace {

using nlohmann::json;
using test::read_jsonl;
using test::stories_path;

TEST(GgufTokenizer, Stories260KReference) {
  REQUIRE_SHARED();
  auto gguf = GgufFile::open(stories_path("stories260K.gguf"));
  auto tok = load_gguf_tokenizer(*gguf);
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_TRUE(tok->is_special(2));
  EXPECT_FALSE(tok->is_special(3));
  const auto rows = read_jsonl(stories_path("reference/tokenize.jsonl"));
  ASSERT_EQ(rows.size(), 82u);
  int passed = 0;
  for (const json& row : rows) {
    const std::string text = row["text"];
    const auto got = tok->encode(text, row["add_bos"].get<bool>());
    if (got == row["ids"].get<std::vector<int32_t>>()) ++passed;
    else ADD_FAILURE() << json(text).dump() << " add_bos " << row["add_bos"];
  }
  EXPECT_EQ(passed, 82);
}

TEST(GgufTokenizer, Stories260KGreedyDecodeAndAgreementWithLlama2c) {
  REQUIRE_SHARED();
  auto gguf = GgufFile::open(stories_path("stories260K.gguf"));
  auto tok = load_gguf_tokenizer(*gguf);
  for (const json& row : read_jsonl(stories_path("reference/greedy.jsonl"))) {
    auto ids = row["prompt_ids"].get<std::vector<int32_t>>();
    const auto gen = row["ids"].get<std::vector<int32_t>>();
    ids.insert(ids.end(), gen.begin(), gen.end());
    EXPECT_EQ(tok->decode(ids, true), row["text"].get<std::string>());
  }
  auto l2 = load_llama2c_tokenizer(stories_path("tok512.bin"), 512);
  for (int32_t id = 0; id < 512; ++id) {
    EXPECT_EQ(tok->token_bytes(id), l2->token_bytes(id)) << id;
    EXPECT_EQ(tok->is_special(id), l2->is_special(id)) << id;
  }
}

// Rewrites stories260K.gguf's metadata (no tensors needed) with changes.
std::shared_ptr<const GgufFile> rewritten(const std::string& name,
                                          const std::function<void(GgufWriter&)>& change,
                                          const std::vector<std::string>& drop = {}) {
  auto src = GgufFile::open(stories_path("stories260K.gguf"));
  GgufWriter w;
  for (const auto& [key, value] : src->metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    if (std::find(drop.begin(), drop.end(), key) != drop.end()) continue;
    w.set(key, value);
  }
  change(w);
  const std::string path = test::temp_dir() + "/" + name + ".gguf";
  w.write(path);
  return GgufFile::open(path);
}

template <typename F>
void expect_error(F&& f, ErrorCode code, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& n : needles) {
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what() << " lacks " << n;
    }
  }
}

TEST(GgufTokenizer, UnsupportedModelIsRefused) {
  REQUIRE_SHARED();
  auto g = rewritten("bert", [](GgufWriter& w) { w.set_string("tokenizer.ggml.model", "bert"); });
  expect_error([&] { load_gguf_tokenizer(*g); }, ErrorCode::kUnsupported,
               {g->path(), "tokenizer.ggml.model", "bert"});
  // A gpt2 vocabulary needs its merges.
  auto g2 = rewritten("gpt2", [](GgufWriter& w) { w.set_string("tokenizer.ggml.model", "gpt2"); });
  expect_error([&] { load_gguf_tokenizer(*g2); }, ErrorCode::kFormat, {g2->path(), "tokenizer.ggml.merges"});
}

TEST(GgufTokenizer, InconsistentMetadataIsRefused) {
  REQUIRE_SHARED();
  auto g = rewritten("scores", [](GgufWriter& w) { w.set_f32_array("tokenizer.ggml.scores", {0.0f, 1.0f}); });
  expect_error([&] { load_gguf_tokenizer(*g); }, ErrorCode::kFormat, {g->path(), "tokenizer.ggml.scores"});
  auto g2 = rewritten("types", [](GgufWriter& w) { w.set_i32_array("tokenizer.ggml.token_type", {1, 2, 3}); });
  expect_error([&] { load_gguf_tokenizer(*g2); }, ErrorCode::kFormat, {g2->path(), "tokenizer.ggml.token_type"});
  auto g3 = rewritten("notokens", [](GgufWriter&) {}, {"tokenizer.ggml.tokens"});
  expect_error([&] { load_gguf_tokenizer(*g3); }, ErrorCode::kFormat, {g3->path(), "tokenizer.ggml.tokens"});
}

TEST(GgufTokenizer, FlagsAreHonoured) {
  REQUIRE_SHARED();
  auto base = load_gguf_tokenizer(*GgufFile::open(stories_path("stories260K.gguf")));
  auto g = rewritten("flags", [](GgufWriter& w) {
    w.set_bool("tokenizer.ggml.add_bos_token", false);
    w.set_bool("tokenizer.ggml.add_eos_token", true);
    w.set_bool("tokenizer.ggml.add_space_prefix", false);
  });
  auto tok = load_gguf_tokenizer(*g);
  // No BOS, an EOS, and no "▁" in front: "Once" starts without the space mark.
  const auto ids = tok->encode("Once upon a time", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.back(), 2);
  EXPECT_NE(ids.front(), 1);
  const std::vector<int32_t> body(ids.begin(), ids.end() - 1);
  EXPECT_NE(body, base->encode("Once upon a time", false));
  EXPECT_EQ(base->decode(body, false), "Once upon a time");
  EXPECT_EQ(tok->decode(ids, true), "Once upon a time");
  // "none" ids (0xFFFFFFFF) mean no such token.
  auto g2 = rewritten("nobos", [](GgufWriter& w) { w.set_u32("tokenizer.ggml.bos_token_id", 0xFFFFFFFFu); });
  EXPECT_EQ(load_gguf_tokenizer(*g2)->bos_id(), -1);
}

}  // namespace
}  // namespace nagi
