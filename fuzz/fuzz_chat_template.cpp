// Arbitrary bytes as a chat template: parsing and rendering must end (no
// hang, bounded memory) in a string or a nagi::Error.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "nagi/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "What is 2+2? <think>"},
      {"role": "assistant", "content": "4", "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2.5}}}]},
      {"role": "tool", "content": null},
      {"role": "user", "content": [{"type": "text", "text": " hi "}, {"type": "image"}]}
    ],
    "tools": [{"type": "function", "function": {"name": "add", "description": "Adds", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "enable_thinking": false})");
  try {
    const nagi::ChatTemplate tmpl(std::string(reinterpret_cast<const char*>(data), size));
    (void)tmpl.render(context);
  } catch (const nagi::Error&) {
  }
  return 0;
}
