// Jinja lexer: splits a template into text and tag tokens, applying the
// whitespace rules of transformers' environment (trim_blocks=True,
// lstrip_blocks=True) and the '-' / '+' markers on tags.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nagi::jinja {

enum class TokenType { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
  TokenType type;
  std::string text;  // text, name, decoded string literal, number or operator
  int line;
};

// Throws nagi::Error(kFormat) naming the line for unterminated tags/strings.
std::vector<Token> tokenize(std::string_view source);

// Every template error goes through here so that messages share one shape:
// "chat template, line N: <what>".
[[noreturn]] void template_error(int line, const std::string& what);

}  // namespace nagi::jinja
