// Subcommands of the nagi CLI; each lives in its own file.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "nagi/nagi.hpp"

namespace nagi::cli {

// Registers the subcommand on `app`; the returned callback runs it and
// returns the process exit code.
void add_run_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);
void add_info_command(CLI::App& app, int& exit_code);
void add_tokenize_command(CLI::App& app, int& exit_code);
void add_prompt_command(CLI::App& app, int& exit_code);
void add_chat_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_repack_command(CLI::App& app, int& exit_code);

// The model to use when -m is not given: $NAGI_MODEL, else the stories260K
// fixture when present; else throws with instructions.
std::string default_model_path();

// The files text-only commands read: --tokenizer if given, else -m, else
// default_model_path(); both flags at once is an error.
std::string tokenizer_source(const std::string& model, const std::string& tokenizer);

// --kv-cache auto|f32|f16|q8 (how a session stores keys and values).
void add_kv_cache_option(CLI::App* cmd, KvCacheType* out);

// Parses "1,2,3" into token ids; throws nagi::Error naming the flag.
std::vector<int32_t> parse_ids(const std::string& text, const std::string& flag);

}  // namespace nagi::cli
