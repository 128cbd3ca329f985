// Speculative decoding with Gumbel coupling must reproduce plain decoding
// token for token, for every architecture, greedy and sampled, whatever the
// speculator proposes. The expected output is plain decoding itself (the
// sampler is tested against first principles in tests/runtime); the
// speculative path only changes how many tokens each forward pass checks.
// Models join by adding a line to the list at the bottom.
#include <gtest/gtest.h>

#include <cstdio>

#include "nagi/nagi.hpp"
#include "test_support.h"

namespace nagi {
namespace {

using Mode = SpeculativeOptions::Mode;
using Accept = SpeculativeOptions::Accept;

// A prompt that repeats itself, so prompt lookup finds matches, for any vocabulary.
std::vector<int32_t> repetitive_prompt(int n_vocab, int32_t bos) {
  std::vector<int32_t> ids;
  if (bos >= 0) ids.push_back(bos);
  for (int rep = 0; rep < 3; ++rep)
    for (int i = 0; i < 12; ++i) ids.push_back(3 + (17 * i + 5) % (n_vocab - 3));
  return ids;
}

struct Setting {
  const char* name;
  SamplingParams sampling;
};

std::vector<Setting> settings() {
  SamplingParams greedy;
  greedy.temperature = 0;
  SamplingParams hot;  // library defaults: top-k 40, top-p 0.95, min-p 0.05
  hot.temperature = 1.0f;
  hot.seed = 7;
  SamplingParams flat;  // no truncation, repeat penalty: history matters
  flat.temperature = 1.3f;
  flat.top_k = 0;
  flat.top_p = 1.f;
  flat.min_p = 0.f;
  flat.repeat_penalty = 1.2f;
  flat.seed = 12345;
  return {{"greedy", greedy}, {"t1_defaults", hot}, {"t1.3_penalty", flat}};
}

// n tokens after the repetitive prompt, in a fresh session.
GenerateResult generate(const std::shared_ptr<Model>& model, const SamplingParams& sp, const SpeculativeOptions& so,
                        int n = 40, int threads = 2) {
  Session s(model, {.n_ctx = 256, .n_threads = threads});
  GenerateOptions opt;
  opt.max_tokens = n;
  opt.ignore_eos = true;
  opt.sampling = sp;
  opt.speculative = so;
  return s.generate(repetitive_prompt(model->info().n_vocab, model->bos_id()), opt);
}

// Two turns in one session with speculation `so`, the second reusing the
// first's cache (its prompt: the first prompt, the reply, part of the prompt
// again), and plain decoding of the second prompt in a fresh session.
struct SecondTurn {
  GenerateResult speculative;
  std::vector<int32_t> plain_ids;
};
SecondTurn second_turn(const std::shared_ptr<Model>& model, const SpeculativeOptions& so, uint64_t seed) {
  SamplingParams sp;
  sp.temperature = 0.8f;
  sp.seed = seed;
  Session s(model, {.n_ctx = 256, .n_threads = 2});
  GenerateOptions opt;
  opt.max_tokens = 20;
  opt.ignore_eos = true;
  opt.sampling = sp;
  opt.reuse_prefix = true;
  opt.speculative = so;
  const auto prompt = repetitive_prompt(model->info().n_vocab, model->bos_id());
  const auto r1 = s.generate(prompt, opt);
  std::vector<int32_t> turn2 = prompt;
  turn2.insert(turn2.end(), r1.ids.begin(), r1.ids.end());
  turn2.insert(turn2.end(), prompt.begin() + 1, prompt.begin() + 8);
  SecondTurn t{s.generate(turn2, opt), {}};
  Session fresh(model, {.n_ctx = 256, .n_threads = 2});
  opt.speculative = {};
  opt.reuse_prefix = false;
  t.plain_ids = fresh.generate(turn2, opt).ids;
  return t;
}

class Speculative : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!test::has_shared()) GTEST_SKIP() << "fixtures not found at " << test::shared_dir();
    path_ = test::shared_path(GetParam());
    model_ = Model::load(path_);
  }
  GenerateResult run(const SamplingParams& sp, const SpeculativeOptions& so, int n = 40, int threads = 2) {
    return generate(model_, sp, so, n, threads);
  }
  std::string path_;
  std::shared_ptr<Model> model_;
};

