// stories260K (a real trained Llama model) from all three formats against the
// fixture's references: llama2.c run.c logits (cross-checked with llama.cpp and
// float64 numpy) and 200-token greedy continuations.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "nagi/nagi.hpp"
#include "reference_data.h"
#include "test_support.h"

namespace nagi {
namespace {

class Stories260K : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!test::has_shared()) GTEST_SKIP() << "fixtures not found at " << test::shared_dir();
  }
  std::string model_path() const { return test::shared_path("models/stories260K/" + GetParam()); }
};

TEST_P(Stories260K, LogitsMatchReferenceAtEveryPosition) {
  auto model = Model::load(model_path());
  ASSERT_EQ(model->info().n_vocab, 512);
  TensorStore ref;
  load_safetensors_file(test::shared_path("models/stories260K/reference/logits.safetensors"), ref);
  for (int k = 0; k < 6; ++k) {
    const auto ids = test::tensor_i32(ref.get("prompt_" + std::to_string(k) + "_ids", "ref"));
    const auto want = test::tensor_f32(ref.get("prompt_" + std::to_string(k) + "_logits", "ref"));
    Session session(model, {.n_threads = 2});
    const auto got = session.eval(ids, true);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_LE(test::max_abs_diff(got.data(), want.data(), got.size()), 1e-4f) << "prompt " << k;
  }
}

TEST_P(Stories260K, GreedyContinuationsMatchTokenForToken) {
  auto model = Model::load(model_path());
  Session session(model, {.n_threads = 2});
  std::ifstream in(test::shared_path("models/stories260K/reference/greedy.jsonl"));
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    const auto prompt_ids = j["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = j["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(model->tokenize(j["prompt"].get<std::string>(), true), prompt_ids) << j["prompt"];
    GenerateOptions opt;
    opt.max_tokens = static_cast<int>(want.size());
    opt.ignore_eos = true;  // the fixture feeds generated BOS/EOS back in
    opt.sampling.temperature = 0.f;
    const GenerateResult r = session.generate(prompt_ids, opt);
    EXPECT_EQ(r.ids, want) << j["prompt"];
    std::vector<int32_t> all = prompt_ids;
    all.insert(all.end(), want.begin(), want.end());
    EXPECT_EQ(model->detokenize(all, true), j["text"].get<std::string>());
    ++cases;
  }
  EXPECT_EQ(cases, 5);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, Stories260K,
                         ::testing::Values("stories260K.gguf", "hf", "stories260K.bin"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace nagi
