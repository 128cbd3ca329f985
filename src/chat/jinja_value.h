// Runtime values of the Jinja interpreter. They model the Python objects that
// Hugging Face chat templates see (None, bool, int, float, str, list, dict,
// callables, namespace), because the expected renderings come from Python and
// show Python behaviour: str(None) == "None", float repr, dict key order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nagi::jinja {

class Value;
class Dict;

// Arguments of a call: positional first, then keyword (in source order).
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;

  // The keyword argument `name`, else positional argument `pos`, else null.
  const Value* get(std::string_view name, size_t pos) const;
};

using Function = std::function<Value(const CallArgs&)>;

enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kCallable, kNamespace };

class Value {
 public:
  Value() = default;  // undefined
  Value(bool b) : kind_(Kind::kBool), int_(b) {}
  Value(int v) : kind_(Kind::kInt), int_(v) {}
  Value(int64_t v) : kind_(Kind::kInt), int_(v) {}
  Value(double v) : kind_(Kind::kFloat), float_(v) {}
  Value(std::string s) : kind_(Kind::kString), str_(std::move(s)) {}
  Value(const char* s) : kind_(Kind::kString), str_(s) {}

  // `name` is kept so that errors can say which variable was undefined.
  static Value undefined(std::string name = {});
  static Value none();
  static Value list(std::vector<Value> items = {});
  static Value dict(Dict d);
  static Value dict();
  static Value callable(Function fn);
  static Value make_namespace(Dict d);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // Python's bool is an int; like jinja's `number` test we count it as one.
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_callable() const { return kind_ == Kind::kCallable; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return is_float() ? static_cast<int64_t>(float_) : int_; }
  double as_double() const { return is_float() ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return str_; }  // also the undefined name
  const std::vector<Value>& as_list() const { return *list_; }
  std::vector<Value>& mutable_list() { return *list_; }
  const Dict& as_dict() const { return *dict_; }  // dict or namespace
  Dict& mutable_dict() { return *dict_; }
  const Function& as_function() const { return *fn_; }

  // Python truthiness (undefined is falsy).
  bool truthy() const;
  // Python str(); undefined renders as "".
  std::string str() const;
  // Python repr() (strings quoted), used for str() of containers.
  std::string repr() const;
  // json.dumps(v, ensure_ascii=False) with ", " / ": " separators, or the
  // indented layout (",", ": ") when indent >= 0. Throws std::runtime_error
  // for values JSON cannot hold.
  std::string to_json(int indent = -1) const;
  // Python ==.
  bool equals(const Value& other) const;
  // Python type name, for error messages.
  std::string type_name() const;

  // nlohmann::json sorts object keys; ordered_json keeps the file's order,
  // which is what Python's json.loads gives and what tojson shows.
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

 private:
  void dump_json(std::string& out, int indent, int depth) const;

  Kind kind_ = Kind::kUndefined;
  int64_t int_ = 0;
  double float_ = 0;
  std::string str_;
  std::shared_ptr<std::vector<Value>> list_;
  std::shared_ptr<Dict> dict_;  // shared: namespace attribute writes must be seen by all holders
  std::shared_ptr<Function> fn_;
};

// Insertion-ordered string-keyed map (Python dicts keep insertion order and
// tojson shows it). Linear lookup: template dicts have a handful of keys.
class Dict {
 public:
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value v);
  void clear() { items_.clear(); }
  size_t size() const { return items_.size(); }
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, Value>> items_;
};

// Python float repr: shortest round-trip digits, "1.0", "1e-06", "1e+16".
std::string python_float_repr(double v);

// UTF-8 helpers: Python indexes and strips strings by code point.
std::vector<std::string> utf8_chars(std::string_view s);
bool is_python_space(std::string_view ch);

}  // namespace nagi::jinja
