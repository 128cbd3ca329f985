// The nagi CLI end to end: run (--json), eval (-o logits.safetensors), info.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "format/safetensors.h"
#include "nagi/nagi.hpp"
#include "../model/reference_data.h"
#include "test_support.h"

namespace nagi {
namespace {

struct Output {
  int status;
  std::string out;
};

Output sh(const std::string& args) {
  const std::string cmd = test::bin_dir() + "/nagi " + args + " 2>&1";
  Output o{0, ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) o.out.append(buf.data(), n);
  const int st = pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::has_shared()) GTEST_SKIP() << "fixtures not found";
  }
  std::string stories(const std::string& rel) { return test::shared_path("models/stories260K/" + rel); }
};

TEST_F(Cli, RunJsonGreedyMatchesFixture) {
  std::ifstream in(stories("reference/greedy.jsonl"));
  std::string line;
  std::getline(in, line);
  std::getline(in, line);  // "Once upon a time"
  const auto ref = nlohmann::json::parse(line);
  const auto o = sh("run -m " + stories("stories260K.bin") + " -p \"Once upon a time\" -n 200 --temp 0 --ignore-eos -t 2 --json");
  ASSERT_EQ(o.status, 0) << o.out;
  const auto j = nlohmann::json::parse(o.out.substr(o.out.find('{')));
  EXPECT_EQ(j["prompt_ids"], ref["prompt_ids"]);
  EXPECT_EQ(j["ids"], ref["ids"]);
  EXPECT_GT(j["timings"]["decode_tokens_per_second"].get<double>(), 0.0);
}

TEST_F(Cli, SpeculativeRunsMatchTheGreedyFixtureAndPlainSampling) {
  std::ifstream in(stories("reference/greedy.jsonl"));
  std::string line;
  std::getline(in, line);
  std::getline(in, line);  // "Once upon a time"
  const auto ref = nlohmann::json::parse(line);
  const std::string base = "run -m " + stories("stories260K.bin") + " -p \"Once upon a time\" -n 200 --ignore-eos -t 1 --json ";
  for (const std::string& spec : std::vector<std::string>{"--speculate lookup", "--speculate draft:" + stories("stories260K.gguf") + " --draft-max 4",
                                 "--speculate lookup --lookup-branches 3"}) {
    const auto o = sh(base + "--temp 0 " + spec);
    ASSERT_EQ(o.status, 0) << o.out;
    const auto j = nlohmann::json::parse(o.out.substr(o.out.find('{')));
    EXPECT_EQ(j["ids"], ref["ids"]) << spec;
    EXPECT_GT(j["speculative"]["target_passes"].get<int>(), 0) << spec;
    EXPECT_LE(j["speculative"]["target_passes"].get<int>(), 200) << spec;
  }
  // Sampled: identical to plain decoding with the same seed under Gumbel coupling.
  const auto plain = sh(base + "--temp 0.9 --seed 11");
  const auto spec = sh(base + "--temp 0.9 --seed 11 --speculate draft:" + stories("stories260K.gguf"));
  ASSERT_EQ(spec.status, 0) << spec.out;
  const auto jp = nlohmann::json::parse(plain.out.substr(plain.out.find('{')));
  const auto js = nlohmann::json::parse(spec.out.substr(spec.out.find('{')));
  EXPECT_EQ(js["ids"], jp["ids"]);
  EXPECT_EQ(js["speculative"]["acceptance_rate"].get<double>(), 1.0);

  const auto bad = sh(base + "--speculate sideways");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("--speculate: expected none, lookup, draft:PATH or mtp"), std::string::npos) << bad.out;
  const auto bad_accept = sh(base + "--speculate lookup --spec-accept maybe");
  EXPECT_NE(bad_accept.status, 0);
  EXPECT_NE(bad_accept.out.find("--spec-accept"), std::string::npos) << bad_accept.out;
}

