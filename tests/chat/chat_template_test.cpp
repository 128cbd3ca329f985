#include "chat/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chat/jinja_lexer.h"
#include "nagi/error.hpp"
#include "test_support.h"

namespace nagi {
namespace {

using ojson = nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Renders `src` with `ctx` (a JSON object literal).
std::string render(const std::string& src, const std::string& ctx = "{}") {
  return ChatTemplate(src).render(ojson::parse(ctx));
}

// The message of the nagi::Error that rendering throws ("" if none).
std::string render_error(const std::string& src, const std::string& ctx = "{}") {
  try {
    render(src, ctx);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFormat);
    return e.what();
  }
  return "";
}

// ---- Reference fixtures: transformers' renderings, byte for byte. ----

class TemplateFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(TemplateFixture, MatchesTransformers) {
  const std::string dir = test::shared_path("templates/" + GetParam());
  if (!std::filesystem::exists(dir + "/cases.jsonl")) GTEST_SKIP() << "no fixtures at " << dir;
  ChatTemplate tmpl(read_file(dir + "/chat_template.jinja"));
  ojson vars = ojson::parse(read_file(dir + "/template_vars.json"));
  std::ifstream cases(dir + "/cases.jsonl");
  std::string line;
  int total = 0, passed = 0;
  while (std::getline(cases, line)) {
    if (line.empty()) continue;
    ojson c = ojson::parse(line);
    ++total;
    // Same variables, in the same order, as the reference render() call.
    ojson ctx = ojson::object();
    ctx["messages"] = c["messages"];
    ctx["tools"] = c["tools"];
    ctx["documents"] = nullptr;
    ctx["add_generation_prompt"] = c["add_generation_prompt"];
    for (const auto& [k, v] : vars.items()) ctx[k] = v;
    for (const auto& [k, v] : c["extra"].items()) ctx[k] = v;
    const std::string name = c["name"].get<std::string>();
    if (c.value("error", false)) {
      try {
        std::string out = tmpl.render(ctx);
        ADD_FAILURE() << name << ": expected an error, got:\n" << out;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kFormat) << name;
        std::string want = c["error_message"].get<std::string>();
        want = want.substr(want.find(": ") + 2);  // drop the Python exception class
        EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << name << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << name << ": " << e.what();
        ++passed;
      }
      continue;
    }
    try {
      std::string out = tmpl.render(ctx);
      EXPECT_EQ(out, c["expected"].get<std::string>()) << name;
      if (out == c["expected"].get<std::string>()) ++passed;
    } catch (const Error& e) {
      ADD_FAILURE() << name << ": " << e.what();
    }
  }
  EXPECT_GT(total, 0);
  std::cout << GetParam() << ": " << passed << "/" << total << " cases identical\n";
}

INSTANTIATE_TEST_SUITE_P(Chat, TemplateFixture, ::testing::Values("qwen3", "llama3", "gemma3"));

// ---- Whitespace control ----

TEST(JinjaWhitespace, DashStripsBothSides) {
  EXPECT_EQ(render("a  {{- 'x' -}}  b"), "axb");
  EXPECT_EQ(render("a\n  {%- if true -%}\n  x\n  {%- endif -%}\n  b"), "axb");
  EXPECT_EQ(render("a {#- note -#} b"), "ab");
}

TEST(JinjaWhitespace, TrimBlocksEatsOneNewline) {
  EXPECT_EQ(render("{% if true %}\nx\n{% endif %}\ny"), "x\ny");
  EXPECT_EQ(render("{# c #}\nz"), "z");
  // Expression tags keep their newline.
  EXPECT_EQ(render("{{ 'a' }}\nb"), "a\nb");
  // '+' turns trim_blocks off for that tag.
  EXPECT_EQ(render("{% if true +%}\nx{% endif %}"), "\nx");
}

TEST(JinjaWhitespace, LstripBlocksOnlyAtLineStart) {
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\n"), "  x\n");
  EXPECT_EQ(render("a  {% if true %}b{% endif %}"), "a  b");
  EXPECT_EQ(render("  {{ 'v' }}"), "  v");
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
}

TEST(JinjaWhitespace, RawBlock) { EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}"); }

// ---- Lexer ----

