// Arbitrary bytes as text for real tokenizers (qwen3: byte-level BPE with
// NFC; gemma3: SentencePiece-style with byte fallback and 6k added tokens).
// The first byte picks the tokenizer and the flags.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "nagi/error.hpp"
#include "tokenizer/tokenizer.h"

namespace {

std::unique_ptr<nagi::Tokenizer> load(const char* name) {
  std::string shared = NAGI_FUZZ_SHARED_DEFAULT;
  if (const char* env = std::getenv("NAGI_SHARED"); env && *env) shared = env;
  return nagi::load_hf_tokenizer(shared + "/tokenizers/" + name);
}

std::unique_ptr<nagi::Tokenizer> qwen3, gemma3;

}  // namespace

// Loading takes seconds under the sanitizers: done once, outside the
// per-input timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qwen3 = load("qwen3");
  gemma3 = load("gemma3");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const nagi::Tokenizer& tok = (flags & 1) ? *gemma3 : *qwen3;
  const auto ids = tok.encode(text, (flags & 2) != 0, (flags & 4) != 0);
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.n_vocab()) std::abort();
  }
  (void)tok.decode(ids, (flags & 8) != 0);
  nagi::StreamDecoder stream(tok, (flags & 8) != 0);
  for (int32_t id : ids) (void)stream.push(id);
  (void)stream.flush();
  return 0;
}
