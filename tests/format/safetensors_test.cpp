#include "format/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nagi/error.hpp"
#include "test_support.h"

namespace nagi {
namespace {

using json = nlohmann::json;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// A safetensors file with the header text given verbatim.
std::string raw_file(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

std::vector<float> floats_of(const TensorView& v) {
  std::vector<float> out(v.nbytes / 4);
  std::memcpy(out.data(), v.data, v.nbytes);
  return out;
}

// Loads `bytes` as a file and expects Error(kFormat) whose message names the
// file and contains every string of `needles`.
void expect_format_error(const std::string& bytes, std::vector<std::string> needles) {
  const std::string path = test::temp_dir() + "/bad.safetensors";
  write_bytes(path, bytes);
  TensorStore store;
  try {
    load_safetensors_file(path, store);
    ADD_FAILURE() << "no error; expected one containing " << (needles.empty() ? "" : needles[0]);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFormat) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "missing '" << n << "' in: " << msg;
  }
}

// A valid two-tensor file used as the base for corruptions.
std::string good_header() {
  return R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[4],"data_offsets":[8,12]}})";
}
std::string good_data() { return std::string(12, '\x01'); }

TEST(Safetensors, ReadsStories260K) {
  if (!test::has_shared()) GTEST_SKIP() << "no fixtures";
  const std::string path = test::shared_path("models/stories260K/hf/model.safetensors");
  TensorStore store;
  auto meta = load_safetensors_file(path, store);
  EXPECT_EQ(meta.size(), 1u);
  EXPECT_EQ(meta["format"], "pt");
  EXPECT_EQ(store.all().size(), 47u);
  EXPECT_EQ(store.get("model.embed_tokens.weight", "t").shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(store.get("model.norm.weight", "t").shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(store.find("lm_head.weight"), nullptr);
  for (int l = 0; l < 5; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    EXPECT_EQ(store.get(p + "input_layernorm.weight", "t").shape, (std::vector<int64_t>{64}));
    EXPECT_EQ(store.get(p + "post_attention_layernorm.weight", "t").shape, (std::vector<int64_t>{64}));
    EXPECT_EQ(store.get(p + "self_attn.q_proj.weight", "t").shape, (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(store.get(p + "self_attn.k_proj.weight", "t").shape, (std::vector<int64_t>{32, 64}));
    EXPECT_EQ(store.get(p + "self_attn.v_proj.weight", "t").shape, (std::vector<int64_t>{32, 64}));
    EXPECT_EQ(store.get(p + "self_attn.o_proj.weight", "t").shape, (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(store.get(p + "mlp.gate_proj.weight", "t").shape, (std::vector<int64_t>{172, 64}));
    EXPECT_EQ(store.get(p + "mlp.up_proj.weight", "t").shape, (std::vector<int64_t>{172, 64}));
    EXPECT_EQ(store.get(p + "mlp.down_proj.weight", "t").shape, (std::vector<int64_t>{64, 172}));
  }
  int64_t params = 0;
  for (const auto& [name, v] : store.all()) {
    EXPECT_EQ(v.dtype, DType::kF32) << name;
    EXPECT_EQ(v.nbytes, size_t(v.numel()) * 4) << name;
    EXPECT_NE(v.source.find(path), std::string::npos);
    EXPECT_NE(v.source.find("'" + name + "'"), std::string::npos);
    params += v.numel();
  }
  EXPECT_EQ(params, 260032);
  // RMSNorm weights of a trained model are far from zero; a mis-offset view
  // would very likely hit other data.
  auto norm = floats_of(store.get("model.norm.weight", "t"));
  for (float f : norm) EXPECT_TRUE(std::isfinite(f));
}

TEST(Safetensors, ReadsReferenceLogits) {
  if (!test::has_shared()) GTEST_SKIP() << "no fixtures";
  TensorStore store;
  load_safetensors_file(test::shared_path("models/stories260K/reference/logits.safetensors"), store);
  EXPECT_EQ(store.all().size(), 12u);
  const int lens[] = {1, 5, 20, 24, 40, 60};
  for (int k = 0; k < 6; ++k) {
    const auto& ids = store.get("prompt_" + std::to_string(k) + "_ids", "t");
    const auto& logits = store.get("prompt_" + std::to_string(k) + "_logits", "t");
    EXPECT_EQ(ids.dtype, DType::kI32);
    EXPECT_EQ(ids.shape, (std::vector<int64_t>{lens[k]}));
    EXPECT_EQ(logits.dtype, DType::kF32);
    EXPECT_EQ(logits.shape, (std::vector<int64_t>{lens[k], 512}));
    int32_t first;
    std::memcpy(&first, ids.data, 4);
    EXPECT_EQ(first, 1) << "every prompt starts with BOS";
  }
}

TEST(Safetensors, WriterRoundTrip) {
  SafetensorsWriter w;
  w.add_f32("z.last", {2, 3}, {1, 2, 3, 4, 5, 6});
  w.add("a.bytes", DType::kU8, {3}, {7, 8, 9});  // odd size: the next tensor starts misaligned
  w.add_f32("b.vec", {1}, {-2.5f});
  w.add("c.i64", DType::kI64, {1}, std::vector<uint8_t>(8, 0xff));
  w.add("d.empty", DType::kF16, {0, 4}, {});
  w.add("e.scalar", DType::kBF16, {}, {0x80, 0x3f});
  w.set_metadata("format", "pt");
  w.set_metadata("note", "héllo");
  const std::string path = test::temp_dir() + "/rt.safetensors";
  w.write(path);

  // Check the layout a reader in another language would rely on.
  const std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  json header = json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["__metadata__"]["note"], "héllo");
  EXPECT_EQ(header["a.bytes"]["data_offsets"], json({0, 3}));
  EXPECT_EQ(header["b.vec"]["data_offsets"], json({3, 7}));
  EXPECT_EQ(header["z.last"]["data_offsets"], json({17, 41}));
  EXPECT_EQ(bytes.size(), 8 + n + 41);

  TensorStore store;
  auto meta = load_safetensors_file(path, store);
  EXPECT_EQ(meta, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "héllo"}}));
  ASSERT_EQ(store.all().size(), 6u);
  const TensorView& z = store.get("z.last", "t");
  EXPECT_EQ(z.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(floats_of(z), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const TensorView& b = store.get("b.vec", "t");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data) % 4, 0u) << "misaligned tensors are copied";
  EXPECT_EQ(floats_of(b), std::vector<float>{-2.5f});
  const TensorView& a = store.get("a.bytes", "t");
  EXPECT_EQ(a.dtype, DType::kU8);
  EXPECT_EQ(std::vector<uint8_t>(a.data, a.data + a.nbytes), (std::vector<uint8_t>{7, 8, 9}));
  EXPECT_EQ(store.get("c.i64", "t").dtype, DType::kI64);
  EXPECT_EQ(store.get("d.empty", "t").nbytes, 0u);
  EXPECT_EQ(store.get("d.empty", "t").shape, (std::vector<int64_t>{0, 4}));
  const TensorView& e = store.get("e.scalar", "t");
  EXPECT_EQ(e.dtype, DType::kBF16);
  EXPECT_TRUE(e.shape.empty());
  EXPECT_EQ(e.numel(), 1);
}

TEST(Safetensors, WriterWithoutMetadataHasNoMetadataKey) {
  SafetensorsWriter w;
  w.add_f32("x", {1}, {1.f});
  const std::string path = test::temp_dir() + "/nometa.safetensors";
  w.write(path);
  const std::string bytes = read_bytes(path);
  EXPECT_EQ(bytes.find("__metadata__"), std::string::npos);
  TensorStore store;
  EXPECT_TRUE(load_safetensors_file(path, store).empty());
}

TEST(Safetensors, WriterRejectsBadInput) {
  SafetensorsWriter w;
  EXPECT_THROW(w.add_f32("x", {2}, {1.f}), Error);
  EXPECT_THROW(w.add("x", DType::kQ8_0, {32}, std::vector<uint8_t>(34)), Error);
  EXPECT_THROW(w.add_f32("__metadata__", {1}, {1.f}), Error);
  EXPECT_THROW(w.add_f32("x", {-1}, {}), Error);
  w.add_f32("x", {1}, {1.f});
  EXPECT_THROW(w.add_f32("x", {1}, {1.f}), Error);
}

TEST(Safetensors, ExactBytesOfTinyFile) {
  SafetensorsWriter w;
  w.add_f32("w", {1}, {1.0f});
  const std::string path = test::temp_dir() + "/tiny.safetensors";
  w.write(path);
  const std::string hdr = R"({"w":{"data_offsets":[0,4],"dtype":"F32","shape":[1]}})";
  std::string padded = hdr + std::string((8 - hdr.size() % 8) % 8, ' ');
  EXPECT_EQ(read_bytes(path), le64(padded.size()) + padded + std::string("\x00\x00\x80\x3f", 4));
}

void write_sharded(const std::string& dir) {
  SafetensorsWriter s1, s2;
  s1.add_f32("layer.0.w", {2}, {1, 2});
  s1.add_f32("layer.1.w", {2}, {3, 4});
  s2.add_f32("norm.w", {3}, {5, 6, 7});
  s1.write(dir + "/model-00001-of-00002.safetensors");
  s2.write(dir + "/model-00002-of-00002.safetensors");
}

void write_index(const std::string& dir, const json& weight_map) {
  json index = {{"metadata", {{"total_size", 28}}}, {"weight_map", weight_map}};
  write_bytes(dir + "/model.safetensors.index.json", index.dump(2));
}

json good_weight_map() {
  return {{"layer.0.w", "model-00001-of-00002.safetensors"},
          {"layer.1.w", "model-00001-of-00002.safetensors"},
          {"norm.w", "model-00002-of-00002.safetensors"}};
}

void expect_folder_error(const std::string& dir, ErrorCode code, std::vector<std::string> needles) {
  TensorStore store;
  try {
    load_safetensors_folder(dir, store);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

TEST(SafetensorsFolder, ShardedWithIndex) {
  const std::string dir = test::temp_dir();
  write_sharded(dir);
  write_index(dir, good_weight_map());
  TensorStore store;
  load_safetensors_folder(dir, store);
  ASSERT_EQ(store.all().size(), 3u);
  EXPECT_EQ(floats_of(store.get("layer.1.w", "t")), (std::vector<float>{3, 4}));
  EXPECT_EQ(floats_of(store.get("norm.w", "t")), (std::vector<float>{5, 6, 7}));
  EXPECT_NE(store.get("norm.w", "t").source.find("model-00002-of-00002.safetensors"), std::string::npos);
}

TEST(SafetensorsFolder, SingleFile) {
  const std::string dir = test::temp_dir();
  SafetensorsWriter w;
  w.add_f32("x", {2}, {1, 2});
  w.write(dir + "/model.safetensors");
  TensorStore store;
  load_safetensors_folder(dir, store);
  EXPECT_EQ(floats_of(store.get("x", "t")), (std::vector<float>{1, 2}));
}

TEST(SafetensorsFolder, Stories260K) {
  if (!test::has_shared()) GTEST_SKIP() << "no fixtures";
  TensorStore store;
  load_safetensors_folder(test::shared_path("models/stories260K/hf"), store);
  EXPECT_EQ(store.all().size(), 47u);
}

TEST(SafetensorsFolder, EmptyFolderIsIoError) {
  const std::string dir = test::temp_dir();
  expect_folder_error(dir, ErrorCode::kIo, {dir, "model.safetensors"});
}

TEST(SafetensorsFolder, TensorInWrongShard) {
  const std::string dir = test::temp_dir();
  write_sharded(dir);
  json wm = good_weight_map();
  wm["norm.w"] = "model-00001-of-00002.safetensors";
  write_index(dir, wm);
  expect_folder_error(dir, ErrorCode::kFormat, {"model.safetensors.index.json", "'norm.w'", "model-00001-of-00002"});
}

TEST(SafetensorsFolder, TensorMissingFromShards) {
  const std::string dir = test::temp_dir();
  write_sharded(dir);
  json wm = good_weight_map();
  wm["ghost.w"] = "model-00002-of-00002.safetensors";
  write_index(dir, wm);
  expect_folder_error(dir, ErrorCode::kFormat, {"model.safetensors.index.json", "'ghost.w'"});
}

TEST(SafetensorsFolder, MissingShardFileIsIoError) {
  const std::string dir = test::temp_dir();
  write_sharded(dir);
  json wm = good_weight_map();
  wm["norm.w"] = "model-00003-of-00002.safetensors";
  write_index(dir, wm);
  expect_folder_error(dir, ErrorCode::kIo, {"model-00003-of-00002.safetensors"});
}

TEST(SafetensorsFolder, ShardNamesMayNotEscapeFolder) {
  for (const char* shard : {"../model-00001-of-00002.safetensors", "sub/x.safetensors", "..", "/etc/passwd", ""}) {
    const std::string dir = test::temp_dir();
    write_sharded(dir);
    json wm = good_weight_map();
    wm["norm.w"] = shard;
    write_index(dir, wm);
    expect_folder_error(dir, ErrorCode::kFormat, {"model.safetensors.index.json", "weight_map", "'norm.w'"});
  }
}

TEST(SafetensorsFolder, BadIndex) {
  struct Case {
    std::string text;
    std::string needle;
  };
  const Case cases[] = {
      {"{not json", "not valid JSON"},
      {"", "not valid JSON"},
      {"[1,2]", "expected a JSON object"},
      {R"({"metadata":{}})", "weight_map: missing"},
      {R"({"weight_map":[]})", "weight_map: expected an object"},
      {R"({"weight_map":{}})", "weight_map: empty"},
      {R"({"weight_map":{"layer.0.w":3}})", "weight_map: tensor 'layer.0.w'"},
  };
  for (const Case& c : cases) {
    const std::string dir = test::temp_dir();
    write_sharded(dir);
    write_bytes(dir + "/model.safetensors.index.json", c.text);
    expect_folder_error(dir, ErrorCode::kFormat, {"model.safetensors.index.json", c.needle});
  }
}

TEST(SafetensorsFolder, CorruptShardNamesShard) {
  const std::string dir = test::temp_dir();
  write_sharded(dir);
  write_index(dir, good_weight_map());
  write_bytes(dir + "/model-00002-of-00002.safetensors", "short");
  expect_folder_error(dir, ErrorCode::kFormat, {"model-00002-of-00002.safetensors", "header"});
}

TEST(SafetensorsCorrupt, GoodBaseLoads) {
  const std::string path = test::temp_dir() + "/good.safetensors";
  write_bytes(path, raw_file(good_header(), good_data()));
  TensorStore store;
  load_safetensors_file(path, store);
  EXPECT_EQ(store.all().size(), 2u);
}

TEST(SafetensorsCorrupt, ShortFile) {
  expect_format_error("", {"header", "8-byte"});
  expect_format_error("\x10\x00\x00", {"header"});
}

TEST(SafetensorsCorrupt, HeaderLength) {
  expect_format_error(le64(1000) + "{}", {"header", "length 1000", "past the end"});
  expect_format_error(le64(~uint64_t(0)) + "{}", {"header", "limit"});
  expect_format_error(le64(uint64_t(1) << 40) + "{}", {"header", "limit"});
}

TEST(SafetensorsCorrupt, HeaderNotJson) {
  expect_format_error(raw_file("{\"a\":", ""), {"header", "not valid JSON"});
  expect_format_error(raw_file("", ""), {"header", "not valid JSON"});
  expect_format_error(raw_file(std::string("{\"a\x00\":1}", 9), ""), {"header", "not valid JSON"});
}

TEST(SafetensorsCorrupt, HeaderNotObject) {
  expect_format_error(raw_file("[1,2,3]", ""), {"header", "expected a JSON object", "array"});
  expect_format_error(raw_file("\"str\"", ""), {"header", "expected a JSON object"});
}

TEST(SafetensorsCorrupt, DeeplyNestedHeaderDoesNotOverflowStack) {
  const int depth = 200000;
  const std::string h = "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  expect_format_error(raw_file(h, ""), {"tensor 'a'", "expected a JSON object"});
}

TEST(SafetensorsCorrupt, InvalidUtf8Name) {
  const std::string h = "{\"bad\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  expect_format_error(raw_file(h, std::string(4, '\0')), {"header", "not valid JSON"});
}

TEST(SafetensorsCorrupt, DuplicateName) {
  const std::string h = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_format_error(raw_file(h, std::string(8, '\0')), {"tensor 'a'", "twice"});
}

TEST(SafetensorsCorrupt, Metadata) {
  expect_format_error(raw_file(R"({"__metadata__":[1]})", ""), {"header", "__metadata__"});
  expect_format_error(raw_file(R"({"__metadata__":{"k":1}})", ""), {"header", "__metadata__", "'k'"});
}

// Replaces one entry's JSON in the two-tensor base file.
std::string with_entry_a(const std::string& entry) {
  return raw_file(R"({"a":)" + entry + R"(,"b":{"dtype":"I8","shape":[4],"data_offsets":[8,12]}})", good_data());
}

TEST(SafetensorsCorrupt, EntryFields) {
  struct Case {
    std::string entry;
    std::vector<std::string> needles;
  };
  const Case cases[] = {
      {R"([1])", {"tensor 'a'", "expected a JSON object"}},
      {R"({"shape":[2],"data_offsets":[0,8]})", {"tensor 'a'", "dtype: missing"}},
      {R"({"dtype":"F32","data_offsets":[0,8]})", {"tensor 'a'", "shape: missing"}},
      {R"({"dtype":"F32","shape":[2]})", {"tensor 'a'", "data_offsets: missing"}},
      {R"({"dtype":32,"shape":[2],"data_offsets":[0,8]})", {"tensor 'a'", "dtype: expected a string"}},
      {R"({"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,8]})", {"tensor 'a'", "dtype", "F8_E4M3"}},
      {R"({"dtype":"f32","shape":[2],"data_offsets":[0,8]})", {"tensor 'a'", "dtype", "'f32'"}},
      {R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})", {"tensor 'a'", "shape: expected an array"}},
      {R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})", {"tensor 'a'", "shape: dimension 0", "integer"}},
      {R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})", {"tensor 'a'", "shape: dimension 0", "integer"}},
      {R"({"dtype":"F32","shape":[1,-2],"data_offsets":[0,8]})", {"tensor 'a'", "shape: dimension 1", "negative"}},
      {R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})", {"tensor 'a'", "shape", "overflow"}},
      {R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]})", {"tensor 'a'", "shape: dimension 0"}},
      {R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]})", {"tensor 'a'", "data_offsets", "does not match"}},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[0]})", {"tensor 'a'", "data_offsets", "[begin, end]"}},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[0,8,9]})", {"tensor 'a'", "data_offsets", "[begin, end]"}},
      {R"({"dtype":"F32","shape":[2],"data_offsets":{"a":1}})", {"tensor 'a'", "data_offsets", "[begin, end]"}},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[0,"8"]})", {"tensor 'a'", "data_offsets", "[begin, end]"}},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})", {"tensor 'a'", "data_offsets", "negative"}},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})", {"tensor 'a'", "data_offsets", "begin 8 > end 0"}},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[8,16]})", {"tensor 'a'", "data_offsets", "end 16", "past the end"}},
      {R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})", {"tensor 'a'", "data_offsets", "does not match"}},
      {R"({"dtype":"F16","shape":[2],"data_offsets":[0,8]})", {"tensor 'a'", "data_offsets", "does not match"}},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[4,12]})", {"data_offsets", "overlaps", "'a'", "'b'"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.entry);
    expect_format_error(with_entry_a(c.entry), c.needles);
  }
}

