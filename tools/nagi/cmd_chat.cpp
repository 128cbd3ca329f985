// nagi chat: interactive multi-turn chat on stdin/stdout. Every turn
// re-renders the whole conversation with the model's chat template and
// generates with reuse_prefix, so only the tokens the cache does not already
// hold are prefilled.
//
// Input lines: a message, or /reset (forget the conversation and the cache),
// or /exit (EOF too). Ctrl-C during a reply stops the reply; at the prompt it
// quits. Reasoning (<think>...</think>) is shown apart from the answer: dimmed
// on a terminal, between "[thinking]" and "[/thinking]" lines otherwise, and
// it is not kept in the conversation.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "chat/chat_request.h"
#include "chat/chat_template.h"
#include "chat/think_splitter.h"
#include "commands.h"
#include "model/tokenizer_files.h"
#include "nagi/nagi.hpp"
#include "sampling_flags.h"
#include "text_input.h"

namespace nagi::cli {
namespace {

struct ChatArgs {
  std::string model, system, template_file, kwargs;
  int max_tokens = 256;
  int threads = 0;
  KvCacheType kv_cache = KvCacheType::kAuto;
  int ctx = 0;
  bool verbose = false;
  SamplingFlags sampling;
};

std::atomic<Session*> g_session{nullptr};   // set while a reply is generated
extern "C" void on_chat_sigint(int) {
  if (Session* s = g_session.load()) {
    s->cancel();  // an atomic store: stops only the reply
    return;
  }
  // At the prompt: leave at once (only async-signal-safe calls here).
  const char nl = '\n';
  (void)!write(STDOUT_FILENO, &nl, 1);
  _exit(130);
}

// Writes reply segments, marking reasoning apart from the answer.
class ReplyPrinter {
 public:
  explicit ReplyPrinter(bool tty) : tty_(tty) {}
  void print(const std::vector<ThinkSplitter::Segment>& segments) {
    for (const auto& seg : segments) {
      const bool thinking = seg.kind == ThinkSplitter::Kind::kThinking;
      if (thinking != in_thinking_) {
        if (thinking) std::fputs(tty_ ? "\x1b[2m" : "[thinking]\n", stdout);
        else std::fputs(tty_ ? "\x1b[0m" : "\n[/thinking]\n", stdout);
        in_thinking_ = thinking;
      }
      std::fwrite(seg.text.data(), 1, seg.text.size(), stdout);
    }
    std::fflush(stdout);
  }
  void finish() {
    if (in_thinking_) std::fputs(tty_ ? "\x1b[0m" : "\n[/thinking]", stdout);
    in_thinking_ = false;
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  bool tty_;
  bool in_thinking_ = false;
};

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

void run(const ChatArgs& a, const CLI::App& cmd) {
  const std::string path = a.model.empty() ? default_model_path() : a.model;
  auto model = Model::load(path);
  const ChatFiles chat = load_chat_files(path);
  std::string tmpl_source = chat.chat_template;
  if (!a.template_file.empty()) tmpl_source = read_file_or_stdin(a.template_file);
  const bool fallback = tmpl_source.empty();
  if (fallback) {
    tmpl_source = fallback_chat_template();
    std::fprintf(stderr,
                 "nagi: %s has no chat template; using a plain format (\"User: ...\\nAssistant: ...\" lines "
                 "after BOS)\n",
                 path.c_str());
  }
  const ChatTemplate tmpl(tmpl_source);
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
  if (!a.kwargs.empty()) {
    try {
      kwargs = nlohmann::ordered_json::parse(a.kwargs);
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorCode::kInvalidArgument, std::string("--chat-template-kwargs: invalid JSON: ") + e.what());
    }
  }

  GenerateOptions opt;
  opt.max_tokens = a.max_tokens;
  opt.reuse_prefix = true;
  opt.sampling = resolve_sampling(a.sampling, cmd, model->default_sampling());
  // Without a template the model does not know turns end; cut at the next one.
  if (fallback) opt.stop = {"\nUser:"};