TEST_F(Cli, SpeculateMtpReportsItsStatisticsAndKeepsTheOutput) {
  // A random qwen35 with an MTP head: whatever it proposes, the ids are plain
  // decoding's, and the run reports what it proposed and kept.
  const std::string dir = test::temp_dir();
  const std::string shape =
      "--arch qwen35 --n-vocab 400 --n-embd 64 --n-layer 4 --n-head 4 --n-head-kv 2 --head-dim 16 --n-rot 8 "
      "--n-ff 96 --linear-k-heads 2 --linear-v-heads 4 --linear-head-dim 16 --full-attention-interval 2 --format gguf ";
  ASSERT_EQ(test::run_mkmodel(shape + "--mtp-layers 1 -o " + dir + "/mtp.gguf"), 0);
  ASSERT_EQ(test::run_mkmodel(shape + "-o " + dir + "/plain.gguf"), 0);
  const std::string base = "run -m " + dir + "/mtp.gguf --prompt-ids 1,5,6,7,8 -n 30 --ignore-eos -t 1 --temp 0.9 --seed 4 ";
  const auto plain = sh(base + "--json");
  const auto mtp = sh(base + "--json --speculate mtp --draft-max 3");
  ASSERT_EQ(mtp.status, 0) << mtp.out;
  const auto jp = nlohmann::json::parse(plain.out.substr(plain.out.find('{')));
  const auto jm = nlohmann::json::parse(mtp.out.substr(mtp.out.find('{')));
  EXPECT_EQ(jm["ids"], jp["ids"]);
  EXPECT_EQ(jm["speculative"]["mode"], "mtp");
  EXPECT_GT(jm["speculative"]["proposed"].get<int>(), 0);
  const auto text = sh(base + "--speculate mtp");
  EXPECT_NE(text.out.find("speculative mtp"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("tokens/pass"), std::string::npos) << text.out;
  const auto none = sh("run -m " + dir + "/plain.gguf --prompt-ids 1,5,6 -n 4 --speculate mtp");
  EXPECT_NE(none.status, 0);
  EXPECT_NE(none.out.find("plain.gguf has no multi-token-prediction (MTP) head"), std::string::npos) << none.out;
}

TEST_F(Cli, RunStreamsTextAndReportsSpeed) {
  const auto o = sh("run -m " + stories("hf") + " --prompt-ids 1,403,407 -n 30 --temp 0.7 --seed 5 -t 1");
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("tokens/s"), std::string::npos);
  // Same seed, same text.
  EXPECT_EQ(o.out.substr(0, o.out.find("nagi:")),
            sh("run -m " + stories("hf") + " --prompt-ids 1,403,407 -n 30 --temp 0.7 --seed 5 -t 2").out.substr(0, o.out.find("nagi:")));
}

TEST_F(Cli, EvalWritesReferenceLogits) {
  TensorStore ref;
  load_safetensors_file(stories("reference/logits.safetensors"), ref);
  const auto ids = test::tensor_i32(ref.get("prompt_2_ids", "ref"));
  std::string csv;
  for (int32_t id : ids) csv += (csv.empty() ? "" : ",") + std::to_string(id);
  const std::string out = test::temp_dir() + "/logits.safetensors";
  for (const char* batch : {"", " -b 1", " -b 7"}) {
    const auto o = sh("eval -m " + stories("stories260K.gguf") + " --prompt-ids " + csv + " -o " + out + batch);
    ASSERT_EQ(o.status, 0) << o.out;
    TensorStore got;
    load_safetensors_file(out, got);
    const TensorView& logits = got.get("logits", out);
    EXPECT_EQ(logits.shape, (std::vector<int64_t>{int64_t(ids.size()), 512}));
    const auto a = test::tensor_f32(logits), b = test::tensor_f32(ref.get("prompt_2_logits", "ref"));
    EXPECT_LE(test::max_abs_diff(a.data(), b.data(), b.size()), 1e-4f) << batch;
  }
}

TEST_F(Cli, InfoDescribesTheModel) {
  const auto o = sh("info " + stories("stories260K.gguf"));
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("llama"), std::string::npos);
  EXPECT_NE(o.out.find("F32"), std::string::npos);
  EXPECT_NE(o.out.find("layers:        5"), std::string::npos);
}

TEST_F(Cli, ErrorsAreClearAndExitNonZero) {
  auto o = sh("run -m /nonexistent/model.gguf -p hi");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.out.find("/nonexistent/model.gguf"), std::string::npos);
  o = sh("run -m " + stories("stories260K.gguf") + " --prompt-ids 1,abc");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.out.find("--prompt-ids"), std::string::npos);
  o = sh("run -m " + stories("stories260K.gguf") + " --prompt-ids 1,9999");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.out.find("9999"), std::string::npos);
  o = sh("run -m " + stories("stories260K.gguf") + " -p hi --top-p 7");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.out.find("top_p"), std::string::npos);
}

