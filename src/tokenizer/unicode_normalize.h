// Unicode normalization forms (NFC, NFD, NFKC, NFKD) for the tokenizer's
// normalizer, backed by ICU.
#pragma once

#include <string>

namespace nagi {

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };

// Normalizes s in place. Bytes that are not well-formed UTF-8 are kept as
// they are and split the text into independently normalized runs, so
// arbitrary input survives (Hugging Face only ever sees valid UTF-8).
void normalize_unicode(std::string& s, NormalForm form);

// Lowercases s in place as Hugging Face's Lowercase normalizer does: each
// character through Rust's char::to_lowercase, i.e. the full Unicode
// lowercase mapping of that character alone ("İ" -> "i̇") with no context,
// so "Σ" always becomes "σ" (never the final "ς" that str::to_lowercase
// would give). Invalid UTF-8 bytes are kept as they are.
void lowercase_unicode(std::string& s);

}  // namespace nagi