  Session session(model, SessionOptions{.n_ctx = a.ctx, .n_threads = a.threads, .kv_cache = a.kv_cache});
  struct sigaction sa {};
  sa.sa_handler = on_chat_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);

  const bool tty_in = isatty(STDIN_FILENO) != 0;
  const bool tty_out = isatty(STDOUT_FILENO) != 0;
  auto fresh_conversation = [&] {
    nlohmann::ordered_json m = nlohmann::ordered_json::array();
    if (!a.system.empty()) m.push_back({{"role", "system"}, {"content", a.system}});
    return m;
  };
  nlohmann::ordered_json messages = fresh_conversation();
  std::string line;
  for (;;) {
    if (tty_in) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit") break;
    if (line == "/reset") {
      messages = fresh_conversation();
      session.reset();
      std::fputs("[conversation reset]\n", stderr);
      continue;
    }
    if (trim(line).empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    nlohmann::ordered_json request = {{"messages", messages}, {"add_generation_prompt", true},
                                      {"chat_template_kwargs", kwargs}};
    GenerateResult r;
    ThinkSplitter splitter;
    ReplyPrinter printer(tty_out);
    std::vector<int32_t> ids;
    try {
      const std::string prompt = render_chat_request(tmpl, request, {chat.bos_token, chat.eos_token}, path);
      // As apply_chat_template: the template wrote the special tokens.
      ids = model->tokenize(prompt, /*add_special=*/false, /*parse_special=*/true);
      if (static_cast<int>(ids.size()) >= session.n_ctx()) {
        throw Error(ErrorCode::kInvalidArgument, "the conversation (" + std::to_string(ids.size()) +
                                                     " tokens) fills the context (" +
                                                     std::to_string(session.n_ctx()) + "); type /reset");
      }
      splitter = ThinkSplitter(prompt_opens_thinking(prompt));
      g_session = &session;
      r = session.generate(ids, opt, [&](const TokenEvent& ev) {
        printer.print(splitter.push(ev.text));
        return true;
      });
      g_session = nullptr;
    } catch (const Error& e) {
      g_session = nullptr;
      messages.erase(messages.size() - 1);
      std::fprintf(stderr, "nagi: error: %s\n", e.what());
      continue;
    }
    printer.print(splitter.flush());
    printer.finish();
    if (r.stop_reason == "cancelled") std::fputs("[reply stopped]\n", stderr);
    messages.push_back({{"role", "assistant"}, {"content", trim(splitter.answer())}});
    if (a.verbose) {
      const double tps = r.decode_seconds > 0 ? r.n_decode / r.decode_seconds : 0;
      std::fprintf(stderr, "[prefill %d new tokens, %d reused | prompt %zu tokens | decode %d tokens, %.1f tokens/s | stop: %s]\n",
                   r.n_prefill, r.n_reused, ids.size(), r.n_decode, tps, r.stop_reason.c_str());
    }
  }
  std::signal(SIGINT, SIG_DFL);
}

}  // namespace

void add_chat_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive chat with the model's chat template (/reset, /exit)");
  cmd->add_option("-m,--model", args->model, "Model: Hugging Face folder, .gguf or llama2.c .bin (default: $NAGI_MODEL)");
  cmd->add_option("--system", args->system, "System message");
  cmd->add_option("-n,--max-tokens", args->max_tokens, "Most tokens per reply (-1: until EOS)")->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Threads (default: physical cores)");
  add_kv_cache_option(cmd, &args->kv_cache);
  cmd->add_option("-c,--ctx-size", args->ctx, "Context length (default: model's, capped at 4096)");
  cmd->add_option("--chat-template", args->template_file, "Use this Jinja template file instead of the model's");
  cmd->add_option("--chat-template-kwargs", args->kwargs, "Extra template variables as JSON, e.g. '{\"enable_thinking\": false}'");
  cmd->add_flag("-v,--verbose", args->verbose, "Per turn on stderr: tokens prefilled and reused, decode speed");
  add_sampling_flags(*cmd, args->sampling);
  cmd->callback([args, cmd, &exit_code] {
    run(*args, *cmd);
    exit_code = 0;
  });
}

}  // namespace nagi::cli
