// GGUF reader/writer tests: real fixture files, write->read round trips, and
// corrupt files made by byte-patching or truncating writer output.
#include "format/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "format/gguf_writer.h"
#include "nagi/error.hpp"
#include "test_support.h"

namespace nagi {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// Offset just past the first occurrence of `s` in `b` (names used in tests
// are unique in their file).
size_t after(const Bytes& b, const std::string& s) {
  auto it = std::search(b.begin(), b.end(), s.begin(), s.end());
  EXPECT_NE(it, b.end()) << s;
  return size_t(it - b.begin()) + s.size();
}

template <typename T>
void patch(Bytes& b, size_t at, T v) {
  ASSERT_LE(at + sizeof(T), b.size());
  std::memcpy(b.data() + at, &v, sizeof(T));
}

// Opens `path` and requires Error(kFormat) whose message names the file and
// contains every one of `parts`.
void expect_format_error(const std::string& path, std::initializer_list<std::string> parts) {
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFormat) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

// ---- Fixtures --------------------------------------------------------------

TEST(GgufFixture, Stories260K) {
  const std::string path = test::shared_path("models/stories260K/stories260K.gguf");
  if (!test::has_shared()) GTEST_SKIP() << "no fixtures";
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_string("general.name"), "llama");
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f->get_int("llama.embedding_length"), 64);
  EXPECT_EQ(f->get_int("llama.feed_forward_length"), 172);
  EXPECT_EQ(f->get_int("llama.block_count"), 5);
  EXPECT_EQ(f->get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(f->get_int("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(f->get_int("llama.rope.dimension_count"), 8);
  EXPECT_EQ(f->get_int("llama.context_length"), 512);
  EXPECT_EQ(f->get_float("llama.attention.layer_norm_rms_epsilon"), double(1e-5f));
  EXPECT_FALSE(f->has("llama.rope.freq_base"));
  EXPECT_EQ(f->get_float_or("llama.rope.freq_base", 10000.0), 10000.0);
  EXPECT_EQ(f->get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(f->get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(f->get_int("tokenizer.ggml.unknown_token_id"), 0);
  EXPECT_EQ(f->get_int("tokenizer.ggml.seperator_token_id"), 4294967295);
  EXPECT_FALSE(f->get_bool_or("tokenizer.ggml.add_bos_token", false));

  const StringTable& tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[3], "<0x00>");
  const auto scores = f->get_float_array("tokenizer.ggml.scores");
  ASSERT_EQ(scores.size(), 512u);
  EXPECT_EQ(scores[100], 0.0);
  EXPECT_EQ(scores[300], -41.0);
  const auto types = f->get_int_array("tokenizer.ggml.token_type");
  ASSERT_EQ(types.size(), 512u);
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(types[1], 3);
  EXPECT_EQ(types[2], 3);
  EXPECT_EQ(types[3], 6);
  EXPECT_EQ(types[258], 6);
  EXPECT_EQ(types[259], 1);

  ASSERT_EQ(f->tensors().size(), 48u);
  std::map<std::string, const GgufTensorInfo*> by_name;
  for (const auto& t : f->tensors()) {
    EXPECT_EQ(t.dtype, DType::kF32) << t.name;
    by_name[t.name] = &t;
  }
  const std::map<std::string, std::vector<int64_t>> shapes = {
      {"token_embd.weight", {512, 64}}, {"output.weight", {512, 64}},
      {"output_norm.weight", {64}},     {"blk.0.attn_norm.weight", {64}},
      {"blk.4.attn_q.weight", {64, 64}}, {"blk.2.attn_k.weight", {32, 64}},
      {"blk.3.attn_v.weight", {32, 64}}, {"blk.1.attn_output.weight", {64, 64}},
      {"blk.0.ffn_gate.weight", {172, 64}}, {"blk.0.ffn_down.weight", {64, 172}},
      {"blk.4.ffn_up.weight", {172, 64}}, {"blk.4.ffn_norm.weight", {64}}};
  for (const auto& [name, shape] : shapes) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_EQ(by_name[name]->shape, shape) << name;
    EXPECT_EQ(by_name[name]->nbytes, 4u * (shape.size() == 1 ? shape[0] : shape[0] * shape[1]));
  }

  // The embedding equals the llama2.c checkpoint's (after its 7-int header),
  // and output.weight is an explicit copy of it.
  const Bytes bin = read_bytes(test::shared_path("models/stories260K/stories260K.bin"));
  const GgufTensorInfo& emb = *by_name["token_embd.weight"];
  ASSERT_GE(bin.size(), 28 + emb.nbytes);
  EXPECT_EQ(std::memcmp(f->tensor_data(emb), bin.data() + 28, emb.nbytes), 0);
  EXPECT_EQ(std::memcmp(f->tensor_data(*by_name["output.weight"]), f->tensor_data(emb), emb.nbytes), 0);

  TensorStore store;
  f->add_tensors_to(store);
  EXPECT_EQ(store.all().size(), 48u);
  const TensorView& v = store.get("blk.0.ffn_down.weight", "test");
  EXPECT_EQ(v.shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(v.source, path + ": tensor 'blk.0.ffn_down.weight'");
  EXPECT_EQ(v.data, f->tensor_data(*by_name["blk.0.ffn_down.weight"]));
}

TEST(GgufFixture, SyntheticModels) {
  if (!test::has_shared()) GTEST_SKIP() << "no fixtures";
  const std::string dir = test::shared_path("models/synthetic/");
  std::ifstream in(dir + "manifest.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json manifest = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& [arch, model] : manifest["models"].items()) {
    SCOPED_TRACE(arch);
    const std::string path = dir + model["gguf"].get<std::string>();
    auto f = GgufFile::open(path);
    EXPECT_EQ(read_bytes(path).size(), model["gguf_bytes"].get<size_t>());
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->get_string("general.architecture"), arch);
    EXPECT_EQ(f->get_string("general.name"), "synthetic-" + arch);
    EXPECT_EQ(f->get_int(arch + ".context_length"), 256);
    EXPECT_EQ(f->get_int(arch + ".embedding_length"), 128);
    EXPECT_EQ(f->get_int(arch + ".feed_forward_length"), 256);
    EXPECT_EQ(f->get_int(arch + ".vocab_size"), 512);
    EXPECT_EQ(f->get_int(arch + ".attention.head_count"), 4);
    EXPECT_EQ(f->get_int("tokenizer.ggml.bos_token_id"), 1);
    EXPECT_TRUE(f->get_bool_or("tokenizer.ggml.add_bos_token", false));
    EXPECT_FALSE(f->get_bool_or("tokenizer.ggml.add_eos_token", true));
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 512u);
    EXPECT_EQ(f->get_int(arch + ".block_count"), model["config"]["n_layer"].get<int64_t>());
    EXPECT_DOUBLE_EQ(f->get_float(arch + ".attention.layer_norm_rms_epsilon"),
                     double(model["config"]["rms_eps"].get<float>()));

    const auto& expected = model["tensors"];
    ASSERT_EQ(f->tensors().size(), expected.size());
    for (const auto& t : f->tensors()) {
      ASSERT_TRUE(expected.contains(t.name)) << t.name;
      EXPECT_EQ(t.shape, expected[t.name].get<std::vector<int64_t>>()) << t.name;
      EXPECT_EQ(t.dtype, DType::kF32);
      EXPECT_EQ(t.offset % f->alignment(), 0u);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 5);

  auto lfm2 = GgufFile::open(dir + "lfm2.gguf");
  EXPECT_EQ(lfm2->get_int_array("lfm2.attention.head_count_kv"), (std::vector<int64_t>{0, 0, 2, 0, 0, 2}));
  EXPECT_EQ(lfm2->get_int("lfm2.shortconv.l_cache"), 3);
  EXPECT_EQ(lfm2->get_float("lfm2.rope.freq_base"), 1000000.0);
  auto qwen35 = GgufFile::open(dir + "qwen35.gguf");
  EXPECT_EQ(qwen35->get_int_array("qwen35.rope.dimension_sections"), (std::vector<int64_t>{3, 3, 2, 0}));
  EXPECT_EQ(qwen35->get_int("qwen35.full_attention_interval"), 4);
  EXPECT_EQ(qwen35->get_float("qwen35.rope.freq_base"), 10000000.0);
  auto gemma3 = GgufFile::open(dir + "gemma3.gguf");
  EXPECT_EQ(gemma3->get_int("gemma3.attention.sliding_window"), 8);
  EXPECT_EQ(gemma3->get_float("gemma3.rope.freq_base_swa"), 10000.0);
  EXPECT_EQ(gemma3->get_int("gemma3.attention.key_length"), 64);
}

// ---- Round trip -------------------------------------------------------------

GgufValue scalar(GgufType t, decltype(GgufValue::value) v) {
  GgufValue g;
  g.type = t;
  g.value = std::move(v);
  return g;
}

TEST(GgufRoundTrip, AllValueTypesAndTensorTypes) {
  for (uint32_t alignment : {32u, 64u, 256u}) {
    SCOPED_TRACE(alignment);
    GgufWriter w;
    w.set("v.u8", scalar(GgufType::kU8, int64_t(200)));
    w.set("v.i8", scalar(GgufType::kI8, int64_t(-100)));
    w.set("v.u16", scalar(GgufType::kU16, int64_t(60000)));
    w.set("v.i16", scalar(GgufType::kI16, int64_t(-30000)));
    w.set_u32("v.u32", 4000000000u);
    w.set_i32("v.i32", -2000000000);
    w.set("v.u64", scalar(GgufType::kU64, int64_t(1) << 62));
    w.set("v.i64", scalar(GgufType::kI64, -(int64_t(1) << 62)));
    w.set_f32("v.f32", 0.1f);
    w.set("v.f64", scalar(GgufType::kF64, 0.1));
    w.set_bool("v.bool", true);
    w.set_string("v.str", "héllo ▁ 世界");
    w.set_string("v.empty", "");
    w.set_string_array("v.strs", {"a", "", "ü"});
    w.set_f32_array("v.f32s", {1.5f, -2.0f});
    w.set_i32_array("v.i32s", {1, -2, 3});
    w.set_i32_array("v.empty_arr", {});
    GgufValue nested;
    nested.type = GgufType::kArray;
    nested.elem_type = GgufType::kArray;
    GgufValue inner;
    inner.type = GgufType::kArray;
    inner.elem_type = GgufType::kU8;
    inner.value = GgufArray{.ints = {7}};
    nested.value = GgufArray{.arrays = {inner, inner}};
    w.set("v.nested", nested);
    w.set_u32("v.replaced", 1);
    w.set_u32("v.replaced", 2);

    struct T {
      std::string name;
      DType dtype;
      std::vector<int64_t> shape;
      Bytes data;
    };
    std::vector<T> tensors;
    uint32_t seed = 1;
    for (DType d : {DType::kF32, DType::kF16, DType::kBF16, DType::kF64, DType::kI8, DType::kI16,
                    DType::kI32, DType::kI64, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                    DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kI8G32, DType::kI8G64,
                    DType::kI8G128, DType::kI4G32, DType::kI4G64, DType::kI4G128}) {
      const int64_t row = dtype_info(d).block_elems * 2;
      const std::vector<int64_t> shape = {3, row};
      tensors.push_back({"t." + std::string(dtype_name(d)), d, shape,
                         random_bytes(*dtype_bytes(d, uint64_t(3 * row)), seed++)});
    }
    tensors.push_back({"t.4d", DType::kF32, {2, 3, 1, 5}, random_bytes(120, 77)});
    for (const T& t : tensors) w.add_tensor(t.name, t.dtype, t.shape, t.data);

    const std::string path = test::temp_dir() + "/rt.gguf";
    w.write(path, alignment);
    auto f = GgufFile::open(path);
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), alignment);
    EXPECT_EQ(f->get_int("v.u8"), 200);
    EXPECT_EQ(f->get_int("v.i8"), -100);
    EXPECT_EQ(f->get_int("v.u16"), 60000);
    EXPECT_EQ(f->get_int("v.i16"), -30000);
    EXPECT_EQ(f->get_int("v.u32"), 4000000000);
    EXPECT_EQ(f->get_int("v.i32"), -2000000000);
    EXPECT_EQ(f->get_int("v.u64"), int64_t(1) << 62);
    EXPECT_EQ(f->get_int("v.i64"), -(int64_t(1) << 62));
    EXPECT_EQ(f->get_float("v.f32"), double(0.1f));
    EXPECT_EQ(f->get_float("v.f64"), 0.1);
    EXPECT_EQ(f->get_float("v.i32"), -2000000000.0);
    EXPECT_TRUE(f->get_bool_or("v.bool", false));
    EXPECT_EQ(f->get_string("v.str"), "héllo ▁ 世界");
    EXPECT_EQ(f->get_string("v.empty"), "");
    EXPECT_EQ(f->get_string_array("v.strs"), StringTable(std::vector<std::string>{"a", "", "ü"}));
    EXPECT_EQ(f->get_float_array("v.f32s"), (std::vector<double>{1.5, -2.0}));
    EXPECT_EQ(f->get_int_array("v.i32s"), (std::vector<int64_t>{1, -2, 3}));
    EXPECT_TRUE(f->get_int_array("v.empty_arr").empty());
    EXPECT_EQ(f->get_int("v.replaced"), 2);
    EXPECT_EQ(f->find("v.u8")->type, GgufType::kU8);
    EXPECT_EQ(f->find("v.f64")->type, GgufType::kF64);
    const GgufValue* n = f->find("v.nested");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->elem_type, GgufType::kArray);
    const auto& outer = std::get<GgufArray>(n->value).arrays;
    ASSERT_EQ(outer.size(), 2u);
    EXPECT_EQ(gguf_array_size(*n), 2u);
    EXPECT_EQ(outer[1].elem_type, GgufType::kU8);
    EXPECT_EQ(std::get<GgufArray>(outer[1].value).ints, (std::vector<int64_t>{7}));
    // 19 user keys (v.replaced once) plus general.alignment when not 32.
    EXPECT_EQ(f->metadata().size(), 19u + (alignment != 32 ? 1 : 0));

    ASSERT_EQ(f->tensors().size(), tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const GgufTensorInfo& info = f->tensors()[i];
      EXPECT_EQ(info.name, tensors[i].name);
      EXPECT_EQ(info.dtype, tensors[i].dtype) << info.name;
      EXPECT_EQ(info.shape, tensors[i].shape) << info.name;
      EXPECT_EQ(info.nbytes, tensors[i].data.size()) << info.name;
      EXPECT_EQ(info.offset % alignment, 0u);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(f->tensor_data(info)) % alignment, 0u);
      EXPECT_EQ(std::memcmp(f->tensor_data(info), tensors[i].data.data(), info.nbytes), 0) << info.name;
    }
  }
}

