// Q4_0 / Q8_0 matrices rewritten in x16 superblocks at load (model/repack.h)
// compute the same model: logits with and without the repacking, batched
// (GEMM) and token by token (GEMV). The kernels themselves are checked
// against the scalar references in tests/kernels.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "format/gguf.h"
#include "format/gguf_repack.h"
#include "kernels/kernels.h"
#include "model/repack.h"
#include "model_compare.h"
#include "nagi/nagi.hpp"

namespace nagi {
namespace {

// Logits per position in batches of `chunk`, with the model's default KV
// cache, loaded in the file's layout or repacked into superblocks
// (NAGI_REPACK=x16, whatever this kernel table would choose).
std::vector<float> logits_with_repack(const std::string& path, const std::vector<int32_t>& ids, bool repack,
                                      int chunk) {
  setenv("NAGI_REPACK", repack ? "x16" : "0", 1);
  auto logits = test::nagi_logits(path, ids, chunk, KvCacheType::kAuto);
  unsetenv("NAGI_REPACK");
  return logits;
}

// Logits of the same weights read in plain blocks and in x16 superblocks.
// One batch runs the prefill GEMM, which reads both layouts into the same
// panels: identical. Token by token, the GEMV kernels add the per-block
// terms in another order; the ~1e-7 differences then flip some int8
// roundings of the next layers' activations, which moves the logits about as
// much as batching does (plain Q4_0, 20 tokens at once vs one by one: 1.2%
// of the spread), so that is the bound.
void expect_layouts_agree(const std::vector<float>& plain, const std::vector<float>& x16, int chunk,
                          const std::string& label) {
  ASSERT_EQ(plain.size(), x16.size());
  float spread = 0, diff = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    spread = std::max(spread, std::abs(plain[i]));
    diff = std::max(diff, std::abs(plain[i] - x16[i]));
  }
  EXPECT_LE(diff, (chunk > 1 ? 1e-6f : 3e-2f) * spread) << label << " chunk " << chunk;
}

// The superblock type of a test's "q4_0" / "q8_0" parameter.
DType x16_type(const std::string& dtype) { return dtype == "q4_0" ? DType::kQ4_0x16 : DType::kQ8_0x16; }

class Repack : public ::testing::TestWithParam<std::string> {};
class RepackStored : public ::testing::TestWithParam<std::string> {};

TEST_P(Repack, ModelComputesTheSameAfterRepacking) {
  const std::string dtype = GetParam();
  if (!has_x16_paths(kernels(), x16_type(dtype))) {
    GTEST_SKIP() << kernels().isa << " has no x16 kernels for " << dtype;
  }
  const std::string path = test::temp_dir() + "/" + dtype + "_512.gguf";
  // 512-wide rows (one superblock) and 1536-wide FFN down rows (three) are
  // repacked.
  test::mkmodel(
      "--arch qwen3 --n-vocab 400 --n-embd 512 --n-layer 2 --n-head 4 --n-head-kv 2 --head-dim 128 "
      "--n-ff 1536 --n-ctx 64 --dtype " +
      dtype + " --format gguf -o " + path);
  const auto ids = test::random_prompt(20, 400, 3);
  for (int chunk : {20, 1}) {
    const auto plain = logits_with_repack(path, ids, false, chunk);
    const auto repacked = logits_with_repack(path, ids, true, chunk);
    expect_layouts_agree(plain, repacked, chunk, dtype);
  }
  // The model still reports what the file holds.
  const auto model = Model::load(path);
  bool saw_file_type = false;
  for (const auto& [name, count] : model->info().dtype_counts)
    saw_file_type |= name == (dtype == "q4_0" ? "Q4_0" : "Q8_0");
  EXPECT_TRUE(saw_file_type);
}

// A file written in superblocks by `nagi repack` computes exactly what the
// plain file does: the same bits, read by the same x16 kernels here, or (on
// kernels without x16 paths) converted back to plain blocks at load.
// The "+x16" parameters ask for Q4_0 in superblocks too (`nagi repack --q4-0`).
TEST_P(RepackStored, StoredSuperblocksComputeTheSame) {
  const std::string param = GetParam();
  const std::string dtype = param.substr(0, param.find('+'));
  GgufRepackOptions options;
  options.q4_0 = param.ends_with("+x16");
  const bool x16 = dtype == "q8_0" || options.q4_0;
  const std::string plain = test::temp_dir() + "/" + dtype + "_512_plain.gguf";
  const std::string stored = test::temp_dir() + "/" + param + "_512_x16.gguf";
  test::mkmodel(
      "--arch qwen3 --n-vocab 400 --n-embd 512 --n-layer 2 --n-head 4 --n-head-kv 2 --head-dim 128 "
      "--n-ff 1536 --n-ctx 64 --dtype " +
      dtype + " --format gguf -o " + plain);
  const GgufRepackStats stats = repack_gguf(plain, stored, options);
  // Per layer q, k, v, o, gate, up, down; and the 400 x 512 embedding.
  // Q4_0 stays in its blocks unless asked (its plain kernel streams faster
  // on Zen 5).
  EXPECT_EQ(stats.repacked, x16 ? 2 * 7 + 1 : 0);
  const auto ids = test::random_prompt(20, 400, 4);
  // Superblocks kept where this machine's kernels read the plain blocks as
  // stored: the two files run different GEMVs. Otherwise both run the same
  // kernels.
  const Kernels& here = kernels();
  const bool kernels_differ = x16 && has_x16_paths(here, x16_type(dtype));
  for (int chunk : {20, 1}) {
    const auto want = test::nagi_logits(plain, ids, chunk, KvCacheType::kAuto);
    const auto got = test::nagi_logits(stored, ids, chunk, KvCacheType::kAuto);
    if (kernels_differ) {
      expect_layouts_agree(want, got, chunk, param);
    } else {
      EXPECT_EQ(want, got) << dtype << " chunk " << chunk;
    }
  }
  const auto model = Model::load(stored);
  bool saw_x16 = false;
  for (const auto& [name, count] : model->info().dtype_counts) saw_x16 |= name.ends_with("x16");
  EXPECT_EQ(saw_x16, x16);

  const auto plain_file = GgufFile::open(plain), stored_file = GgufFile::open(stored);
  // Kernels with x16 row and GEMM paths keep the file's superblocks, Q4_0x16
  // included (it is what `--q4-0` asked for), with no copy at load.
  if (has_x16_paths(here, DType::kQ4_0x16) && has_x16_paths(here, DType::kQ8_0x16)) {
    TensorStore kept;
    stored_file->add_tensors_to(kept);
    EXPECT_EQ(repack_for_kernels(kept, here), 0);
  }
  // Kernels without x16 paths get the file's plain blocks back, byte for byte.
  TensorStore store;
  stored_file->add_tensors_to(store);
  Kernels no_x16;  // no x16 kernels
  EXPECT_EQ(repack_for_kernels(store, no_x16), stats.repacked);
  for (const GgufTensorInfo& t : plain_file->tensors()) {
    const TensorView* v = store.find(t.name);
    ASSERT_NE(v, nullptr) << t.name;
    EXPECT_EQ(v->dtype, t.dtype) << t.name;
    ASSERT_EQ(v->nbytes, t.nbytes) << t.name;
    EXPECT_EQ(std::memcmp(v->data, plain_file->tensor_data(t), t.nbytes), 0) << t.name;
  }
  EXPECT_THROW(repack_gguf(plain, plain), Error);
}

TEST(RepackMode, UnknownValueIsAnErrorNamingTheVariable) {
  setenv("NAGI_REPACK", "yes", 1);
  TensorStore store;
  try {
    repack_for_kernels(store, kernels());
    ADD_FAILURE() << "NAGI_REPACK=yes accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NAGI_REPACK=yes"), std::string::npos) << e.what();
  }
  unsetenv("NAGI_REPACK");
}

INSTANTIATE_TEST_SUITE_P(Types, Repack, ::testing::Values("q4_0", "q8_0"));
INSTANTIATE_TEST_SUITE_P(Types, RepackStored, ::testing::Values("q4_0", "q8_0", "q4_0+x16"));

}  // namespace
}  // namespace nagi