TEST(JinjaLexer, TokenizesTagsAndLiterals) {
  auto toks = jinja::tokenize("x{{ a.b|f(1, 2.5, 'q\\n') }}");
  ASSERT_GE(toks.size(), 4u);
  EXPECT_EQ(toks[0].type, jinja::TokenType::kText);
  EXPECT_EQ(toks[1].type, jinja::TokenType::kVarBegin);
  bool saw_float = false, saw_str = false;
  for (const auto& t : toks) {
    saw_float |= t.type == jinja::TokenType::kFloat && t.text == "2.5";
    saw_str |= t.type == jinja::TokenType::kString && t.text == "q\n";
  }
  EXPECT_TRUE(saw_float);
  EXPECT_TRUE(saw_str);
  EXPECT_EQ(toks.back().type, jinja::TokenType::kEof);
}

TEST(JinjaLexer, StringsMayContainTagEnds) { EXPECT_EQ(render("{{ '}}' ~ \"%}\" }}"), "}}%}"); }

// ---- Loops ----

TEST(JinjaLoop, LoopVariables) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                   "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
                   R"({"xs": ["a", "b"]})"),
            "102TrueFalse2;211FalseTrue2;");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.previtem }}-{{ loop.nextitem }} {% endfor %}", R"({"xs": [1, 2, 3]})"),
            "-2 1-3 2- ");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.cycle('a', 'b') }}{% endfor %}", R"({"xs": [1, 2, 3]})"), "aba");
}

TEST(JinjaLoop, ElseFilterAndUnpacking) {
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}"), "2242");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", R"({"d": {"b": 1, "a": 2}})"),
            "b=1,a=2,");
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}", R"({"d": {"z": 1, "y": 2}})"), "zy");
}

TEST(JinjaLoop, BreakContinueAndScoping) {
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}"
                   "{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}"),
            "02");
  // `set` inside a loop does not leak out; namespaces carry state across.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% endfor %}"
                   "{{ ns.n }}"),
            "6");
}

// A namespace holding itself, or two holding each other, is a reference
// cycle: the interpreter frees them when it ends (the ASan build's leak
// checker fails this test otherwise; found by fuzz_chat_template).
TEST(JinjaLoop, NamespaceCyclesAreFreed) {
  EXPECT_EQ(render("{% set ns = namespace(x=0) %}{% for i in range(3) %}{% set ns.x = ns %}{% endfor %}"
                   "{{ ns.x.x.x is defined }}"),
            "True");
  EXPECT_EQ(render("{% set a = namespace() %}{% set b = namespace(a=a) %}{% set a.b = [b] %}{{ a.b[0].a is defined }}"),
            "True");
}

// ---- Expressions ----

TEST(JinjaExpr, OperatorsAndPrecedence) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}"),
            "7 3 -4 1 2 3.5 1024");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none }} {{ 'ab' * 2 }} {{ [1] + [2] }}"), "a1None abab [1, 2]");
  EXPECT_EQ(render("{{ xs|length - 1 }}", R"({"xs": [1, 2, 3]})"), "2");
  EXPECT_EQ(render("{{ not true or 1 < 2 and 'a' in 'cat' }}"), "True");
  EXPECT_EQ(render("{{ 3 not in [1, 2] }} {{ 1 == 1.0 }} {{ 'x' != 'y' }}"), "True True True");
  EXPECT_EQ(render("{{ 'y' if false else 'n' }}{{ 'only' if false }}"), "n");
  EXPECT_EQ(render("{{ 0 or 'fallback' }} {{ 'a' and 'b' }}"), "fallback b");
}

TEST(JinjaExpr, SubscriptsAndSlices) {
  const char* ctx = R"({"xs": [1, 2, 3, 4], "s": "héllo"})";
  EXPECT_EQ(render("{{ xs[::-1] }} {{ xs[1:] }} {{ xs[-1] }} {{ xs[1:3] }} {{ xs[::2] }}", ctx),
            "[4, 3, 2, 1] [2, 3, 4] 4 [2, 3] [1, 3]");
  EXPECT_EQ(render("{{ s[1] }} {{ s[::-1] }} {{ s[:2] }}", ctx), "é olléh hé");
  EXPECT_EQ(render("{{ xs[10] is defined }}", ctx), "False");
}

