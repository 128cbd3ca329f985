#include "chat/think_splitter.h"

namespace nagi {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

void ThinkSplitter::emit(Kind kind, std::string_view text, std::vector<Segment>& out) {
  if (text.empty()) return;
  (kind == Kind::kAnswer ? answer_ : thinking_text_).append(text);
  if (!out.empty() && out.back().kind == kind) {
    out.back().text.append(text);
  } else {
    out.push_back({kind, std::string(text)});
  }
}

std::vector<ThinkSplitter::Segment> ThinkSplitter::push(std::string_view chunk) {
  std::vector<Segment> out;
  held_.append(chunk);
  std::string_view rest(held_);
  for (;;) {
    const std::string_view tag = thinking_ ? kClose : kOpen;
    const size_t at = rest.find(tag);
    if (at == std::string_view::npos) break;
    emit(thinking_ ? Kind::kThinking : Kind::kAnswer, rest.substr(0, at), out);
    rest.remove_prefix(at + tag.size());
    thinking_ = !thinking_;
  }
  const size_t keep = partial_tag_suffix(rest, thinking_ ? kClose : kOpen);
  emit(thinking_ ? Kind::kThinking : Kind::kAnswer, rest.substr(0, rest.size() - keep), out);
  held_ = std::string(rest.substr(rest.size() - keep));
  return out;
}

std::vector<ThinkSplitter::Segment> ThinkSplitter::flush() {
  std::vector<Segment> out;
  emit(thinking_ ? Kind::kThinking : Kind::kAnswer, held_, out);
  held_.clear();
  return out;
}

bool prompt_opens_thinking(std::string_view prompt) {
  while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == ' ')) prompt.remove_suffix(1);
  const size_t open = prompt.rfind(kOpen);
  if (open == std::string_view::npos) return false;
  const size_t close = prompt.rfind(kClose);
  return (close == std::string_view::npos || close < open) && open + kOpen.size() == prompt.size();
}

}  // namespace nagi