TEST(SafetensorsCorrupt, Overlap) {
  // Identical ranges and a range nested inside another both overlap.
  expect_format_error(
      raw_file(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"y":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
               std::string(4, '\0')),
      {"overlaps"});
  expect_format_error(
      raw_file(R"({"x":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"y":{"dtype":"U8","shape":[1],"data_offsets":[3,4]},"z":{"dtype":"U8","shape":[1],"data_offsets":[5,6]}})",
               std::string(8, '\0')),
      {"overlaps", "'x'"});
  // Adjacent ranges and empty tensors are fine.
  const std::string path = test::temp_dir() + "/ok.safetensors";
  write_bytes(path, raw_file(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},"y":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                             std::string(8, '\0')));
  TensorStore store;
  EXPECT_NO_THROW(load_safetensors_file(path, store));
}

TEST(SafetensorsCorrupt, NameWithControlCharsIsEscapedInMessage) {
  const std::string h = R"({"a\nb":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})";
  const std::string path = test::temp_dir() + "/ctl.safetensors";
  write_bytes(path, raw_file(h, std::string(8, '\0')));
  TensorStore store;
  try {
    load_safetensors_file(path, store);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'a\\x0ab'"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsCorrupt, EveryPrefixOfSmallFileErrors) {
  SafetensorsWriter w;
  w.add_f32("alpha", {2, 2}, {1, 2, 3, 4});
  w.add("beta", DType::kI32, {3}, std::vector<uint8_t>(12, 2));
  w.set_metadata("k", "v");
  const std::string dir = test::temp_dir();
  w.write(dir + "/full.safetensors");
  const std::string full = read_bytes(dir + "/full.safetensors");
  {
    TensorStore store;
    ASSERT_NO_THROW(load_safetensors_file(dir + "/full.safetensors", store));
  }
  for (size_t n = 0; n < full.size(); ++n) {
    const std::string path = dir + "/prefix.safetensors";
    write_bytes(path, full.substr(0, n));
    TensorStore store;
    try {
      load_safetensors_file(path, store);
      ADD_FAILURE() << "prefix of " << n << " bytes loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFormat) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

TEST(SafetensorsCorrupt, EverySingleByteFlipInHeaderIsSafe) {
  // Not every flip is an error (a flipped digit in a name is still valid),
  // but none may crash or throw anything but nagi::Error.
  SafetensorsWriter w;
  w.add_f32("alpha", {2, 2}, {1, 2, 3, 4});
  w.add("beta", DType::kI32, {3}, std::vector<uint8_t>(12, 2));
  const std::string dir = test::temp_dir();
  w.write(dir + "/full.safetensors");
  const std::string full = read_bytes(dir + "/full.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(full[i]);
  for (size_t pos = 0; pos < 8 + n; ++pos) {
    for (uint8_t mask : {0x01, 0x10, 0x80}) {
      std::string bad = full;
      bad[pos] = static_cast<char>(bad[pos] ^ mask);
      const std::string path = dir + "/flip.safetensors";
      write_bytes(path, bad);
      TensorStore store;
      try {
        load_safetensors_file(path, store);
        for (const auto& [name, v] : store.all()) {
          EXPECT_LE(v.nbytes, full.size());
        }
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      }
    }
  }
}

TEST(Safetensors, DuplicateAcrossFilesNamesBoth) {
  const std::string dir = test::temp_dir();
  SafetensorsWriter w;
  w.add_f32("x", {1}, {1.f});
  w.write(dir + "/one.safetensors");
  w.write(dir + "/two.safetensors");
  TensorStore store;
  load_safetensors_file(dir + "/one.safetensors", store);
  try {
    load_safetensors_file(dir + "/two.safetensors", store);
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("one.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("two.safetensors"), std::string::npos) << msg;
  }
}

TEST(Safetensors, MissingFileIsIoError) {
  TensorStore store;
  try {
    load_safetensors_file("/nonexistent/x.safetensors", store);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.safetensors"), std::string::npos);
  }
}

}  // namespace
}  // namespace nagi
