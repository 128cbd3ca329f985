#include "chat/jinja_lexer.h"

#include <algorithm>
#include <cctype>

#include "nagi/error.hpp"

namespace nagi::jinja {

void template_error(int line, const std::string& what) {
  throw Error(ErrorCode::kFormat, "chat template, line " + std::to_string(line) + ": " + what);
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool strip_next = false;  // previous tag ended with '-'
    bool trim_next = false;   // previous block/comment tag: trim_blocks eats one newline
    while (pos <= src_.size()) {
      size_t tag = find_tag(pos);
      size_t text_begin = pos;
      size_t text_end = tag == std::string_view::npos ? src_.size() : tag;
      if (strip_next) {
        while (text_begin < text_end && is_space(src_[text_begin])) ++text_begin;
      } else if (trim_next) {
        if (src_.compare(text_begin, 1, "\n") == 0) ++text_begin;
        else if (src_.compare(text_begin, 2, "\r\n") == 0) text_begin += 2;
      }
      count_lines(pos, text_begin);
      if (tag == std::string_view::npos) {
        emit_text(text_begin, text_end);
        break;
      }
      char kind = src_[tag + 1];
      char mod = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (mod == '-') {
        while (text_end > text_begin && is_space(src_[text_end - 1])) --text_end;
      } else if (kind != '{' && mod != '+') {
        // lstrip_blocks: spaces and tabs between a line start and a block or
        // comment tag go away.
        size_t ls = src_.rfind('\n', text_end == 0 ? 0 : text_end - 1);
        size_t cand = std::string_view::npos;
        if (ls != std::string_view::npos && ls >= text_begin && ls < text_end) cand = ls + 1;
        else if (text_begin == 0 || src_[text_begin - 1] == '\n') cand = text_begin;
        if (cand != std::string_view::npos &&
            std::all_of(src_.begin() + cand, src_.begin() + text_end, [](char c) { return c == ' ' || c == '\t'; }))
          text_end = cand;
      }
      emit_text(text_begin, text_end);
      count_lines(text_begin, tag);
      pos = tag + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
      if (kind == '#') {
        size_t end = src_.find("#}", pos);
        if (end == std::string_view::npos) template_error(line_, "unterminated comment");
        strip_next = end > pos && src_[end - 1] == '-';
        trim_next = !strip_next && !(end > pos && src_[end - 1] == '+');
        count_lines(pos, end + 2);
        pos = end + 2;
        continue;
      }
      if (kind == '%') {
        size_t after = try_raw(pos, strip_next, trim_next);
        if (after != std::string_view::npos) {
          pos = after;
          continue;
        }
      }
      pos = lex_tag(pos, kind == '{', strip_next, trim_next);
    }
    tokens_.push_back({TokenType::kEof, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    while (true) {
      size_t p = src_.find('{', from);
      if (p == std::string_view::npos || p + 1 >= src_.size()) return std::string_view::npos;
      char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') return p;
      from = p + 1;
    }
  }

  void count_lines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < src_.size(); ++i)
      if (src_[i] == '\n') ++line_;
  }

  void emit_text(size_t b, size_t e) {
    if (e > b) tokens_.push_back({TokenType::kText, std::string(src_.substr(b, e - b)), line_});
  }

