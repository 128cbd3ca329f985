// nagi: the command-line program. One file per subcommand (cmd_*.cpp).
#include <cstdio>

#include "commands.h"
#include "nagi/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"nagi: on-device LLM inference"};
  app.require_subcommand(1);
  int exit_code = 0;
  nagi::cli::add_run_command(app, exit_code);
  nagi::cli::add_eval_command(app, exit_code);
  nagi::cli::add_info_command(app, exit_code);
  nagi::cli::add_tokenize_command(app, exit_code);
  nagi::cli::add_prompt_command(app, exit_code);
  nagi::cli::add_chat_command(app, exit_code);
  nagi::cli::add_bench_command(app, exit_code);
  nagi::cli::add_repack_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const nagi::Error& e) {
    std::fprintf(stderr, "nagi: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nagi: internal error: %s\n", e.what());
    return 2;
  }
  return exit_code;
}
