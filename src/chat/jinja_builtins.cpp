// Filters, tests and Python methods for the Jinja interpreter. Behaviour
// follows Jinja2 3.1 and CPython, since reference renderings come from there.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "chat/jinja_runtime.h"

namespace nagi::jinja {

namespace {

// Returns a copy: `def` is often a temporary at the call site.
Value arg_or(const CallArgs& a, std::string_view name, size_t pos, const Value& def) {
  const Value* v = a.get(name, pos);
  return v ? *v : def;
}

const Value kNone = Value::none();
const Value kUndef;

std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// str.strip family. With no chars, Python strips Unicode whitespace; with
// chars, any code point in that set.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<std::string> cs = utf8_chars(s);
  std::vector<std::string> set;
  const bool custom = chars.is_string();
  if (custom) set = utf8_chars(chars.as_string());
  auto strip_it = [&](const std::string& c) {
    return custom ? std::find(set.begin(), set.end(), c) != set.end() : is_python_space(c);
  };
  size_t b = 0, e = cs.size();
  if (left)
    while (b < e && strip_it(cs[b])) ++b;
  if (right)
    while (e > b && strip_it(cs[e - 1])) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) out += cs[i];
  return out;
}

std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
  std::vector<Value> out;
  if (sep.is_none() || sep.is_undefined()) {
    // Whitespace split: runs of whitespace separate, no empty strings.
    std::vector<std::string> cs = utf8_chars(s);
    size_t i = 0;
    while (i < cs.size()) {
      while (i < cs.size() && is_python_space(cs[i])) ++i;
      if (i >= cs.size()) break;
      std::string word;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        for (; i < cs.size(); ++i) word += cs[i];
        std::string trimmed = py_strip(word, kNone, false, true);
        out.emplace_back(trimmed);
        break;
      }
      while (i < cs.size() && !is_python_space(cs[i])) word += cs[i++];
      out.emplace_back(word);
    }
    return out;
  }
  if (!sep.is_string()) throw RuntimeFailure("must be str or None, not " + sep.type_name());
  const std::string& d = sep.as_string();
  if (d.empty()) throw RuntimeFailure("empty separator");
  size_t start = 0;
  while (true) {
    size_t p = s.find(d, start);
    if (p == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit)) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, p - start));
    start = p + d.size();
  }
}

