// Hugging Face reference cases (/work/shared/tokenizers/<name>): encode and
// decode must match the Rust `tokenizers` library exactly.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nagi/error.hpp"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer_fixtures.h"

namespace nagi {
namespace {

using nlohmann::json;
using test::read_jsonl;

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

namespace nagi {
namespace {

// ---- Small synthetic tokenizer.json files for the pipeline pieces --------

template <typename F>
void expect_load_error(const std::string& path, ErrorCode code, const std::vector<std::string>& needles) {
  try {
    load_hf_tokenizer(path);
    ADD_FAILURE() << "no error thrown for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& n : needles) {
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what() << " lacks " << n;
    }
  }
}

std::string write_tokenizer(const std::string& name, const json& j) {
  const std::string dir = test::temp_dir() + "/hf_pipeline_" + name;
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/tokenizer.json";
  std::ofstream(path) << j.dump();
  return path;
}

// A BPE whose vocabulary shows where pre-tokenization cut the text: "a-b"
// merges to one token only when it reaches the model in one piece.
json split_tokenizer(const json& pre_tokenizer) {
  json vocab = {{"a", 0}, {"b", 1}, {"-", 2}, {"a-", 3}, {"-b", 4}, {"a-b", 5}, {"--", 6},
                {"1", 7}, {"2", 8}, {"3", 9}, {"12", 10}, {"123", 11}};
  json merges = json::array({"a -", "- b", "a- b", "- -", "1 2", "12 3"});
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"post_processor", nullptr},
          {"decoder", nullptr}};
}

std::vector<int32_t> encode_with(const std::string& name, const json& pre, const std::string& text) {
  auto tok = load_hf_tokenizer(write_tokenizer(name, split_tokenizer(pre)));
  return tok->encode(text, false, true);
}

json split_on(const std::string& pattern, const std::string& behavior, bool invert = false, bool regex = false) {
  return {{"type", "Split"},
          {"pattern", {{regex ? "Regex" : "String", pattern}}},
          {"behavior", behavior},
          {"invert", invert}};
}

TEST(HfPipeline, SplitBehaviors) {
  using V = std::vector<int32_t>;
  EXPECT_EQ(encode_with("none", nullptr, "a-b"), (V{5}));
  EXPECT_EQ(encode_with("iso", split_on("-", "Isolated"), "a-b"), (V{0, 2, 1}));
  EXPECT_EQ(encode_with("rem", split_on("-", "Removed"), "a-b"), (V{0, 1}));
  EXPECT_EQ(encode_with("prev", split_on("-", "MergedWithPrevious"), "a-b"), (V{3, 1}));
  EXPECT_EQ(encode_with("next", split_on("-", "MergedWithNext"), "a-b"), (V{0, 4}));
  EXPECT_EQ(encode_with("contig", split_on("-", "Contiguous"), "a--b"), (V{0, 6, 1}));
  EXPECT_EQ(encode_with("iso2", split_on("-", "Isolated"), "a--b"), (V{0, 2, 2, 1}));
  // invert: the pattern spells what to keep, so what it does not match
  // ("-") is the delimiter that Removed drops.
  EXPECT_EQ(encode_with("inv", split_on("[ab]", "Removed", true, true), "a-b"), (V{0, 1}));
  EXPECT_EQ(encode_with("inv2", split_on("[ab]", "MergedWithPrevious", true, true), "a-b"), (V{3, 1}));
  EXPECT_EQ(encode_with("regex", split_on("a(?=-)", "Isolated", false, true), "a-ba-b"), (V{0, 4, 0, 4}));
  // An empty match still cuts the text (Hugging Face keeps empty matches).
  EXPECT_EQ(encode_with("empty", split_on("(?=-)", "Isolated", false, true), "a-ba-b"), (V{0, 4, 0, 4}));
}

TEST(HfPipeline, RegexReplaceInNormalizerAndDecoder) {
  using V = std::vector<int32_t>;
  json j = split_tokenizer(nullptr);
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", "x+"}}}, {"content", "-"}};
  j["decoder"] = {{"type", "Replace"}, {"pattern", {{"Regex", "[ab]"}}}, {"content", "z"}};
  auto tok = load_hf_tokenizer(write_tokenizer("regex_replace", j));
  EXPECT_EQ(tok->encode("axxxb", false), (V{5}));
  EXPECT_EQ(tok->decode(V{5, 0}, false), "z-zz");
}

TEST(HfPipeline, DigitsAndSequence) {
  using V = std::vector<int32_t>;
  const json single = {{"type", "Digits"}, {"individual_digits", true}};
  const json grouped = {{"type", "Digits"}, {"individual_digits", false}};
  EXPECT_EQ(encode_with("dig1", single, "a123"), (V{0, 7, 8, 9}));
  EXPECT_EQ(encode_with("dig2", grouped, "a123"), (V{0, 11}));
  const json seq = {{"type", "Sequence"}, {"pretokenizers", json::array({split_on("-", "Removed"), single})}};
  EXPECT_EQ(encode_with("seq", seq, "a-12"), (V{0, 7, 8}));
}

TEST(HfPipeline, ByteLevelPrefixSpaceAndRegex) {
  // "Ġ" is GPT-2's stand-in for the space byte.
  json vocab = {{"\xC4\xA0", 0}, {"h", 1}, {"i", 2}, {"\xC4\xA0h", 3}, {"\xC4\xA0hi", 4}};
  json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"\xC4\xA0 h", "\xC4\xA0h i"})}}},
            {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}},
            {"decoder", {{"type", "ByteLevel"}}},
            {"post_processor", {{"type", "ByteLevel"}, {"trim_offsets", true}}}};
  auto tok = load_hf_tokenizer(write_tokenizer("bytelevel", j));
  EXPECT_EQ(tok->encode("hi hi", false), (std::vector<int32_t>{4, 4}));
  EXPECT_EQ(tok->decode(std::vector<int32_t>{4, 4}, false), " hi hi");
  j["pre_tokenizer"]["add_prefix_space"] = false;
  tok = load_hf_tokenizer(write_tokenizer("bytelevel2", j));
  EXPECT_EQ(tok->encode("hi hi", false), (std::vector<int32_t>{1, 2, 4}));
}

