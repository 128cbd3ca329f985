// GGUF reader. The file is mapped and parsed in place; every read goes through
// a cursor that checks the remaining byte count first, and every count is
// checked against the bytes left before anything is allocated, so a hostile
// or truncated file fails fast with a message naming the field at fault.
#include "format/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>

#include "nagi/error.hpp"

namespace nagi {

namespace {

constexpr uint32_t kMinVersion = 2, kMaxVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;
// Deeper nesting has no use in practice and would let a small file recurse
// the parser into a stack overflow.
constexpr int kMaxArrayDepth = 8;

std::string type_name(GgufType t) {
  switch (t) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "type " + std::to_string(uint32_t(t));
}

std::string value_type_name(const GgufValue& v) {
  if (v.type == GgufType::kArray) return "array[" + type_name(v.elem_type) + "]";
  return type_name(v.type);
}

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
    case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64:
      return true;
    default:
      return false;
  }
}

bool is_float(GgufType t) { return t == GgufType::kF32 || t == GgufType::kF64; }

// Bytes a value of this type takes at minimum, used to bound counts before
// allocating: a string is at least its 8-byte length, an array its 12-byte
// header. 0 for an unknown type.
uint64_t min_value_bytes(uint32_t type) {
  switch (GgufType(type)) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: case GgufType::kString: return 8;
    case GgufType::kArray: return 12;
  }
  return 0;
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    unsigned cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < size_t(len)) return false;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    static constexpr unsigned kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += size_t(len);
  }
  return true;
}

// Printable form of a possibly hostile name for use in messages.
std::string quoted(std::string_view s) {
  std::string out = "'";
  for (char ch : s.substr(0, 120)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > 120) out += "...";
  return out + "'";
}

// Names of GGML types nagi recognises but cannot read, for clearer errors.
std::string ggml_type_label(uint32_t id) {
  switch (id) {
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case 15: return "Q8_K";
    case 16: return "IQ2_XXS";
    case 17: return "IQ2_XS";
    case 18: return "IQ3_XXS";
    case 19: return "IQ1_S";
    case 20: return "IQ4_NL";
    case 21: return "IQ3_S";
    case 22: return "IQ2_S";
    case 23: return "IQ4_XS";
    case 29: return "IQ1_M";
    case 34: return "TQ1_0";
    case 35: return "TQ2_0";
    case 39: return "MXFP4";
    default: return "";
  }
}

}  // namespace

// The name of what is being read, for error messages. Spelled out only when
// a read fails: building "metadata 'tokenizer.ggml.merges'[123456] length"
// for each of a vocabulary's ~300k strings was most of the time spent
// opening a 0.6B model. Each Field lives on the stack of the read it names.
class Field {
 public:
  Field(const std::string& text) : text_(text) {}  // NOLINT: implicit on purpose
  Field(const char* text) : text_(text) {}         // NOLINT
  Field(const Field& parent, int64_t index) : parent_(&parent), index_(index) {}
  Field(const Field& parent, const char* suffix) : parent_(&parent), suffix_(suffix) {}

  std::string str() const {
    if (parent_ == nullptr) return std::string(text_);
    if (suffix_ != nullptr) return parent_->str() + suffix_;
    return parent_->str() + "[" + std::to_string(index_) + "]";
  }

 private:
  const Field* parent_ = nullptr;
  std::string_view text_;
  int64_t index_ = 0;
  const char* suffix_ = nullptr;
};

// Cursor over the mapped header; all reads are bounds-checked.
class GgufParser {
 public:
  GgufParser(GgufFile& out, const MappedFile& file)
      : out_(out), path_(file.path()), data_(file.data()), size_(file.size()) {}

  void parse() {
    parse_header();
    parse_metadata();
    parse_alignment();
    parse_tensor_infos();
    place_data();
  }

