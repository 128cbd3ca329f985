// Arbitrary bytes as a tokenizer.json: loading must either succeed or throw
// nagi::Error; a tokenizer that loads must encode and decode without fault.
#include <cstdint>
#include <string>

#include "fuzz_input_file.h"
#include "nagi/error.hpp"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nagi::fuzz::write_input_file("tokjson", "tokenizer.json", data, size);
  try {
    const auto tok = nagi::load_hf_tokenizer(path);
    for (const char* text : {"Hello world 123", " <s>\n\n\t x", "caf\xc3\xa9 \xe4\xb8\xad \xff"}) {
      const auto ids = tok->encode(text, true, true);
      (void)tok->decode(ids, false);
      (void)tok->decode(ids, true);
      nagi::StreamDecoder stream(*tok);
      for (int32_t id : ids) (void)stream.push(id);
      (void)stream.flush();
    }
  } catch (const nagi::Error&) {
  }
  return 0;
}