TEST(HfPipeline, NormalizedAddedTokensMatchAfterNormalization) {
  using V = std::vector<int32_t>;
  json j = split_tokenizer(nullptr);
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", "x"}}}, {"content", "-"}};
  j["added_tokens"] = json::array({{{"id", 12}, {"content", "axb"}, {"normalized", true}, {"special", false}}});
  auto tok = load_hf_tokenizer(write_tokenizer("normalized", j));
  // The token's content is normalized too ("a-b"), so both spellings match.
  EXPECT_EQ(tok->encode("a-b", false), (V{12}));
  EXPECT_EQ(tok->encode("1axb2", false), (V{7, 12, 8}));
  EXPECT_EQ(tok->decode(V{12}, false), "axb");
  j["added_tokens"][0]["normalized"] = false;
  tok = load_hf_tokenizer(write_tokenizer("not_normalized", j));
  EXPECT_EQ(tok->encode("a-b", false), (V{5}));
  EXPECT_EQ(tok->encode("1axb2", false), (V{7, 12, 8}));
}

TEST(HfPipeline, SingleWordAddedTokens) {
  using V = std::vector<int32_t>;
  json j = split_tokenizer(nullptr);
  j["added_tokens"] = json::array({{{"id", 2}, {"content", "-"}, {"single_word", true}, {"special", false},
                                    {"normalized", false}},
                                   {{"id", 10}, {"content", "12"}, {"single_word", true}, {"special", true},
                                    {"normalized", false}, {"lstrip", true}}});
  auto tok = load_hf_tokenizer(write_tokenizer("single_word", j));
  // "-" between word characters is not a single word: BPE merges it.
  EXPECT_EQ(tok->encode("a-b", false, true), (V{5}));
  EXPECT_EQ(tok->encode("-", false, true), (V{2}));
  // "12" followed by "3" is inside a word, so BPE sees "123" whole.
  EXPECT_EQ(tok->encode("123", false, true), (V{11}));
  // Here "12" stands alone; the "-" after it touches "2" and "3", so it is
  // plain text again.
  EXPECT_EQ(tok->encode("12-3", false, true), (V{10, 2, 9}));
  // lstrip swallows the space (which the vocabulary could not encode).
  EXPECT_EQ(tok->encode(" 12", false, true), (V{10}));
  j["added_tokens"][1]["single_word"] = false;
  tok = load_hf_tokenizer(write_tokenizer("not_single_word", j));
  EXPECT_EQ(tok->encode("123", false, true), (V{10, 9}));
}

