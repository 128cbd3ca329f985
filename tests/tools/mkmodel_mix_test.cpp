// nagi-mkmodel's llama.cpp-like type mixes: --dtype q4_k_m and --output-dtype.
#include <gtest/gtest.h>

#include <map>

#include "format/gguf.h"
#include "test_support.h"

namespace nagi {
namespace {

std::map<std::string, DType> tensor_types(const std::string& path) {
  std::map<std::string, DType> out;
  const auto file = GgufFile::open(path);  // keeps the tensor list alive
  for (const auto& t : file->tensors()) out[t.name] = t.dtype;
  return out;
}

const std::string kSmall = "--arch qwen3 --n-vocab 400 --n-embd 256 --n-layer 8 --n-head 4 --n-head-kv 2 --head-dim 64 --n-ff 512 --format gguf";

TEST(MkmodelMix, Q4KMFollowsLlamaQuantize) {
  const std::string path = test::temp_dir() + "/q4_k_m.gguf";
  ASSERT_EQ(test::run_mkmodel(kSmall + " --dtype q4_k_m -o " + path), 0);
  const auto t = tensor_types(path);
  EXPECT_EQ(t.at("token_embd.weight"), DType::kQ6_K);  // tied: the output matrix
  EXPECT_EQ(t.at("blk.0.attn_q.weight"), DType::kQ4_K);
  EXPECT_EQ(t.at("blk.0.ffn_gate.weight"), DType::kQ4_K);
  EXPECT_EQ(t.at("output_norm.weight"), DType::kF32);
  // use_more_bits(i, 8): i < 1, i >= 7, or (i - 1) % 3 == 2.
  for (int i = 0; i < 8; ++i) {
    const bool more = i < 1 || i >= 7 || (i - 1) % 3 == 2;
    const DType want = more ? DType::kQ6_K : DType::kQ4_K;
    EXPECT_EQ(t.at("blk." + std::to_string(i) + ".ffn_down.weight"), want) << i;
    EXPECT_EQ(t.at("blk." + std::to_string(i) + ".attn_v.weight"), want) << i;
  }
}

TEST(MkmodelMix, OutputDtypeOverridesTheEmbedding) {
  const std::string path = test::temp_dir() + "/q4_0.gguf";
  ASSERT_EQ(test::run_mkmodel(kSmall + " --dtype q4_0 --output-dtype q6_k -o " + path), 0);
  const auto t = tensor_types(path);
  EXPECT_EQ(t.at("token_embd.weight"), DType::kQ6_K);
  EXPECT_EQ(t.at("blk.3.ffn_down.weight"), DType::kQ4_0);
  EXPECT_EQ(t.at("blk.3.attn_v.weight"), DType::kQ4_0);
}

// nagi's group types: every matrix in the requested type, except rows the
// group does not divide, which get the same bits in groups of 32.
TEST(MkmodelMix, GroupTypesFallBackToGroupsOf32) {
  const std::string path = test::temp_dir() + "/i4g64.gguf";
  ASSERT_EQ(test::run_mkmodel("--arch qwen3 --n-vocab 400 --n-embd 160 --n-layer 1 --n-head 2 --n-head-kv 1 "
                              "--head-dim 80 --n-ff 192 --format gguf --dtype i4g64 --output-dtype i8g128 -o " +
                              path),
            0);
  const auto t = tensor_types(path);
  EXPECT_EQ(t.at("blk.0.ffn_down.weight"), DType::kI4G64);  // rows of 192
  EXPECT_EQ(t.at("blk.0.attn_q.weight"), DType::kI4G32);    // rows of 160
  EXPECT_EQ(t.at("token_embd.weight"), DType::kI8G32);     // --output-dtype, rows of 160
  EXPECT_EQ(t.at("output_norm.weight"), DType::kF32);
}

}  // namespace
}  // namespace nagi
