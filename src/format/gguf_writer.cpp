// GGUF v3 writer. Produces the same layout as ggml's gguf writer: header,
// key/values, tensor infos, padding to the alignment, then each tensor's
// bytes padded to the alignment.
#include "format/gguf_writer.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string_view>
#include <type_traits>

#include "nagi/error.hpp"

namespace nagi {

namespace {

class Buffer {
 public:
  template <typename T>
  void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian host, like the format
    bytes_.insert(bytes_.end(), b, b + sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void pad_to(uint64_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

[[noreturn]] void bad_value(const std::string& key, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, "GgufWriter: metadata '" + key + "': " + what);
}

int64_t as_int(const GgufValue& v, const std::string& key) {
  if (const auto* i = std::get_if<int64_t>(&v.value)) return *i;
  bad_value(key, "integer type holds a non-integer value");
}

double as_double(const GgufValue& v, const std::string& key) {
  if (const auto* d = std::get_if<double>(&v.value)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v.value)) return double(*i);
  bad_value(key, "float type holds a non-number value");
}

void put_value(Buffer& buf, const GgufValue& v, GgufType type, const std::string& key) {
  switch (type) {
    case GgufType::kU8: buf.put<uint8_t>(uint8_t(as_int(v, key))); break;
    case GgufType::kI8: buf.put<int8_t>(int8_t(as_int(v, key))); break;
    case GgufType::kU16: buf.put<uint16_t>(uint16_t(as_int(v, key))); break;
    case GgufType::kI16: buf.put<int16_t>(int16_t(as_int(v, key))); break;
    case GgufType::kU32: buf.put<uint32_t>(uint32_t(as_int(v, key))); break;
    case GgufType::kI32: buf.put<int32_t>(int32_t(as_int(v, key))); break;
    case GgufType::kU64: buf.put<uint64_t>(uint64_t(as_int(v, key))); break;
    case GgufType::kI64: buf.put<int64_t>(as_int(v, key)); break;
    case GgufType::kF32: buf.put<float>(float(as_double(v, key))); break;
    case GgufType::kF64: buf.put<double>(as_double(v, key)); break;
    case GgufType::kBool: {
      const auto* b = std::get_if<bool>(&v.value);
      if (b == nullptr) bad_value(key, "bool type holds a non-bool value");
      buf.put<uint8_t>(*b ? 1 : 0);
      break;
    }
    case GgufType::kString: {
      const auto* s = std::get_if<std::string>(&v.value);
      if (s == nullptr) bad_value(key, "string type holds a non-string value");
      buf.put_string(*s);
      break;
    }
    case GgufType::kArray: {
      const auto* a = std::get_if<GgufArray>(&v.value);
      if (a == nullptr) bad_value(key, "array type holds a non-array value");
      const GgufArrayStore store = gguf_array_store(v.elem_type);
      const size_t n = store == GgufArrayStore::kStrings ? a->strings.size()
                       : store == GgufArrayStore::kArrays ? a->arrays.size()
                       : store == GgufArrayStore::kFloats ? a->floats.size()
                                                          : a->ints.size();
      if (n != gguf_array_size(v)) bad_value(key, "array holds elements of another type than its element type");
      buf.put<uint32_t>(uint32_t(v.elem_type));
      buf.put<uint64_t>(n);
      // Each element is written with the array's element type from the
      // vector that type keeps it in (a nested array carries its own).
      const auto put = [&](decltype(GgufValue::value) e) {
        put_value(buf, GgufValue{.type = v.elem_type, .value = std::move(e)}, v.elem_type, key);
      };
      switch (store) {
        case GgufArrayStore::kStrings:
          for (size_t i = 0; i < a->strings.size(); ++i) buf.put_string(a->strings[i]);
          break;
        case GgufArrayStore::kArrays:
          for (const GgufValue& e : a->arrays) put_value(buf, e, GgufType::kArray, key);
          break;
        case GgufArrayStore::kFloats:
          for (double e : a->floats) put(e);
          break;
        case GgufArrayStore::kInts:
          for (int64_t e : a->ints) {
            if (v.elem_type == GgufType::kBool) put(e != 0);
            else put(e);
          }
          break;
      }
      break;
    }
    default:
      bad_value(key, "unknown value type " + std::to_string(uint32_t(type)));
  }
}

GgufValue scalar(GgufType type, decltype(GgufValue::value) value) {
  GgufValue v;
  v.type = type;
  v.value = std::move(value);
  return v;
}

template <typename T, typename F>
GgufValue array_of(GgufType elem, const std::vector<T>& items, F make) {
  GgufValue v;
  v.type = GgufType::kArray;
  v.elem_type = elem;
  GgufArray a;
  for (const T& x : items) {
    if constexpr (std::is_same_v<T, std::string>) a.strings.push_back(make(x));
    else if constexpr (std::is_floating_point_v<T>) a.floats.push_back(make(x));
    else a.ints.push_back(make(x));
  }
  v.value = std::move(a);
  return v;
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  // Replacing keeps keys unique: GGUF forbids duplicates.
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::set_string(const std::string& key, const std::string& v) {
  set(key, scalar(GgufType::kString, v));
}
void GgufWriter::set_u32(const std::string& key, uint32_t v) {
  set(key, scalar(GgufType::kU32, int64_t(v)));
}
void GgufWriter::set_i32(const std::string& key, int32_t v) {
  set(key, scalar(GgufType::kI32, int64_t(v)));
}
void GgufWriter::set_f32(const std::string& key, float v) {
  set(key, scalar(GgufType::kF32, double(v)));
}
void GgufWriter::set_bool(const std::string& key, bool v) { set(key, scalar(GgufType::kBool, v)); }

void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  set(key, array_of(GgufType::kString, v, [](const std::string& s) { return s; }));
}
void GgufWriter::set_f32_array(const std::string& key, const std::vector<float>& v) {
  set(key, array_of(GgufType::kF32, v, [](float x) { return double(x); }));
}
void GgufWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  set(key, array_of(GgufType::kI32, v, [](int32_t x) { return int64_t(x); }));
}

void GgufWriter::add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            std::vector<uint8_t> data) {
  const std::string what = "GgufWriter: tensor '" + name + "': ";
  (void)dtype_to_ggml(dtype);  // throws for types GGUF cannot store
  for (const Tensor& t : tensors_) {
    if (t.name == name) throw Error(ErrorCode::kInvalidArgument, what + "added twice");
  }
  if (shape.size() > 4) throw Error(ErrorCode::kInvalidArgument, what + "more than 4 dimensions");
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d <= 0) throw Error(ErrorCode::kInvalidArgument, what + "non-positive dimension");
    numel *= uint64_t(d);
  }
  const int64_t row = shape.empty() ? 1 : shape.back();
  if (row % dtype_info(dtype).block_elems != 0) {
    throw Error(ErrorCode::kInvalidArgument, what + "row length is not a whole number of blocks");
  }
  const std::optional<size_t> nbytes = dtype_bytes(dtype, numel);
  if (!nbytes || *nbytes != data.size()) {
    throw Error(ErrorCode::kInvalidArgument,
                what + std::to_string(data.size()) + " bytes of data, shape needs " +
                    (nbytes ? std::to_string(*nbytes) : std::string("an impossible size")));
  }
  tensors_.push_back(Tensor{name, dtype, shape, std::move(data)});
}