std::string py_replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  std::string out;
  size_t start = 0;
  int64_t done = 0;
  if (from.empty()) {
    // Python inserts `to` between every character (and at both ends).
    std::vector<std::string> cs = utf8_chars(s);
    for (const auto& c : cs) {
      if (count < 0 || done < count) out += to, ++done;
      out += c;
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  while (count < 0 || done < count) {
    size_t p = s.find(from, start);
    if (p == std::string::npos) break;
    out += s.substr(start, p - start) + to;
    start = p + from.size();
    ++done;
  }
  return out + s.substr(start);
}

std::string py_capitalize(const std::string& s) {
  std::string out = ascii_lower(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string py_title(const std::string& s) {
  std::string out = s;
  bool prev_cased = false;
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      c = static_cast<char>(prev_cased ? std::tolower(u) : std::toupper(u));
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return out;
}

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined: return 0;
    case Kind::kString: return static_cast<int64_t>(utf8_chars(v.as_string()).size());
    case Kind::kList: return static_cast<int64_t>(v.as_list().size());
    case Kind::kDict:
    case Kind::kNamespace: return static_cast<int64_t>(v.as_dict().size());
    default: throw RuntimeFailure("object of type '" + v.type_name() + "' has no len()");
  }
}

bool starts_or_ends(const std::string& s, const Value& affix, bool start) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) throw RuntimeFailure("startswith/endswith argument must be str or a tuple of str");
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return start ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list()) {
    for (const auto& a : affix.as_list())
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

Value items_of(const Value& v) {
  if (v.is_undefined()) return Value::list();
  if (!v.is_dict() && !v.is_namespace()) throw RuntimeFailure("can only get item pairs from a mapping");
  std::vector<Value> out;
  for (const auto& [k, val] : v.as_dict().items()) out.push_back(Value::list({Value(k), val}));
  return Value::list(std::move(out));
}

// Jinja's attribute path for filters: "a.b" or "0".
Value attribute_path(Interpreter& in, const Value& obj, const std::string& path) {
  Value cur = obj;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      cur = in.get_item(cur, Value(static_cast<int64_t>(std::stoll(part))));
    else
      cur = in.get_item(cur, Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value to_int(const Value& v, const Value& def) {
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) return std::isfinite(v.as_double()) ? Value(static_cast<int64_t>(v.as_double())) : def;
  if (v.is_string()) {
    std::string s = py_strip(v.as_string(), kNone, true, true);
    try {
      size_t used = 0;
      long long i = std::stoll(s, &used, 10);
      if (used == s.size()) return Value(static_cast<int64_t>(i));
      double d = std::stod(s, &used);
      if (used == s.size()) return Value(static_cast<int64_t>(d));
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value to_float(const Value& v, const Value& def) {
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    std::string s = py_strip(v.as_string(), kNone, true, true);
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return Value(d);
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value py_round(const Value& v, int64_t precision, const std::string& method) {
  if (!v.is_number()) throw RuntimeFailure("round filter needs a number");
  double x = v.as_double();
  double scale = std::pow(10.0, static_cast<double>(precision));
  double y = x * scale;
  if (method == "ceil") y = std::ceil(y);
  else if (method == "floor") y = std::floor(y);
  else {
    // Python rounds half to even.
    double r = std::round(y);
    if (std::fabs(y - std::trunc(y)) == 0.5) r = 2.0 * std::round(y / 2.0);
    y = r;
  }
  return Value(y / scale);
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// A deep copy with every dict's keys sorted (tojson(sort_keys=True)).
Value sorted_keys(const Value& v) {
  if (v.is_list()) {
    std::vector<Value> items;
    for (const auto& x : v.as_list()) items.push_back(sorted_keys(x));
    return Value::list(std::move(items));
  }
  if (!v.is_dict()) return v;
  std::vector<std::pair<std::string, Value>> items = v.as_dict().items();
  std::sort(items.begin(), items.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  Dict d;
  for (auto& [k, x] : items) d.set(k, sorted_keys(x));
  return Value::dict(std::move(d));
}

std::string require_string(const Value& v, const char* what) {
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_string()) throw RuntimeFailure(std::string(what) + " requires a string, got '" + v.type_name() + "'");
  return v.as_string();
}

}  // namespace

void fail_undefined(const Value& v) {
  throw RuntimeFailure(v.as_string().empty() ? std::string("value is undefined") : v.as_string());
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined: return {};
    case Kind::kList: return v.as_list();
    case Kind::kDict: {
      std::vector<Value> keys;
      for (const auto& [k, val] : v.as_dict().items()) keys.emplace_back(k);
      return keys;
    }
    case Kind::kString: {
      std::vector<Value> out;
      for (auto& c : utf8_chars(v.as_string())) out.emplace_back(std::move(c));
      return out;
    }
    default: throw RuntimeFailure("'" + v.type_name() + "' object is not iterable");
  }
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    return a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double() ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.as_string().compare(b.as_string()) < 0 ? -1 : a.as_string() == b.as_string() ? 0 : 1;
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (x[i].equals(y[i])) continue;
      return compare_values(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw RuntimeFailure("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

Value builtin_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    const std::string s = obj.as_string();
    static const char* const kNames[] = {"startswith", "endswith", "strip", "lstrip", "rstrip", "split",
                                         "replace", "upper", "lower", "title", "capitalize", "join", "find",
                                         "count", "format", "isdigit", "isalpha", "isspace"};
    if (std::find_if(std::begin(kNames), std::end(kNames), [&](const char* n) { return name == n; }) == std::end(kNames))
      return Value();
    return Value::callable([s, name](const CallArgs& a) -> Value {
      const Value& a0 = arg_or(a, "", 0, kNone);
      if (name == "startswith" || name == "endswith") {
        if (a.args.empty()) throw RuntimeFailure(name + "() takes at least 1 argument");
        return Value(starts_or_ends(s, a.args[0], name == "startswith"));
      }
      if (name == "strip") return Value(py_strip(s, a0, true, true));
      if (name == "lstrip") return Value(py_strip(s, a0, true, false));
      if (name == "rstrip") return Value(py_strip(s, a0, false, true));
      if (name == "split") {
        const Value& m = arg_or(a, "maxsplit", 1, Value(int64_t{-1}));
        return Value::list(py_split(s, arg_or(a, "sep", 0, kNone), m.as_int()));
      }
      if (name == "replace") {
        if (a.args.size() < 2) throw RuntimeFailure("replace() takes at least 2 arguments");
        return Value(py_replace(s, require_string(a.args[0], "replace"), require_string(a.args[1], "replace"),
                                arg_or(a, "count", 2, Value(int64_t{-1})).as_int()));
      }
      if (name == "upper") return Value(ascii_upper(s));
      if (name == "lower") return Value(ascii_lower(s));
      if (name == "title") return Value(py_title(s));
      if (name == "capitalize") return Value(py_capitalize(s));
      if (name == "join") {
        std::string out;
        bool first = true;
        for (const auto& v : iterate(a0)) {
          if (!first) out += s;
          first = false;
          out += require_string(v, "join");
        }
        return Value(out);
      }
      if (name == "find") {
        size_t p = s.find(require_string(a0, "find"));
        return Value(p == std::string::npos ? int64_t{-1} : static_cast<int64_t>(utf8_chars(s.substr(0, p)).size()));
      }
      if (name == "count") {
        std::string needle = require_string(a0, "count");
        if (needle.empty()) return Value(static_cast<int64_t>(utf8_chars(s).size()) + 1);
        int64_t n = 0;
        for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
        return Value(n);
      }
      if (name == "format") {
        // Positional "{}" / "{0}" and keyword "{name}" fields only.
        std::string out;
        size_t auto_idx = 0;
        for (size_t i = 0; i < s.size(); ++i) {
          if (s[i] == '{' && i + 1 < s.size() && s[i + 1] == '{') out += '{', ++i;
          else if (s[i] == '}' && i + 1 < s.size() && s[i + 1] == '}') out += '}', ++i;
          else if (s[i] == '{') {
            size_t close = s.find('}', i);
            if (close == std::string::npos) throw RuntimeFailure("Single '{' encountered in format string");
            std::string field = s.substr(i + 1, close - i - 1);
            const Value* v = nullptr;
            if (field.empty()) v = auto_idx < a.args.size() ? &a.args[auto_idx++] : nullptr;
            else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
              size_t k = std::stoul(field);
              v = k < a.args.size() ? &a.args[k] : nullptr;
            } else {
              for (const auto& [k, kv] : a.kwargs)
                if (k == field) v = &kv;
            }
            if (!v) throw RuntimeFailure("format(): missing argument for field '" + field + "'");
            out += v->str();
            i = close;
          } else {
            out += s[i];
          }
        }
        return Value(out);
      }
      auto all = [&](auto pred) {
        if (s.empty()) return Value(false);
        return Value(std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)); }));
      };
      if (name == "isdigit") return all([](unsigned char c) { return std::isdigit(c) != 0; });
      if (name == "isalpha") return all([](unsigned char c) { return std::isalpha(c) != 0; });
      return all([](unsigned char c) { return std::isspace(c) != 0; });
    });
  }
  if (obj.is_dict()) {
    if (name == "items") return Value::callable([obj](const CallArgs&) { return items_of(obj); });
    if (name == "keys") return Value::callable([obj](const CallArgs&) { return Value::list(iterate(obj)); });
    if (name == "values")
      return Value::callable([obj](const CallArgs&) {
        std::vector<Value> out;
        for (const auto& [k, v] : obj.as_dict().items()) out.push_back(v);
        return Value::list(std::move(out));
      });
    if (name == "get")
      return Value::callable([obj](const CallArgs& a) {
        if (a.args.empty()) throw RuntimeFailure("get() takes at least 1 argument");
        if (a.args[0].is_string())
          if (const Value* v = obj.as_dict().find(a.args[0].as_string())) return *v;
        return arg_or(a, "default", 1, kNone);
      });
  }
  return Value();
}

Value builtin_filter(Interpreter& in, const std::string& name, const Value& v, const CallArgs& a) {
  const Value& a0 = arg_or(a, "", 0, kUndef);
  if (name == "trim") return Value(py_strip(v.str(), arg_or(a, "chars", 0, kNone), true, true));
  if (name == "length" || name == "count") return Value(length_of(v));
  if (name == "upper") return Value(ascii_upper(v.str()));
  if (name == "lower") return Value(ascii_lower(v.str()));
  if (name == "capitalize") return Value(py_capitalize(v.str()));
  if (name == "title") return Value(py_title(v.str()));
  if (name == "string") return Value(v.str());
  if (name == "safe") return v;
  if (name == "escape" || name == "e" || name == "forceescape") return Value(html_escape(v.str()));
  if (name == "tojson") {
    const Value& indent = arg_or(a, "indent", 0, kNone);
    try {
      if (arg_or(a, "sort_keys", SIZE_MAX, Value(false)).truthy())
        return Value(sorted_keys(v).to_json(indent.is_int() ? static_cast<int>(indent.as_int()) : -1));
      return Value(v.to_json(indent.is_int() ? static_cast<int>(indent.as_int()) : -1));
    } catch (const RuntimeFailure&) {
      throw;
    } catch (const std::runtime_error& e) {
      throw RuntimeFailure(e.what());
    }
  }
  if (name == "list") return Value::list(iterate(v));
  if (name == "first" || name == "last") {
    std::vector<Value> items = iterate(v);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<std::string> cs = utf8_chars(v.as_string());
      std::string out;
      for (auto it = cs.rbegin(); it != cs.rend(); ++it) out += *it;
      return Value(out);
    }
    std::vector<Value> items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "join") {
    std::string sep = arg_or(a, "d", 0, Value("")).str();
    const Value& attr = arg_or(a, "attribute", 1, kNone);
    std::string out;
    bool first = true;
    for (const auto& item : iterate(v)) {
      if (!first) out += sep;
      first = false;
      out += (attr.is_none() ? item : attribute_path(in, item, attr.str())).str();
    }
    return Value(out);
  }
  if (name == "replace") {
    if (a.args.size() < 2) throw RuntimeFailure("replace filter takes 2 arguments");
    return Value(py_replace(v.str(), a.args[0].str(), a.args[1].str(), arg_or(a, "count", 2, Value(int64_t{-1})).as_int()));
  }
  if (name == "default" || name == "d") {
    const Value& def = arg_or(a, "default_value", 0, Value(""));
    bool boolean = arg_or(a, "boolean", 1, Value(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return def;
    return v;
  }
  if (name == "items") return items_of(v);
  if (name == "dictsort") {
    Value items = items_of(v);
    std::vector<Value> list = items.as_list();
    bool by_value = arg_or(a, "by", 1, Value("key")).str() == "value";
    std::stable_sort(list.begin(), list.end(), [&](const Value& x, const Value& y) {
      return compare_values(x.as_list()[by_value ? 1 : 0], y.as_list()[by_value ? 1 : 0]) < 0;
    });
    return Value::list(std::move(list));
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    const bool by_attr = name == "selectattr" || name == "rejectattr";
    const bool want = name == "selectattr" || name == "select";
    size_t test_pos = by_attr ? 1 : 0;
    std::vector<Value> out;
    for (const auto& item : iterate(v)) {
      Value subject = by_attr ? attribute_path(in, item, a0.str()) : item;
      bool ok;
      if (a.args.size() <= test_pos) {
        ok = subject.truthy();
      } else {
        CallArgs targs;
        targs.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(test_pos) + 1, a.args.end());
        ok = in.apply_test(a.args[test_pos].str(), subject, targs);
      }
      if (ok == want) out.push_back(item);
    }
    return Value::list(std::move(out));
  }
  if (name == "map") {
    std::vector<Value> out;
    const Value* attr = a.get("attribute", SIZE_MAX);
    for (const auto& item : iterate(v)) {
      if (attr) {
        Value r = attribute_path(in, item, attr->str());
        if (r.is_undefined())
          if (const Value* def = a.get("default", SIZE_MAX)) r = *def;
        out.push_back(r);
      } else {
        if (a.args.empty()) throw RuntimeFailure("map requires a filter name or attribute=");
        CallArgs fargs;
        fargs.args.assign(a.args.begin() + 1, a.args.end());
        fargs.kwargs = a.kwargs;
        out.push_back(in.apply_filter(a.args[0].str(), item, fargs));
      }
    }
    return Value::list(std::move(out));
  }
  if (name == "unique") {
    std::vector<Value> out;
    for (const auto& item : iterate(v))
      if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return o.equals(item); })) out.push_back(item);
    return Value::list(std::move(out));
  }
  if (name == "sort") {
    std::vector<Value> items = iterate(v);
    bool rev = arg_or(a, "reverse", 0, Value(false)).truthy();
    const Value& attr = arg_or(a, "attribute", 2, kNone);
    auto key = [&](const Value& x) { return attr.is_none() ? x : attribute_path(in, x, attr.str()); };
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      int c = compare_values(key(x), key(y));
      return rev ? c > 0 : c < 0;
    });
    return Value::list(std::move(items));
  }
  if (name == "sum") {
    Value total(int64_t{0});
    for (const auto& item : iterate(v)) {
      if (!item.is_number()) throw RuntimeFailure("sum of non-numbers");
      total = (total.is_float() || item.is_float()) ? Value(total.as_double() + item.as_double())
                                                    : Value(total.as_int() + item.as_int());
    }
    return total;
  }
  if (name == "min" || name == "max") {
    std::vector<Value> items = iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    Value best = items[0];
    for (const auto& item : items)
      if ((compare_values(item, best) < 0) == (name == "min") && !item.equals(best)) best = item;
    return best;
  }
  if (name == "int") return to_int(v, arg_or(a, "default", 0, Value(int64_t{0})));
  if (name == "float") return to_float(v, arg_or(a, "default", 0, Value(0.0)));
  if (name == "abs") {
    if (!v.is_number()) throw RuntimeFailure("bad operand type for abs(): '" + v.type_name() + "'");
    if (v.is_float()) return Value(std::fabs(v.as_double()));
    if (v.as_int() == INT64_MIN) throw RuntimeFailure("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  if (name == "round")
    return py_round(v, arg_or(a, "precision", 0, Value(int64_t{0})).as_int(), arg_or(a, "method", 1, Value("common")).str());
  if (name == "indent") {
    const Value& w = arg_or(a, "width", 0, Value(int64_t{4}));
    std::string pad = w.is_string() ? w.as_string() : std::string(static_cast<size_t>(std::max<int64_t>(0, w.as_int())), ' ');
    bool first = arg_or(a, "first", 1, Value(false)).truthy();
    bool blank = arg_or(a, "blank", 2, Value(false)).truthy();
    std::vector<Value> lines = py_split(v.str(), Value("\n"), -1);
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string& l = lines[i].as_string();
      if (i > 0) out += '\n';
      if ((i > 0 || first) && (blank || !l.empty())) out += pad;
      out += l;
    }
    return Value(out);
  }
  if (name == "wordcount") return Value(static_cast<int64_t>(py_split(v.str(), kNone, -1).size()));
  throw RuntimeFailure("No filter named '" + name + "'.");
}

