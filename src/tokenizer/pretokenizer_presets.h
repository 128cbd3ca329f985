// GGUF byte-level ("gpt2") vocabularies name their pre-tokenizer
// (tokenizer.ggml.pre) instead of describing it. This table maps each known
// name to the pipeline the model's own tokenizer.json describes, so a GGUF
// vocabulary encodes exactly as its Hugging Face original.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/bpe_tokenizer.h"

namespace nagi {

// Sets spec.normalizer / pre_steps / bpe.ignore_merges for the pre-tokenizer
// `name`. Throws Error(kUnsupported) naming `file` and `field` (and the known
// names) when the name is not in the table.
void apply_pretokenizer_preset(const std::string& name, const std::string& file, const std::string& field,
                               TokenizerSpec& spec);

// The names apply_pretokenizer_preset accepts.
std::vector<std::string> known_pretokenizer_presets();

}  // namespace nagi