TEST(JinjaExpr, AttributesFallBackToKeys) {
  const char* ctx = R"({"m": {"role": "user", "items": 5}})";
  EXPECT_EQ(render("{{ m.role }} {{ m['role'] }} {{ m.missing is defined }} {{ m['items'] }}", ctx),
            "user user False 5");
  EXPECT_EQ(render("{{ m.get('role') }} {{ m.get('x', 'd') }} {{ m.keys()|list }}", ctx),
            "user d ['role', 'items']");
}

TEST(JinjaExpr, LiteralsAndPythonStr) {
  EXPECT_EQ(render("{{ [1, 'a', none, true, 2.5] }}"), "[1, 'a', None, True, 2.5]");
  EXPECT_EQ(render("{{ {'a': 1, 'b': [1]} }}"), "{'a': 1, 'b': [1]}");
  EXPECT_EQ(render("{{ (1, 2) }} {{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }}"), "[1, 2] 1.0 1e+20 0.30000000000000004");
}

TEST(JinjaExpr, StringMethods) {
  EXPECT_EQ(render("{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\nz'.lstrip('\\n') }}|{{ 'z\\n'.rstrip() }}"),
            "a b|a|z|z");
  EXPECT_EQ(render("{{ 'a<b>c'.split('>')[-1] }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }}"),
            "c ['a', 'b'] ['a', 'b,c']");
  EXPECT_EQ(render("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'aXa'.replace('a', 'b') }}"),
            "True True bXb");
  EXPECT_EQ(render("{{ 'hello world'.title() }} {{ 'ABC'.lower() }} {{ 'abc'.upper() }} {{ '{}-{x}'.format(1, x=2) }}"),
            "Hello World abc ABC 1-2");
}

// ---- Filters and tests ----

TEST(JinjaFilter, Common) {
  EXPECT_EQ(render("{{ '  x  '|trim }}|{{ none|trim }}|{{ 'ab'|upper }}|{{ 'hello'|capitalize }}"), "x|None|AB|Hello");
  EXPECT_EQ(render("{{ [1,2,3]|join(',') }} {{ [3,1]|first }} {{ [3,1]|last }} {{ 'abc'|length }}"), "1,2,3 3 1 3");
  EXPECT_EQ(render("{{ x|default('d') }} {{ ''|d('e', true) }} {{ 'v'|default('d') }}"), "d e v");
  // Filters bind tighter than unary minus: -3|abs is -(3|abs).
  EXPECT_EQ(render("{{ '3'|int + 1 }} {{ '2.5'|float }} {{ (-3)|abs }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 2.5|round }}"),
            "4 2.5 3 -3 2.57 2.0");
  EXPECT_EQ(render("{{ '<a>'|escape }} {{ 'x'|safe }} {{ 42|string ~ '!' }} {{ 'ab'|list }}"), "&lt;a&gt; x 42! ['a', 'b']");
}

TEST(JinjaFilter, SelectMapItems) {
  const char* ctx = R"({"ms": [{"role": "user", "n": 1}, {"role": "tool", "n": 2}, {"role": "user", "n": 3}]})";
  EXPECT_EQ(render("{{ ms|selectattr('role', 'equalto', 'user')|map(attribute='n')|list }}", ctx), "[1, 3]");
  EXPECT_EQ(render("{{ ms|rejectattr('role', '==', 'user')|map(attribute='n')|join }}", ctx), "2");
  EXPECT_EQ(render("{{ ['a','b']|map('upper')|join }} {{ {'k': 1}|items|list }}", ctx), "AB [['k', 1]]");
}

TEST(JinjaFilter, ToJsonMatchesPythonDumps) {
  EXPECT_EQ(render("{{ v|tojson }}", R"({"v": {"b": [1, 2.5, 1e-06, 1e16, true, null, "é\"\n"], "a": {}}})"),
            R"({"b": [1, 2.5, 1e-06, 1e+16, true, null, "é\"\n"], "a": {}})");
  EXPECT_EQ(render("{{ v|tojson(sort_keys=true) }}", R"({"v": [{"b": 1, "a": {"d": 0, "c": 1}}]})"),
            R"([{"a": {"c": 1, "d": 0}, "b": 1}])");
  EXPECT_EQ(render("{{ v|tojson(indent=2) }}", R"({"v": {"a": [1]}})"), "{\n  \"a\": [\n    1\n  ]\n}");
}

