// Renders Hugging Face chat templates (the `chat_template` Jinja source of
// tokenizer_config.json) the way transformers' apply_chat_template does:
// trim_blocks, lstrip_blocks, loop controls, a json.dumps-style `tojson`,
// and the globals raise_exception() and strftime_now().
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace nagi {

namespace jinja {
struct Node;
}

class ChatTemplate {
 public:
  // Parses the template; throws nagi::Error(kFormat) with the line on syntax errors.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // `context` is a JSON object of template variables: messages, tools,
  // add_generation_prompt, bos_token, eos_token and any extra keyword
  // arguments (enable_thinking, ...). Keys keep their order (visible through
  // tojson). Template errors, including raise_exception(), throw
  // nagi::Error(kFormat) naming the template line.
  std::string render(const nlohmann::json& context) const;
  // Same, keeping the context's key order (nlohmann::json sorts keys, so
  // tojson of tool schemas only matches Python with this overload).
  std::string render(const nlohmann::ordered_json& context) const;

 private:
  std::string source_;
  std::unique_ptr<std::vector<std::unique_ptr<jinja::Node>>> body_;
};

}  // namespace nagi