TEST(GgufRoundTrip, GetterErrors) {
  GgufWriter w;
  w.set_string("s", "x");
  w.set_u32("u", 5);
  w.set_f32_array("fa", {1});
  const std::string path = test::temp_dir() + "/getters.gguf";
  w.write(path);
  auto f = GgufFile::open(path);
  auto expect_msg = [&](auto fn, const std::string& part) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected " << part;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFormat);
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(part), std::string::npos) << msg;
    }
  };
  expect_msg([&] { f->get_string("nope"); }, "metadata 'nope': missing");
  expect_msg([&] { f->get_int("s"); }, "metadata 's': expected integer, found string");
  expect_msg([&] { f->get_string("u"); }, "metadata 'u': expected string, found u32");
  expect_msg([&] { f->get_int_or("s", 3); }, "metadata 's'");
  expect_msg([&] { f->get_bool_or("u", true); }, "expected bool");
  expect_msg([&] { f->get_string_array("fa"); }, "found array[f32]");
  expect_msg([&] { f->get_int_array("fa"); }, "metadata 'fa'");
  expect_msg([&] { f->get_float("s"); }, "metadata 's'");
  EXPECT_EQ(f->get_int_or("nope", 3), 3);
  EXPECT_EQ(f->get_string_or("nope", "fb"), "fb");
  EXPECT_EQ(f->get_float_or("u", 1.0), 5.0);
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufRoundTrip, WriterRejectsBadTensors) {
  GgufWriter w;
  EXPECT_THROW(w.add_tensor("a", DType::kF32, {2, 2}, Bytes(15)), Error);
  EXPECT_THROW(w.add_tensor("a", DType::kQ8_0, {2, 16}, Bytes(34)), Error);
  EXPECT_THROW(w.add_tensor("a", DType::kBool, {1}, Bytes(1)), Error);
  w.add_tensor("a", DType::kF32, {1}, Bytes(4));
  EXPECT_THROW(w.add_tensor("a", DType::kF32, {1}, Bytes(4)), Error);
}

