// Tree-walking interpreter for parsed Jinja templates, plus the built-in
// filters, tests and Python methods that chat templates call.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace nagi::jinja {

// A runtime error without position; Interpreter::render adds the line of the
// statement being executed and rethrows it as nagi::Error(kFormat).
struct RuntimeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Interpreter {
 public:
  // `globals` are the render variables; Jinja's and transformers' global
  // functions (namespace, range, raise_exception, strftime_now, ...) are added.
  explicit Interpreter(Dict globals);
  // Empties every namespace this interpreter created (see namespaces_).
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;  // built-ins capture `this`
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `body`; errors come out as nagi::Error(kFormat) naming the line.
  std::string render(const Body& body);

  Value eval(const Expr& e);
  Value call(const Value& fn, const CallArgs& args);
  Value apply_filter(const std::string& name, const Value& v, const CallArgs& args);
  bool apply_test(const std::string& name, const Value& v, const CallArgs& args);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec_body(const Body& body, std::string& out);
  Flow exec(const Node& n, std::string& out);
  void exec_for(const Node& n, std::string& out);
  void assign(const std::string& name, Value v);
  void assign_targets(const std::vector<std::string>& targets, const Value& v);
  const Value* lookup(const std::string& name) const;
  Value make_macro(const Node& n);
  Value binary_op(const std::string& op, const Value& l, const Value& r);
  Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

  std::vector<Dict> scopes_;  // [0] globals, then template, loop and macro frames
  // Every namespace() made by this render. Namespace attributes are the only
  // values a template can change after making them, so every reference
  // cycle (`{% set ns.x = ns %}`, or two namespaces holding each other)
  // runs through one; shared ownership alone would never free it. The
  // destructor empties them, which breaks every such cycle.
  std::vector<Value> namespaces_;
  int line_ = 1;
  int macro_depth_ = 0;
  uint64_t steps_ = 0;  // work done by this render (see count_step)
  void count_step(uint64_t n = 1);
};

// Built-ins (jinja_builtins.cpp). They throw RuntimeFailure on misuse.
// The items a for loop visits: list elements, dict keys, string characters.
std::vector<Value> iterate(const Value& v);
// Raises the error stored in an undefined value (attribute access, arithmetic).
[[noreturn]] void fail_undefined(const Value& v);
Value builtin_filter(Interpreter& in, const std::string& name, const Value& v, const CallArgs& args);
bool builtin_test(Interpreter& in, const std::string& name, const Value& v, const CallArgs& args);
// A bound method of a str/dict/list (`s.startswith`), or undefined.
Value builtin_method(const Value& obj, const std::string& name);
// Python-style ordering of numbers, strings and lists (<0, 0, >0).
int compare_values(const Value& a, const Value& b);

}  // namespace nagi::jinja
