#include "format/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>

#include "base/mapped_file.h"
#include "nagi/error.hpp"

namespace nagi {

namespace {

using json = nlohmann::json;

// The safetensors dtype strings nagi reads. Kept private (rather than calling
// dtype_info/dtype_bytes) so this loader depends only on the DType enum.
struct StDType {
  std::string_view name;
  DType dtype;
  size_t elem_bytes;
};

constexpr StDType kStDTypes[] = {
    {"F32", DType::kF32, 4}, {"F16", DType::kF16, 2}, {"BF16", DType::kBF16, 2},
    {"F64", DType::kF64, 8}, {"I8", DType::kI8, 1},   {"I16", DType::kI16, 2},
    {"I32", DType::kI32, 4}, {"I64", DType::kI64, 8}, {"U8", DType::kU8, 1},
    {"BOOL", DType::kBool, 1},
};

const StDType* st_dtype_by_name(std::string_view name) {
  for (const StDType& d : kStDTypes) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const StDType* st_dtype_by_enum(DType t) {
  for (const StDType& d : kStDTypes) {
    if (d.dtype == t) return &d;
  }
  return nullptr;
}

// The reference implementation refuses headers above 100 MB; a larger length
// is a corrupt or hostile file, not a real model.
constexpr uint64_t kMaxHeaderBytes = 100u * 1024u * 1024u;

[[noreturn]] void format_error(const std::string& msg) { throw Error(ErrorCode::kFormat, msg); }

// A JSON value's type for error messages ("string", "array", ...).
std::string json_kind(const json& v) { return v.type_name(); }

// A name as it may appear in a message: names come straight from the file, so
// control characters are escaped to keep the message on one line.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool json_is_integer(const json& v) { return v.is_number_integer() || v.is_number_unsigned(); }

struct ParsedFile {
  std::shared_ptr<const MappedFile> file;
  std::vector<TensorView> views;
  std::map<std::string, std::string> metadata;
};

// Validates one entry of the header and returns its view. `data` and
// `data_size` describe the data section (everything after the header).
TensorView parse_entry(const std::string& path, const std::string& name, const json& entry,
                       const uint8_t* data, uint64_t data_size) {
  const std::string where = path + ": tensor '" + printable(name) + "'";
  if (!entry.is_object()) format_error(where + ": expected a JSON object, got " + json_kind(entry));

  auto field = [&](const char* key) -> const json& {
    auto it = entry.find(key);
    if (it == entry.end()) format_error(where + ": " + key + ": missing");
    return *it;
  };

  // dtype
  const json& jdtype = field("dtype");
  if (!jdtype.is_string()) format_error(where + ": dtype: expected a string, got " + json_kind(jdtype));
  const std::string dtype_str = jdtype.get<std::string>();
  const StDType* dt = st_dtype_by_name(dtype_str);
  if (dt == nullptr) format_error(where + ": dtype: unknown or unsupported dtype '" + printable(dtype_str) + "'");

  // shape
  const json& jshape = field("shape");
  if (!jshape.is_array()) format_error(where + ": shape: expected an array, got " + json_kind(jshape));
  std::vector<int64_t> shape;
  uint64_t numel = 1;
  for (size_t i = 0; i < jshape.size(); ++i) {
    const json& d = jshape[i];
    const std::string dim_where = where + ": shape: dimension " + std::to_string(i);
    if (!json_is_integer(d)) format_error(dim_where + ": expected an integer, got " + json_kind(d));
    if (d.is_number_integer() && d.get<int64_t>() < 0) {
      format_error(dim_where + ": negative (" + std::to_string(d.get<int64_t>()) + ")");
    }
    const uint64_t u = d.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      format_error(dim_where + ": too large (" + std::to_string(u) + ")");
    }
    shape.push_back(static_cast<int64_t>(u));
    // numel stays below 2^63 so it is representable as int64 (TensorView::numel).
    if (u != 0 && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / u) {
      format_error(where + ": shape: element count of " + jshape.dump() + " overflows");
    }
    numel *= u;
  }

  // data_offsets
  const json& joff = field("data_offsets");
  if (!joff.is_array() || joff.size() != 2 || !json_is_integer(joff[0]) || !json_is_integer(joff[1])) {
    format_error(where + ": data_offsets: expected [begin, end] non-negative integers, got " + joff.dump());
  }
  if ((joff[0].is_number_integer() && joff[0].get<int64_t>() < 0) ||
      (joff[1].is_number_integer() && joff[1].get<int64_t>() < 0)) {
    format_error(where + ": data_offsets: negative offset in " + joff.dump());
  }
  const uint64_t begin = joff[0].get<uint64_t>();
  const uint64_t end = joff[1].get<uint64_t>();
  if (begin > end) format_error(where + ": data_offsets: begin " + std::to_string(begin) + " > end " + std::to_string(end));
  if (end > data_size) {
    format_error(where + ": data_offsets: end " + std::to_string(end) + " is past the end of the data section (" +
                 std::to_string(data_size) + " bytes; file truncated?)");
  }
  const uint64_t nbytes = end - begin;
  if (numel > std::numeric_limits<uint64_t>::max() / dt->elem_bytes || numel * dt->elem_bytes != nbytes) {
    format_error(where + ": data_offsets: span of " + std::to_string(nbytes) + " bytes does not match dtype " +
                 dtype_str + " shape " + shape_string(shape) + " (" + std::to_string(numel) + " elements of " +
                 std::to_string(dt->elem_bytes) + " bytes)");
  }

  TensorView v;
  v.name = name;
  v.dtype = dt->dtype;
  v.shape = std::move(shape);
  v.data = data + begin;
  v.nbytes = static_cast<size_t>(nbytes);
  v.source = where;
  return v;
}

ParsedFile parse_file(const std::string& path) {
  ParsedFile out;
  out.file = MappedFile::open(path);
  const uint8_t* bytes = out.file->data();
  const uint64_t size = out.file->size();

  if (size < 8) {
    format_error(path + ": header: file is " + std::to_string(size) +
                 " bytes, too short for the 8-byte header length");
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes) {
    format_error(path + ": header: length " + std::to_string(header_len) + " exceeds the " +
                 std::to_string(kMaxHeaderBytes) + "-byte limit (corrupt file?)");
  }
  if (header_len > size - 8) {
    format_error(path + ": header: length " + std::to_string(header_len) + " runs past the end of the file (" +
                 std::to_string(size) + " bytes; truncated?)");
  }

  const char* text = reinterpret_cast<const char*>(bytes + 8);
  // Duplicate top-level keys would silently keep only the last entry; the
  // parse callback sees every key, so record the first duplicate instead.
  std::set<std::string> seen_keys;
  std::optional<std::string> duplicate;
  json header;
  try {
    header = json::parse(
        text, text + header_len,
        [&](int depth, json::parse_event_t event, json& parsed) {
          if (event == json::parse_event_t::key && depth == 1 && !duplicate) {
            std::string key = parsed.get<std::string>();
            if (!seen_keys.insert(key).second) duplicate = std::move(key);
          }
          return true;
        });
  } catch (const json::exception& e) {
    format_error(path + ": header: not valid JSON: " + e.what());
  }
  if (!header.is_object()) format_error(path + ": header: expected a JSON object, got " + json_kind(header));
  if (duplicate) format_error(path + ": tensor '" + printable(*duplicate) + "': name appears twice in the header");

  const uint8_t* data = bytes + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    if (key == "__metadata__") {
      if (!it->is_object()) format_error(path + ": header: __metadata__: expected an object, got " + json_kind(*it));
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) {
          format_error(path + ": header: __metadata__: key '" + printable(m.key()) + "': expected a string, got " +
                       json_kind(*m));
        }
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    out.views.push_back(parse_entry(path, key, *it, data, data_size));
  }

