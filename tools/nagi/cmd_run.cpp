// nagi run: generate text from a prompt, streaming it to stdout.
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "sampling_flags.h"
#include "nagi/nagi.hpp"

namespace nagi::cli {
namespace {

struct RunArgs {
  std::string model, prompt, prompt_ids;
  int n_predict = 128;
  int threads = 0;
  KvCacheType kv_cache = KvCacheType::kAuto;
  int ctx = 0;
  SamplingFlags sampling;
  bool ignore_eos = false, json = false, no_bos = false;
  std::vector<std::string> stop;
  std::string speculate = "none", spec_accept = "gumbel";
  int draft_max = 8, lookup_branches = 1;
};

// --speculate none|lookup|draft:PATH|mtp and --spec-accept gumbel|rejection.
SpeculativeOptions speculative_options(const RunArgs& a) {
  SpeculativeOptions so;
  using Mode = SpeculativeOptions::Mode;
  if (a.speculate == "none") so.mode = Mode::kNone;
  else if (a.speculate == "lookup") so.mode = Mode::kLookup;
  else if (a.speculate == "mtp") so.mode = Mode::kMtp;
  else if (a.speculate.rfind("draft:", 0) == 0 && a.speculate.size() > 6) {
    so.mode = Mode::kDraft;
    so.draft_model = a.speculate.substr(6);
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "--speculate: expected none, lookup, draft:PATH or mtp, got '" + a.speculate + "'");
  }
  if (a.spec_accept == "gumbel") so.accept = SpeculativeOptions::Accept::kGumbel;
  else if (a.spec_accept == "rejection") so.accept = SpeculativeOptions::Accept::kRejection;
  else throw Error(ErrorCode::kInvalidArgument, "--spec-accept: expected gumbel or rejection, got '" + a.spec_accept + "'");
  so.draft_max = a.draft_max;
  so.lookup_branches = a.lookup_branches;
  return so;
}

Session* g_active_session = nullptr;
extern "C" void on_sigint(int) {
  if (g_active_session != nullptr) g_active_session->cancel();  // an atomic store
}

void run(const RunArgs& a, CLI::App& cmd) {
  const std::string path = a.model.empty() ? default_model_path() : a.model;
  auto model = Model::load(path);
  std::vector<int32_t> prompt;
  if (!a.prompt_ids.empty()) {
    if (cmd.count("--prompt")) throw Error(ErrorCode::kInvalidArgument, "give either --prompt or --prompt-ids, not both");
    prompt = parse_ids(a.prompt_ids, "--prompt-ids");
  } else {
    prompt = model->tokenize(a.prompt, !a.no_bos);
    if (prompt.empty() && model->bos_id() >= 0) prompt.push_back(model->bos_id());
  }

  GenerateOptions opt;
  opt.max_tokens = a.n_predict;
  opt.ignore_eos = a.ignore_eos;
  opt.stop = a.stop;
  opt.speculative = speculative_options(a);
  opt.sampling = resolve_sampling(a.sampling, cmd, model->default_sampling());
  const SamplingParams& sp = opt.sampling;

  Session session(model, SessionOptions{.n_ctx = a.ctx, .n_threads = a.threads, .kv_cache = a.kv_cache});
  g_active_session = &session;
  std::signal(SIGINT, on_sigint);

  if (!a.json) {
    if (a.prompt_ids.empty()) {
      std::fputs(a.prompt.c_str(), stdout);
    } else {
      std::fputs(model->detokenize(prompt, true).c_str(), stdout);
    }
    std::fflush(stdout);
  }
  GenerateResult r = session.generate(prompt, opt, [&](const TokenEvent& ev) {
    if (!a.json && !ev.text.empty()) {
      std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  g_active_session = nullptr;
  std::signal(SIGINT, SIG_DFL);

  const double prefill_tps = r.prefill_seconds > 0 ? r.n_prefill / r.prefill_seconds : 0;
  const double decode_tps = r.decode_seconds > 0 ? r.n_decode / r.decode_seconds : 0;
  if (a.json) {
    nlohmann::json j;
    j["model"] = path;
    j["prompt_ids"] = r.prompt_ids;
    j["ids"] = r.ids;
    j["text"] = r.text;
    j["stop_reason"] = r.stop_reason;
    j["seed"] = sp.seed;
    j["timings"] = {{"prefill_tokens", r.n_prefill}, {"prefill_seconds", r.prefill_seconds},
                    {"prefill_tokens_per_second", prefill_tps}, {"decode_tokens", r.n_decode},
                    {"decode_seconds", r.decode_seconds}, {"decode_tokens_per_second", decode_tps}};
    if (opt.speculative.mode != SpeculativeOptions::Mode::kNone) {
      const SpeculativeStats& st = r.speculative;
      j["speculative"] = {{"mode", a.speculate}, {"accept", a.spec_accept}, {"draft_max", a.draft_max},
                          {"proposed", st.proposed}, {"accepted", st.accepted},
                          {"target_passes", st.target_passes}, {"acceptance_rate", st.acceptance_rate()},
                          {"tokens_per_pass", st.tokens_per_pass()}};
    }
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::fputc('\n', stdout);
    std::fprintf(stderr,
                 "\nnagi: %s | prefill %d tokens, %.1f tokens/s | decode %d tokens, %.1f tokens/s | stop: %s\n",
                 model->info().arch.c_str(), r.n_prefill, prefill_tps, r.n_decode, decode_tps,
                 r.stop_reason.c_str());
    if (opt.speculative.mode != SpeculativeOptions::Mode::kNone) {
      const SpeculativeStats& st = r.speculative;
      std::fprintf(stderr,
                   "nagi: speculative %s (%s, draft max %d) | proposed %d, accepted %d (%.1f%%) | "
                   "%d target passes, %.2f tokens/pass\n",
                   a.speculate.c_str(), a.spec_accept.c_str(), a.draft_max, st.proposed, st.accepted,
                   100.0 * st.acceptance_rate(), st.target_passes, st.tokens_per_pass());
    }
  }
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt");
  cmd->add_option("-m,--model", args->model, "Model: Hugging Face folder, .gguf or llama2.c .bin (default: $NAGI_MODEL)");
  cmd->add_option("-p,--prompt", args->prompt, "Prompt text");
  cmd->add_option("--prompt-ids", args->prompt_ids, "Prompt as comma-separated token ids");
  cmd->add_option("-n,--n-predict", args->n_predict, "Tokens to generate (-1: until EOS or context end)")->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Threads (default: physical cores)");
  add_kv_cache_option(cmd, &args->kv_cache);
  cmd->add_option("-c,--ctx-size", args->ctx, "Context length (default: model's, capped at 4096)");
  add_sampling_flags(*cmd, args->sampling);
  cmd->add_option("--stop", args->stop, "Stop string (repeatable)");
  cmd->add_flag("--ignore-eos", args->ignore_eos, "Keep generating past end-of-sequence");
  cmd->add_flag("--no-bos", args->no_bos, "Do not add the BOS token to the prompt");
  cmd->add_option("--speculate", args->speculate,
                  "Speculative decoding: none, lookup (prompt n-grams), draft:PATH (a smaller model, same vocabulary), mtp")
      ->capture_default_str();
  cmd->add_option("--draft-max", args->draft_max, "Tokens proposed per step")->capture_default_str();
  cmd->add_option("--spec-accept", args->spec_accept,
                  "gumbel: output identical to plain decoding; rejection: the classic speculative-sampling baseline "
                  "(same distribution, different tokens)")
      ->capture_default_str();
  cmd->add_option("--lookup-branches", args->lookup_branches,
                  "Lookup: continuations proposed as a tree (1: a chain)")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object (ids, text, timings) instead of streaming");
  cmd->callback([args, cmd, &exit_code] {
    run(*args, *cmd);
    exit_code = 0;
  });
}

}  // namespace nagi::cli
