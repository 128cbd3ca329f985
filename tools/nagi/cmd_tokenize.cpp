// nagi tokenize: text -> token ids (a JSON array), or ids -> text with
// --decode. Loads only the tokenizer, never the weights.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "model/tokenizer_files.h"
#include "text_input.h"

namespace nagi::cli {
namespace {

struct TokenizeArgs {
  std::string model, tokenizer, text;
  bool no_special = false, no_parse_special = false, decode = false;
};

void run(const TokenizeArgs& a, const CLI::App& cmd) {
  const std::string path = tokenizer_source(a.model, a.tokenizer);
  const auto files = load_tokenizer_files(path);
  const Tokenizer& tok = *files.tokenizer;
  const std::string input = cmd.count("text") ? a.text : read_stdin();
  if (a.decode) {
    const std::vector<int32_t> ids = parse_id_list(input, "ids");
    const std::string text = tok.decode(ids, /*skip_special=*/a.no_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    return;
  }
  const std::vector<int32_t> ids = tok.encode(input, !a.no_special, !a.no_parse_special);
  std::puts(nlohmann::json(ids).dump().c_str());
}

}  // namespace

void add_tokenize_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Text to token ids (JSON array), or ids to text with --decode");
  cmd->add_option("-m,--model", args->model, "Model whose tokenizer to use (HF folder, .gguf, llama2.c .bin)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json, a Hugging Face folder or a .gguf (no weights needed)");
  cmd->add_option("text", args->text, "Text (or ids with --decode); default: stdin");
  cmd->add_flag("--no-special", args->no_special,
                "Do not add BOS/EOS (encode); drop special tokens from the text (decode)");
  cmd->add_flag("--no-parse-special", args->no_parse_special, "Text like <|im_start|> stays plain text");
  cmd->add_flag("--decode", args->decode, "Input is token ids (JSON array or comma/space separated); print the text");
  cmd->callback([args, cmd, &exit_code] {
    run(*args, *cmd);
    exit_code = 0;
  });
}

}  // namespace nagi::cli
