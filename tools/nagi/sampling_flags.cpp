#include "sampling_flags.h"

#include <chrono>

namespace nagi::cli {

void add_sampling_flags(CLI::App& cmd, SamplingFlags& f) {
  cmd.add_option("--temp", f.temp, "Temperature (0: greedy)");
  cmd.add_option("--top-k", f.top_k, "Top-k (0: off)");
  cmd.add_option("--top-p", f.top_p, "Top-p (1: off)");
  cmd.add_option("--min-p", f.min_p, "Min-p (0: off)");
  cmd.add_option("--repeat-penalty", f.repeat_penalty, "Repetition penalty (1: off)");
  cmd.add_option("--repeat-last-n", f.repeat_last_n, "Tokens the penalties look back (-1: all)");
  cmd.add_option("--presence-penalty", f.presence, "Presence penalty");
  cmd.add_option("--frequency-penalty", f.frequency, "Frequency penalty");
  cmd.add_option("-s,--seed", f.seed, "Sampling seed (default: random)");
}

SamplingParams resolve_sampling(const SamplingFlags& a, const CLI::App& cmd, SamplingParams sp) {
  if (cmd.count("--temp")) sp.temperature = a.temp;
  if (cmd.count("--top-k")) sp.top_k = a.top_k;
  if (cmd.count("--top-p")) sp.top_p = a.top_p;
  if (cmd.count("--min-p")) sp.min_p = a.min_p;
  if (cmd.count("--repeat-penalty")) sp.repeat_penalty = a.repeat_penalty;
  if (cmd.count("--repeat-last-n")) sp.repeat_last_n = a.repeat_last_n;
  if (cmd.count("--presence-penalty")) sp.presence_penalty = a.presence;
  if (cmd.count("--frequency-penalty")) sp.frequency_penalty = a.frequency;
  sp.seed = cmd.count("--seed") ? a.seed
                                : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return sp;
}

}  // namespace nagi::cli
