// Hugging Face reference cases (/work/shared/tokenizers/<name>): encode and
// decode must match the Rust `tokenizers` library exactly.
#include <gtest/gtest.h>

#include <cstdio>

#include "nagi/error.hpp"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer_fixtures.h"

namespace nagi {
namespace {

using nlohmann::json;
using test::read_jsonl;

#define REQUIRE_SHARED() \
  if (!test::has_shared()) GTEST_SKIP() << "shared fixtures not found"

struct Score {
  size_t passed = 0;
  size_t total = 0;
};

// report_failures: list each mismatch (for tokenizers claimed as supported).
Score run_encode_cases(const Tokenizer& tok, const std::string& name, bool report_failures) {
  Score s;
  for (const json& row : read_jsonl(test::shared_path("tokenizers/" + name + "/encode_cases.jsonl"))) {
    const std::string text = row["text"];
    const bool add = row["add_special_tokens"].get<bool>();
    // Hugging Face matches added tokens in the text whatever add_special_tokens says.
    const auto got = tok.encode(text, add, /*parse_special=*/true);
    ++s.total;
    if (got == row["ids"].get<std::vector<int32_t>>()) {
      ++s.passed;
    } else if (report_failures) {
      ADD_FAILURE() << name << " encode: " << json(text).dump() << " add_special " << add << "\n got: "
                    << json(got).dump() << "\nwant: " << row["ids"].dump();
    }
  }
  std::printf("%s encode: %zu/%zu\n", name.c_str(), s.passed, s.total);
  return s;
}

Score run_decode_cases(const Tokenizer& tok, const std::string& name, bool report_failures) {
  Score s;
  for (const json& row : read_jsonl(test::shared_path("tokenizers/" + name + "/decode_cases.jsonl"))) {
    const auto ids = row["ids"].get<std::vector<int32_t>>();
    const bool skip = row["skip_special_tokens"].get<bool>();
    const std::string got = tok.decode(ids, skip);
    ++s.total;
    if (got == row["text"].get<std::string>()) {
      ++s.passed;
    } else if (report_failures) {
      ADD_FAILURE() << name << " decode: " << row["ids"].dump() << " skip " << skip << "\n got: " << json(got).dump()
                    << "\nwant: " << row["text"].dump();
    }
  }
  std::printf("%s decode: %zu/%zu\n", name.c_str(), s.passed, s.total);
  return s;
}

// Streaming the ids of a whole encoding must give decode() of them exactly
// (complete texts only, so no U+FFFD is involved).
void expect_stream_matches_decode(const Tokenizer& tok, const std::string& name) {
  size_t n = 0;
  for (const json& row : read_jsonl(test::shared_path("tokenizers/" + name + "/encode_cases.jsonl"))) {
    const auto ids = row["ids"].get<std::vector<int32_t>>();
    StreamDecoder stream(tok, /*skip_special=*/false);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string part = stream.push(id);
      EXPECT_TRUE(utf8::is_valid(part));
      streamed += part;
    }
    streamed += stream.flush();
    EXPECT_EQ(streamed, tok.decode(ids, false)) << name << ": " << row["ids"].dump();
    ++n;
  }
  EXPECT_GT(n, 0u);
}

void expect_fully_supported(const std::string& name) {
  auto tok = load_hf_tokenizer(test::shared_path("tokenizers/" + name));
  const Score e = run_encode_cases(*tok, name, true);
  const Score d = run_decode_cases(*tok, name, true);
  ASSERT_GT(e.total, 0u);
  ASSERT_GT(d.total, 0u);
  EXPECT_EQ(e.passed, e.total);
  EXPECT_EQ(d.passed, d.total);
  expect_stream_matches_decode(*tok, name);
}

TEST(HfFixtures, Qwen3) {
  REQUIRE_SHARED();
  expect_fully_supported("qwen3");
}

TEST(HfFixtures, Llama3) {
  REQUIRE_SHARED();
  expect_fully_supported("llama3");
}

TEST(HfFixtures, Gemma3) {
  REQUIRE_SHARED();
  expect_fully_supported("gemma3");
}

TEST(HfFixtures, Llama2) {
  REQUIRE_SHARED();
  expect_fully_supported("llama2");
}

}  // namespace
}  // namespace nagi