// ---- Corrupt files ------------------------------------------------------------

// A small valid file: two metadata keys and three tensors, the last one
// ending exactly at the end of the file (so every truncation cuts something).
Bytes small_file(const std::string& path) {
  GgufWriter w;
  w.set_string("general.name", "hello");
  w.set_u32("dup.aa", 1);
  w.set_u32("dup.ab", 2);
  w.set_i32_array("some.array", {1, 2, 3});
  w.set_string_array("some.array2", {"xq1", "xq22", "xq333"});
  w.set_bool("some.bool", true);
  w.set("some.u64", scalar(GgufType::kU64, int64_t(5)));
  w.add_tensor("ta", DType::kF32, {2, 4}, random_bytes(32, 1));
  w.add_tensor("tq", DType::kQ8_0, {1, 32}, random_bytes(34, 2));
  w.add_tensor("tb", DType::kF32, {8}, random_bytes(32, 3));
  w.write(path);
  Bytes b = read_bytes(path);
  GgufFile::open(path);  // sanity: the unpatched file is valid
  return b;
}

class GgufCorrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    good_ = small_file(dir_ + "/good.gguf");
  }
  // Writes `b` as a new file and returns its path.
  std::string put(const Bytes& b, const std::string& name = "bad.gguf") {
    const std::string path = dir_ + "/" + name;
    write_bytes(path, b);
    return path;
  }
  // Offset of tensor `name`'s info fields (just after its name).
  size_t tensor_info(const std::string& name) { return after(good_, std::string("\0\0\0\0\0\0\0", 7) + name); }
  std::string dir_;
  Bytes good_;
};

