// Arbitrary bytes as a GGUF model file: loading (header, metadata, tensor
// infos, the architecture's hyperparameters, tensor binding, the GGUF
// vocabulary) must either succeed or throw nagi::Error, never crash, hang or
// allocate without bound. A model that loads must run a short prompt and one
// decode step, tokenize and detokenize, and roll back.
//
// Seeds (fuzz/seeds/gguf_model) are tiny random-weight models of every
// architecture written by nagi-mkmodel (scripts/make-fuzz-seeds.sh).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input_file.h"
#include "nagi/error.hpp"
#include "nagi/nagi.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nagi::fuzz::write_input_file("gguf", "model.gguf", data, size);
  try {
    const auto model = nagi::Model::load(path);
    // One thread: the fuzzer's process runs many inputs; 8 positions keep a
    // lying context length from sizing the caches.
    nagi::Session session(model, nagi::SessionOptions{.n_ctx = 8, .n_threads = 1});
    const std::vector<int32_t> ids = model->tokenize("Hi there", true);
    std::vector<int32_t> prompt;
    for (int32_t id : ids) {
      if (prompt.size() < 4) prompt.push_back(id);
    }
    if (prompt.empty()) prompt.push_back(0);
    (void)session.eval(prompt, false);
    const int32_t next = 0;
    (void)session.eval(std::span<const int32_t>(&next, 1), false);
    session.rollback(1);
    (void)model->detokenize(ids);
  } catch (const nagi::Error&) {
  }
  return 0;
}
