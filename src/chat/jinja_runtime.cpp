#include "chat/jinja_runtime.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>

#include "chat/jinja_lexer.h"
#include "nagi/error.hpp"

namespace nagi::jinja {

namespace {

// Rendering limits: a prompt is kilobytes, so these only stop hostile
// templates (doubling strings in a loop, nested huge loops) from exhausting
// memory or time; real templates stay far below them.
constexpr size_t kMaxValueSize = size_t{32} << 20;  // bytes of a string, items of a list
constexpr uint64_t kMaxSteps = 2'000'000;           // statements + expressions evaluated per render

void check_size(size_t a, size_t b) {
  if (a > kMaxValueSize || b > kMaxValueSize - a) throw RuntimeFailure("value too large (over 32 MiB)");
}


std::string undefined_name_msg(const std::string& name) { return "'" + name + "' is undefined"; }

[[noreturn]] void type_error(const std::string& op, const Value& l, const Value& r) {
  throw RuntimeFailure("unsupported operand type(s) for " + op + ": '" + l.type_name() + "' and '" + r.type_name() +
                       "'");
}

// Python ints are unbounded; ours are 64-bit, so say so instead of wrapping.
Value overflow() { throw RuntimeFailure("integer overflow"); }

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Interpreter::Interpreter(Dict globals) {
  auto set_default = [&](const std::string& name, Value v) {
    if (!globals.find(name)) globals.set(name, std::move(v));
  };
  set_default("namespace", Value::callable([this](const CallArgs& a) {
    Dict d;
    for (const auto& arg : a.args) {
      if (!arg.is_dict()) throw RuntimeFailure("namespace() positional arguments must be dicts");
      for (const auto& [k, v] : arg.as_dict().items()) d.set(k, v);
    }
    for (const auto& [k, v] : a.kwargs) d.set(k, v);
    namespaces_.push_back(Value::make_namespace(std::move(d)));
    return namespaces_.back();
  }));
  set_default("dict", Value::callable([](const CallArgs& a) {
    Dict d;
    for (const auto& [k, v] : a.kwargs) d.set(k, v);
    return Value::dict(std::move(d));
  }));
  set_default("range", Value::callable([](const CallArgs& a) {
    int64_t start = 0, stop = 0, step = 1;
    for (const auto& v : a.args)
      if (!v.is_int() && !v.is_bool()) throw RuntimeFailure("range() arguments must be integers");
    if (a.args.size() == 1) stop = a.args[0].as_int();
    else if (a.args.size() >= 2) start = a.args[0].as_int(), stop = a.args[1].as_int();
    if (a.args.size() >= 3) step = a.args[2].as_int();
    if (a.args.empty() || a.args.size() > 3) throw RuntimeFailure("range() expects 1 to 3 arguments");
    if (step == 0) throw RuntimeFailure("range() arg 3 must not be zero");
    // The length first, in unsigned arithmetic (no overflow for any
    // int64 bounds): a range is a list built at once, and a render can take
    // at most kMaxSteps steps, so a longer one could never be walked; it is
    // refused before a byte is allocated (building 10 million items took
    // over 5 s under ASan, a fuzzer's timeout).
    uint64_t count = 0;
    if (step > 0 && start < stop) {
      count = (uint64_t(stop) - uint64_t(start) - 1) / uint64_t(step) + 1;
    } else if (step < 0 && start > stop) {
      count = (uint64_t(start) - uint64_t(stop) - 1) / (uint64_t(0) - uint64_t(step)) + 1;
    }
    if (count > kMaxSteps) throw RuntimeFailure("range() too large (over 2 million items)");
    std::vector<Value> out;
    out.reserve(size_t(count));
    int64_t i = start;
    for (uint64_t k = 0; k < count; ++k, i = int64_t(uint64_t(i) + uint64_t(step))) out.emplace_back(i);
    return Value::list(std::move(out));
  }));
  set_default("raise_exception", Value::callable([](const CallArgs& a) -> Value {
    throw RuntimeFailure(a.args.empty() ? std::string("raise_exception() called") : a.args[0].str());
  }));
  set_default("strftime_now", Value::callable([](const CallArgs& a) {
    std::string fmt = a.args.empty() ? std::string() : a.args[0].str();
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[256];
    size_t n = std::strftime(buf, sizeof(buf), fmt.c_str(), &tm);
    return Value(std::string(buf, n));
  }));
  scopes_.push_back(std::move(globals));
}

Interpreter::~Interpreter() {
  for (Value& ns : namespaces_) ns.mutable_dict().clear();
}

std::string Interpreter::render(const Body& body) {
  std::string out;
  scopes_.resize(1);
  scopes_.emplace_back();  // template-level `set`s live here
  try {
    exec_body(body, out);
  } catch (const RuntimeFailure& e) {
    template_error(line_, e.what());
  }
  return out;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, std::string& out) {
  for (const auto& n : body) {
    Flow f = exec(*n, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Node& n, std::string& out) {
  line_ = n.line;
  count_step();
  if (out.size() > kMaxValueSize) throw RuntimeFailure("output too large (over 32 MiB)");
  switch (n.type) {
    case Node::Type::kText: out += n.text; break;
    case Node::Type::kOutput: out += eval(*n.expr).str(); break;
    case Node::Type::kIf:
      for (const auto& [cond, body] : n.branches) {
        line_ = cond->line;
        if (eval(*cond).truthy()) return exec_body(body, out);
      }
      return exec_body(n.else_body, out);
    case Node::Type::kFor: exec_for(n, out); break;
    case Node::Type::kSet: {
      Value v = eval(*n.expr);
      if (!n.attr.empty()) {
        const Value* found = lookup(n.targets[0]);
        if (!found || !found->is_namespace()) throw RuntimeFailure("cannot assign attribute on non-namespace object");
        Value ns = *found;  // shares the namespace's storage
        ns.mutable_dict().set(n.attr, std::move(v));
      } else {
        assign_targets(n.targets, v);
      }
      break;
    }
    case Node::Type::kSetBlock: {
      std::string captured;
      exec_body(n.body, captured);
      assign(n.targets[0], Value(std::move(captured)));
      break;
    }
    case Node::Type::kMacro: assign(n.text, make_macro(n)); break;
    case Node::Type::kBreak: return Flow::kBreak;
    case Node::Type::kContinue: return Flow::kContinue;
    case Node::Type::kScope: return exec_body(n.body, out);
  }
  return Flow::kNormal;
}

void Interpreter::exec_for(const Node& n, std::string& out) {
  std::vector<Value> items = iterate(eval(*n.expr));
  if (n.cond) {
    // `for x in xs if cond` filters before the loop runs, so loop.length and
    // loop.last count only the kept items.
    std::vector<Value> kept;
    for (auto& item : items) {
      count_step();
      scopes_.emplace_back();
      assign_targets(n.targets, item);
      bool keep = eval(*n.cond).truthy();
      scopes_.pop_back();
      if (keep) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  const size_t len = items.size();
  for (size_t i = 0; i < len; ++i) {
    count_step(8);  // building `loop` costs about as much as eight small evaluations
    Dict loop;
    const auto idx = static_cast<int64_t>(i);
    const auto n_items = static_cast<int64_t>(len);
    loop.set("index", Value(idx + 1));
    loop.set("index0", Value(idx));
    loop.set("revindex", Value(n_items - idx));
    loop.set("revindex0", Value(n_items - idx - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i + 1 == len));
    loop.set("length", Value(n_items));
    loop.set("depth", Value(1));
    loop.set("depth0", Value(0));
    if (i > 0) loop.set("previtem", items[i - 1]);
    if (i + 1 < len) loop.set("nextitem", items[i + 1]);
    loop.set("cycle", Value::callable([i](const CallArgs& a) {
      if (a.args.empty()) throw RuntimeFailure("no items for cycling given");
      return a.args[i % a.args.size()];
    }));
    scopes_.emplace_back();
    scopes_.back().set("loop", Value::dict(std::move(loop)));
    assign_targets(n.targets, items[i]);
    Flow f = exec_body(n.body, out);
    scopes_.pop_back();
    if (f == Flow::kBreak) break;
  }
  if (len == 0) exec_body(n.else_body, out);
}

void Interpreter::assign(const std::string& name, Value v) { scopes_.back().set(name, std::move(v)); }

void Interpreter::assign_targets(const std::vector<std::string>& targets, const Value& v) {
  if (targets.size() == 1) {
    assign(targets[0], v);
    return;
  }
  std::vector<Value> parts = iterate(v);
  if (parts.size() != targets.size())
    throw RuntimeFailure(parts.size() > targets.size() ? "too many values to unpack" : "not enough values to unpack");
  for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], parts[i]);
}

const Value* Interpreter::lookup(const std::string& name) const {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
    if (const Value* v = it->find(name)) return v;
  return nullptr;
}

Value Interpreter::make_macro(const Node& n) {
  const Node* node = &n;
  return Value::callable([this, node](const CallArgs& a) {
    if (a.args.size() > node->params.size())
      throw RuntimeFailure("macro '" + node->text + "' takes not more than " + std::to_string(node->params.size()) +
                           " argument(s)");
    if (++macro_depth_ > 200) throw RuntimeFailure("macro recursion too deep");
    // A macro sees the globals and template-level variables, its parameters
    // and nothing of the caller's loop frames.
    std::vector<Dict> saved(scopes_.begin() + 2, scopes_.end());
    scopes_.resize(2);
    scopes_.emplace_back();
    for (size_t i = 0; i < node->params.size(); ++i) {
      const auto& [pname, def] = node->params[i];
      const Value* given = a.get(pname, i);
      if (given) assign(pname, *given);
      else if (def) assign(pname, eval(*def));
      else assign(pname, Value::undefined(undefined_name_msg(pname)));
    }
    for (const auto& [k, v] : a.kwargs) {
      bool known = false;
      for (const auto& p : node->params) known = known || p.first == k;
      if (!known) throw RuntimeFailure("macro '" + node->text + "' takes no keyword argument '" + k + "'");
    }
    std::string out;
    exec_body(node->body, out);
    scopes_.resize(2);
    for (auto& s : saved) scopes_.push_back(std::move(s));
    --macro_depth_;
    return Value(std::move(out));
  });
}

Value Interpreter::call(const Value& fn, const CallArgs& args) {
  if (fn.is_undefined()) fail_undefined(fn);
  if (!fn.is_callable()) throw RuntimeFailure("'" + fn.type_name() + "' object is not callable");
  return fn.as_function()(args);
}

Value Interpreter::apply_filter(const std::string& name, const Value& v, const CallArgs& args) {
  return builtin_filter(*this, name, v, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& v, const CallArgs& args) {
  return builtin_test(*this, name, v, args);
}

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
  // Jinja's `a.b` tries the Python attribute first, then the item.
  switch (obj.kind()) {
    case Kind::kUndefined: fail_undefined(obj);
    case Kind::kDict: {
      Value m = builtin_method(obj, name);
      if (!m.is_undefined()) return m;
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case Kind::kNamespace:
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return Value::undefined("'Namespace' object has no attribute '" + name + "'");
    case Kind::kList:
      if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))
        return get_item(obj, Value(static_cast<int64_t>(std::stoll(name))));
      [[fallthrough]];
    case Kind::kString: {
      Value m = builtin_method(obj, name);
      if (!m.is_undefined()) return m;
      [[fallthrough]];
    }
    default: return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
  }
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
  // Jinja's `a[b]` tries the item first, then the attribute.
  switch (obj.kind()) {
    case Kind::kUndefined: fail_undefined(obj);
    case Kind::kDict:
    case Kind::kNamespace:
      if (key.is_string()) {
        if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
        if (obj.is_dict()) {
          Value m = builtin_method(obj, key.as_string());
          if (!m.is_undefined()) return m;
        }
      }
      return Value::undefined("'dict object' has no attribute " + key.repr());
    case Kind::kList:
    case Kind::kString: {
      if (key.is_int() || key.is_bool()) {
        std::vector<Value> chars;
        if (obj.is_string()) {
          for (auto& c : utf8_chars(obj.as_string())) chars.emplace_back(std::move(c));
        }
        const std::vector<Value>& seq = obj.is_list() ? obj.as_list() : chars;
        int64_t i = key.as_int();
        const auto n = static_cast<int64_t>(seq.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined(obj.type_name() + " object has no element " + key.str());
        return seq[static_cast<size_t>(i)];
      }
      if (key.is_string()) return get_attr(obj, key.as_string());
      return Value::undefined("'" + obj.type_name() + " object' has no attribute " + key.repr());
    }
    default: return Value::undefined("'" + obj.type_name() + " object' has no attribute " + key.repr());
  }
}

Value Interpreter::slice(const Value& obj, const Value& start, const Value& stop, const Value& step_v) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (!obj.is_list() && !obj.is_string()) throw RuntimeFailure("'" + obj.type_name() + "' object is not subscriptable");
  std::vector<std::string> chars;
  if (obj.is_string()) chars = utf8_chars(obj.as_string());
  const auto n = static_cast<int64_t>(obj.is_list() ? obj.as_list().size() : chars.size());
  auto as_index = [](const Value& v, const char* what) -> int64_t {
    if (!v.is_int() && !v.is_bool()) throw RuntimeFailure(std::string("slice ") + what + " must be an integer or None");
    return v.as_int();
  };
  int64_t step = (step_v.is_none() || step_v.is_undefined()) ? 1 : as_index(step_v, "step");
  if (step == 0) throw RuntimeFailure("slice step cannot be zero");
  // Python's slice.indices(): clamp into range, defaults depend on the sign of step.
  auto norm = [&](const Value& v, int64_t def) {
    if (v.is_none() || v.is_undefined()) return def;
    int64_t i = as_index(v, "index");
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t b = norm(start, step > 0 ? 0 : n - 1);
  int64_t e = norm(stop, step > 0 ? n : -1);
  std::vector<Value> items;
  std::string s;
  for (int64_t i = b; step > 0 ? i < e : i > e; i += step) {
    if (obj.is_list()) items.push_back(obj.as_list()[static_cast<size_t>(i)]);
    else s += chars[static_cast<size_t>(i)];
  }
  return obj.is_list() ? Value::list(std::move(items)) : Value(std::move(s));
}

Value Interpreter::eval(const Expr& e) {
  line_ = e.line;
  count_step();
  switch (e.type) {
    case Expr::Type::kLiteral: return e.literal;
    case Expr::Type::kName: {
      const Value* v = lookup(e.name);
      return v ? *v : Value::undefined(undefined_name_msg(e.name));
    }
    case Expr::Type::kList:
    case Expr::Type::kTuple: {
      std::vector<Value> items;
      for (const auto& it : e.items) items.push_back(eval(*it));
      return Value::list(std::move(items));
    }
    case Expr::Type::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i]);
        d.set(k.str(), eval(*e.items[i + 1]));
      }
      return Value::dict(std::move(d));
    }
    case Expr::Type::kGetAttr: return get_attr(eval(*e.items[0]), e.name);
    case Expr::Type::kGetItem: {
      Value obj = eval(*e.items[0]);
      return get_item(obj, eval(*e.items[1]));
    }
    case Expr::Type::kSlice: {
      Value obj = eval(*e.items[0]);
      Value parts[3];
      for (int i = 0; i < 3; ++i)
        if (e.items[static_cast<size_t>(i) + 1]) parts[i] = eval(*e.items[static_cast<size_t>(i) + 1]);
      return slice(obj, parts[0], parts[1], parts[2]);
    }
    case Expr::Type::kCall:
    case Expr::Type::kFilter:
    case Expr::Type::kTest: {
      Value target = eval(*e.items[0]);
      CallArgs args;
      for (size_t i = 1; i < e.items.size(); ++i) args.args.push_back(eval(*e.items[i]));
      for (const auto& [k, v] : e.kwargs) args.kwargs.emplace_back(k, eval(*v));
      line_ = e.line;
      if (e.type == Expr::Type::kCall) return call(target, args);
      if (e.type == Expr::Type::kFilter) return apply_filter(e.name, target, args);
      return Value(apply_test(e.name, target, args) != e.negated);
    }
    case Expr::Type::kUnary: {
      Value v = eval(*e.items[0]);
      if (e.name == "not") return Value(!v.truthy());
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) throw RuntimeFailure("bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
      if (e.name == "+") return v.is_bool() ? Value(v.as_int()) : v;
      if (v.is_float()) return Value(-v.as_double());
      if (v.as_int() == INT64_MIN) return overflow();
      return Value(-v.as_int());
    }
    case Expr::Type::kBinary: {
      Value l = eval(*e.items[0]);
      if (e.name == "and") return l.truthy() ? eval(*e.items[1]) : l;
      if (e.name == "or") return l.truthy() ? l : eval(*e.items[1]);
      Value r = eval(*e.items[1]);
      line_ = e.line;
      return binary_op(e.name, l, r);
    }
    case Expr::Type::kCondExpr:
      if (eval(*e.items[0]).truthy()) return eval(*e.items[1]);
      if (e.items[2]) return eval(*e.items[2]);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
  }
  return Value();
}

static bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::kUndefined: return false;  // Undefined iterates as empty
    case Kind::kString:
      if (!item.is_string())
        throw RuntimeFailure("'in <string>' requires string as left operand, not " + item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::kList:
      for (const auto& v : container.as_list())
        if (v.equals(item)) return true;
      return false;
    case Kind::kDict:
    case Kind::kNamespace: return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    default: throw RuntimeFailure("argument of type '" + container.type_name() + "' is not iterable");
  }
}

void Interpreter::count_step(uint64_t n) {
  steps_ += n;
  if (steps_ > kMaxSteps) throw RuntimeFailure("template too expensive (over 2 million evaluation steps)");
}

Value Interpreter::binary_op(const std::string& op, const Value& l, const Value& r) {
  if (op == "~") {
    std::string a = l.str(), b = r.str();
    check_size(a.size(), b.size());
    return Value(a + b);
  }
  if (op == "==") return Value(l.equals(r));
  if (op == "!=") return Value(!l.equals(r));
  if (op == "in") return Value(contains(r, l));
  if (op == "not in") return Value(!contains(r, l));
  if (l.is_undefined()) fail_undefined(l);
  if (r.is_undefined()) fail_undefined(r);
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    int c = compare_values(l, r);
    if (op == "<") return Value(c < 0);
    if (op == ">") return Value(c > 0);
    if (op == "<=") return Value(c <= 0);
    return Value(c >= 0);
  }
  const bool nums = l.is_number() && r.is_number();
  const bool ints = nums && !l.is_float() && !r.is_float();
  int64_t res = 0;
  if (op == "+") {
    if (ints) return __builtin_add_overflow(l.as_int(), r.as_int(), &res) ? overflow() : Value(res);
    if (nums) return Value(l.as_double() + r.as_double());
    if (l.is_string() && r.is_string()) {
      check_size(l.as_string().size(), r.as_string().size());
      return Value(l.as_string() + r.as_string());
    }
    if (l.is_list() && r.is_list()) {
      check_size(l.as_list().size(), r.as_list().size());
      std::vector<Value> items = l.as_list();
      items.insert(items.end(), r.as_list().begin(), r.as_list().end());
      return Value::list(std::move(items));
    }
    if (l.is_string() || r.is_string())
      throw RuntimeFailure("can only concatenate str (not \"" + (l.is_string() ? r : l).type_name() + "\") to str");
    type_error(op, l, r);
  }
  if (op == "-") {
    if (ints) return __builtin_sub_overflow(l.as_int(), r.as_int(), &res) ? overflow() : Value(res);
    if (nums) return Value(l.as_double() - r.as_double());
    type_error(op, l, r);
  }
  if (op == "*") {
    if (ints) return __builtin_mul_overflow(l.as_int(), r.as_int(), &res) ? overflow() : Value(res);
    if (nums) return Value(l.as_double() * r.as_double());
    const Value& seq = l.is_number() ? r : l;
    const Value& cnt = l.is_number() ? l : r;
    if ((seq.is_string() || seq.is_list()) && (cnt.is_int() || cnt.is_bool())) {
      int64_t n = std::max<int64_t>(0, cnt.as_int());
      if (n > 1'000'000) throw RuntimeFailure("repetition count too large");
      const size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size();
      if (unit > 0 && static_cast<uint64_t>(n) > kMaxValueSize / unit) throw RuntimeFailure("value too large (over 32 MiB)");
      if (seq.is_string()) {
        std::string s;
        for (int64_t i = 0; i < n; ++i) s += seq.as_string();
        return Value(std::move(s));
      }
      std::vector<Value> items;
      for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq.as_list().begin(), seq.as_list().end());
      return Value::list(std::move(items));
    }
    type_error(op, l, r);
  }
  if (!nums) type_error(op, l, r);
  if (op == "/") {
    if (r.as_double() == 0) throw RuntimeFailure("division by zero");
    return Value(l.as_double() / r.as_double());
  }
  if (op == "//" || op == "%") {
    if (r.as_double() == 0) throw RuntimeFailure(op == "//" ? "integer division or modulo by zero" : "modulo by zero");
    if (ints) {
      if (l.as_int() == INT64_MIN && r.as_int() == -1) return overflow();
      int64_t q = floor_div(l.as_int(), r.as_int());
      return op == "//" ? Value(q) : Value(l.as_int() - q * r.as_int());
    }
    double q = std::floor(l.as_double() / r.as_double());
    return op == "//" ? Value(q) : Value(l.as_double() - q * r.as_double());
  }
  if (op == "**") {
    if (ints && r.as_int() >= 0) {
      res = 1;
      for (int64_t i = 0; i < r.as_int(); ++i)
        if (__builtin_mul_overflow(res, l.as_int(), &res)) return overflow();
      return Value(res);
    }
    return Value(std::pow(l.as_double(), r.as_double()));
  }
  throw RuntimeFailure("unknown operator " + op);
}

}  // namespace nagi::jinja
