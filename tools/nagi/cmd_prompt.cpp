// nagi prompt: renders an OpenAI-style chat request with the model's chat
// template and prints the exact prompt bytes (or its token ids with --ids).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "chat/chat_request.h"
#include "chat/chat_template.h"
#include "commands.h"
#include "model/tokenizer_files.h"
#include "nagi/error.hpp"
#include "text_input.h"

namespace nagi::cli {
namespace {

struct PromptArgs {
  std::string model, tokenizer, request, template_file;
  bool ids = false;
};

void run(const PromptArgs& a) {
  const std::string path = tokenizer_source(a.model, a.tokenizer);
  const std::string source = a.request.empty() || a.request == "-" ? "<stdin>" : a.request;
  nlohmann::ordered_json request;
  try {
    request = nlohmann::ordered_json::parse(read_file_or_stdin(a.request));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, source + ": invalid JSON: " + e.what());
  }
  // Only --ids needs the tokenizer itself.
  TokenizerFiles files;
  if (a.ids) files = load_tokenizer_files(path);
  else files.chat = load_chat_files(path);
  std::string tmpl_source = files.chat.chat_template;
  if (!a.template_file.empty()) tmpl_source = read_file_or_stdin(a.template_file);
  if (tmpl_source.empty()) {
    throw Error(ErrorCode::kInvalidArgument, path + ": no chat template (tokenizer_config.json 'chat_template' or "
                                                    "GGUF 'tokenizer.chat_template'); pass --chat-template FILE");
  }
  const ChatTemplate tmpl(tmpl_source);
  const std::string prompt =
      render_chat_request(tmpl, request, {files.chat.bos_token, files.chat.eos_token}, source);
  if (!a.ids) {
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    return;
  }
  // As apply_chat_template(tokenize=True): the template wrote the special
  // tokens itself, so nothing is added, but their text is parsed.
  const auto ids = files.tokenizer->encode(prompt, /*add_special=*/false, /*parse_special=*/true);
  std::puts(nlohmann::json(ids).dump().c_str());
}

}  // namespace

void add_prompt_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PromptArgs>();
  CLI::App* cmd = app.add_subcommand("prompt", "Render a chat request (JSON: messages, tools, ...) with the chat template");
  cmd->add_option("-m,--model", args->model, "Model whose chat template to use (HF folder, .gguf)");
  cmd->add_option("--tokenizer", args->tokenizer, "Tokenizer folder, tokenizer.json or .gguf (no weights needed)");
  cmd->add_option("request", args->request, "Request JSON file (default: stdin)");
  cmd->add_option("--chat-template", args->template_file, "Use this Jinja template file instead of the model's");
  cmd->add_flag("--ids", args->ids, "Print the prompt's token ids (JSON array) instead of its text");
  cmd->callback([args, &exit_code] {
    run(*args);
    exit_code = 0;
  });
}

}  // namespace nagi::cli