  // Overlapping tensors would alias each other's bytes; sorting by start
  // makes each view only need a check against the furthest end seen so far.
  std::vector<const TensorView*> order;
  for (const TensorView& v : out.views) {
    if (v.nbytes > 0) order.push_back(&v);
  }
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) { return a->data < b->data; });
  const TensorView* furthest = nullptr;
  for (const TensorView* v : order) {
    if (furthest != nullptr && v->data < furthest->data + furthest->nbytes) {
      format_error(v->source + ": data_offsets: [" + std::to_string(v->data - data) + ", " +
                   std::to_string(v->data - data + v->nbytes) + "] overlaps tensor '" + printable(furthest->name) +
                   "' [" + std::to_string(furthest->data - data) + ", " +
                   std::to_string(furthest->data - data + furthest->nbytes) + "]");
    }
    if (furthest == nullptr || v->data + v->nbytes > furthest->data + furthest->nbytes) furthest = v;
  }
  return out;
}

// Adds a parsed file's tensors to the store. Offsets need not be multiples of
// the element size, and reading a misaligned float through a pointer is
// undefined, so such (rare) tensors are copied into an aligned buffer.
void add_parsed(ParsedFile parsed, TensorStore& store) {
  store.keep_alive(parsed.file);
  for (TensorView& v : parsed.views) {
    const StDType* dt = st_dtype_by_enum(v.dtype);
    if (v.nbytes > 0 && reinterpret_cast<uintptr_t>(v.data) % dt->elem_bytes != 0) {
      std::vector<uint8_t> copy(v.data, v.data + v.nbytes);
      v.data = store.own(std::move(copy));
    }
    store.add(std::move(v));
  }
}

bool is_plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

}  // namespace

std::map<std::string, std::string> load_safetensors_file(const std::string& path, TensorStore& store) {
  ParsedFile parsed = parse_file(path);
  std::map<std::string, std::string> metadata = std::move(parsed.metadata);
  add_parsed(std::move(parsed), store);
  return metadata;
}

