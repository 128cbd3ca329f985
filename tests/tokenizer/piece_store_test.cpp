// PieceIndex (piece -> id) and StringTable (id -> piece), the compact tables
// behind every vocabulary, against std::unordered_map / std::vector on the
// same insertions.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/piece_index.h"
#include "base/string_table.h"

namespace nagi {
namespace {

std::string random_piece(std::mt19937& rng) {
  // Short pieces over a small alphabet collide often (duplicates on purpose);
  // a few are long or hold NUL and high bytes.
  const size_t len = rng() % 8 == 0 ? 16 + rng() % 40 : rng() % 5;
  std::string s(len, '\0');
  for (char& c : s) c = rng() % 16 == 0 ? char(rng() % 256) : char('a' + rng() % 4);
  return s;
}

TEST(PieceIndex, MatchesUnorderedMap) {
  std::mt19937 rng(11);
  PieceIndex index;
  std::unordered_map<std::string, int32_t> want;
  std::vector<std::string> order;  // first insertions, in order
  for (int32_t id = 0; id < 20000; ++id) {
    const std::string p = random_piece(rng);
    const bool added = want.emplace(p, id).second;
    EXPECT_EQ(index.emplace(p, id), added) << id;
    if (added) order.push_back(p);
  }
  ASSERT_EQ(index.size(), want.size());
  for (const auto& [p, id] : want) ASSERT_EQ(index.find(p), id);
  for (int i = 0; i < 2000; ++i) {
    const std::string p = std::string(60, 'a') + random_piece(rng);  // longer than any piece above
    ASSERT_EQ(index.find(p), -1);
    ASSERT_FALSE(index.contains(p));
  }
  size_t i = 0;
  index.for_each([&](std::string_view p, int32_t id) {
    ASSERT_LT(i, order.size());
    EXPECT_EQ(p, order[i]);
    EXPECT_EQ(id, want.at(order[i]));
    ++i;
  });
  EXPECT_EQ(i, order.size());
  // A callback returning false stops the walk.
  int seen = 0;
  index.for_each([&](std::string_view, int32_t) { return ++seen < 3; });
  EXPECT_EQ(seen, 3);
}

TEST(PieceIndex, BatchInsertMatchesOneByOne) {
  // emplace_ids must give the same table as emplace in the same order:
  // first listing wins, duplicates skipped, entries already present kept,
  // and a batch may start on a table that is not empty.
  std::mt19937 rng(5);
  StringTable pieces;
  for (int i = 0; i < 30000; ++i) pieces.push_back(random_piece(rng));
  std::vector<int32_t> first, second;
  for (int32_t id = 0; id < int32_t(pieces.size()); ++id) (rng() % 3 == 0 ? first : second).push_back(id);
  std::shuffle(second.begin(), second.end(), rng);  // not in id order
  PieceIndex one, batch;
  for (int32_t id : first) one.emplace(pieces[size_t(id)], id);
  for (int32_t id : second) one.emplace(pieces[size_t(id)], id);
  for (int32_t id : first) batch.emplace(pieces[size_t(id)], id);
  batch.emplace_ids(pieces, second);
  batch.emplace_ids(pieces, {});
  ASSERT_EQ(batch.size(), one.size());
  std::vector<std::pair<std::string, int32_t>> a, b;
  one.for_each([&](std::string_view p, int32_t id) { a.emplace_back(p, id); });
  batch.for_each([&](std::string_view p, int32_t id) { b.emplace_back(p, id); });
  EXPECT_EQ(a, b);
  for (size_t i = 0; i < pieces.size(); ++i) ASSERT_EQ(batch.find(pieces[i]), one.find(pieces[i])) << i;
}

TEST(PieceIndex, EmptyReservedAndCleared) {
  PieceIndex index;
  EXPECT_EQ(index.find(""), -1);
  EXPECT_EQ(index.find("a"), -1);
  index.reserve(1000);
  EXPECT_EQ(index.find("a"), -1);
  EXPECT_TRUE(index.emplace("", 7));  // the empty piece is a piece like any other
  EXPECT_TRUE(index.emplace("a", 8));
  EXPECT_FALSE(index.emplace("a", 9));
  EXPECT_EQ(index.find(""), 7);
  EXPECT_EQ(index.find("a"), 8);
  index.clear();
  EXPECT_TRUE(index.empty());
  EXPECT_EQ(index.find("a"), -1);
  EXPECT_TRUE(index.emplace("a", 3));
  EXPECT_EQ(index.find("a"), 3);
}

TEST(StringTable, MatchesVectorOfStrings) {
  std::mt19937 rng(12);
  std::vector<std::string> want(3000);
  for (std::string& p : want) p = random_piece(rng);
  StringTable list(want);
  ASSERT_EQ(list.size(), want.size());
  for (size_t id = 0; id < want.size(); ++id) ASSERT_EQ(list[id], want[id]) << id;
  // Growing gives empty pieces; setting replaces one piece only.
  list.resize(want.size() + 5);
  want.resize(want.size() + 5);
  for (int k = 0; k < 500; ++k) {
    const size_t id = rng() % want.size();
    want[id] = random_piece(rng);
    list.set(id, want[id]);
  }
  for (size_t id = 0; id < want.size(); ++id) ASSERT_EQ(list[id], want[id]) << id;
}

}  // namespace
}  // namespace nagi