 private:
  [[noreturn]] void fail(const Field& field, const std::string& what) const {
    throw Error(ErrorCode::kFormat, path_ + ": " + field.str() + ": " + what);
  }

  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const Field& field) const {
    if (n > remaining()) {
      fail(field, "needs " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                      " but the file ends at " + std::to_string(size_) + " (truncated?)");
    }
  }

  template <typename T>
  T read(const Field& field) {
    need(sizeof(T), field);
    T v = 0;
    // GGUF is little-endian and so is every host nagi targets.
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // A count of items that each take at least `min_bytes`; rejects counts the
  // rest of the file cannot possibly hold.
  uint64_t read_count(const Field& field, uint64_t min_bytes, const char* items) {
    const uint64_t n = read<uint64_t>(field);
    if (min_bytes > 0 && n > remaining() / min_bytes) {
      fail(field, std::to_string(n) + " " + items + " cannot fit in the " +
                      std::to_string(remaining()) + " bytes left in the file");
    }
    return n;
  }

  // The string's bytes inside the mapping, checked.
  std::string_view read_string_view(const Field& field) {
    const uint64_t len = read<uint64_t>(Field(field, " length"));
    if (len > remaining()) {
      fail(field, "string length " + std::to_string(len) + " runs past end of file (" +
                      std::to_string(remaining()) + " bytes left)");
    }
    const std::string_view s(reinterpret_cast<const char*>(data_ + pos_), size_t(len));
    pos_ += len;
    if (!valid_utf8(s)) fail(field, "string " + quoted(s) + " is not valid UTF-8");
    return s;
  }
  std::string read_string(const Field& field) { return std::string(read_string_view(field)); }

  // The text bytes of the next n strings, for reserving them in one piece;
  // stops early at a length that runs past the end (read_string_view then
  // reports it).
  size_t string_array_bytes(size_t n) const {
    size_t bytes = 0;
    for (size_t i = 0, p = pos_; i < n && size_ - p >= sizeof(uint64_t); ++i) {
      uint64_t len;
      std::memcpy(&len, data_ + p, sizeof len);
      p += sizeof len;
      if (len > size_ - p) break;
      bytes += size_t(len);
      p += size_t(len);
    }
    return bytes;
  }

  void parse_header() {
    need(4, "header: magic");
    if (std::memcmp(data_, "GGUF", 4) != 0) {
      fail("header: magic", "not a GGUF file (first bytes " + quoted(std::string_view(
                                  reinterpret_cast<const char*>(data_), 4)) + ", expected 'GGUF')");
    }
    pos_ = 4;
    const uint32_t version = read<uint32_t>("header: version");
    if (version == 1) {
      fail("header: version", "GGUF v1 is not supported (re-convert the model with a current llama.cpp)");
    }
    if (version < kMinVersion || version > kMaxVersion) {
      std::string hint;
      if ((version & 0xffff) == 0 && version != 0) hint = " (a big-endian GGUF file?)";
      fail("header: version", "unsupported GGUF version " + std::to_string(version) + hint +
                                  "; nagi reads versions 2 and 3");
    }
    out_.version_ = version;
    // Minimum sizes: a tensor info is a name length, n_dims, type and offset
    // (24 bytes); a key/value pair a key length, type and a 1-byte value.
    n_tensors_ = read_count("header: n_tensors", 24, "tensor infos");
    n_kv_ = read_count("header: n_kv", 13, "metadata key/value pairs");
  }

  GgufValue read_value(uint32_t type, const Field& field, int depth) {
    GgufValue v;
    v.type = GgufType(type);
    switch (GgufType(type)) {
      case GgufType::kU8: v.value = int64_t(read<uint8_t>(field)); break;
      case GgufType::kI8: v.value = int64_t(read<int8_t>(field)); break;
      case GgufType::kU16: v.value = int64_t(read<uint16_t>(field)); break;
      case GgufType::kI16: v.value = int64_t(read<int16_t>(field)); break;
      case GgufType::kU32: v.value = int64_t(read<uint32_t>(field)); break;
      case GgufType::kI32: v.value = int64_t(read<int32_t>(field)); break;
      case GgufType::kI64: v.value = read<int64_t>(field); break;
      case GgufType::kU64: {
        const uint64_t u = read<uint64_t>(field);
        if (u > uint64_t(std::numeric_limits<int64_t>::max())) {
          fail(field, "u64 value " + std::to_string(u) + " is too large (nagi keeps integers as int64)");
        }
        v.value = int64_t(u);
        break;
      }
      case GgufType::kF32: v.value = double(read<float>(field)); break;
      case GgufType::kF64: v.value = read<double>(field); break;
      case GgufType::kBool: {
        const uint8_t b = read<uint8_t>(field);
        if (b > 1) fail(field, "bool value " + std::to_string(b) + " is neither 0 nor 1");
        v.value = b != 0;
        break;
      }
      case GgufType::kString: v.value = read_string(field); break;
      case GgufType::kArray: {
        if (depth >= kMaxArrayDepth) {
          fail(field, "arrays nested more than " + std::to_string(kMaxArrayDepth) + " deep");
        }
        const uint32_t elem = read<uint32_t>(Field(field, ": array element type"));
        const uint64_t min_bytes = min_value_bytes(elem);
        if (min_bytes == 0) fail(field, "unknown array element type " + std::to_string(elem));
        v.elem_type = GgufType(elem);
        const uint64_t count = read_count(Field(field, ": array length"), min_bytes, "array elements");
        v.value = read_array(GgufType(elem), count, field, depth);
        break;
      }
      default:
        fail(field, "unknown value type " + std::to_string(type));
    }
    return v;
  }

  // The elements of an array straight into their typed vector.
  GgufArray read_array(GgufType elem, uint64_t count, const Field& field, int depth) {
    GgufArray a;
    const auto n = size_t(count);
    auto element = [&](size_t i) { return read_value(uint32_t(elem), Field(field, int64_t(i)), depth + 1); };
    switch (gguf_array_store(elem)) {
      case GgufArrayStore::kStrings:
        a.strings.reserve(n, string_array_bytes(n));
        for (size_t i = 0; i < n; ++i) a.strings.push_back(read_string_view(Field(field, int64_t(i))));
        break;
      case GgufArrayStore::kArrays:
        a.arrays.reserve(n);
        for (size_t i = 0; i < n; ++i) a.arrays.push_back(element(i));
        break;
      case GgufArrayStore::kFloats:
        a.floats.reserve(n);
        for (size_t i = 0; i < n; ++i) a.floats.push_back(std::get<double>(element(i).value));
        break;
      case GgufArrayStore::kInts:
        a.ints.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          const GgufValue e = element(i);
          a.ints.push_back(elem == GgufType::kBool ? int64_t(std::get<bool>(e.value)) : std::get<int64_t>(e.value));
        }
        break;
    }
    return a;
  }

  void parse_metadata() {
    for (uint64_t i = 0; i < n_kv_; ++i) {
      const std::string key = read_string("metadata key #" + std::to_string(i));
      const std::string field = "metadata " + quoted(key);
      if (out_.metadata_.count(key)) fail(field, "duplicate key");
      const uint32_t type = read<uint32_t>(field + ": value type");
      if (min_value_bytes(type) == 0) fail(field, "unknown value type " + std::to_string(type));
      out_.metadata_.emplace(key, read_value(type, field, 0));
    }
  }

  void parse_alignment() {
    const GgufValue* v = out_.find("general.alignment");
    if (v == nullptr) return;
    const std::string field = "metadata 'general.alignment'";
    if (v->type != GgufType::kU32) fail(field, "expected u32, found " + value_type_name(*v));
    const auto a = uint64_t(std::get<int64_t>(v->value));
    if (a == 0 || (a & (a - 1)) != 0) fail(field, std::to_string(a) + " is not a power of two");
    out_.alignment_ = a;
  }

  void parse_tensor_infos() {
    std::set<std::string> names;
    out_.tensors_.reserve(size_t(n_tensors_));
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      GgufTensorInfo t;
      t.name = read_string("tensor #" + std::to_string(i) + ": name");
      const std::string field = "tensor " + quoted(t.name);
      if (!names.insert(t.name).second) fail(field, "duplicate tensor name");

      const uint32_t n_dims = read<uint32_t>(field + ": n_dims");
      if (n_dims > uint32_t(kMaxDims)) {
        fail(field + ": n_dims", std::to_string(n_dims) + " dimensions (at most " +
                                     std::to_string(kMaxDims) + ")");
      }
      std::vector<int64_t> ne(n_dims);
      uint64_t numel = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const auto dim = read<uint64_t>(field + ": ne[" + std::to_string(d) + "]");
        // Also catches negative values stored by writers that use int64.
        if (dim == 0 || dim > uint64_t(std::numeric_limits<int64_t>::max())) {
          fail(field + ": ne[" + std::to_string(d) + "]",
               "dimension " + std::to_string(int64_t(dim)) + " is not positive");
        }
        if (numel > uint64_t(std::numeric_limits<int64_t>::max()) / dim) {
          fail(field + ": ne", "element count overflows");
        }
        numel *= dim;
        ne[d] = int64_t(dim);
      }

      const uint32_t ggml_type = read<uint32_t>(field + ": type");
      const std::optional<DType> dtype = dtype_from_ggml(ggml_type);
      if (!dtype) {
        const std::string label = ggml_type_label(ggml_type);
        fail(field + ": type", "unsupported GGML type id " + std::to_string(ggml_type) +
                                   (label.empty() ? " (unknown)" : " (" + label + ")"));
      }
      t.dtype = *dtype;
      const DTypeInfo& info = dtype_info(t.dtype);
      const int64_t row = n_dims > 0 ? ne[0] : 1;
      if (row % info.block_elems != 0) {
        fail(field + ": ne[0]", "row length " + std::to_string(row) + " is not a multiple of the " +
                                    std::string(info.name) + " block size " +
                                    std::to_string(info.block_elems));
      }
      const std::optional<size_t> nbytes = dtype_bytes(t.dtype, numel);
      if (!nbytes) fail(field, "byte size overflows");
      t.nbytes = *nbytes;

      t.offset = read<uint64_t>(field + ": offset");
      if (t.offset % out_.alignment_ != 0) {
        fail(field + ": offset", "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                     std::to_string(out_.alignment_));
      }
      t.shape.assign(ne.rbegin(), ne.rend());
      out_.tensors_.push_back(std::move(t));
    }
  }

  void place_data() {
    // The data section starts at the first aligned offset after the header.
    const uint64_t a = out_.alignment_;
    if (pos_ > std::numeric_limits<uint64_t>::max() - (a - 1)) fail("header", "alignment overflows");
    out_.data_offset_ = (pos_ + a - 1) / a * a;
    const uint64_t data_size = out_.data_offset_ <= size_ ? size_ - out_.data_offset_ : 0;

    std::vector<const GgufTensorInfo*> by_offset;
    for (const GgufTensorInfo& t : out_.tensors_) {
      const std::string range = "data [offset " + std::to_string(t.offset) + ", " +
                                std::to_string(t.nbytes) + " bytes]";
      if (out_.data_offset_ > size_ || t.offset > data_size || t.nbytes > data_size - t.offset) {
        fail("tensor " + quoted(t.name), range + " runs past end of file (" + std::to_string(size_) +
                                             " bytes, data section starts at " +
                                             std::to_string(out_.data_offset_) + ")");
      }
      by_offset.push_back(&t);
    }
    // Stable, so tensors at equal offsets are reported in file order.
    std::stable_sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensorInfo* x, const GgufTensorInfo* y) { return x->offset < y->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const GgufTensorInfo& prev = *by_offset[i - 1];
      const GgufTensorInfo& cur = *by_offset[i];
      if (cur.offset < prev.offset + prev.nbytes) {
        fail("tensor " + quoted(cur.name),
             "data [offset " + std::to_string(cur.offset) + ", " + std::to_string(cur.nbytes) +
                 " bytes] overlaps tensor " + quoted(prev.name) + " [offset " +
                 std::to_string(prev.offset) + ", " + std::to_string(prev.nbytes) + " bytes]");
      }
    }
  }

  GgufFile& out_;
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
};

