// Bad models get clear errors naming the file and the field, never a crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "format/safetensors.h"
#include "nagi/nagi.hpp"
#include "gguf_rewrite.h"
#include "test_support.h"

namespace nagi {
namespace {

namespace fs = std::filesystem;

std::string make_hf(const std::string& args = "") {
  const std::string dir = test::temp_dir() + "/hf";
  EXPECT_EQ(test::run_mkmodel("--arch qwen3 --n-vocab 400 --n-embd 32 --n-layer 2 --n-head 2 "
                              "--n-head-kv 1 --head-dim 16 --n-ff 48 --format hf -o " + dir + " " + args),
            0);
  return dir;
}

// Expects Model::load to throw nagi::Error whose message contains every needle.
void expect_load_error(const std::string& path, std::initializer_list<std::string> needles) {
  try {
    Model::load(path);
    ADD_FAILURE() << "loading " << path << " did not fail";
  } catch (const Error& e) {
    for (const std::string& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what() << " lacks " << n;
  }
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TEST(LoadErrors, ConfigMissingEachRequiredField) {
  const std::string dir = make_hf();
  const auto good = read_json(dir + "/config.json");
  for (const char* field : {"model_type", "vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size",
                            "num_attention_heads"}) {
    auto bad = good;
    bad.erase(field);
    std::ofstream(dir + "/config.json") << bad.dump();
    expect_load_error(dir, {"config.json", field});
  }
  auto bad = good;
  bad["hidden_size"] = "wide";
  std::ofstream(dir + "/config.json") << bad.dump();
  expect_load_error(dir, {"config.json", "hidden_size", "integer"});
  bad = good;
  bad["num_hidden_layers"] = int64_t(1) << 40;
  std::ofstream(dir + "/config.json") << bad.dump();
  expect_load_error(dir, {"config.json", "num_hidden_layers", "out of range"});
  bad = good;
  bad["model_type"] = "mamba";
  std::ofstream(dir + "/config.json") << bad.dump();
  expect_load_error(dir, {"config.json", "model_type", "mamba"});
  std::ofstream(dir + "/config.json") << "{\"model_type\": ";
  expect_load_error(dir, {"config.json", "JSON"});
}

TEST(LoadErrors, ConfigDisagreesWithTensors) {
  const std::string dir = make_hf();
  auto config = read_json(dir + "/config.json");
  config["intermediate_size"] = 64;  // tensors were written with 48
  std::ofstream(dir + "/config.json") << config.dump();
  expect_load_error(dir, {"model.safetensors", "mlp.gate_proj.weight", "[48, 32]", "expected [64, 32]"});
  config["intermediate_size"] = 48;
  config["num_hidden_layers"] = 3;  // layer 2 does not exist
  std::ofstream(dir + "/config.json") << config.dump();
  expect_load_error(dir, {"missing tensor", "blk.2."});
}

TEST(LoadErrors, WrongDtypeAndUnexpectedTensor) {
  const std::string dir = make_hf();
  TensorStore store;
  load_safetensors_file(dir + "/model.safetensors", store);
  SafetensorsWriter w;
  for (const auto& [name, t] : store.all()) {
    std::vector<uint8_t> bytes(t.data, t.data + t.nbytes);
    // Same bytes, integer dtype: a weight that is not floating point.
    w.add(name, name == "model.norm.weight" ? DType::kI32 : t.dtype, t.shape, std::move(bytes));
  }
  w.write(dir + "/model.safetensors");
  expect_load_error(dir, {"model.safetensors", "model.norm.weight", "I32"});

  SafetensorsWriter w2;
  for (const auto& [name, t] : store.all()) w2.add(name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes));
  w2.add_f32("model.layers.0.mystery.weight", {2}, {1.f, 2.f});
  w2.write(dir + "/model.safetensors");
  expect_load_error(dir, {"model.safetensors", "model.layers.0.mystery.weight", "unexpected"});
}

TEST(LoadErrors, GgufUnknownArchitecture) {
  const std::string path = test::temp_dir() + "/m.gguf";
  GgufWriter w;
  w.set_string("general.architecture", "rwkv9");
  w.add_tensor("token_embd.weight", DType::kF32, {4, 2}, std::vector<uint8_t>(32));
  w.write(path);
  expect_load_error(path, {"m.gguf", "general.architecture", "rwkv9"});
}

TEST(LoadErrors, LayerCountBeyondTheFile) {
  // A header that declares more layers than the file could hold is refused
  // before any per-layer table is sized by it (a fuzzer found a 6 GiB
  // allocation from block_count = 2^28 here), for every GGUF architecture.
  const std::string dir = test::temp_dir();
  for (const std::string arch : {"qwen3", "lfm2", "qwen35", "gemma3"}) {
    const std::string path = dir + "/" + arch + ".gguf";
    std::string args = "--arch " + arch + " --n-vocab 400 --n-embd 64 --n-layer 4 --n-head 4 --n-head-kv 2 "
                       "--head-dim 16 --n-ff 96 --format gguf -o " + path;
    if (arch == "lfm2") args += " --attn-layers 1";
    ASSERT_EQ(test::run_mkmodel(args), 0) << arch;
    for (int64_t n : {int64_t(1) << 28, int64_t(5000), int64_t(100000)}) {
      const GgufValue v{.type = GgufType::kU32, .value = n};
      test::rewrite_gguf(path, dir + "/bad.gguf", arch + ".block_count", &v);
      expect_load_error(dir + "/bad.gguf", {"bad.gguf", arch + ".block_count", "out of range"});
    }
  }
  const std::string hf = make_hf();
  auto config = read_json(hf + "/config.json");
  config["num_hidden_layers"] = 100000;  // under get_int's 2^30, over kMaxLayerCount
  std::ofstream(hf + "/config.json") << config.dump();
  expect_load_error(hf, {"config.json", "num_hidden_layers", "out of range"});
}

TEST(LoadErrors, MissingPathAndNotAModel) {
  expect_load_error("/nonexistent/model.gguf", {"/nonexistent/model.gguf"});
  const std::string path = test::temp_dir() + "/garbage.bin";
  std::ofstream(path) << "this is not a model";
  expect_load_error(path, {"garbage.bin"});
}

TEST(Session, ContextLimitAndBadTokenIds) {
  auto model = Model::load(make_hf());
  Session session(model, {.n_ctx = 8, .n_threads = 1});
  std::vector<int32_t> ids(6, 5);
  session.eval(ids, false);
  try {
    session.eval(ids, false);
    ADD_FAILURE() << "context overflow not detected";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kContextFull);
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos);
  }
  session.reset();
  std::vector<int32_t> bad = {1, 400};
  try {
    session.eval(bad, false);
    ADD_FAILURE() << "bad token id not detected";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("400"), std::string::npos);
  }
  EXPECT_THROW(Session(model, {.n_ctx = 1 << 20}), Error);
  // generate() stops cleanly at the end of the context.
  GenerateOptions opt;
  opt.max_tokens = 100;
  opt.ignore_eos = true;
  const auto r = session.generate(std::vector<int32_t>{1, 5, 6}, opt);
  EXPECT_EQ(r.stop_reason, "context");
  EXPECT_EQ(r.prompt_ids.size() + r.ids.size(), 9u);  // 8 positions + the last sampled token
}

}  // namespace
}  // namespace nagi
