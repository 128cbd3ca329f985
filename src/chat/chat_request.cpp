#include "chat/chat_request.h"

#include "nagi/error.hpp"

namespace nagi {

nlohmann::ordered_json chat_template_context(const nlohmann::ordered_json& request, const SpecialTokenTexts& tokens,
                                             const std::string& source) {
  using nlohmann::ordered_json;
  auto fail = [&](const std::string& field, const std::string& what) {
    throw Error(ErrorCode::kInvalidArgument, source + ": " + field + ": " + what);
  };
  if (!request.is_object()) fail("(root)", "expected a JSON object with \"messages\"");
  auto messages = request.find("messages");
  if (messages == request.end()) fail("messages", "missing");
  if (!messages->is_array()) fail("messages", "expected an array");
  for (size_t i = 0; i < messages->size(); ++i) {
    if (!(*messages)[i].is_object()) fail("messages[" + std::to_string(i) + "]", "expected an object");
  }
  ordered_json ctx = ordered_json::object();
  ctx["messages"] = *messages;
  ctx["tools"] = nullptr;
  if (auto t = request.find("tools"); t != request.end() && !t->is_null()) {
    if (!t->is_array()) fail("tools", "expected an array or null");
    ctx["tools"] = *t;
  }
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = true;
  if (auto g = request.find("add_generation_prompt"); g != request.end()) {
    if (!g->is_boolean()) fail("add_generation_prompt", "expected true or false");
    ctx["add_generation_prompt"] = *g;
  }
  if (!tokens.bos_token.empty()) ctx["bos_token"] = tokens.bos_token;
  if (!tokens.eos_token.empty()) ctx["eos_token"] = tokens.eos_token;
  if (auto k = request.find("chat_template_kwargs"); k != request.end() && !k->is_null()) {
    if (!k->is_object()) fail("chat_template_kwargs", "expected an object");
    for (auto it = k->begin(); it != k->end(); ++it) ctx[it.key()] = it.value();
  }
  return ctx;
}

std::string render_chat_request(const ChatTemplate& tmpl, const nlohmann::ordered_json& request,
                                const SpecialTokenTexts& tokens, const std::string& source) {
  return tmpl.render(chat_template_context(request, tokens, source));
}

const char* fallback_chat_template() {
  return "{{ bos_token }}"
         "{% for message in messages %}"
         "{% if message['role'] == 'system' %}System: "
         "{% elif message['role'] == 'assistant' %}Assistant: "
         "{% else %}User: {% endif %}"
         "{{ message['content'] }}\n"
         "{% endfor %}"
         "{% if add_generation_prompt %}Assistant:{% endif %}";
}

}  // namespace nagi
