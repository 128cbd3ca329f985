#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace nagi {

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tok_.is_special(id)) return {};
  std::string bytes = tok_.token_bytes(id);
  if (!started_) {
    // decode() strips leading spaces from the whole text, so do it across
    // tokens until the first byte is produced.
    if (strip_left_ == static_cast<size_t>(-1)) strip_left_ = tok_.stream_strip_leading_spaces();
    size_t cut = 0;
    while (strip_left_ > 0 && cut < bytes.size() && bytes[cut] == ' ') {
      ++cut;
      --strip_left_;
    }
    bytes.erase(0, cut);
    if (bytes.empty()) return {};
    started_ = true;
    strip_left_ = 0;
  }
  pending_ += bytes;
  std::string out;
  const size_t used = utf8::append_lossy(pending_, out, /*hold_tail=*/true);
  pending_.erase(0, used);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  utf8::append_lossy(pending_, out, /*hold_tail=*/false);
  pending_.clear();
  return out;
}

}  // namespace nagi
