// Speculative decoding benchmark (a program, not a test): decode tokens/s of
// plain decoding vs speculation (prompt lookup, draft model, MTP head) under Gumbel
// coupling and the rejection baseline, with acceptance rate and tokens per
// target pass, on a free-running task and a copy-heavy one. Every Gumbel run
// is checked to be token-identical to plain decoding with the same seed.
//
//   build/bin/bench_speculative [--target PATH] [--draft PATH] [-n 200] [-t 1]
//                               [--seeds 3] [--temp 0.8] [--draft-max 8] [--mtp 1]
//
// --mtp 1 adds the target's own multi-token-prediction head (a Qwen3.5 model
// with an MTP block, e.g. nagi-mkmodel --arch qwen35 --mtp-layers 1).
//
// Defaults: stories260K (../shared, or $NAGI_SHARED) as target and draft.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nagi/nagi.hpp"

namespace {

using namespace nagi;
using Mode = SpeculativeOptions::Mode;
using Accept = SpeculativeOptions::Accept;

// A passage the model is then asked to repeat: copy-heavy, where prompt
// lookup shines because the output restates the context.
const char* kPassage =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
    "One day, she saw a big red ball under a tree. She ran to the ball and kicked it very high. "
    "The ball flew over the fence and into the garden of an old man. Lily was sad, but the old man "
    "smiled and gave the ball back to her. Lily said thank you and they became good friends.";

struct Row {
  std::string task, method;
  double tps = 0, acceptance = 0, per_pass = 0;
  bool identical = true;
  int tokens = 0;
};

std::string shared_dir() {
  if (const char* e = std::getenv("NAGI_SHARED"); e && *e) return e;
  return "../shared";
}

}  // namespace

int main(int argc, char** argv) {
  std::string target_path = shared_dir() + "/models/stories260K/stories260K.gguf";
  std::string draft_path;
  int n = 200, threads = 1, seeds = 3, draft_max = 8, mtp = 0;
  float temp = 0.8f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--target") target_path = argv[i + 1];
    else if (a == "--draft") draft_path = argv[i + 1];
    else if (a == "-n") n = std::atoi(argv[i + 1]);
    else if (a == "-t") threads = std::atoi(argv[i + 1]);
    else if (a == "--seeds") seeds = std::atoi(argv[i + 1]);
    else if (a == "--temp") temp = std::strtof(argv[i + 1], nullptr);
    else if (a == "--draft-max") draft_max = std::atoi(argv[i + 1]);
    else if (a == "--mtp") mtp = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (draft_path.empty()) draft_path = target_path;
  try {
    auto target = Model::load(target_path);
    auto draft = Model::load(draft_path);
    const std::string passage = kPassage;
    struct Task {
      const char* name;
      std::vector<int32_t> prompt;
    };
    // "copy": the passage twice, then its start again, so continuing means repeating.
    const std::vector<Task> tasks = {
        {"story", target->tokenize("Once upon a time", true)},
        {"copy", target->tokenize(passage + " " + passage + " Once upon a time, there was", true)},
    };
    struct Method {
      const char* name;
      SpeculativeOptions so;
    };
    std::vector<Method> methods = {
        {"plain", {}},
        {"lookup/gumbel", {.mode = Mode::kLookup, .draft_max = draft_max}},
        {"lookup/rejection", {.mode = Mode::kLookup, .draft_max = draft_max, .accept = Accept::kRejection}},
        {"lookup-tree3/gumbel", {.mode = Mode::kLookup, .draft_max = draft_max, .lookup_ngram = 2, .lookup_branches = 3}},
        {"draft/gumbel", {.mode = Mode::kDraft, .draft = draft, .draft_max = draft_max}},
        {"draft/rejection", {.mode = Mode::kDraft, .draft = draft, .draft_max = draft_max, .accept = Accept::kRejection}},
    };
    if (mtp) {
      methods.push_back({"mtp/gumbel", {.mode = Mode::kMtp, .draft_max = draft_max}});
      methods.push_back({"mtp/rejection", {.mode = Mode::kMtp, .draft_max = draft_max, .accept = Accept::kRejection}});
    }
    std::printf("target %s, draft %s, %d tokens, temperature %.2f, %d seeds, %d threads, draft max %d\n",
                target_path.c_str(), draft_path.c_str(), n, temp, seeds, threads, draft_max);
    std::printf("%-6s %-20s %10s %9s %10s %8s %10s\n", "task", "method", "tokens/s", "speed-up", "accept", "tok/pass",
                "=plain");
    for (const Task& task : tasks) {
      if (static_cast<int>(task.prompt.size()) + n > std::min(target->info().n_ctx_train, 4096)) {
        std::printf("%-6s skipped: %zu prompt tokens + %d do not fit the context\n", task.name, task.prompt.size(), n);
        continue;
      }
      double plain_tps = 0;
      std::vector<std::vector<int32_t>> plain_ids(static_cast<size_t>(seeds));
      for (const Method& m : methods) {
        Row row{task.name, m.name};
        double seconds = 0;
        int tokens = 0, proposed = 0, accepted = 0, passes = 0;
        for (int seed = 0; seed < seeds; ++seed) {
          Session s(target, {.n_ctx = 0, .n_threads = threads});  // the model's context (capped at 4096)
          GenerateOptions opt;
          opt.max_tokens = n;
          opt.ignore_eos = true;
          opt.sampling = target->default_sampling();
          opt.sampling.temperature = temp;
          opt.sampling.seed = static_cast<uint64_t>(seed + 1);
          opt.speculative = m.so;
          const auto r = s.generate(task.prompt, opt);
          seconds += r.decode_seconds;
          tokens += static_cast<int>(r.ids.size());
          proposed += r.speculative.proposed;
          accepted += r.speculative.accepted;
          passes += r.speculative.target_passes;
          if (m.so.mode == Mode::kNone) plain_ids[size_t(seed)] = r.ids;
          else if (r.ids != plain_ids[size_t(seed)]) row.identical = false;
        }
        row.tps = tokens / seconds;
        if (m.so.mode == Mode::kNone) plain_tps = row.tps;
        row.acceptance = proposed ? double(accepted) / proposed : 0;
        row.per_pass = passes ? double(tokens) / passes : 0;
        std::printf("%-6s %-20s %10.1f %8.2fx %9.1f%% %8.2f %10s\n", row.task.c_str(), row.method.c_str(), row.tps,
                    row.tps / plain_tps, 100 * row.acceptance, row.per_pass, row.identical ? "yes" : "no");
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_speculative: %s\n", e.what());
    return 1;
  }
  return 0;
}