void load_safetensors_folder(const std::string& dir, TensorStore& store) {
  namespace fs = std::filesystem;
  const std::string index_path = dir + "/model.safetensors.index.json";
  const std::string single_path = dir + "/model.safetensors";

  std::error_code ec;
  if (!fs::exists(index_path, ec)) {
    if (!fs::exists(single_path, ec)) {
      throw Error(ErrorCode::kIo, dir + ": no model.safetensors or model.safetensors.index.json in this folder");
    }
    load_safetensors_file(single_path, store);
    return;
  }

  auto index_file = MappedFile::open(index_path);
  const char* text = reinterpret_cast<const char*>(index_file->data());
  json index;
  try {
    index = json::parse(text, text + index_file->size());
  } catch (const json::exception& e) {
    format_error(index_path + ": not valid JSON: " + e.what());
  }
  if (!index.is_object()) format_error(index_path + ": expected a JSON object, got " + json_kind(index));
  auto wm = index.find("weight_map");
  if (wm == index.end()) format_error(index_path + ": weight_map: missing");
  if (!wm->is_object()) format_error(index_path + ": weight_map: expected an object, got " + json_kind(*wm));
  if (wm->empty()) format_error(index_path + ": weight_map: empty");

  // shard file name -> tensor names the index places there
  std::map<std::string, std::vector<std::string>> shards;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    const std::string where = index_path + ": weight_map: tensor '" + printable(it.key()) + "'";
    if (!it->is_string()) format_error(where + ": expected a shard file name, got " + json_kind(*it));
    const std::string shard = it->get<std::string>();
    // The index is data from the download; it must not point outside the folder.
    if (!is_plain_file_name(shard)) format_error(where + ": shard '" + printable(shard) + "' is not a file name in the folder");
    shards[shard].push_back(it.key());
  }

  // Parse every shard before adding anything, so a bad index leaves the store untouched.
  std::vector<ParsedFile> parsed;
  for (const auto& [shard, names] : shards) {
    ParsedFile p = parse_file(dir + "/" + shard);
    std::set<std::string> present;
    for (const TensorView& v : p.views) present.insert(v.name);
    for (const std::string& name : names) {
      if (!present.count(name)) {
        format_error(index_path + ": weight_map: tensor '" + printable(name) + "': not found in shard '" + shard + "'");
      }
    }
    parsed.push_back(std::move(p));
  }
  for (ParsedFile& p : parsed) add_parsed(std::move(p), store);
}

void SafetensorsWriter::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            std::vector<uint8_t> data) {
  const StDType* dt = st_dtype_by_enum(dtype);
  if (dt == nullptr) {
    throw Error(ErrorCode::kUnsupported, "safetensors writer: tensor '" + name + "': dtype has no safetensors name");
  }
  if (name == "__metadata__") {
    throw Error(ErrorCode::kInvalidArgument, "safetensors writer: '__metadata__' is reserved, not a tensor name");
  }
  if (tensors_.count(name)) {
    throw Error(ErrorCode::kInvalidArgument, "safetensors writer: tensor '" + name + "' added twice");
  }
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(ErrorCode::kInvalidArgument, "safetensors writer: tensor '" + name + "': negative dimension");
    numel *= static_cast<uint64_t>(d);
  }
  if (numel * dt->elem_bytes != data.size()) {
    throw Error(ErrorCode::kInvalidArgument, "safetensors writer: tensor '" + name + "': " +
                                                 std::to_string(data.size()) + " bytes given, shape " +
                                                 shape_string(shape) + " needs " +
                                                 std::to_string(numel * dt->elem_bytes));
  }
  tensors_[name] = Entry{dtype, shape, std::move(data)};
}

void SafetensorsWriter::add_f32(const std::string& name, const std::vector<int64_t>& shape,
                                const std::vector<float>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  add(name, DType::kF32, shape, std::move(bytes));
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

void SafetensorsWriter::write(const std::string& path) const {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, e] : tensors_) {
    json entry = json::object();
    entry["dtype"] = std::string(st_dtype_by_enum(e.dtype)->name);
    entry["shape"] = e.shape;
    entry["data_offsets"] = {offset, offset + e.data.size()};
    header[name] = std::move(entry);
    offset += e.data.size();
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;

  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    // dump() refuses strings that are not valid UTF-8.
    throw Error(ErrorCode::kInvalidArgument, path + ": cannot write header: " + e.what());
  }
  // Padding keeps the data section 8-byte aligned in the file, so tensors of
  // the usual sizes can be used in place from a mapping.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::kIo, path + ": cannot open for writing");
  uint8_t len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, e] : tensors_) {
    out.write(reinterpret_cast<const char*>(e.data.data()), static_cast<std::streamsize>(e.data.size()));
  }
  out.flush();
  if (!out) throw Error(ErrorCode::kIo, path + ": write failed");
}

}  // namespace nagi