TEST_F(GgufCorrupt, EveryTruncationFails) {
  ASSERT_GT(good_.size(), 200u);
  for (size_t len = 0; len < good_.size(); ++len) {
    const std::string path = put(Bytes(good_.begin(), good_.begin() + long(len)), "trunc.gguf");
    try {
      GgufFile::open(path);
      ADD_FAILURE() << "prefix of " << len << " bytes opened without error";
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::kFormat) << e.what();
      ASSERT_NE(std::string(e.what()).find(path + ": "), std::string::npos) << e.what();
    }
  }
}

TEST_F(GgufCorrupt, RandomByteFlipsNeverCrash) {
  std::mt19937 rng(5);
  int errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    Bytes b = good_;
    const int flips = 1 + int(rng() % 3);
    // Concentrate on the header, where the structure is.
    for (int k = 0; k < flips; ++k) b[rng() % std::min<size_t>(b.size(), 300)] = uint8_t(rng());
    try {
      auto f = GgufFile::open(put(b, "flip.gguf"));
      // Touch every byte the reader vouched for (a bad bound would fault).
      unsigned sum = 0;
      for (const auto& t : f->tensors()) {
        for (size_t i = 0; i < t.nbytes; ++i) sum += f->tensor_data(t)[i];
      }
      (void)sum;
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::kFormat) << e.what();
      ++errors;
    }
  }
  EXPECT_GT(errors, 100);
}

