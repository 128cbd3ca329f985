// nagi eval: logits at every prompt position, written as safetensors so nagi
// can be compared number for number with any other implementation.
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "format/safetensors.h"
#include "nagi/nagi.hpp"

namespace nagi::cli {
namespace {

struct EvalArgs {
  std::string model, prompt, prompt_ids, out;
  int threads = 0, ctx = 0, batch = 0;
  KvCacheType kv_cache = KvCacheType::kAuto;
};

void eval(const EvalArgs& a) {
  const std::string path = a.model.empty() ? default_model_path() : a.model;
  auto model = Model::load(path);
  std::vector<int32_t> ids = !a.prompt_ids.empty() ? parse_ids(a.prompt_ids, "--prompt-ids")
                                                   : model->tokenize(a.prompt, true);
  if (ids.empty()) throw Error(ErrorCode::kInvalidArgument, "eval: no tokens to evaluate");
  Session session(model, SessionOptions{.n_ctx = a.ctx, .n_threads = a.threads, .kv_cache = a.kv_cache});
  const int n_vocab = model->info().n_vocab;
  std::vector<float> logits;
  logits.reserve(ids.size() * n_vocab);
  // --batch N feeds the prompt N tokens at a time (1: token by token), so the
  // batched and incremental paths can both be checked.
  const size_t step = a.batch > 0 ? size_t(a.batch) : ids.size();
  for (size_t i = 0; i < ids.size(); i += step) {
    const size_t n = std::min(step, ids.size() - i);
    auto part = session.eval(std::span<const int32_t>(ids.data() + i, n), true);
    logits.insert(logits.end(), part.begin(), part.end());
  }
  SafetensorsWriter w;
  w.add_f32("logits", {int64_t(ids.size()), n_vocab}, logits);
  std::vector<uint8_t> id_bytes(ids.size() * sizeof(int32_t));
  std::memcpy(id_bytes.data(), ids.data(), id_bytes.size());
  w.add("tokens", DType::kI32, {int64_t(ids.size())}, std::move(id_bytes));
  w.set_metadata("model", path);
  w.write(a.out);
  std::fprintf(stderr, "nagi: wrote logits [%zu, %d] to %s\n", ids.size(), n_vocab, a.out.c_str());
}

}  // namespace

void add_eval_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Write the logits at every prompt position to a safetensors file");
  cmd->add_option("-m,--model", args->model, "Model path (default: $NAGI_MODEL)");
  cmd->add_option("-p,--prompt", args->prompt, "Prompt text (BOS added)");
  cmd->add_option("--prompt-ids", args->prompt_ids, "Prompt as comma-separated token ids");
  cmd->add_option("-o,--output", args->out, "Output .safetensors file (tensor 'logits' [tokens, vocab] f32)")->required();
  cmd->add_option("-t,--threads", args->threads, "Threads (default: physical cores)");
  add_kv_cache_option(cmd, &args->kv_cache);
  cmd->add_option("-c,--ctx-size", args->ctx, "Context length (default: model's, capped at 4096)");
  cmd->add_option("-b,--batch", args->batch, "Evaluate the prompt this many tokens at a time (default: all at once)");
  cmd->callback([args, &exit_code] {
    eval(*args);
    exit_code = 0;
  });
}

}  // namespace nagi::cli
