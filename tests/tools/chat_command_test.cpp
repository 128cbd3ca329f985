// nagi chat driven through a pipe: each turn must prefill only the tokens the
// cache does not already hold, and /reset must start from scratch.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "../tokenizer/tokenizer_fixtures.h"
#include "cli_run.h"

namespace nagi {
namespace {

using test::run_nagi;

struct Turn {
  int prefill, reused, prompt;
};

// Parses the -v lines "[prefill N new tokens, M reused | prompt P tokens ...".
std::vector<Turn> turns(const std::string& err) {
  std::vector<Turn> out;
  const std::regex re(R"(\[prefill (\d+) new tokens, (\d+) reused \| prompt (\d+) tokens)");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), re); it != std::sregex_iterator(); ++it) {
    out.push_back({std::stoi((*it)[1]), std::stoi((*it)[2]), std::stoi((*it)[3])});
  }
  return out;
}

void expect_incremental(const Turn& t, const char* what) {
  EXPECT_GT(t.reused, 0) << what;
  EXPECT_LT(t.prefill, t.prompt) << what;
  EXPECT_EQ(t.prefill, t.prompt - t.reused) << what;
}

void expect_from_scratch(const Turn& t, const char* what) {
  EXPECT_EQ(t.reused, 0) << what;
  EXPECT_EQ(t.prefill, t.prompt) << what;
}

TEST(ChatCommand, Stories260KReusesThePrefixAndResets) {
  REQUIRE_SHARED();
  const std::string input = "Once upon a time\nThe dog ran to the park\nThen what?\n/reset\nHello\n";
  const auto r = run_nagi("chat -m " + test::stories_path("stories260K.gguf") + " --temp 0 -n 12 -t 1 -v", input);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("no chat template"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[conversation reset]"), std::string::npos) << r.err;
  const auto t = turns(r.err);
  ASSERT_EQ(t.size(), 4u) << r.err;
  expect_from_scratch(t[0], "turn 1");
  expect_incremental(t[1], "turn 2");
  expect_incremental(t[2], "turn 3");
  EXPECT_GT(t[2].prompt, t[1].prompt);
  expect_from_scratch(t[3], "after /reset");
  // Four replies on stdout, one line each at least.
  EXPECT_GE(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;
  // Greedy: the same conversation gives the same replies.
  const auto again = run_nagi("chat -m " + test::stories_path("stories260K.gguf") + " --temp 0 -n 12 -t 2", input);
  EXPECT_EQ(again.out, r.out);
}

TEST(ChatCommand, ModelWithAChatTemplate) {
  REQUIRE_SHARED();
  const std::string dir = test::temp_dir() + "/chatml";
  ASSERT_EQ(test::run_mkmodel("--preset tiny --format hf -o " + dir), 0);
  // A ChatML template (as Qwen's) with the system message first.
  const std::string cfg_path = dir + "/tokenizer_config.json";
  auto cfg = nlohmann::json::parse(test::slurp(cfg_path));
  cfg["chat_template"] =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  std::ofstream(cfg_path) << cfg.dump();
  const auto r = run_nagi("chat -m " + dir + " --system 'Be brief.' --temp 0 -n 6 -t 1 -v", "hi\nhow are you\n");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("no chat template"), std::string::npos) << r.err;
  const auto t = turns(r.err);
  ASSERT_EQ(t.size(), 2u) << r.err;
  expect_from_scratch(t[0], "turn 1");
  expect_incremental(t[1], "turn 2");
  // The rendered prompt is what `nagi prompt` prints.
  const auto p = run_nagi("prompt -m " + dir, R"({"messages": [{"role": "user", "content": "hi"}]})");
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(p.out, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

// A random-weight GGUF carrying Qwen3's real vocabulary and chat template
// (nagi-mkmodel --tokenizer): tokenize, prompt and chat all use them.
TEST(ChatCommand, GgufWithQwen3VocabularyAndTemplate) {
  REQUIRE_SHARED();
  const std::string model = test::temp_dir() + "/qwen3-vocab.gguf";
  ASSERT_EQ(test::run_mkmodel("--preset tiny --arch qwen3 --dtype q8_0 --tokenizer " +
                              test::shared_path("tokenizers/qwen3") + " -o " + model),
            0);
  const auto t = run_nagi("tokenize -m " + model + " 'Hello world <|im_start|>'");
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(t.out, "[9707,1879,220,151644]\n");
  const auto rows = test::read_jsonl(test::shared_path("templates/qwen3/cases.jsonl"));
  const auto& c = rows.at(0);
  const nlohmann::json req = {{"messages", c["messages"]}, {"add_generation_prompt", c["add_generation_prompt"]}};
  const auto p = run_nagi("prompt -m " + model, req.dump());
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(p.out, c["expected"].get<std::string>());
  const auto r = run_nagi("chat -m " + model + " --temp 0 -n 6 -t 1 -v --chat-template-kwargs '{\"enable_thinking\": false}'",
                          "hi\nhow are you\n");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto turn = turns(r.err);
  ASSERT_EQ(turn.size(), 2u) << r.err;
  expect_from_scratch(turn[0], "turn 1");
  expect_incremental(turn[1], "turn 2");
}

TEST(ChatCommand, EofAndExitQuit) {
  REQUIRE_SHARED();
  auto r = run_nagi("chat -m " + test::stories_path("stories260K.gguf") + " --temp 0 -n 4 -t 1 -v", "/exit\nhello\n");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(turns(r.err).empty()) << r.err;
  r = run_nagi("chat -m " + test::stories_path("stories260K.gguf") + " --temp 0 -n 4 -t 1", "");
  EXPECT_EQ(r.status, 0) << r.err;
}

}  // namespace
}  // namespace nagi