TEST_P(Speculative, PlainDecodingDoesNotDependOnThreadCount) {
  for (const auto& st : settings()) {
    EXPECT_EQ(run(st.sampling, {}, 30, 1).ids, run(st.sampling, {}, 30, 2).ids) << st.name;
  }
}

TEST_P(Speculative, LookupGivesThePlainOutput) {
  for (const auto& st : settings()) {
    const auto plain = run(st.sampling, {});
    for (int draft_max : {1, 4, 8}) {
      SpeculativeOptions so{.mode = Mode::kLookup, .draft_max = draft_max};
      const auto spec = run(st.sampling, so);
      EXPECT_EQ(spec.ids, plain.ids) << st.name << " draft_max " << draft_max;
      EXPECT_EQ(spec.stop_reason, plain.stop_reason);
      EXPECT_GT(spec.speculative.proposed, 0) << "the repetitive prompt should give lookup matches";
      EXPECT_LE(spec.speculative.target_passes, plain.speculative.target_passes);
    }
  }
}

TEST_P(Speculative, TreeLookupGivesThePlainOutput) {
  for (const auto& st : settings()) {
    const auto plain = run(st.sampling, {});
    SpeculativeOptions so{.mode = Mode::kLookup, .draft_max = 8, .lookup_ngram = 1, .lookup_branches = 3};
    EXPECT_EQ(run(st.sampling, so).ids, plain.ids) << st.name;
  }
}

TEST_P(Speculative, SameModelDraftIsAlwaysAcceptedUnderGumbelCoupling) {
  auto draft = Model::load(path_);
  for (const auto& st : settings()) {
    const auto plain = run(st.sampling, {});
    SpeculativeOptions so{.mode = Mode::kDraft, .draft = draft, .draft_max = 5};
    const auto gumbel = run(st.sampling, so);
    EXPECT_EQ(gumbel.ids, plain.ids) << st.name;
    // Equal distributions: every proposal is the target's own sample.
    EXPECT_EQ(gumbel.speculative.accepted, gumbel.speculative.proposed) << st.name;
    EXPECT_GT(gumbel.speculative.proposed, 0);

    so.accept = Accept::kRejection;
    const auto rejection = run(st.sampling, so);
    EXPECT_EQ(rejection.ids.size(), plain.ids.size());
    std::printf("[ %s %s ] same-model draft acceptance: gumbel %.3f (%.2f tokens/pass), rejection %.3f (%.2f tokens/pass)\n",
                GetParam().c_str(), st.name, gumbel.speculative.acceptance_rate(),
                gumbel.speculative.tokens_per_pass(), rejection.speculative.acceptance_rate(),
                rejection.speculative.tokens_per_pass());
    // q == p exactly (same weights, and batching does not change the
    // logits), so min(1, p/q) = 1: the rejection rule accepts everything
    // too. What it loses is identity: its draft draws with independent
    // noise, so its tokens are a different sample from the same distribution.
    EXPECT_EQ(rejection.speculative.accepted, rejection.speculative.proposed) << st.name;
    if (st.sampling.temperature <= 0) {
      EXPECT_EQ(rejection.ids, plain.ids);  // greedy: one possible output
    } else {
      EXPECT_NE(rejection.ids, plain.ids) << st.name;
    }
  }
}

TEST_P(Speculative, RollbackStateAfterSpeculationMatchesPlain) {
  // After a speculative generate the session's cache must be a prefix of
  // prompt + output, so the next turn (reuse_prefix) continues exactly.
  const SecondTurn t = second_turn(model_, {.mode = Mode::kLookup, .draft_max = 6}, 3);
  EXPECT_EQ(t.speculative.ids, t.plain_ids);
  EXPECT_GT(t.speculative.n_reused, 0);
}

