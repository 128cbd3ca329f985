// Turns an OpenAI-style chat request ({"messages": [...], "tools": [...],
// "add_generation_prompt": true, "chat_template_kwargs": {...}}) into the
// variables transformers' apply_chat_template passes to a template, and
// renders it. Shared by `nagi prompt` and `nagi chat`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace nagi {

struct SpecialTokenTexts {
  std::string bos_token;  // "" leaves the variable undefined, as transformers does for None
  std::string eos_token;
};

// `request` must be an object with a "messages" array; "tools" (array or
// null), "add_generation_prompt" (bool, default true) and
// "chat_template_kwargs" (object, merged into the variables) are optional;
// other keys (model, temperature, ...) are ignored. `source` names the
// request in error messages.
nlohmann::ordered_json chat_template_context(const nlohmann::ordered_json& request, const SpecialTokenTexts& tokens,
                                             const std::string& source);

std::string render_chat_request(const ChatTemplate& tmpl, const nlohmann::ordered_json& request,
                                const SpecialTokenTexts& tokens, const std::string& source);

// A plain format for models that ship no chat template ("System: ...",
// "User: ...", "Assistant: ..." lines after the BOS token).
const char* fallback_chat_template();

}  // namespace nagi
