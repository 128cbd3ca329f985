// GGUF v2/v3 reader: metadata key/values, tensor infos and data alignment.
// Spec: github.com/ggml-org/ggml docs/gguf.md. Every offset, count and length
// read from the file is validated against the file size before use, so a
// truncated or lying file gives Error(kFormat) naming the file and field.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/mapped_file.h"
#include "base/string_table.h"
#include "format/tensor_store.h"

namespace nagi {

// GGUF metadata value types, with the file's numbering.
enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6,
  kBool = 7, kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

struct GgufValue;

// An array's elements in one typed vector, picked by the element type:
// integers (widened to int64_t) in ints, bools in ints as 0/1, f32/f64 in
// floats, strings in strings, nested arrays in arrays. A 150k-token
// vocabulary is then one buffer of text and one of offsets, not 150k
// variants (which took most of a 0.6B model's load time) nor 150k
// std::strings (a third of a 262k-token vocabulary's load).
struct GgufArray {
  std::vector<int64_t> ints{};
  std::vector<double> floats{};
  StringTable strings{};
  std::vector<GgufValue> arrays;  // no {}: GgufValue is incomplete here (clang rejects it)
};

struct GgufValue {
  GgufType type = GgufType::kU32;
  GgufType elem_type = GgufType::kU32;  // for arrays
  // Scalars: integers widen to int64_t (u64 values above INT64_MAX are
  // rejected at load), floats to double. Arrays: GgufArray.
  std::variant<int64_t, double, bool, std::string, GgufArray> value{};
};

// Which GgufArray vector keeps the elements of an array of `elem`.
enum class GgufArrayStore { kInts, kFloats, kStrings, kArrays };
GgufArrayStore gguf_array_store(GgufType elem);

// The number of elements of an array value (0 for a scalar).
size_t gguf_array_size(const GgufValue& v);

struct GgufTensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;  // numpy order: GGUF's ne reversed
  uint64_t offset;             // relative to the start of the data section
  size_t nbytes;
};

class GgufFile {
 public:
  static std::shared_ptr<const GgufFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  uint64_t alignment() const { return alignment_; }

  const GgufValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  // Typed getters. The plain forms throw Error(kFormat) "<file>: metadata
  // '<key>': missing" or "...: expected <type>, found <type>"; the `_or`
  // forms return the fallback when the key is absent (but still throw on a
  // wrong type). Integer getters accept any integer type and range-check.
  std::string get_string(const std::string& key) const;
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int_or(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key) const;  // accepts F32/F64 (and integers)
  double get_float_or(const std::string& key, double fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;
  const StringTable& get_string_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;

  // Pointer to a tensor's bytes inside the mapping.
  const uint8_t* tensor_data(const GgufTensorInfo& t) const;

  // Adds every tensor as a view into this file (keeps the mapping alive).
  void add_tensors_to(TensorStore& store) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  friend class GgufParser;
};

}  // namespace nagi