TEST_P(Speculative, BadOptionsAreRejected) {
  SamplingParams sp;
  EXPECT_THROW((run(sp, {.mode = Mode::kLookup, .draft_max = 0})), Error);
  EXPECT_THROW(run(sp, {.mode = Mode::kDraft}), Error);
  try {
    run(sp, {.mode = Mode::kMtp});
    ADD_FAILURE() << "mtp on a model without an MTP head";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Speculative,
                         ::testing::ValuesIn(test::fixture_models()),
                         [](const auto& info) { return test::model_param_name(info.param); });

// Quantized weights: the activations are quantized to int8 too, so a batch
// whose kernels round differently from one-token passes moves the logits by
// up to ~0.1 and changes sampled tokens. Verification must evaluate a chain
// bit for bit as plain decoding does (tests/model/per_token_batch_test.cpp).
class SpeculativeQuantized : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const std::string path = test::temp_dir() + "/m.gguf";
    ASSERT_EQ(test::run_mkmodel(std::string(GetParam()) +
                                " --n-vocab 400 --n-embd 256 --n-head 4 --n-head-kv 2 --head-dim 64 --n-ff 512 "
                                "--n-ctx 256 --seed 9 --format gguf -o " + path),
              0);
    model_ = Model::load(path);
  }
  std::shared_ptr<Model> model_;
};

