// nagi tokenize and nagi prompt against the tokenizer and chat-template
// fixtures.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../tokenizer/tokenizer_fixtures.h"
#include "cli_run.h"

namespace nagi {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using test::run_nagi;
using test::shell_quote;

std::string tok_dir(const std::string& name) { return test::shared_path("tokenizers/" + name); }

TEST(TokenizeCommand, EncodesLikeTheFixtures) {
  REQUIRE_SHARED();
  auto r = run_nagi("tokenize --tokenizer " + tok_dir("qwen3") + " 'Hello world'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "[9707,1879]\n");
  // The tokenizer.json path itself, text on stdin, special tokens parsed.
  r = run_nagi("tokenize --tokenizer " + tok_dir("qwen3") + "/tokenizer.json", "<|im_start|>Hello world");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "[151644,9707,1879]\n");
  // gemma3 adds <bos> unless --no-special (two cases: gemma3 loads slowly under ASan).
  const auto rows = test::read_jsonl(tok_dir("gemma3") + "/encode_cases.jsonl");
  int checked = 0;
  for (const json& row : rows) {
    const std::string text = row["text"];
    if (text.empty() || text.find('\0') != std::string::npos || checked >= 2) continue;
    const bool add = row["add_special_tokens"];
    r = run_nagi("tokenize --tokenizer " + tok_dir("gemma3") + (add ? "" : " --no-special"), text);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out), row["ids"]) << json(text).dump();
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(TokenizeCommand, GgufModelAndDecode) {
  REQUIRE_SHARED();
  const std::string gguf = test::stories_path("stories260K.gguf");
  const auto rows = test::read_jsonl(test::stories_path("reference/tokenize.jsonl"));
  const json& row = rows.at(1);
  auto r = run_nagi("tokenize -m " + gguf + (row["add_bos"].get<bool>() ? "" : " --no-special") + " " +
                    shell_quote(row["text"].get<std::string>()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), row["ids"]);
  r = run_nagi("tokenize --tokenizer " + tok_dir("qwen3") + " --decode '[9707, 1879]'");
  EXPECT_EQ(r.out, "Hello world\n");
  r = run_nagi("tokenize --tokenizer " + tok_dir("qwen3") + " --decode", "151644 9707,1879\n");
  EXPECT_EQ(r.out, "<|im_start|>Hello world\n");
  r = run_nagi("tokenize --tokenizer " + tok_dir("qwen3") + " --decode --no-special", "151644 9707,1879\n");
  EXPECT_EQ(r.out, "Hello world\n");
}

TEST(TokenizeCommand, ErrorsNameTheirSource) {
  REQUIRE_SHARED();
  auto r = run_nagi("tokenize --tokenizer /nonexistent/tok 'hi'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("/nonexistent/tok"), std::string::npos) << r.err;
  r = run_nagi("tokenize --tokenizer " + tok_dir("qwen3") + " --decode '1,x'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("'x'"), std::string::npos) << r.err;
  r = run_nagi("tokenize --tokenizer " + tok_dir("qwen3") + " --decode '99999999'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("99999999"), std::string::npos) << r.err;
}

// Every template case through the CLI: the exact bytes, and for a few the ids.
void check_prompt_cases(const std::string& name) {
  const std::string dir = test::shared_path("templates/" + name);
  std::ifstream in(dir + "/cases.jsonl");
  std::map<std::string, json> ids_by_name;
  for (const json& row : test::read_jsonl(dir + "/prompt_ids.jsonl")) ids_by_name[row["name"]] = row["ids"];
  std::string line;
  int n = 0, with_ids = 0;
  while (std::getline(in, line)) {
    const ordered_json c = ordered_json::parse(line);
    ordered_json req = {{"messages", c["messages"]}, {"tools", c["tools"]},
                        {"add_generation_prompt", c["add_generation_prompt"]},
                        {"chat_template_kwargs", c["extra"]}};
    const std::string file = test::temp_dir() + "/req-" + name + std::to_string(n++) + ".json";
    std::ofstream(file) << req.dump();
    const auto r = run_nagi("prompt --tokenizer " + tok_dir(name) + " " + file);
    if (c.contains("error")) {
      EXPECT_EQ(r.status, 1) << c["name"];
      continue;
    }
    ASSERT_EQ(r.status, 0) << c["name"] << ": " << r.err;
    EXPECT_EQ(r.out, c["expected"].get<std::string>()) << c["name"];
    if (with_ids < 2) {
      const auto ri = run_nagi("prompt --ids --tokenizer " + tok_dir(name), req.dump());
      ASSERT_EQ(ri.status, 0) << ri.err;
      EXPECT_EQ(json::parse(ri.out), ids_by_name.at(c["name"])) << c["name"];
      ++with_ids;
    }
  }
  EXPECT_GT(n, 10);
  EXPECT_EQ(with_ids, 2);
}

TEST(PromptCommand, Qwen3Cases) {
  REQUIRE_SHARED();
  check_prompt_cases("qwen3");
}
TEST(PromptCommand, Llama3Cases) {
  REQUIRE_SHARED();
  check_prompt_cases("llama3");
}
TEST(PromptCommand, Gemma3Cases) {
  REQUIRE_SHARED();
  check_prompt_cases("gemma3");
}

TEST(PromptCommand, BadRequestsAreRefused) {
  REQUIRE_SHARED();
  auto r = run_nagi("prompt --tokenizer " + tok_dir("qwen3"), "{\"messages\": 3}");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("messages"), std::string::npos) << r.err;
  r = run_nagi("prompt --tokenizer " + tok_dir("qwen3"), "not json");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("invalid JSON"), std::string::npos) << r.err;
  // stories260K has no template.
  r = run_nagi("prompt -m " + test::stories_path("stories260K.gguf"), "{\"messages\": []}");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("chat template"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nagi