TEST_F(GgufCorrupt, BadMagic) {
  Bytes b = good_;
  b[0] = 'X';
  expect_format_error(put(b), {"magic"});
}

TEST_F(GgufCorrupt, BadVersion) {
  Bytes b = good_;
  patch<uint32_t>(b, 4, 1);
  expect_format_error(put(b), {"version", "v1"});
  patch<uint32_t>(b, 4, 4);
  expect_format_error(put(b), {"version", "4"});
  patch<uint32_t>(b, 4, 0x03000000);  // v3 written big-endian
  expect_format_error(put(b), {"version", "big-endian"});
}

TEST_F(GgufCorrupt, AbsurdCounts) {
  Bytes b = good_;
  patch<uint64_t>(b, 16, uint64_t(1) << 60);
  expect_format_error(put(b), {"n_kv", "1152921504606846976"});
  b = good_;
  patch<uint64_t>(b, 8, ~uint64_t(0));
  expect_format_error(put(b), {"n_tensors"});
  b = good_;
  uint64_t n_kv = 0;
  std::memcpy(&n_kv, b.data() + 16, sizeof(n_kv));
  patch<uint64_t>(b, 16, n_kv + 1);  // one more key than present: runs into the tensor infos
  expect_format_error(put(b), {});
}

TEST_F(GgufCorrupt, StringLengthPastEnd) {
  Bytes b = good_;
  const size_t value = after(b, "general.name") + 4;  // skip the u32 type
  patch<uint64_t>(b, value, uint64_t(1) << 40);
  expect_format_error(put(b), {"metadata 'general.name'", "past end"});
}

