// The encoder's speed-ups (flat merge table, character index, shared word
// cache) must not change a single id, also when threads share a tokenizer.
#include <gtest/gtest.h>

#include <thread>

#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixtures.h"

namespace nagi {
namespace {

TEST(MergeTable, FirstRuleWinsAndGrows) {
  MergeTable t;
  for (int32_t i = 0; i < 5000; ++i) t.emplace(merge_key(i, i + 1), MergeRule{i, i + 7});
  t.emplace(merge_key(3, 4), MergeRule{99, 99});  // a later listing of the same pair
  EXPECT_EQ(t.size(), 5000u);
  ASSERT_NE(t.find(merge_key(3, 4)), nullptr);
  EXPECT_EQ(t.find(merge_key(3, 4))->rank, 3);
  EXPECT_EQ(t.find(merge_key(4999, 5000))->new_id, 5006);
  EXPECT_EQ(t.find(merge_key(4, 3)), nullptr);
  EXPECT_EQ(MergeTable().find(merge_key(0, 0)), nullptr);
}

TEST(EncodeFastPaths, CachedAndConcurrentEncodingIsIdentical) {
  REQUIRE_SHARED();
  for (const char* name : {"qwen3", "llama3"}) {
    const auto tok = load_hf_tokenizer(test::shared_path(std::string("tokenizers/") + name));
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> want;
    for (const auto& row : test::read_jsonl(test::shared_path(std::string("tokenizers/") + name + "/encode_cases.jsonl"))) {
      texts.push_back(row["text"]);
      want.push_back(row["ids"].get<std::vector<int32_t>>());
      if (row["add_special_tokens"].get<bool>()) texts.pop_back(), want.pop_back();
    }
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < 3; ++round) {  // later rounds hit the cache
          for (size_t i = 0; i < texts.size(); ++i) {
            const size_t k = (i + t * 7) % texts.size();
            if (tok->encode(texts[k], false, true) != want[k]) ++mismatches[t];
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << name << " thread " << t;
  }
}

}  // namespace
}  // namespace nagi
