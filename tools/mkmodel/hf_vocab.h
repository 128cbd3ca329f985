// Converts a byte-level Hugging Face tokenizer (tokenizer.json +
// tokenizer_config.json) into GGUF "gpt2" tokenizer metadata, as llama.cpp's
// converter does, so random-weight GGUF models can carry a real vocabulary
// and chat template (e.g. Qwen3's) for tests and benchmarks.
#pragma once

#include <string>

#include "format/gguf_writer.h"

namespace nagi::mkmodel {

// Writes tokenizer.ggml.* (and tokenizer.chat_template when the config has
// one) into `w`; returns the vocabulary size. `pre` names the pre-tokenizer
// (empty: guessed from the Split regex: llama-bpe, qwen35, qwen2 or gpt2).
// Throws nagi::Error for tokenizers that are not byte-level.
int write_gpt2_vocab(const std::string& dir, const std::string& pre, GgufWriter& w);

}  // namespace nagi::mkmodel
