// The one Tokenizer implementation behind every source: a description of the
// Hugging Face style pipeline (added tokens -> normalizer -> pre-tokenizer ->
// BPE model -> post-processor; decoder for the way back). Loaders translate
// their format into a TokenizerSpec, so tokenizer.json, GGUF and llama2.c
// vocabularies share one tested code path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode_normalize.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace nagi {

// A token matched in raw text before normalization (HF added_tokens, GGUF
// control / user-defined tokens).
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;  // matched only with parse_special; skipped by skip_special
  bool lstrip = false;   // swallows whitespace on its left
  bool rstrip = false;   // swallows whitespace on its right
  bool normalized = false;  // matched in the normalized text (content normalized too)
  bool single_word = false;  // only matches with no word character right before or after
};

struct NormalizerStep {
  // kLowercase: every character through Rust's char::to_lowercase (full
  // mappings, no final-sigma context); kStrip: drops Unicode White_Space at
  // the ends selected by strip_left / strip_right.
  enum class Kind { kPrepend, kReplace, kUnicode, kLowercase, kStrip };
  Kind kind;
  std::string pattern;  // kReplace: literal text to replace
  std::string content;  // kPrepend: prefix; kReplace: replacement
  NormalForm form = NormalForm::kNfc;  // kUnicode
  std::shared_ptr<const Regex> regex{};  // kReplace with a regex pattern (else `pattern` is literal)
  bool strip_left = false;   // kStrip
  bool strip_right = false;  // kStrip
};

// One step of a general pre-tokenizer pipeline (Hugging Face Split,
// ByteLevel, Digits, Whitespace, WhitespaceSplit, Punctuation; all but
// ByteLevel are kSplit with the right regex and behavior). Each step turns
// every piece into zero or more pieces.
struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel };
  // What happens to the matches of a Split (HF SplitDelimiterBehavior).
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  Kind kind = Kind::kSplit;
  std::shared_ptr<const Regex> regex;  // kSplit; kByteLevel with use_regex
  Behavior behavior = Behavior::kIsolated;
  bool invert = false;            // kSplit: the non-matches are the delimiters
  bool add_prefix_space = false;  // kByteLevel
};

struct PreTokenizerSpec {
  enum class Kind { kNone, kMetaspace };
  enum class Prepend { kAlways, kFirst, kNever };
  Kind kind = Kind::kNone;
  std::string replacement{kSpaceMark};
  Prepend prepend = Prepend::kAlways;
  bool split = true;
};

struct DecoderStep {
  enum class Kind { kReplace, kByteFallback, kFuse, kStrip, kMetaspace, kByteLevel };
  Kind kind;
  std::string pattern;  // kReplace: text to replace; kMetaspace: replacement
  std::string content;  // kReplace: replacement; kStrip: the character stripped
  size_t start = 0;     // kStrip: at most this many leading `content`s per token
  size_t stop = 0;      // kStrip: at most this many trailing ones
  bool strip_first = false;  // kMetaspace: drop the first token's leading space
  std::shared_ptr<const Regex> regex{};  // kReplace with a regex pattern (else `pattern` is literal)
};

struct TokenizerSpec {
  std::string source;  // file name, for messages
  Vocab vocab;         // pieces by id (added tokens' text included) for decode
  enum class Model { kRankedBpe, kScoredBpe };
  Model model = Model::kScoredBpe;
  MergeTable merges;  // kRankedBpe only
  BpeOptions bpe;
  std::vector<AddedToken> added;
  std::vector<NormalizerStep> normalizer;
  PreTokenizerSpec pre_tokenizer;      // Metaspace (alone); else kNone and...
  std::vector<PreTokenizerStep> pre_steps;  // ...the general pipeline
  bool has_decoder = true;  // without one, HF joins tokens with spaces
  std::vector<DecoderStep> decoder;
  std::vector<int32_t> prefix;  // added around the text when add_special
  std::vector<int32_t> suffix;
  int32_t bos = -1;
  int32_t eos = -1;
  std::vector<bool> special;  // by id: skipped by decode(skip_special)
};

std::unique_ptr<Tokenizer> make_bpe_tokenizer(TokenizerSpec spec);

// The spec SentencePiece "llama" vocabularies (GGUF, llama2.c) share: space
// -> "▁" (plus a leading "▁" when add_space_prefix), score-based merges, and
// the decoder of Hugging Face's Llama tokenizer. `vocab` holds every piece
// with its type; control/unknown tokens become special added tokens and
// user-defined ones plain added tokens, as llama.cpp treats them.
TokenizerSpec make_spm_spec(std::string source, Vocab vocab, int32_t bos, int32_t eos,
                            bool add_bos, bool add_eos, bool add_space_prefix);

}  // namespace nagi
