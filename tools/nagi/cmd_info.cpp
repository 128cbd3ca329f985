// nagi info: what a model file holds and what running it costs.
#include <cstdio>

#include "commands.h"
#include "nagi/nagi.hpp"

namespace nagi::cli {
namespace {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

void info(const std::string& path_arg, int ctx) {
  const std::string path = path_arg.empty() ? default_model_path() : path_arg;
  auto model = Model::load(path);
  const ModelInfo& i = model->info();
  std::printf("path:          %s\n", i.path.c_str());
  std::printf("format:        %s\n", i.format.c_str());
  std::printf("architecture:  %s\n", i.arch.c_str());
  if (!i.name.empty()) std::printf("name:          %s\n", i.name.c_str());
  std::printf("parameters:    %lld (%.3f B)\n", static_cast<long long>(i.n_params), i.n_params / 1e9);
  std::printf("layers:        %d\n", i.n_layer);
  std::printf("embedding:     %d\n", i.n_embd);
  std::printf("heads:         %d query, %d key/value, head dim %d\n", i.n_head, i.n_head_kv, i.head_dim);
  std::printf("feed-forward:  %d\n", i.n_ff);
  std::printf("vocabulary:    %d\n", i.n_vocab);
  std::printf("context:       %d (trained)\n", i.n_ctx_train);
  std::printf("tensor dtypes:");
  for (const auto& [dtype, count] : i.dtype_counts) std::printf(" %s x%lld", dtype.c_str(), static_cast<long long>(count));
  std::printf("\n");
  const int n_ctx = ctx > 0 ? ctx : std::min(i.n_ctx_train, 4096);
  const double kv = double(model->state_bytes(n_ctx));
  std::printf("memory:        weights %s (memory-mapped) + KV cache %s at %d positions = %s\n",
              human_bytes(double(i.weight_bytes)).c_str(), human_bytes(kv).c_str(), n_ctx,
              human_bytes(double(i.weight_bytes) + kv).c_str());
}

}  // namespace

void add_info_command(CLI::App& app, int& exit_code) {
  auto path = std::make_shared<std::string>();
  auto ctx = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand("info", "Describe a model: architecture, parameters, dtypes, memory");
  cmd->add_option("path", *path, "Model path (default: $NAGI_MODEL)");
  cmd->add_option("-c,--ctx-size", *ctx, "Context length for the memory estimate");
  cmd->callback([path, ctx, &exit_code] {
    info(*path, *ctx);
    exit_code = 0;
  });
}

}  // namespace nagi::cli