std::shared_ptr<const GgufFile> GgufFile::open(const std::string& path) {
  auto file = std::shared_ptr<GgufFile>(new GgufFile());
  file->file_ = MappedFile::open(path);
  GgufParser(*file, *file->file_).parse();
  // Everything before the tensor data is parsed into copies: the header's
  // pages (the tokenizer's strings, megabytes for a 150k vocabulary) would
  // otherwise stay resident beside the weights.
  file->file_->release(file->file_->data(), std::min<uint64_t>(file->data_offset_, file->file_->size()));
  return file;
}

GgufArrayStore gguf_array_store(GgufType elem) {
  if (elem == GgufType::kString) return GgufArrayStore::kStrings;
  if (elem == GgufType::kArray) return GgufArrayStore::kArrays;
  if (is_float(elem)) return GgufArrayStore::kFloats;
  return GgufArrayStore::kInts;  // integers, and bools as 0/1
}

size_t gguf_array_size(const GgufValue& v) {
  const auto* a = std::get_if<GgufArray>(&v.value);
  if (a == nullptr) return 0;
  return a->ints.size() + a->floats.size() + a->strings.size() + a->arrays.size();
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

namespace {

[[noreturn]] void metadata_error(const std::string& path, const std::string& key,
                                 const std::string& what) {
  throw Error(ErrorCode::kFormat, path + ": metadata " + quoted(key) + ": " + what);
}

[[noreturn]] void type_error(const std::string& path, const std::string& key, const char* expected,
                             const GgufValue& v) {
  metadata_error(path, key, std::string("expected ") + expected + ", found " + value_type_name(v));
}

double scalar_to_double(const GgufValue& v) {
  if (is_float(v.type)) return std::get<double>(v.value);
  return double(std::get<int64_t>(v.value));
}

}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) metadata_error(path(), key, "missing");
  if (v->type != GgufType::kString) type_error(path(), key, "string", *v);
  return std::get<std::string>(v->value);
}

