// Hostile templates end in nagi::Error, never in a stack overflow, a hang or
// unbounded memory (found by fuzz/fuzz_chat_template.cpp).
#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

void expect_error(const std::string& source, const std::string& needle) {
  try {
    ChatTemplate t(source);
    (void)t.render(nlohmann::json{{"messages", nlohmann::json::array()}});
    ADD_FAILURE() << "no error for " << source.substr(0, 80);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TemplateLimits, DeepNestingIsRefused) {
  expect_error("{{ " + repeat("(", 100000) + "1" + repeat(")", 100000) + " }}", "nested deeper");
  expect_error("{{ " + repeat("not ", 100000) + "1 }}", "nested deeper");
  expect_error(repeat("{% if true %}", 5000) + repeat("{% endif %}", 5000), "nested deeper");
  expect_error("{{ 1" + repeat(" + 1", 50000) + " }}", "tag longer than");
  expect_error("{{ a" + repeat(".b", 50000) + " }}", "tag longer than");
}

TEST(TemplateLimits, RunawayWorkAndMemoryAreRefused) {
  expect_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "too expensive");
  expect_error("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
               "too large");
  expect_error("{{ ('x' * 1000000) * 1000 }}", "too large");
  expect_error("{% for i in range(40) %}{{ 'y' * 1000000 }}{% endfor %}", "too large");
  // Refused before the list is built (a fuzzer's input: building it took over 5 s).
  expect_error("{% for i in range(3615570753776021959) %}{% endfor %}", "range() too large");
  expect_error("{{ range(-9223372036854775807, 9223372036854775807, 3) | length }}", "range() too large");
  expect_error("{{ range(9223372036854775807, -9223372036854775807, -1) | length }}", "range() too large");
}

TEST(TemplateLimits, RangeMatchesPython) {
  // Lengths and ends as Python's range gives them, steps of either sign.
  const std::pair<const char*, const char*> cases[] = {
      {"{{ range(5) | join(',') }}", "0,1,2,3,4"},
      {"{{ range(2, 11, 3) | join(',') }}", "2,5,8"},
      {"{{ range(10, 0, -4) | join(',') }}", "10,6,2"},
      {"{{ range(3, 3) | length }}", "0"},
      {"{{ range(5, 1) | length }}", "0"},
      {"{{ range(1, 5, -1) | length }}", "0"},
      {"{{ range(-3, 3, 2) | join(',') }}", "-3,-1,1"},
      {"{{ range(9223372036854775806, 9223372036854775807) | join(',') }}", "9223372036854775806"},
      {"{{ range(-9223372036854775807, -9223372036854775806) | join(',') }}", "-9223372036854775807"},
      {"{{ range(2000000) | length }}", "2000000"},
  };
  for (const auto& [src, want] : cases) EXPECT_EQ(ChatTemplate(src).render(nlohmann::json::object()), want) << src;
}

TEST(TemplateLimits, RealisticTemplatesAreFine) {
  // Nesting and loops of ordinary size stay well inside the limits.
  const std::string src = repeat("{% if true %}", 30) + "{% for i in range(1000) %}{{ (((i))) }}{% endfor %}" +
                          repeat("{% endif %}", 30);
  const std::string out = ChatTemplate(src).render(nlohmann::json::object());
  EXPECT_EQ(out.substr(0, 5), "01234");
}

}  // namespace
}  // namespace nagi