TEST_F(Cli, BenchJsonReportsSpeedsAndRoofline) {
  // Tiny sizes and a given bandwidth: checks the fields, not the speed.
  const auto o = sh("bench -m " + stories("stories260K.gguf") + " -p 4,8 -n 4 -r 2 -t 2 --bw 40 --json");
  ASSERT_EQ(o.status, 0) << o.out;
  const auto j = nlohmann::json::parse(o.out.substr(o.out.find('{')));
  EXPECT_EQ(j["threads"], 2);
  // The kernel level the process ran (the same selection as this one's:
  // the CPU's best, or NAGI_ISA's).
  EXPECT_EQ(j["kernels"].get<std::string>(), std::string(kernel_level()));
  EXPECT_GT(j["load_ms"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_mib"].get<double>(), 0.0);
  EXPECT_GT(j["weight_bytes"].get<double>(), 0.0);
  ASSERT_EQ(j["prefill"].size(), 2u);
  EXPECT_EQ(j["prefill"][1]["n_tokens"], 8);
  EXPECT_EQ(j["prefill"][1]["runs"].size(), 2u);
  EXPECT_GT(j["prefill"][0]["tokens_per_s"].get<double>(), 0.0);
  const auto& d = j["decode"];
  EXPECT_EQ(d["n_tokens"], 4);
  EXPECT_GT(d["tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(d["bytes_per_token"].get<double>(), j["weight_bytes"].get<double>());
  EXPECT_NEAR(d["achieved_gbs"].get<double>(), d["tokens_per_s"].get<double>() * d["bytes_per_token"].get<double>() / 1e9, 1e-6);
  EXPECT_NEAR(d["roofline_pct"].get<double>(), 100.0 * d["achieved_gbs"].get<double>() / 40.0, 1e-6);
  ASSERT_EQ(d["bandwidth_gbs_per_run"].size(), 2u);  // one per decode run, here the given one
  EXPECT_EQ(d["bandwidth_gbs_per_run"][1].get<double>(), 40.0);
  // Each run's own fraction, from its own tokens/s and bandwidth.
  ASSERT_EQ(d["roofline_pct_per_run"].size(), 2u);
  for (int r = 0; r < 2; ++r) {
    EXPECT_NEAR(d["roofline_pct_per_run"][r].get<double>(),
                100.0 * d["runs"][r].get<double>() * d["bytes_per_token"].get<double>() / 1e9 / 40.0, 1e-6);
  }
  // The decode rows' prefetch setting after each run, in NAGI_LINE_AHEAD's
  // syntax: a distance, ",nt" when non-temporal.
  ASSERT_EQ(d["line_ahead_per_run"].size(), 2u);
  for (const auto& s : d["line_ahead_per_run"]) {
    const std::string v = s.get<std::string>();
    EXPECT_TRUE(std::regex_match(v, std::regex("[0-9]+(,nt)?"))) << v;
  }
}

TEST_F(Cli, BenchTextListsEachDecodeRunAgainstItsBandwidth) {
  const auto o = sh("bench -m " + stories("stories260K.gguf") + " -p 4 -n 4 -r 2 -t 2 --bw 40");
  ASSERT_EQ(o.status, 0) << o.out;
  const size_t runs = o.out.find("runs (against --bw):");
  ASSERT_NE(runs, std::string::npos) << o.out;
  const std::string line = o.out.substr(runs, o.out.find('\n', runs) - runs);
  // Two runs, each "... tok/s = ... GB/s = P% of 40.0".
  size_t n = 0;
  for (size_t at = line.find("of 40.0"); at != std::string::npos; at = line.find("of 40.0", at + 1)) ++n;
  EXPECT_EQ(n, 2u) << line;
}

TEST_F(Cli, RepackWritesAModelThatRunsTheSame) {
  // stories260K has no 512-wide rows: every tensor is carried over as is.
  const std::string out = test::temp_dir() + "/stories_repacked.gguf";
  auto o = sh("repack " + stories("stories260K.gguf") + " " + out);
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("(0 in superblocks)"), std::string::npos) << o.out;
  const std::string gen = " -p \"Once upon a time\" -n 12 --temp 0";
  const auto text = [](const std::string& s) { return s.substr(0, s.find("\nnagi:")); };  // not the timings
  const std::string a = text(sh("run -m " + out + gen).out), b = text(sh("run -m " + stories("stories260K.gguf") + gen).out);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 20u);
  o = sh("repack /nonexistent/model.gguf " + out);
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.out.find("/nonexistent/model.gguf"), std::string::npos) << o.out;
}

TEST_F(Cli, RepackQ4_0OnlyWhenAsked) {
  const std::string plain = test::temp_dir() + "/cli_q4_0_512.gguf", out = test::temp_dir() + "/cli_q4_0_x16.gguf";
  ASSERT_EQ(test::run_mkmodel("--arch qwen3 --n-vocab 400 --n-embd 512 --n-layer 1 --n-head 4 --n-head-kv 2 "
                              "--head-dim 128 --n-ff 1024 --n-ctx 32 --dtype q4_0 --format gguf -o " + plain),
            0);
  auto o = sh("repack " + plain + " " + out);
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("(0 in superblocks)"), std::string::npos) << o.out;
  // q, k, v, o, gate, up, down and the 400 x 512 embedding.
  o = sh("repack --q4-0 " + plain + " " + out);
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("(8 in superblocks)"), std::string::npos) << o.out;
}

TEST_F(Cli, BenchRejectsBadSizes) {
  const auto o = sh("bench -m " + stories("stories260K.gguf") + " -p 4,x -n 2");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.out.find("-p"), std::string::npos);
}

}  // namespace
}  // namespace nagi
