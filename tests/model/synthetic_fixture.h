// The random-weight GGUF fixtures of ../shared/models/synthetic with
// llama.cpp's logits and greedy continuations for them (reference/NAME.safetensors).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nagi/nagi.hpp"
#include "reference_data.h"
#include "test_support.h"

namespace nagi::test {

// A test fixture (Base: ::testing::Test or TestWithParam) holding one
// synthetic model and llama.cpp's reference data for it.
template <class Base>
class SyntheticModelTest : public Base {
 protected:
  void load(const std::string& name) {
    model_ = Model::load(shared_path("models/synthetic/" + name + ".gguf"));
    load_safetensors_file(shared_path("models/synthetic/reference/" + name + ".safetensors"), ref_);
  }
  std::vector<int32_t> tokens(int i) const { return tensor_i32(ref_.get("p" + std::to_string(i) + ".tokens", "ref")); }
  std::vector<float> logits(int i, const char* what) const {
    return tensor_f32(ref_.get("p" + std::to_string(i) + "." + what, "ref"));
  }
  // For each of the first n_prompts prompts: the greedy continuation, one
  // token at a time, has llama.cpp's logits (within tolerance) and ids; then
  // the same continuation through the generation loop.
  void expect_greedy_continuation(int n_prompts, float tolerance) {
    Session session(model_, {.n_threads = 2});
    const int n_vocab = model_->info().n_vocab;
    for (int i = 0; i < n_prompts; ++i) {
      session.reset();
      const auto want_ids = tensor_i32(ref_.get("p" + std::to_string(i) + ".greedy", "ref"));
      const auto want_logits = logits(i, "greedy_logits");
      auto row = session.eval(tokens(i), false);
      for (size_t k = 0; k < want_ids.size(); ++k) {
        ASSERT_LE(max_abs_diff(row.data(), want_logits.data() + k * n_vocab, n_vocab), tolerance)
            << "prompt " << i << " step " << k;
        const int32_t next = argmax(row.data(), n_vocab);
        ASSERT_EQ(next, want_ids[k]) << "prompt " << i << " step " << k;
        row = session.eval(std::span<const int32_t>(&next, 1), false);
      }
      GenerateOptions opt;
      opt.max_tokens = static_cast<int>(want_ids.size());
      opt.ignore_eos = true;
      opt.sampling.temperature = 0.f;
      EXPECT_EQ(session.generate(tokens(i), opt).ids, want_ids) << "prompt " << i;
    }
  }
  std::shared_ptr<Model> model_;
  TensorStore ref_;
};

}  // namespace nagi::test
