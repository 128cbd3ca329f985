#include "chat/jinja_parser.h"

#include <set>

#include "chat/jinja_lexer.h"

namespace nagi::jinja {

namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body parse() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
  const Token& next() {
    // Chains (a+a+a..., x.y.y.y...) nest the tree as deep as they are long,
    // and rendering and freeing the tree recurse over that depth: no real
    // template has a tag anywhere near this long.
    if (pos_ - tag_start_ > kMaxTagTokens) fail("tag longer than " + std::to_string(kMaxTagTokens) + " tokens");
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }

  // Bounds recursion (nested parentheses, 'not not ...', nested blocks) so
  // that hostile templates fail with an error instead of overflowing the stack.
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxDepth) parser.fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    ~DepthGuard() { --parser.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Parser& parser;
  };
  static constexpr int kMaxDepth = 100;
  static constexpr size_t kMaxTagTokens = 1000;
  int depth_ = 0;
  size_t tag_start_ = 0;
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::kOp && peek(ahead).text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::kName && peek(ahead).text == name;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const std::string& what) { template_error(peek().line, what); }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kEof: return "end of template";
      case TokenType::kBlockEnd: return "end of statement block";
      case TokenType::kVarEnd: return "end of print statement";
      case TokenType::kString: return "string";
      default: return "'" + t.text + "'";
    }
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(std::string("expected '") + op + "', got " + describe(peek()));
  }
  std::string expect_name() {
    if (peek().type != TokenType::kName) fail("expected a name, got " + describe(peek()));
    return next().text;
  }
  void expect_block_end() {
    if (peek().type != TokenType::kBlockEnd) fail("expected end of statement block, got " + describe(peek()));
    next();
  }

  ExprPtr make(Expr::Type type, int line) {
    auto e = std::make_unique<Expr>();
    e->type = type;
    e->line = line;
    return e;
  }

  // Parses nodes until a block tag whose name is in `ends`; that name is
  // stored in `end` and the parser stands right after it.
  Body parse_body(const std::set<std::string>& ends, std::string& end) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      tag_start_ = pos_;
      const Token& t = peek();
      if (t.type == TokenType::kEof) {
        if (!ends.empty()) template_error(t.line, "unexpected end of template, expected '" + *ends.begin() + "'");
        return body;
      }
      if (t.type == TokenType::kText) {
        auto n = std::make_unique<Node>();
        n->type = Node::Type::kText;
        n->line = t.line;
        n->text = next().text;
        body.push_back(std::move(n));
        continue;
      }
      if (t.type == TokenType::kVarBegin) {
        next();
        auto n = std::make_unique<Node>();
        n->type = Node::Type::kOutput;
        n->line = t.line;
        n->expr = parse_tuple(true);
        if (peek().type != TokenType::kVarEnd) fail("expected end of print statement, got " + describe(peek()));
        next();
        body.push_back(std::move(n));
        continue;
      }
      if (t.type != TokenType::kBlockBegin) fail("unexpected " + describe(t));
      next();
      int line = peek().line;
      std::string name = expect_name();
      if (ends.count(name)) {
        end = name;
        return body;
      }
      body.push_back(parse_statement(name, line));
    }
  }

  NodePtr parse_statement(const std::string& name, int line) {
    auto n = std::make_unique<Node>();
    n->line = line;
    std::string end;
    if (name == "if") {
      n->type = Node::Type::kIf;
      ExprPtr cond = parse_tuple(true);
      while (true) {
        expect_block_end();
        Body b = parse_body({"elif", "else", "endif"}, end);
        n->branches.emplace_back(std::move(cond), std::move(b));
        if (end == "elif") {
          cond = parse_tuple(true);
          continue;
        }
        if (end == "else") {
          expect_block_end();
          n->else_body = parse_body({"endif"}, end);
        }
        break;
      }
    } else if (name == "for") {
      n->type = Node::Type::kFor;
      do n->targets.push_back(expect_name());
      while (accept_op(","));
      if (!accept_name("in")) fail("expected 'in' in for loop");
      n->expr = parse_tuple(false);
      if (accept_name("if")) n->cond = parse_expression(true);
      accept_name("recursive");
      expect_block_end();
      n->body = parse_body({"else", "endfor"}, end);
      if (end == "else") {
        expect_block_end();
        n->else_body = parse_body({"endfor"}, end);
      }
    } else if (name == "set") {
      std::string target = expect_name();
      if (accept_op(".")) {
        n->attr = expect_name();
      } else {
        while (accept_op(",")) n->targets.push_back(expect_name());
      }
      n->targets.insert(n->targets.begin(), target);
      if (accept_op("=")) {
        n->type = Node::Type::kSet;
        n->expr = parse_tuple(true);
      } else {
        if (!n->attr.empty() || n->targets.size() != 1) fail("expected '='");
        n->type = Node::Type::kSetBlock;
        expect_block_end();
        n->body = parse_body({"endset"}, end);
      }
    } else if (name == "macro") {
      n->type = Node::Type::kMacro;
      n->text = expect_name();
      expect_op("(");
      while (!accept_op(")")) {
        if (!n->params.empty()) expect_op(",");
        if (accept_op(")")) break;
        std::string p = expect_name();
        ExprPtr def;
        if (accept_op("=")) def = parse_expression(true);
        n->params.emplace_back(p, std::move(def));
      }
      expect_block_end();
      n->body = parse_body({"endmacro"}, end);
    } else if (name == "break" || name == "continue") {
      n->type = name == "break" ? Node::Type::kBreak : Node::Type::kContinue;
    } else if (name == "generation") {
      n->type = Node::Type::kScope;
      expect_block_end();
      n->body = parse_body({"endgeneration"}, end);
    } else {
      template_error(line, "unknown tag '" + name + "'");
    }
    // `{% endmacro name %}` may repeat the macro's name.
    if (n->type == Node::Type::kMacro && peek().type == TokenType::kName) next();
    expect_block_end();
    return n;
  }

  // Comma-separated expressions form a tuple (`{% set a, b = 1, 2 %}`).
  ExprPtr parse_tuple(bool with_condexpr) {
    int line = peek().line;
    ExprPtr first = parse_expression(with_condexpr);
    if (!is_op(",")) return first;
    auto t = make(Expr::Type::kTuple, line);
    t->items.push_back(std::move(first));
    while (accept_op(",")) {
      if (peek().type == TokenType::kBlockEnd || peek().type == TokenType::kVarEnd) break;
      t->items.push_back(parse_expression(with_condexpr));
    }
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    ExprPtr e = parse_or();
    if (!with_condexpr) return e;
    while (is_name("if")) {
      int line = next().line;
      auto c = make(Expr::Type::kCondExpr, line);
      c->items.push_back(parse_or());
      c->items.push_back(std::move(e));
      c->items.push_back(accept_name("else") ? parse_expression(true) : nullptr);
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, int line) {
    auto b = make(Expr::Type::kBinary, line);
    b->name = op;
    b->items.push_back(std::move(l));
    b->items.push_back(std::move(r));
    return b;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      int line = next().line;
      l = binary("or", std::move(l), parse_and(), line);
    }
    return l;
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      int line = next().line;
      l = binary("and", std::move(l), parse_not(), line);
    }
    return l;
  }

  ExprPtr parse_not() {
    DepthGuard guard(*this);
    if (is_name("not")) {
      int line = next().line;
      auto u = make(Expr::Type::kUnary, line);
      u->name = "not";
      u->items.push_back(parse_not());
      return u;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr l = parse_math1();
    while (true) {
      int line = peek().line;
      std::string op;
      if (peek().type == TokenType::kOp &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">="))) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        return l;
      }
      l = binary(op, std::move(l), parse_math1(), line);
    }
  }

  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      l = binary(t.text, std::move(l), parse_concat(), t.line);
    }
    return l;
  }

  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      int line = next().line;
      l = binary("~", std::move(l), parse_math2(), line);
    }
    return l;
  }

  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      l = binary(t.text, std::move(l), parse_pow(), t.line);
    }
    return l;
  }

  ExprPtr parse_pow() {
    ExprPtr l = parse_unary();
    while (is_op("**")) {
      int line = next().line;
      l = binary("**", std::move(l), parse_unary(), line);
    }
    return l;
  }

  ExprPtr parse_unary() {
    DepthGuard guard(*this);
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      auto u = make(Expr::Type::kUnary, t.line);
      u->name = t.text;
      u->items.push_back(parse_unary());
      return parse_filters(std::move(u));
    }
    return parse_filters(parse_postfix(parse_primary()));
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    int line = t.line;
    if (t.type == TokenType::kName) {
      next();
      const std::string& n = t.text;
      auto lit = make(Expr::Type::kLiteral, line);
      if (n == "true" || n == "True") lit->literal = Value(true);
      else if (n == "false" || n == "False") lit->literal = Value(false);
      else if (n == "none" || n == "None") lit->literal = Value::none();
      else {
        auto e = make(Expr::Type::kName, line);
        e->name = n;
        return e;
      }
      return lit;
    }
    if (t.type == TokenType::kString) {
      std::string s;
      while (peek().type == TokenType::kString) s += next().text;  // adjacent literals join
      auto lit = make(Expr::Type::kLiteral, line);
      lit->literal = Value(std::move(s));
      return lit;
    }
    if (t.type == TokenType::kInt || t.type == TokenType::kFloat) {
      next();
      auto lit = make(Expr::Type::kLiteral, line);
      try {
        lit->literal = t.type == TokenType::kInt ? Value(static_cast<int64_t>(std::stoll(t.text))) : Value(std::stod(t.text));
      } catch (const std::exception&) {
        template_error(line, "bad number literal '" + t.text + "'");
      }
      return lit;
    }
    if (accept_op("(")) {
      if (accept_op(")")) return make(Expr::Type::kTuple, line);
      ExprPtr e = parse_expression(true);
      if (is_op(",")) {
        auto tup = make(Expr::Type::kTuple, line);
        tup->items.push_back(std::move(e));
        while (accept_op(",")) {
          if (is_op(")")) break;
          tup->items.push_back(parse_expression(true));
        }
        e = std::move(tup);
      }
      expect_op(")");
      return e;
    }
    if (accept_op("[")) {
      auto l = make(Expr::Type::kList, line);
      while (!accept_op("]")) {
        if (!l->items.empty()) expect_op(",");
        if (accept_op("]")) break;
        l->items.push_back(parse_expression(true));
      }
      return l;
    }
    if (accept_op("{")) {
      auto d = make(Expr::Type::kDict, line);
      while (!accept_op("}")) {
        if (!d->items.empty()) expect_op(",");
        if (accept_op("}")) break;
        d->items.push_back(parse_expression(true));
        expect_op(":");
        d->items.push_back(parse_expression(true));
      }
      return d;
    }
    fail("unexpected " + describe(t));
  }

  void parse_call_args(Expr& call) {
    // The caller consumed "(".
    int count = 0;
    while (!accept_op(")")) {
      if (count++ > 0) {
        expect_op(",");
        if (accept_op(")")) break;
      }
      if (peek().type == TokenType::kName && is_op("=", 1)) {
        std::string k = next().text;
        next();
        call.kwargs.emplace_back(k, parse_expression(true));
      } else {
        if (!call.kwargs.empty()) fail("positional argument follows keyword argument");
        call.items.push_back(parse_expression(true));
      }
    }
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      int line = peek().line;
      if (accept_op(".")) {
        auto g = make(Expr::Type::kGetAttr, line);
        if (peek().type == TokenType::kInt) g->name = next().text;  // foo.0
        else g->name = expect_name();
        g->items.push_back(std::move(e));
        e = std::move(g);
      } else if (accept_op("[")) {
        ExprPtr parts[3];
        bool slice = false;
        for (int i = 0; i < 3; ++i) {
          if (!is_op(":") && !is_op("]")) parts[i] = parse_expression(true);
          if (i < 2 && accept_op(":")) {
            slice = true;
            continue;
          }
          break;
        }
        expect_op("]");
        auto g = make(slice ? Expr::Type::kSlice : Expr::Type::kGetItem, line);
        g->items.push_back(std::move(e));
        if (!slice && !parts[0]) template_error(line, "empty subscript");
        g->items.push_back(std::move(parts[0]));
        if (slice) {
          g->items.push_back(std::move(parts[1]));
          g->items.push_back(std::move(parts[2]));
        }
        e = std::move(g);
      } else if (accept_op("(")) {
        auto c = make(Expr::Type::kCall, line);
        c->items.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filters(ExprPtr e) {
    while (true) {
      int line = peek().line;
      if (accept_op("|")) {
        auto f = make(Expr::Type::kFilter, line);
        f->name = expect_name();
        while (accept_op(".")) f->name += "." + expect_name();
        f->items.push_back(std::move(e));
        if (accept_op("(")) parse_call_args(*f);
        e = parse_postfix(std::move(f));
      } else if (is_name("is")) {
        next();
        auto t = make(Expr::Type::kTest, line);
        t->negated = accept_name("not");
        t->name = expect_name();
        t->items.push_back(std::move(e));
        if (accept_op("(")) {
          parse_call_args(*t);
        } else if (peek().type == TokenType::kString || peek().type == TokenType::kInt ||
                   peek().type == TokenType::kFloat || is_op("[") || is_op("{") ||
                   (peek().type == TokenType::kName && !is_name("and") && !is_name("or") && !is_name("else") &&
                    !is_name("if") && !is_name("is") && !is_name("in") && !is_name("not"))) {
          // One argument without parentheses: `x is divisibleby 3`.
          t->items.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
};

}  // namespace

Body parse_template(std::string_view source) { return Parser(tokenize(source)).parse(); }

}  // namespace nagi::jinja
