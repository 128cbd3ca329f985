#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "nagi/error.hpp"

namespace nagi {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
};

Regex::Regex(const std::string& pattern, bool literal, const std::string& what) : impl_(std::make_unique<Impl>()) {
  // UCP makes \s, \w, \d and POSIX classes Unicode-aware as in Oniguruma;
  // MATCH_INVALID_UTF lets us run on arbitrary bytes (the tokenizer takes
  // any input and falls back to bytes) instead of failing the match.
  // (PCRE2_LITERAL refuses UCP, which a literal does not need anyway.)
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err,
                              &err_off, nullptr);
  if (impl_->code == nullptr) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    throw Error(ErrorCode::kUnsupported, what + ": regex not supported (" + reinterpret_cast<char*>(buf) +
                                             " at offset " + std::to_string(err_off) + ")");
  }
  // JIT is an optimisation only; the interpreter gives the same matches.
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  // Match data per call keeps one Regex usable from several threads.
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  if (md == nullptr) throw Error(ErrorCode::kInternal, "regex: out of memory");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos <= text.size()) {
    const int rc = impl_->jit ? pcre2_jit_match(impl_->code, subject, text.size(), pos, 0, md, nullptr)
                              : pcre2_match(impl_->code, subject, text.size(), pos, 0, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      throw Error(ErrorCode::kInternal, "regex: match failed with PCRE2 error " + std::to_string(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    out.emplace_back(b, e);
    if (e > b) {
      pos = e;
    } else {
      // An empty match: step over one character (or one invalid byte) so
      // the scan always progresses.
      if (b >= text.size()) break;
      size_t n = 1;
      while (b + n < text.size() && (static_cast<uint8_t>(text[b + n]) & 0xC0) == 0x80 && n < 4) ++n;
      pos = b + n;
    }
  }
  pcre2_match_data_free(md);
}

bool Regex::matches_exactly(std::string_view text) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  if (md == nullptr) throw Error(ErrorCode::kInternal, "regex: out of memory");
  // Anchoring options are not JIT-compatible per call, so use the interpreter.
  const int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                             PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, nullptr);
  pcre2_match_data_free(md);
  return rc >= 0;
}

bool Regex::can_match_empty() const {
  uint32_t min_len = 0;
  if (pcre2_pattern_info(impl_->code, PCRE2_INFO_MINLENGTH, &min_len) != 0) return true;
  return min_len == 0;
}

void Regex::replace_all(std::string& s, std::string_view with) const {
  std::vector<std::pair<size_t, size_t>> hits;
  find_all(s, hits);
  if (hits.empty()) return;
  std::string out;
  out.reserve(s.size());
  size_t prev = 0;
  for (const auto& [b, e] : hits) {
    if (e == b) continue;
    out.append(s, prev, b - prev);
    out.append(with);
    prev = e;
  }
  out.append(s, prev, std::string::npos);
  s = std::move(out);
}

}  // namespace nagi