TEST_F(GgufCorrupt, ArrayCountPastEnd) {
  Bytes b = good_;
  const size_t count = after(b, "some.array") + 4 + 4;  // type, element type
  patch<uint64_t>(b, count, uint64_t(1) << 59);
  expect_format_error(put(b), {"metadata 'some.array'", "array length"});
}

// Array elements are named in errors (the parser spells a name out only on
// failure, so this is where it must still come out right).
TEST_F(GgufCorrupt, BadArrayElementsAreNamed) {
  Bytes b = good_;
  patch<uint64_t>(b, after(b, "xq1"), uint64_t(1) << 40);  // element [1]'s length
  expect_format_error(put(b), {"metadata 'some.array2'[1]", "past end"});
  b = good_;
  b[after(b, "xq33")] = 0xFF;  // the last byte of element [2]
  expect_format_error(put(b), {"metadata 'some.array2'[2]", "not valid UTF-8"});
}

TEST_F(GgufCorrupt, UnknownValueTypes) {
  Bytes b = good_;
  patch<uint32_t>(b, after(b, "dup.aa"), 13);
  expect_format_error(put(b), {"metadata 'dup.aa'", "unknown value type 13"});
  b = good_;
  patch<uint32_t>(b, after(b, "some.array") + 4, 99);
  expect_format_error(put(b), {"metadata 'some.array'", "element type 99"});
}

TEST_F(GgufCorrupt, BadScalarValues) {
  Bytes b = good_;
  b[after(b, "some.bool") + 4] = 2;
  expect_format_error(put(b), {"metadata 'some.bool'", "bool"});
  b = good_;
  patch<uint64_t>(b, after(b, "some.u64") + 4, ~uint64_t(0));
  expect_format_error(put(b), {"metadata 'some.u64'", "too large"});
}

TEST_F(GgufCorrupt, InvalidUtf8) {
  Bytes b = good_;
  b[after(b, "hell") - 3] = 0xff;  // "h\xffllo"
  expect_format_error(put(b), {"metadata 'general.name'", "UTF-8"});
  b = good_;
  b[after(b, "general.name") - 1] = 0xc0;  // key becomes "general.nam\xc0"
  expect_format_error(put(b), {"metadata key #0", "UTF-8"});
  b = good_;
  b[after(b, "hell") - 1] = 0xed;  // "hel\xedo": a lead byte without continuation
  expect_format_error(put(b), {"metadata 'general.name'", "UTF-8"});
}

TEST_F(GgufCorrupt, DuplicateKeyAndTensor) {
  Bytes b = good_;
  b[after(b, "dup.ab") - 1] = 'a';
  expect_format_error(put(b), {"metadata 'dup.aa'", "duplicate"});
  b = good_;
  b[tensor_info("tb") - 1] = 'a';
  expect_format_error(put(b), {"tensor 'ta'", "duplicate"});
}

TEST_F(GgufCorrupt, BadDims) {
  const size_t info = tensor_info("ta");  // n_dims 2, ne = [4, 2]
  Bytes b = good_;
  patch<uint32_t>(b, info, 5);
  expect_format_error(put(b), {"tensor 'ta': n_dims"});
  b = good_;
  patch<uint64_t>(b, info + 4, 0);
  expect_format_error(put(b), {"tensor 'ta': ne[0]", "not positive"});
  b = good_;
  patch<int64_t>(b, info + 12, -2);
  expect_format_error(put(b), {"tensor 'ta': ne[1]", "-2"});
  b = good_;
  patch<uint64_t>(b, info + 4, uint64_t(1) << 40);
  patch<uint64_t>(b, info + 12, uint64_t(1) << 40);
  expect_format_error(put(b), {"tensor 'ta': ne", "overflows"});
  b = good_;
  patch<uint64_t>(b, info + 4, uint64_t(1) << 40);  // fits int64 but not the file
  expect_format_error(put(b), {"tensor 'ta'", "past end of file"});
}

