#include "spec/lookup_speculator.h"

#include <gtest/gtest.h>

#include <vector>

#include "nagi/error.hpp"

namespace nagi {
namespace {

Draft propose(LookupSpeculator& s, const std::vector<int32_t>& ctx, int max) {
  Draft d;
  s.propose(ctx, max, d);
  return d;
}

TEST(LookupSpeculator, ProposesWhatFollowedTheMostRecentMatch) {
  LookupSpeculator s(3, 1);
  // Suffix (7, 8, 9) occurred at index 1 followed by 4 5 6.
  const std::vector<int32_t> ctx = {1, 7, 8, 9, 4, 5, 6, 2, 7, 8, 9};
  const Draft d = propose(s, ctx, 3);
  EXPECT_EQ(d.tokens, (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(d.parent, (std::vector<int32_t>{-1, 0, 1}));
  EXPECT_TRUE(d.is_chain());
  // The budget caps the proposal; past the context's end the continuation
  // copies its own proposal (the text repeats with the match's period).
  EXPECT_EQ(propose(s, ctx, 2).tokens, (std::vector<int32_t>{4, 5}));
  EXPECT_EQ(propose(s, ctx, 10).tokens, (std::vector<int32_t>{4, 5, 6, 2, 7, 8, 9, 4, 5, 6}));
}

TEST(LookupSpeculator, ALoopIsProposedForTheWholeBudget) {
  LookupSpeculator s(3, 1);
  EXPECT_EQ(propose(s, {1, 2, 9, 9, 9, 9}, 5).tokens, (std::vector<int32_t>{9, 9, 9, 9, 9}));
  EXPECT_EQ(propose(s, {1, 4, 5, 4, 5, 4}, 4).tokens, (std::vector<int32_t>{5, 4, 5, 4}));
}

TEST(LookupSpeculator, PrefersTheLongestNgram) {
  LookupSpeculator s(3, 1);
  // "9" alone last occurred before 30; "8 9" occurred before 20.
  const std::vector<int32_t> ctx = {8, 9, 20, 21, 5, 9, 30, 31, 8, 9};
  EXPECT_EQ(propose(s, ctx, 2).tokens, (std::vector<int32_t>{20, 21}));
  LookupSpeculator unigram(1, 1);
  EXPECT_EQ(propose(unigram, ctx, 2).tokens, (std::vector<int32_t>{30, 31}));
}

TEST(LookupSpeculator, NothingWithoutAMatch) {
  LookupSpeculator s(3, 1);
  EXPECT_TRUE(propose(s, {1, 2, 3, 4}, 5).empty());
  EXPECT_TRUE(propose(s, {1}, 5).empty());
  EXPECT_TRUE(propose(s, {3, 3}, 0).empty());
}

TEST(LookupSpeculator, BranchesFormATreeOfDistinctContinuations) {
  LookupSpeculator s(1, 2);
  // "5" was followed by 6 7 0 (most recent) and by 8 9. The most recent
  // match gets the budget less one node kept for the second branch.
  const std::vector<int32_t> ctx = {5, 8, 9, 0, 5, 6, 7, 0, 5};
  const Draft d = propose(s, ctx, 4);
  EXPECT_EQ(d.tokens, (std::vector<int32_t>{6, 7, 0, 8}));
  EXPECT_EQ(d.parent, (std::vector<int32_t>{-1, 0, 1, -1}));
  EXPECT_FALSE(d.is_chain());
  EXPECT_EQ(d.depth(2), 3);
  EXPECT_EQ(d.depth(3), 1);
  // Shared prefixes are merged, not proposed twice.
  const std::vector<int32_t> ctx2 = {5, 6, 9, 0, 5, 6, 7, 0, 5};
  const Draft d2 = propose(s, ctx2, 4);
  EXPECT_EQ(d2.tokens, (std::vector<int32_t>{6, 7, 0, 9}));
  EXPECT_EQ(d2.parent, (std::vector<int32_t>{-1, 0, 1, 0}));
}

TEST(LookupSpeculator, RejectsMeaninglessSettings) {
  EXPECT_THROW(LookupSpeculator(0, 1), Error);
  EXPECT_THROW(LookupSpeculator(3, 0), Error);
}

}  // namespace
}  // namespace nagi