bool builtin_test(Interpreter& in, const std::string& name, const Value& v, const CallArgs& a) {
  const Value& a0 = arg_or(a, "", 0, kUndef);
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  // Undefined has __iter__ in Jinja, so it counts as iterable.
  if (name == "iterable") return v.is_undefined() || v.is_list() || v.is_dict() || v.is_string();
  if (name == "sequence") return v.is_undefined() || v.is_list() || v.is_dict() || v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "callable") return v.is_callable();
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") return v.equals(a0);
  if (name == "ne" || name == "!=") return !v.equals(a0);
  if (name == "lt" || name == "lessthan") return compare_values(v, a0) < 0;
  if (name == "le") return compare_values(v, a0) <= 0;
  if (name == "gt" || name == "greaterthan") return compare_values(v, a0) > 0;
  if (name == "ge") return compare_values(v, a0) >= 0;
  if (name == "in") {
    for (const auto& item : iterate(a0))
      if (a0.is_string() ? (v.is_string() && a0.as_string().find(v.as_string()) != std::string::npos) : item.equals(v))
        return true;
    return a0.is_string() && v.is_string() && v.as_string().empty();
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int() && !v.is_bool()) throw RuntimeFailure(name + " test needs an integer");
    if (name == "divisibleby") {
      int64_t d = a0.as_int();
      if (d == 0) throw RuntimeFailure("integer division or modulo by zero");
      return v.as_int() % d == 0;
    }
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "lower") return v.is_string() && ascii_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && ascii_upper(v.as_string()) == v.as_string();
  (void)in;
  throw RuntimeFailure("No test named '" + name + "'.");
}

}  // namespace nagi::jinja