  // {% raw %}...{% endraw %}: the body is text, never parsed.
  // Returns the position after {% endraw %}, or npos when this is not raw.
  size_t try_raw(size_t pos, bool& strip_next, bool& trim_next) {
    size_t p = pos;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && is_name_char(src_[p + 3])))
      return std::string_view::npos;
    p += 3;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (p < src_.size() && src_[p] == '-') ++p;
    if (src_.compare(p, 2, "%}") != 0) return std::string_view::npos;
    size_t body = p + 2;
    if (src_[p - 1] == '-') {
      while (body < src_.size() && is_space(src_[body])) ++body;
    } else if (src_.compare(body, 1, "\n") == 0) {
      ++body;
    }
    size_t search = body;
    while (true) {
      size_t t = src_.find("{%", search);
      if (t == std::string_view::npos) template_error(line_, "missing endraw");
      size_t q = t + 2;
      bool lstrip = q < src_.size() && src_[q] == '-';
      if (lstrip) ++q;
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") == 0) {
        q += 6;
        while (q < src_.size() && is_space(src_[q])) ++q;
        bool rstrip = q < src_.size() && src_[q] == '-';
        if (rstrip) ++q;
        if (src_.compare(q, 2, "%}") != 0) template_error(line_, "malformed endraw");
        size_t end = t;
        if (lstrip)
          while (end > body && is_space(src_[end - 1])) --end;
        count_lines(pos, body);
        emit_text(body, end);
        count_lines(body, q + 2);
        strip_next = rstrip;
        trim_next = !rstrip;
        return q + 2;
      }
      search = t + 2;
    }
  }

  size_t lex_tag(size_t pos, bool is_var, bool& strip_next, bool& trim_next) {
    tokens_.push_back({is_var ? TokenType::kVarBegin : TokenType::kBlockBegin, "", line_});
    const char* close = is_var ? "}}" : "%}";
    size_t p = pos;
    while (true) {
      while (p < src_.size() && is_space(src_[p])) {
        if (src_[p] == '\n') ++line_;
        ++p;
      }
      if (p >= src_.size()) template_error(line_, std::string("unterminated tag, expected '") + close + "'");
      if ((src_[p] == '-' || src_[p] == '+') && src_.compare(p + 1, 2, close) == 0) {
        strip_next = src_[p] == '-';
        trim_next = !is_var && src_[p] != '+' && !strip_next;
        tokens_.push_back({is_var ? TokenType::kVarEnd : TokenType::kBlockEnd, "", line_});
        return p + 3;
      }
      if (src_.compare(p, 2, close) == 0) {
        strip_next = false;
        trim_next = !is_var;
        tokens_.push_back({is_var ? TokenType::kVarEnd : TokenType::kBlockEnd, "", line_});
        return p + 2;
      }
      p = lex_token(p);
    }
  }

  size_t lex_token(size_t p) {
    char c = src_[p];
    if (is_name_start(c)) {
      size_t e = p;
      while (e < src_.size() && is_name_char(src_[e])) ++e;
      tokens_.push_back({TokenType::kName, std::string(src_.substr(p, e - p)), line_});
      return e;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t e = p;
      bool is_float = false;
      while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
      if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
        is_float = true;
        ++e;
        while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) ++e;
      }
      if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
        size_t q = e + 1;
        if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
        if (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
          is_float = true;
          e = q;
          while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) ++e;
        }
      }
      std::string num;
      for (size_t i = p; i < e; ++i)
        if (src_[i] != '_') num += src_[i];
      tokens_.push_back({is_float ? TokenType::kFloat : TokenType::kInt, num, line_});
      return e;
    }
    if (c == '\'' || c == '"') return lex_string(p);
    static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                       "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "?"};
    for (const char* op : kOps) {
      size_t n = std::char_traits<char>::length(op);
      if (src_.compare(p, n, op) == 0) {
        tokens_.push_back({TokenType::kOp, op, line_});
        return p + n;
      }
    }
    template_error(line_, std::string("unexpected character '") + c + "'");
  }

  size_t lex_string(size_t p) {
    char q = src_[p];
    int start_line = line_;
    std::string out;
    size_t i = p + 1;
    while (true) {
      if (i >= src_.size()) template_error(start_line, "unterminated string literal");
      char c = src_[i];
      if (c == q) break;
      if (c == '\n') ++line_;
      if (c == '\\' && i + 1 < src_.size()) {
        char e = src_[i + 1];
        i += 2;
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '\\': out += '\\'; break;
          case '\'': out += '\''; break;
          case '"': out += '"'; break;
          case '\n': ++line_; break;  // line continuation
          default: out += '\\'; out += e;  // Python keeps unknown escapes verbatim
        }
        continue;
      }
      out += c;
      ++i;
    }
    tokens_.push_back({TokenType::kString, std::move(out), start_line});
    return i + 1;
  }

 private:
  std::string_view src_;
  std::vector<Token> tokens_;
  int line_ = 1;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace nagi::jinja
