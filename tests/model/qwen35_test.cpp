// Qwen3.5 models written by nagi-mkmodel (random weights, HF layout and the
// GGUF llama.cpp's converter would make from it) against the float64
// transformers-style reference in qwen35_reference.h: nagi's HF path (grouped
// value heads, 1 + w norms, A_log) and its GGUF path (tiled heads, stored
// norms, ssm_a) must both compute the reference's logits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "model/load.h"
#include "model_compare.h"
#include "nagi/nagi.hpp"
#include "qwen35_reference.h"
#include "test_support.h"

namespace nagi {
namespace {

// 2 key heads x 2 value heads each (so grouped != tiled), head size 16,
// rotary 8 of 32, a full-attention layer at 2 and 5 of 6, conv 4.
const std::string kTiny =
    "--arch qwen35 --n-vocab 400 --n-embd 64 --n-layer 6 --n-head 4 --n-head-kv 2 --head-dim 32 --n-rot 8 "
    "--n-ff 96 --linear-k-heads 2 --linear-v-heads 4 --linear-head-dim 16 --full-attention-interval 3 "
    "--rope-theta 10000000 --tied true --seed 5";

using test::nagi_logits;
using test::random_prompt;
const auto reference_logits = test::reference_logits<test::Qwen35Reference>;

double max_diff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

class Qwen35 : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    ASSERT_EQ(test::run_mkmodel(kTiny + " --format hf -o " + dir_ + "/hf"), 0);
    ASSERT_EQ(test::run_mkmodel(kTiny + " --format gguf -o " + dir_ + "/m.gguf"), 0);
  }
  std::string dir_;
};

// f32 weights: only float32 rounding separates nagi from the reference.
// Logits have magnitude ~1-5; measured worst case 5.4e-5 over 150 tokens
// (the recurrent state accumulates rounding; llama.cpp's own batch-vs-
// incremental spread on the synthetic qwen35 is 5.2e-5). 3e-4 keeps a 5x
// margin; the mistakes below move logits by far more than 0.05.
constexpr double kTolerance = 3e-4;

TEST_F(Qwen35, HfAndGgufMatchFloat64Reference) {
  // 150 tokens: chunked prefill over two full chunks and a partial one.
  const auto ids = random_prompt(150, 400, 11);
  const auto want = reference_logits(dir_ + "/hf", ids);
  for (const std::string& path : {dir_ + "/hf", dir_ + "/m.gguf"}) {
    EXPECT_LE(max_diff(nagi_logits(path, ids, 150), want), kTolerance) << path << " as one batch";
    EXPECT_LE(max_diff(nagi_logits(path, ids, 1), want), kTolerance) << path << " token by token";
    EXPECT_LE(max_diff(nagi_logits(path, ids, 37), want), kTolerance) << path << " in batches of 37";
  }
}

// Controls: the comparison notices the layout mistakes a loader can make.
TEST_F(Qwen35, MistakesAreSeen) {
  const auto ids = random_prompt(40, 400, 3);
  TensorStore weights;
  load_safetensors_folder(dir_ + "/hf", weights);
  const auto config = nlohmann::json::parse(std::ifstream(dir_ + "/hf/config.json"));
  using M = test::Qwen35Reference::Mistake;
  const auto got = nagi_logits(dir_ + "/m.gguf", ids, 40);
  for (M m : {M::kTiledValueHeads, M::kPlainNormWeights}) {
    const double diff = max_diff(got, test::Qwen35Reference(config, weights, m).forward(ids));
    EXPECT_GT(diff, 0.05) << "mistake " << int(m);
    std::printf("reference with mistake %d: max |dlogit| %.3g\n", int(m), diff);
  }
}

TEST_F(Qwen35, NestedQwen35ConfigLoadsTheLanguageModel) {
  // model_type qwen3_5: text_config nested, tensors under model.language_model.
  const auto ids = random_prompt(12, 400, 4);
  const auto want = reference_logits(dir_ + "/hf", ids);
  const std::string nested = dir_ + "/nested";
  std::filesystem::create_directories(nested);
  TensorStore weights;
  load_safetensors_folder(dir_ + "/hf", weights);
  SafetensorsWriter w;
  for (const auto& [name, view] : weights.all()) {
    std::string n = name;
    if (n.starts_with("model.")) n = "model.language_model." + n.substr(6);
    w.add(n, view.dtype, view.shape, std::vector<uint8_t>(view.data, view.data + view.nbytes));
  }
  // A vision tower and an MTP head are present in real checkpoints: skipped / kept, not errors.
  std::vector<float> one(4, 0.5f);
  std::vector<uint8_t> bytes(reinterpret_cast<uint8_t*>(one.data()), reinterpret_cast<uint8_t*>(one.data()) + 16);
  w.add("model.visual.patch_embed.proj.weight", DType::kF32, {4}, bytes);
  w.add("mtp.fc.weight", DType::kF32, {2, 2}, bytes);
  w.write(nested + "/model.safetensors");
  auto text = nlohmann::json::parse(std::ifstream(dir_ + "/hf/config.json"));
  text["mtp_num_hidden_layers"] = 1;
  const nlohmann::json top = {{"model_type", "qwen3_5"}, {"architectures", {"Qwen3_5ForConditionalGeneration"}},
                              {"tie_word_embeddings", true}, {"text_config", text}};
  std::ofstream(nested + "/config.json") << top.dump();
  std::filesystem::copy_file(dir_ + "/hf/tokenizer.json", nested + "/tokenizer.json");
  std::filesystem::copy_file(dir_ + "/hf/tokenizer_config.json", nested + "/tokenizer_config.json");
  EXPECT_LE(max_diff(nagi_logits(nested, ids, 12), want), kTolerance);
  // The MTP tensor is kept for speculative decoding under llama.cpp's name
  // (model/mtp_head.h), the vision tower dropped.
  const LoadedModel m = load_model(nested, "");
  EXPECT_EQ(m.spec.n_mtp_layers, 1);
  EXPECT_NE(m.tensors.find("blk.6.nextn.eh_proj.weight"), nullptr);
  EXPECT_EQ(m.tensors.find("mtp.fc.weight"), nullptr);
  EXPECT_EQ(m.tensors.find("model.visual.patch_embed.proj.weight"), nullptr);
}

}  // namespace
}  // namespace nagi

namespace nagi {
namespace {

// Bad input is an Error naming the file and the field or tensor, never a crash.
TEST(Qwen35Errors, BadConfigAndTensorsNameTheCulprit) {
  const std::string dir = test::temp_dir() + "/hf";
  ASSERT_EQ(test::run_mkmodel(kTiny + " --format hf -o " + dir), 0);
  const auto good = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
  auto expect_error = [&](const nlohmann::json& config, const std::string& needle) {
    std::ofstream(dir + "/config.json") << config.dump();
    try {
      Model::load(dir);
      ADD_FAILURE() << "loaded despite " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto c = good;
  c.erase("linear_num_key_heads");
  expect_error(c, "linear_num_key_heads");
  c = good;
  c["linear_num_value_heads"] = 3;  // not a multiple of the key heads
  expect_error(c, "linear_num_value_heads");
  c = good;
  c["layer_types"][0] = "sliding_attention";
  expect_error(c, "layer_types");
  c = good;
  c["linear_key_head_dim"] = 8;  // the tensors no longer have this shape
  expect_error(c, "in_proj_qkv");
  c = nlohmann::json{{"model_type", "qwen3_5"}};
  expect_error(c, "text_config");
}

}  // namespace
}  // namespace nagi
