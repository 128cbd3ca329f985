#include "tokenizer/pretokenizer_presets.h"

#include "nagi/error.hpp"

namespace nagi {
namespace {

// The Split regexes of the tokenizer.json files these presets stand for.
// GPT-2's own (also what ByteLevel's use_regex means).
constexpr const char* kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3: case-insensitive contractions, digits in groups of 1-3.
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2/2.5/3: as Llama 3 but single digits.
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen3.5: as Qwen2, but combining marks (\p{M}) stay inside words instead of
// starting a punctuation run, so Indic and other marked scripts split less.
constexpr const char* kQwen35Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum class Preset { kGpt2, kLlama3, kQwen2, kQwen35, kSmolLm };

struct Entry {
  const char* name;
  Preset preset;
};

// Names as llama.cpp's converter writes them (convert_hf_to_gguf.py), grouped
// as llama.cpp's vocabulary loader groups them (llama-vocab.cpp). LFM2 and
// LFM2.5 ("lfm2") split with Llama 3's regex and, like Llama 3, keep a
// pre-token that is a vocabulary entry whole. Gemma 3 has no entry: its GGUF
// vocabulary is the SentencePiece "llama" model, which names no pre-tokenizer.
constexpr Entry kPresets[] = {
    {"default", Preset::kGpt2},      {"gpt2", Preset::kGpt2},        {"gpt-2", Preset::kGpt2},
    {"llama-bpe", Preset::kLlama3},  {"llama3", Preset::kLlama3},    {"llama-v3", Preset::kLlama3},
    {"lfm2", Preset::kLlama3},       {"qwen2", Preset::kQwen2},      {"deepseek-r1-qwen", Preset::kQwen2},
    {"qwen35", Preset::kQwen35},     {"smollm", Preset::kSmolLm},    {"starcoder", Preset::kSmolLm},
    {"refact", Preset::kSmolLm},
};

std::shared_ptr<const Regex> regex(const char* pattern, const std::string& what) {
  return std::make_shared<Regex>(pattern, /*literal=*/false, what);
}

PreTokenizerStep split(const char* pattern, const std::string& what) {
  PreTokenizerStep s;
  s.kind = PreTokenizerStep::Kind::kSplit;
  s.regex = regex(pattern, what);
  s.behavior = PreTokenizerStep::Behavior::kIsolated;
  return s;
}

// ByteLevel without a prefix space; with_regex: GPT-2's split as well.
PreTokenizerStep byte_level(bool with_regex, const std::string& what) {
  PreTokenizerStep s;
  s.kind = PreTokenizerStep::Kind::kByteLevel;
  s.add_prefix_space = false;
  if (with_regex) s.regex = regex(kGpt2Regex, what);
  return s;
}

}  // namespace

std::vector<std::string> known_pretokenizer_presets() {
  std::vector<std::string> names;
  for (const Entry& e : kPresets) names.emplace_back(e.name);
  return names;
}

void apply_pretokenizer_preset(const std::string& name, const std::string& file, const std::string& field,
                               TokenizerSpec& spec) {
  const Entry* found = nullptr;
  for (const Entry& e : kPresets) {
    if (name == e.name) found = &e;
  }
  if (found == nullptr) {
    std::string list;
    for (const Entry& e : kPresets) list += (list.empty() ? "" : ", ") + std::string(e.name);
    throw Error(ErrorCode::kUnsupported,
                file + ": metadata '" + field + "': pre-tokenizer '" + name + "' is not supported (known: " + list + ")");
  }
  const std::string what = file + ": " + field + " '" + name + "'";
  spec.pre_steps.clear();
  switch (found->preset) {
    case Preset::kGpt2:
      spec.pre_steps.push_back(byte_level(true, what));
      break;
    case Preset::kLlama3:
      spec.pre_steps.push_back(split(kLlama3Regex, what));
      spec.pre_steps.push_back(byte_level(false, what));
      // Llama 3's tokenizer.json sets ignore_merges: a pre-token that is a
      // vocabulary entry is kept whole.
      spec.bpe.ignore_merges = true;
      break;
    case Preset::kQwen2:
    case Preset::kQwen35: {
      // Qwen's tokenizer.json composes (NFC) before splitting.
      NormalizerStep nfc{NormalizerStep::Kind::kUnicode, "", ""};
      nfc.form = NormalForm::kNfc;
      spec.normalizer.push_back(nfc);
      spec.pre_steps.push_back(split(found->preset == Preset::kQwen35 ? kQwen35Regex : kQwen2Regex, what));
      spec.pre_steps.push_back(byte_level(false, what));
      break;
    }
    case Preset::kSmolLm: {
      // Digits(individual_digits) then ByteLevel with GPT-2's split.
      PreTokenizerStep digits = split(R"(\p{N})", what);
      spec.pre_steps.push_back(std::move(digits));
      spec.pre_steps.push_back(byte_level(true, what));
      break;
    }
  }
}

}  // namespace nagi