TEST_P(SpeculativeQuantized, LookupAndSameModelDraftGiveThePlainOutput) {
  auto draft = model_;
  for (const auto& st : settings()) {
    const auto plain = generate(model_, st.sampling, {});
    const auto lookup = generate(model_, st.sampling, {.mode = Mode::kLookup, .draft_max = 8});
    EXPECT_EQ(lookup.ids, plain.ids) << st.name;
    // Trees where the model allows them (else chains).
    const auto tree = generate(model_, st.sampling,
                               {.mode = Mode::kLookup, .draft_max = 8, .lookup_ngram = 1, .lookup_branches = 3});
    EXPECT_EQ(tree.ids, plain.ids) << st.name;
    const auto same = generate(model_, st.sampling, {.mode = Mode::kDraft, .draft = draft, .draft_max = 8});
    EXPECT_EQ(same.ids, plain.ids) << st.name;
    // The draft evaluates the context as the target did, so its proposals
    // are the target's own samples.
    EXPECT_EQ(same.speculative.accepted, same.speculative.proposed) << st.name;
    EXPECT_GT(same.speculative.proposed, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, SpeculativeQuantized,
                         ::testing::Values("--arch qwen3 --n-layer 4 --dtype q4_0",
                                           "--arch qwen35 --n-layer 4 --n-rot 32 --linear-k-heads 2 "
                                           "--linear-v-heads 4 --linear-head-dim 64 --full-attention-interval 2 "
                                           "--dtype q4_0",
                                           "--arch lfm2 --n-layer 4 --attn-layers 1 3 --dtype q4_k_m"),
                         [](const auto& info) { return std::string(info.index == 0 ? "qwen3_q4_0"
                                                                   : info.index == 1 ? "qwen35_q4_0"
                                                                                     : "lfm2_q4_k_m"); });

TEST(SpeculativeDraft, DraftWithAnotherVocabularyIsRejected) {
  if (!test::has_shared()) GTEST_SKIP();
  const std::string dir = test::temp_dir();
  ASSERT_EQ(test::run_mkmodel("--arch llama --n-vocab 400 --n-embd 32 --n-layer 1 --n-head 2 --n-head-kv 2 "
                              "--head-dim 16 --n-ff 64 --n-ctx 128 -o " + dir + "/small.gguf"),
            0);
  auto target = Model::load(test::shared_path("models/stories260K/stories260K.gguf"));
  Session s(target, {.n_threads = 1});
  GenerateOptions opt;
  opt.max_tokens = 4;
  opt.speculative = {.mode = Mode::kDraft, .draft_model = dir + "/small.gguf"};
  try {
    s.generate(std::vector<int32_t>{1, 20, 30}, opt);
    ADD_FAILURE() << "no error for a draft with 400 tokens against 512";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary of 400"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("small.gguf"), std::string::npos) << e.what();
  }
}

TEST(SpeculativeDraft, SmallerDraftModelGivesThePlainOutput) {
  // A synthetic target with stories260K (same 512-token vocabulary) as the
  // draft: the distributions differ, so some proposals are rejected, and the
  // output must still be plain decoding's.
  if (!test::has_shared()) GTEST_SKIP();
  auto target = Model::load(test::shared_path("models/synthetic/llama.gguf"));
  auto draft = Model::load(test::shared_path("models/stories260K/stories260K.gguf"));
  for (const auto& st : settings()) {
    GenerateOptions opt;
    opt.max_tokens = 40;
    opt.ignore_eos = true;
    opt.sampling = st.sampling;
    const auto prompt = repetitive_prompt(512, 1);
    Session a(target, {.n_ctx = 256, .n_threads = 2});
    const auto plain = a.generate(prompt, opt);
    opt.speculative = {.mode = Mode::kDraft, .draft = draft, .draft_max = 4};
    Session b(target, {.n_ctx = 256, .n_threads = 2});
    const auto spec = b.generate(prompt, opt);
    EXPECT_EQ(spec.ids, plain.ids) << st.name;
    EXPECT_GT(spec.speculative.proposed, 0);
  }
}

// A random-weight Qwen3.5 with an MTP head (nagi-mkmodel --mtp-layers 1):
// its drafts are poor (random weights), but the output must be plain
// decoding's whatever they are, in both formats.
class SpeculativeMtp : public ::testing::Test {
 protected:
  static constexpr const char* kTiny =
      "--arch qwen35 --n-vocab 400 --n-embd 64 --n-layer 4 --n-head 4 --n-head-kv 2 --head-dim 16 --n-rot 8 "
      "--n-ff 96 --linear-k-heads 2 --linear-v-heads 4 --linear-head-dim 16 --full-attention-interval 2 "
      "--tied false --seed 3";
  void SetUp() override {
    dir_ = test::temp_dir();
    ASSERT_EQ(test::run_mkmodel(std::string(kTiny) + " --mtp-layers 1 --format hf -o " + dir_ + "/hf"), 0);
    ASSERT_EQ(test::run_mkmodel(std::string(kTiny) + " --mtp-layers 1 --format gguf -o " + dir_ + "/m.gguf"), 0);
  }
  std::string dir_;
};

TEST_F(SpeculativeMtp, GivesThePlainOutput) {
  for (const std::string& path : {dir_ + "/hf", dir_ + "/m.gguf"}) {
    auto model = Model::load(path);
    for (const auto& st : settings()) {
      const auto plain = generate(model, st.sampling, {});
      for (int draft_max : {1, 3, 6}) {
        const auto spec = generate(model, st.sampling, {.mode = Mode::kMtp, .draft_max = draft_max});
        EXPECT_EQ(spec.ids, plain.ids) << path << " " << st.name << " draft_max " << draft_max;
        EXPECT_EQ(spec.stop_reason, plain.stop_reason);
        EXPECT_GT(spec.speculative.proposed, 0) << path << " " << st.name;
      }
      // The rejection baseline: the target's distribution, not its tokens.
      const auto rejection =
          generate(model, st.sampling, {.mode = Mode::kMtp, .draft_max = 4, .accept = Accept::kRejection});
      EXPECT_EQ(rejection.ids.size(), plain.ids.size());
      EXPECT_GT(rejection.speculative.proposed, 0);
    }
  }
}

TEST_F(SpeculativeMtp, ReusedPrefixGivesThePlainOutput) {
  // The second turn's prompt is mostly cached: the head keeps its cache from
  // the first turn (the session keeps the speculator), gets the hidden states
  // of the re-evaluated tail, and must still propose (and not break).
  const SecondTurn t = second_turn(Model::load(dir_ + "/m.gguf"), {.mode = Mode::kMtp, .draft_max = 3}, 11);
  EXPECT_GT(t.speculative.n_reused, 0);
  EXPECT_GT(t.speculative.speculative.proposed, 0);
  EXPECT_EQ(t.speculative.ids, t.plain_ids);
}

TEST_F(SpeculativeMtp, ModelWithoutHeadIsRejectedByName) {
  const std::string path = dir_ + "/no_mtp.gguf";
  ASSERT_EQ(test::run_mkmodel(std::string(kTiny) + " --format gguf -o " + path), 0);
  auto model = Model::load(path);
  try {
    generate(model, SamplingParams{}, {.mode = Mode::kMtp});
    ADD_FAILURE() << "mtp on a model without an MTP head";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("no_mtp.gguf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("MTP"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nagi