TEST(HfPipeline, UnsupportedIsRefusedAtLoad) {
  {
    const json seq = {{"type", "Sequence"},
                      {"pretokenizers", json::array({split_on("-", "Removed"), {{"type", "Metaspace"}, {"replacement", "_"}}})}};
    const auto p = write_tokenizer("metaseq", split_tokenizer(seq));
    expect_load_error<int>(p, ErrorCode::kUnsupported, {p, "pre_tokenizer.pretokenizers[1].type", "Metaspace"});
  }
  {
    const auto p = write_tokenizer("badregex", split_tokenizer(split_on("(", "Isolated", false, true)));
    expect_load_error<int>(p, ErrorCode::kUnsupported, {p, "pre_tokenizer.pattern.Regex"});
  }
  {
    const auto p = write_tokenizer("behavior", split_tokenizer(split_on("-", "Sideways")));
    expect_load_error<int>(p, ErrorCode::kUnsupported, {p, "pre_tokenizer.behavior", "Sideways"});
  }
  {
    json j = split_tokenizer(nullptr);
    j["post_processor"] = {{"type", "Sequence"},
                           {"processors", json::array({{{"type", "ByteLevel"}}, {{"type", "BertProcessing"}}})}};
    const auto p = write_tokenizer("postseq", j);
    expect_load_error<int>(p, ErrorCode::kUnsupported, {p, "post_processor.processors[1].type"});
  }
}

// Meta's own Llama 3 tokenizer.json chains ByteLevel with a template that
// prepends <|begin_of_text|>; the fixture file has ByteLevel alone.
TEST(HfPipeline, Llama3TemplateInPostProcessorSequence) {
  REQUIRE_SHARED();
  std::ifstream in(test::shared_path("tokenizers/llama3/tokenizer.json"));
  json j = json::parse(in);
  j["post_processor"] = json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
       "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000]}}}]})");
  auto tok = load_hf_tokenizer(write_tokenizer("llama3_template", j));
  EXPECT_EQ(tok->encode("Hello world", true), (std::vector<int32_t>{128000, 9906, 1917}));
  EXPECT_EQ(tok->encode("Hello world", false), (std::vector<int32_t>{9906, 1917}));
  EXPECT_EQ(tok->encode("", true), (std::vector<int32_t>{128000}));
  EXPECT_EQ(tok->bos_id(), 128000);
  EXPECT_EQ(tok->decode(std::vector<int32_t>{128000, 9906, 1917}, true), "Hello world");
}

TEST(HfPipeline, NfcToleratesInvalidUtf8) {
  REQUIRE_SHARED();
  auto tok = load_hf_tokenizer(test::shared_path("tokenizers/qwen3"));
  // Decomposed e + U+0301 composes to é on either side of an invalid byte.
  const auto composed = tok->encode("\xC3\xA9", false);
  const auto ids = tok->encode("e\xCC\x81 \xFF e\xCC\x81", false);
  const std::string text = tok->decode(ids, false);
  EXPECT_EQ(text, "\xC3\xA9 \xEF\xBF\xBD \xC3\xA9");
  EXPECT_EQ(tok->decode(composed, false), "\xC3\xA9");
}

}  // namespace
}  // namespace nagi
