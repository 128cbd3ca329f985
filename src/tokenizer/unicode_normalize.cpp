#include "tokenizer/unicode_normalize.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include "nagi/error.hpp"
#include "tokenizer/utf8.h"

namespace nagi {
namespace {

const icu::Normalizer2& instance(NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalForm::kNfc: n = icu::Normalizer2::getNFCInstance(status); break;
    case NormalForm::kNfd: n = icu::Normalizer2::getNFDInstance(status); break;
    case NormalForm::kNfkc: n = icu::Normalizer2::getNFKCInstance(status); break;
    case NormalForm::kNfkd: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  if (U_FAILURE(status) || n == nullptr) {
    throw Error(ErrorCode::kInternal, std::string("ICU normalizer unavailable: ") + u_errorName(status));
  }
  return *n;
}

void normalize_valid(std::string_view run, const icu::Normalizer2& norm, std::string& out) {
  // ASCII is invariant under every form: skip the UTF-16 round trip.
  bool ascii = true;
  for (char c : run) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
  if (ascii) {
    out.append(run);
    return;
  }
  UErrorCode status = U_ZERO_ERROR;
  const icu::UnicodeString src = icu::UnicodeString::fromUTF8(icu::StringPiece(run.data(), static_cast<int32_t>(run.size())));
  const icu::UnicodeString dst = norm.normalize(src, status);
  if (U_FAILURE(status)) throw Error(ErrorCode::kInternal, std::string("ICU normalize: ") + u_errorName(status));
  dst.toUTF8String(out);
}

void lowercase_valid(std::string_view run, std::string& out) {
  bool ascii = true;
  for (char c : run) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
  if (ascii) {
    for (char c : run) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    return;
  }
  icu::UnicodeString text = icu::UnicodeString::fromUTF8(icu::StringPiece(run.data(), static_cast<int32_t>(run.size())));
  // In the root locale the only context-dependent lowercase mapping is
  // Final_Sigma; mapping every capital sigma to "σ" first leaves ICU's
  // full mappings context-free, exactly Rust's per-character
  // char::to_lowercase that Hugging Face applies.
  text.findAndReplace(icu::UnicodeString(static_cast<UChar32>(0x03A3)), icu::UnicodeString(static_cast<UChar32>(0x03C3)));
  text.toLower(icu::Locale::getRoot());
  text.toUTF8String(out);
}

// Runs `fn` over each maximal stretch of well-formed UTF-8 and copies the
// bytes in between unchanged.
template <typename Fn>
void for_valid_runs(std::string& s, Fn&& fn) {
  std::string out;
  out.reserve(s.size());
  size_t run_start = 0;
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = utf8::valid_char_len(s, i);
    if (n > 0) {
      i += n;
      continue;
    }
    fn(std::string_view(s).substr(run_start, i - run_start), out);
    out.push_back(s[i]);
    run_start = ++i;
  }
  fn(std::string_view(s).substr(run_start), out);
  s = std::move(out);
}

}  // namespace

void normalize_unicode(std::string& s, NormalForm form) {
  const icu::Normalizer2& norm = instance(form);
  for_valid_runs(s, [&](std::string_view run, std::string& out) { normalize_valid(run, norm, out); });
}

void lowercase_unicode(std::string& s) { for_valid_runs(s, lowercase_valid); }

}  // namespace nagi
