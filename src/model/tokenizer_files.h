// Loads only what text processing needs from a model's files: the tokenizer,
// the chat template and the text of the special tokens templates use. No
// weights are read, so `nagi tokenize` / `nagi prompt` work on a bare
// tokenizer folder or on a GGUF of any size without loading it.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace nagi {

struct ChatFiles {
  std::string chat_template;  // Jinja source; empty when the files have none
  std::string bos_token;      // text of the BOS token ("" when none)
  std::string eos_token;      // text of the EOS token ("" when none)
};

struct TokenizerFiles {
  std::unique_ptr<Tokenizer> tokenizer;
  ChatFiles chat;
};

// `path`: a Hugging Face folder, a tokenizer.json file (tokenizer_config.json
// beside it), a .gguf file, or a llama2.c checkpoint (tokenizer.bin or
// tok<vocab>.bin beside it).
TokenizerFiles load_tokenizer_files(const std::string& path);

// Only the chat template and special-token texts (same paths).
ChatFiles load_chat_files(const std::string& path);

}  // namespace nagi
