#include "chat/chat_template.h"

#include "chat/jinja_parser.h"
#include "chat/jinja_runtime.h"
#include "nagi/error.hpp"

namespace nagi {

ChatTemplate::ChatTemplate(std::string source)
    : source_(std::move(source)), body_(std::make_unique<jinja::Body>(jinja::parse_template(source_))) {}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

namespace {

std::string render_with(const jinja::Body& body, jinja::Value context) {
  if (!context.is_dict()) throw Error(ErrorCode::kInvalidArgument, "chat template context must be a JSON object");
  jinja::Dict globals = context.as_dict();
  // A fresh interpreter per render: renders share nothing, so a const
  // ChatTemplate can be used from several threads.
  jinja::Interpreter interp(std::move(globals));
  return interp.render(body);
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::json& context) const {
  return render_with(*body_, jinja::Value::from_json(context));
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return render_with(*body_, jinja::Value::from_json(context));
}

}  // namespace nagi