std::string GgufFile::get_string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) metadata_error(path(), key, "missing");
  // u64 values beyond int64 were rejected at load, so every integer fits.
  if (!is_integer(v->type)) type_error(path(), key, "integer", *v);
  return std::get<int64_t>(v->value);
}

int64_t GgufFile::get_int_or(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) metadata_error(path(), key, "missing");
  if (!is_float(v->type) && !is_integer(v->type)) type_error(path(), key, "number", *v);
  return scalar_to_double(*v);
}

double GgufFile::get_float_or(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool_or(const std::string& key, bool fallback) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return fallback;
  if (v->type != GgufType::kBool) type_error(path(), key, "bool", *v);
  return std::get<bool>(v->value);
}

const StringTable& GgufFile::get_string_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) metadata_error(path(), key, "missing");
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kString) {
    type_error(path(), key, "array[string]", *v);
  }
  return std::get<GgufArray>(v->value).strings;
}

std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) metadata_error(path(), key, "missing");
  if (v->type != GgufType::kArray || !(is_float(v->elem_type) || is_integer(v->elem_type))) {
    type_error(path(), key, "array of numbers", *v);
  }
  const GgufArray& a = std::get<GgufArray>(v->value);
  if (is_float(v->elem_type)) return a.floats;
  return std::vector<double>(a.ints.begin(), a.ints.end());
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) metadata_error(path(), key, "missing");
  if (v->type != GgufType::kArray || !is_integer(v->elem_type)) {
    type_error(path(), key, "array of integers", *v);
  }
  return std::get<GgufArray>(v->value).ints;
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& t) const {
  return file_->data() + data_offset_ + t.offset;
}

void GgufFile::add_tensors_to(TensorStore& store) const {
  store.keep_alive(file_);
  for (const GgufTensorInfo& t : tensors_) {
    TensorView view;
    view.name = t.name;
    view.dtype = t.dtype;
    view.shape = t.shape;
    view.data = tensor_data(t);
    view.nbytes = t.nbytes;
    view.source = path() + ": tensor '" + t.name + "'";
    store.add(std::move(view));
  }
}

}  // namespace nagi
