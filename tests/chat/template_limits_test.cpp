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
