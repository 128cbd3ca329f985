// ThinkSplitter: reasoning is separated from the answer whatever the chunking.
#include <gtest/gtest.h>

#include "chat/chat_request.h"
#include "chat/think_splitter.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

// Feeds `text` in chunks of `step` bytes; returns thinking and answer.
std::pair<std::string, std::string> split(const std::string& text, size_t step, bool start_thinking = false) {
  ThinkSplitter s(start_thinking);
  std::string thinking, answer;
  auto take = [&](const std::vector<ThinkSplitter::Segment>& segs) {
    for (const auto& seg : segs) (seg.kind == ThinkSplitter::Kind::kThinking ? thinking : answer) += seg.text;
  };
  for (size_t i = 0; i < text.size(); i += step) take(s.push(text.substr(i, step)));
  take(s.flush());
  EXPECT_EQ(s.answer(), answer);
  EXPECT_EQ(s.thinking(), thinking);
  return {thinking, answer};
}

TEST(ThinkSplitter, AnyChunking) {
  const std::string text = "<think>\nLet me see.\n</think>\n\nThe answer is 4.";
  for (size_t step = 1; step <= text.size(); ++step) {
    const auto [thinking, answer] = split(text, step);
    EXPECT_EQ(thinking, "\nLet me see.\n") << step;
    EXPECT_EQ(answer, "\n\nThe answer is 4.") << step;
  }
}

TEST(ThinkSplitter, PlainTextAndPartialTags) {
  EXPECT_EQ(split("a < b <thin", 1).second, "a < b <thin");
  EXPECT_EQ(split("x</think>y", 2, /*start_thinking=*/true), std::make_pair(std::string("x"), std::string("y")));
  EXPECT_TRUE(prompt_opens_thinking("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_thinking("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_thinking("<|im_start|>assistant\n"));
}

TEST(ChatRequest, ContextAndFallbackTemplate) {
  const ChatTemplate fallback(fallback_chat_template());
  const auto req = nlohmann::ordered_json::parse(
      R"({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"},
          {"role": "assistant", "content": "yo"}, {"role": "user", "content": "and?"}]})");
  EXPECT_EQ(render_chat_request(fallback, req, {"<s>", "</s>"}, "req"),
            "<s>System: S\nUser: hi\nAssistant: yo\nUser: and?\nAssistant:");
  const auto ctx = chat_template_context(
      nlohmann::ordered_json::parse(R"({"messages": [], "add_generation_prompt": false,
                                        "chat_template_kwargs": {"enable_thinking": false}})"),
      {"", "E"}, "req");
  EXPECT_FALSE(ctx.contains("bos_token"));
  EXPECT_EQ(ctx["eos_token"], "E");
  EXPECT_EQ(ctx["enable_thinking"], false);
  EXPECT_EQ(ctx["add_generation_prompt"], false);
  EXPECT_THROW(chat_template_context(nlohmann::ordered_json::parse(R"({"messages": {}})"), {}, "req"), Error);
  EXPECT_THROW(chat_template_context(nlohmann::ordered_json::parse(R"({"messages": [], "tools": 1})"), {}, "req"), Error);
}

}  // namespace
}  // namespace nagi
