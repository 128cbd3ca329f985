// Reading config.json fields with errors that name the file and the field;
// shared by every architecture's Hugging Face loader.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nagi/error.hpp"

namespace nagi {

// config.json readers: every failure names the file and the field.
struct ConfigReader {
  const nlohmann::json& j;
  const std::string& path;

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(ErrorCode::kFormat, path + ": field '" + field + "': " + what);
  }
  bool has(const std::string& field) const { return j.contains(field) && !j.at(field).is_null(); }
  int get_int(const std::string& field) const {
    if (!has(field)) fail(field, "missing");
    const nlohmann::json& v = j.at(field);
    if (!v.is_number_integer()) fail(field, "expected an integer, found " + std::string(v.type_name()));
    const int64_t x = v.get<int64_t>();
    if (x <= 0 || x > (int64_t(1) << 30)) fail(field, std::to_string(x) + " is out of range");
    return static_cast<int>(x);
  }
  int get_int_or(const std::string& field, int fallback) const { return has(field) ? get_int(field) : fallback; }
  // A layer count (num_hidden_layers): get_int, at most `max_layers`
  // (spec.h's kMaxLayerCount), since per-layer tables are sized by it.
  int get_layer_count(const std::string& field, int max_layers) const {
    const int n = get_int(field);
    if (n > max_layers) fail(field, std::to_string(n) + " is out of range (at most " + std::to_string(max_layers) + " layers)");
    return n;
  }
  int get_layer_count_or(const std::string& field, int fallback, int max_layers) const {
    return has(field) ? get_layer_count(field, max_layers) : fallback;
  }
  double get_float_or(const std::string& field, double fallback) const {
    if (!has(field)) return fallback;
    const nlohmann::json& v = j.at(field);
    if (!v.is_number()) fail(field, "expected a number, found " + std::string(v.type_name()));
    return v.get<double>();
  }
  bool get_bool_or(const std::string& field, bool fallback) const {
    if (!has(field)) return fallback;
    const nlohmann::json& v = j.at(field);
    if (!v.is_boolean()) fail(field, "expected a boolean, found " + std::string(v.type_name()));
    return v.get<bool>();
  }
  std::string get_string(const std::string& field) const {
    if (!has(field)) fail(field, "missing");
    const nlohmann::json& v = j.at(field);
    if (!v.is_string()) fail(field, "expected a string, found " + std::string(v.type_name()));
    return v.get<std::string>();
  }
};

// A token id or a list of them (bos_token_id / eos_token_id).
inline std::vector<int> int_or_list(const ConfigReader& r, const std::string& field) {
  std::vector<int> out;
  if (!r.has(field)) return out;
  const nlohmann::json& v = r.j.at(field);
  auto one = [&](const nlohmann::json& x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > (int64_t(1) << 30)) {
      r.fail(field, "expected a token id or a list of token ids");
    }
    out.push_back(x.get<int>());
  };
  if (v.is_array()) {
    for (const nlohmann::json& x : v) one(x);
  } else {
    one(v);
  }
  return out;
}

}  // namespace nagi