void GgufWriter::write(const std::string& path, uint32_t alignment) const {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Error(ErrorCode::kInvalidArgument, "GgufWriter: alignment " + std::to_string(alignment) +
                                                 " is not a power of two");
  }
  auto kv = kv_;
  bool has_alignment_key = false;
  for (auto& [k, v] : kv) {
    if (k == "general.alignment") {
      // The reader needs the key to agree with the layout actually written.
      v = scalar(GgufType::kU32, int64_t(alignment));
      has_alignment_key = true;
    }
  }
  if (!has_alignment_key && alignment != 32) {
    kv.emplace_back("general.alignment", scalar(GgufType::kU32, int64_t(alignment)));
  }

  Buffer buf;
  buf.put<uint32_t>(0x46554747);  // "GGUF" read as a little-endian u32
  buf.put<uint32_t>(3);
  buf.put<uint64_t>(tensors_.size());
  buf.put<uint64_t>(kv.size());
  for (const auto& [k, v] : kv) {
    buf.put_string(k);
    buf.put<uint32_t>(uint32_t(v.type));
    put_value(buf, v, v.type, k);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    buf.put_string(t.name);
    buf.put<uint32_t>(uint32_t(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) buf.put<uint64_t>(uint64_t(*it));
    buf.put<uint32_t>(dtype_to_ggml(t.dtype));
    buf.put<uint64_t>(offset);
    offset += (t.data.size() + alignment - 1) / alignment * alignment;
  }
  buf.pad_to(alignment);

  // Tensor data is streamed rather than appended to the header buffer, so a
  // large model is not held in memory twice.
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::kIo, path + ": cannot open for writing");
  out.write(reinterpret_cast<const char*>(buf.bytes().data()), std::streamsize(buf.size()));
  static const char kZeros[256] = {};
  for (const Tensor& t : tensors_) {
    out.write(reinterpret_cast<const char*>(t.data.data()), std::streamsize(t.data.size()));
    uint64_t pad = (alignment - t.data.size() % alignment) % alignment;
    while (pad > 0) {
      const uint64_t n = std::min<uint64_t>(pad, sizeof(kZeros));
      out.write(kZeros, std::streamsize(n));
      pad -= n;
    }
  }
  out.close();
  if (!out) throw Error(ErrorCode::kIo, path + ": write failed");
}

}  // namespace nagi