TEST_F(GgufCorrupt, RowNotWholeBlocks) {
  Bytes b = good_;
  patch<uint64_t>(b, tensor_info("tq") + 4, 16);  // Q8_0 row of 16
  expect_format_error(put(b), {"tensor 'tq': ne[0]", "block size 32"});
  // nagi's private type ids go through the same checks: I8G64, row of 32.
  b = good_;
  patch<uint32_t>(b, tensor_info("tq") + 4 + 16, kNagiGgufTypeBase + 1);
  expect_format_error(put(b), {"tensor 'tq': ne[0]", "I8G64 block size 64"});
}

TEST_F(GgufCorrupt, UnknownTensorType) {
  Bytes b = good_;
  patch<uint32_t>(b, tensor_info("tb") + 4 + 8, 99);
  expect_format_error(put(b), {"tensor 'tb': type", "99"});
  patch<uint32_t>(b, tensor_info("tb") + 4 + 8, 10);
  expect_format_error(put(b), {"tensor 'tb': type", "Q2_K"});
}

TEST_F(GgufCorrupt, Offsets) {
  const size_t offset = tensor_info("tb") + 4 + 8 + 4;
  Bytes b = good_;
  patch<uint64_t>(b, offset, 4096);
  expect_format_error(put(b), {"tensor 'tb'", "offset 4096, 32 bytes", "runs past end of file"});
  patch<uint64_t>(b, offset, ~uint64_t(0) - 31);  // aligned, and offset + size wraps
  expect_format_error(put(b), {"tensor 'tb'", "past end of file"});
  patch<uint64_t>(b, offset, 0);
  expect_format_error(put(b), {"tensor 'tb'", "overlaps tensor 'ta'"});
  patch<uint64_t>(b, offset, 36);
  expect_format_error(put(b), {"tensor 'tb': offset", "alignment 32"});
}

TEST_F(GgufCorrupt, Alignment) {
  GgufWriter w;
  w.add_tensor("t", DType::kF32, {4}, Bytes(16));
  w.write(dir_ + "/a64.gguf", 64);
  Bytes b = read_bytes(dir_ + "/a64.gguf");
  const size_t value = after(b, "general.alignment") + 4;
  patch<uint32_t>(b, value, 48);
  expect_format_error(put(b), {"metadata 'general.alignment'", "power of two"});
  patch<uint32_t>(b, value, 0);
  expect_format_error(put(b), {"metadata 'general.alignment'"});
  patch<uint32_t>(b, after(b, "general.alignment"), uint32_t(GgufType::kI32));
  patch<uint32_t>(b, value, 64);
  expect_format_error(put(b), {"metadata 'general.alignment'", "expected u32"});
}

// The writer checks what it is handed: an array's elements must sit in the
// vector of its element type (here i32 elements given as strings).
TEST(GgufWriterChecks, ArrayElementsOfAnotherTypeAreRejected) {
  GgufValue v{.type = GgufType::kArray, .elem_type = GgufType::kI32, .value = GgufArray{.strings = StringTable(std::vector<std::string>{"1", "2"})}};
  GgufWriter w;
  w.set("bad", v);
  const std::string path = ::testing::TempDir() + "/nagi_bad_array.gguf";
  try {
    w.write(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'bad'"), std::string::npos) << e.what();
  }
}

TEST_F(GgufCorrupt, DeeplyNestedArray) {
  GgufValue v;
  v.type = GgufType::kArray;
  v.elem_type = GgufType::kU8;
  v.value = GgufArray{};
  for (int i = 0; i < 20; ++i) {
    GgufValue outer;
    outer.type = GgufType::kArray;
    outer.elem_type = GgufType::kArray;
    outer.value = GgufArray{.arrays = {v}};
    v = outer;
  }
  GgufWriter w;
  w.set("deep", v);
  w.write(dir_ + "/deep.gguf");
  expect_format_error(dir_ + "/deep.gguf", {"metadata 'deep'", "nested"});
}

TEST_F(GgufCorrupt, NotGguf) {
  expect_format_error(put(Bytes{'G', 'G', 'U'}), {"magic"});
  expect_format_error(put(Bytes{}), {"magic"});
  try {
    GgufFile::open(dir_ + "/missing.gguf");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
  }
}

}  // namespace
}  // namespace nagi