TEST(JinjaTest, Tests) {
  EXPECT_EQ(render("{{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 's' is string }}{{ {} is mapping }}"),
            "FalseTrueTrueTrueTrue");
  EXPECT_EQ(render("{{ [] is iterable }}{{ 1 is iterable }}{{ 1 is number }}{{ true is boolean }}{{ false is false }}"),
            "TrueFalseTrueTrueTrue");
  EXPECT_EQ(render("{{ 3 is odd }}{{ 4 is divisibleby 2 }}{{ 1 is equalto 1 }}{{ 2 is in [1, 2] }}{{ x is not none }}"),
            "TrueTrueTrueTrueTrue");
}

// ---- Statements ----

TEST(JinjaStatement, IfElifElseAndSet) {
  const char* src = "{% for n in [1,2,3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}";
  EXPECT_EQ(render(src), "one two many ");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
  EXPECT_EQ(render("{% set block %}x{{ 1 }}{% endset %}[{{ block }}]"), "[x1]");
}

TEST(JinjaStatement, Macros) {
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                   "{{ greet('a') }} {{ greet('b', punct='?') }}"),
            "Hi a! Hi b?");
}

TEST(JinjaStatement, Undefined) {
  EXPECT_EQ(render("[{{ nothing }}]{% if nothing %}x{% endif %}{% for i in nothing %}y{% endfor %}"), "[]");
  EXPECT_EQ(render("{{ messages[0] is defined }}", R"({"messages": []})"), "False");
}

// ---- Errors carry the template line ----

TEST(JinjaError, SyntaxErrorsNameTheLine) {
  EXPECT_NE(render_error("ok\n{% if x %}\nno end").find("line 3"), std::string::npos);
  EXPECT_NE(render_error("a\n\n{{ 1 + }}").find("line 3"), std::string::npos);
  EXPECT_NE(render_error("{% frobnicate %}").find("unknown tag"), std::string::npos);
  EXPECT_NE(render_error("{{ 'abc }}").find("unterminated string"), std::string::npos);
}

TEST(JinjaError, RuntimeErrorsNameTheLine) {
  std::string e = render_error("line1\n{{ raise_exception('boom') }}");
  EXPECT_NE(e.find("boom"), std::string::npos) << e;
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
  EXPECT_NE(render_error("\n\n{{ messages[0].role }}", R"({"messages": []})").find("line 3"), std::string::npos);
  EXPECT_NE(render_error("{{ x.y }}").find("'x' is undefined"), std::string::npos);
  EXPECT_NE(render_error("{{ n.startswith('a') }}", R"({"n": null})").find("line 1"), std::string::npos);
  EXPECT_NE(render_error("{{ 'a' + 1 }}").find("concatenate"), std::string::npos);
  EXPECT_NE(render_error("{{ 1|nofilter }}").find("No filter named"), std::string::npos);
  EXPECT_NE(render_error("{% set x = 1 %}{% set x.a = 2 %}").find("namespace"), std::string::npos);
}

TEST(JinjaError, IntegerOverflowIsAnErrorNotWraparound) {
  EXPECT_NE(render_error("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
  EXPECT_NE(render_error("{{ 2 ** 64 }}").find("overflow"), std::string::npos);
}

TEST(JinjaError, EmptyConversationRaisesInReferenceTemplates) {
  // As in Python: messages[0] is undefined, and reading .role of it raises.
  for (const char* name : {"qwen3", "gemma3"}) {
    const std::string path = test::shared_path(std::string("templates/") + name + "/chat_template.jinja");
    if (!std::filesystem::exists(path)) GTEST_SKIP();
    ChatTemplate t(read_file(path));
    try {
      t.render(ojson::parse(R"({"messages": [], "tools": null, "add_generation_prompt": true})"));
      ADD_FAILURE() << name << " rendered an empty conversation";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << e.what();
    }
  }
}

TEST(JinjaStatement, GenerationTagRendersBody) {
  EXPECT_EQ(render("{% generation %}a{{ 1 }}{% endgeneration %}"), "a1");
}

TEST(JinjaGlobals, StrftimeNowAndContextOrder) {
  EXPECT_EQ(render("{{ strftime_now('%Y')|length }}"), "4");
  // The plain nlohmann::json overload works too (keys come out sorted).
  EXPECT_EQ(ChatTemplate("{{ d|tojson }}").render(nlohmann::json::parse(R"({"d": {"b": 1, "a": 2}})")),
            R"({"a": 2, "b": 1})");
}

}  // namespace
}  // namespace nagi
