// The llama.cpp-style sampling flags shared by `nagi run` and `nagi chat`.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>

#include "nagi/nagi.hpp"

namespace nagi::cli {

struct SamplingFlags {
  float temp = 0, top_p = 0, min_p = 0, repeat_penalty = 1, presence = 0, frequency = 0;
  int top_k = 0, repeat_last_n = 64;
  uint64_t seed = 0;
};

void add_sampling_flags(CLI::App& cmd, SamplingFlags& flags);

// The model's defaults overridden by the flags given on the command line;
// no --seed: a fresh seed from the clock.
SamplingParams resolve_sampling(const SamplingFlags& flags, const CLI::App& cmd, SamplingParams defaults);

}  // namespace nagi::cli
