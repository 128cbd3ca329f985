// Separates a reasoning model's "<think>...</think>" from its answer while
// the reply streams in, so a front end can show the reasoning apart (and
// keep it out of the conversation). Tags split across chunks are held back
// until they are certain.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nagi {

class ThinkSplitter {
 public:
  enum class Kind { kAnswer, kThinking };
  struct Segment {
    Kind kind;
    std::string text;
  };

  // start_thinking: the prompt already opened "<think>" (templates that
  // force reasoning), so the reply starts inside it.
  explicit ThinkSplitter(bool start_thinking = false) : thinking_(start_thinking) {}

  // Returns the text that became certain with this chunk, without the tags.
  std::vector<Segment> push(std::string_view chunk);
  // Returns whatever is still held (an incomplete tag is plain text).
  std::vector<Segment> flush();

  // Answer text so far (tags and reasoning excluded).
  const std::string& answer() const { return answer_; }
  const std::string& thinking() const { return thinking_text_; }

 private:
  void emit(Kind kind, std::string_view text, std::vector<Segment>& out);

  bool thinking_;
  std::string held_;
  std::string answer_;
  std::string thinking_text_;
};

// True when a rendered prompt leaves the model inside an open <think> block.
bool prompt_opens_thinking(std::string_view prompt);

}  // namespace nagi
