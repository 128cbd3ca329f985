// Hugging Face tokenizer.json (+ tokenizer_config.json). Supported so far:
// model BPE (byte_fallback, fuse_unk, ignore_merges); normalizers NFC/NFD/
// NFKC/NFKD, Lowercase, Strip, Prepend, Replace (string or regex), Sequence;
// pre-tokenizers ByteLevel, Split (string or regex, every behavior, invert),
// Digits, Whitespace, WhitespaceSplit, Punctuation (every behavior), Sequence,
// and a lone Metaspace; decoders ByteLevel, Replace, ByteFallback, Fuse, Strip,
// Metaspace; post-processors TemplateProcessing, ByteLevel, Sequence; added
// tokens with special/lstrip/rstrip/normalized/single_word. That covers SentencePiece-
// style (Llama 2, Gemma) and byte-level (GPT-2, Llama 3, Qwen) tokenizers.
// Every component is checked and anything else is refused with
// Error(kUnsupported) naming the file and field, never approximated.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "nagi/error.hpp"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace nagi {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(ErrorCode::kFormat, path + ": invalid JSON: " + e.what());
  }
}

const char* type_name(const json& j) { return j.type_name(); }

// Reads tokenizer.json with the file name at hand for every message.
class HfLoader {
 public:
  explicit HfLoader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void format_error(const std::string& field, const std::string& what) const {
    throw Error(ErrorCode::kFormat, file_ + ": " + field + ": " + what);
  }
  [[noreturn]] void unsupported(const std::string& field, const std::string& what) const {
    throw Error(ErrorCode::kUnsupported, file_ + ": " + field + ": " + what);
  }

  const json& member(const json& obj, const std::string& key, const std::string& field) const {
    if (!obj.is_object()) format_error(field, std::string("expected an object, found ") + type_name(obj));
    auto it = obj.find(key);
    if (it == obj.end()) format_error(field + "." + key, "missing");
    return *it;
  }
  std::string get_string(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = member(obj, key, field);
    if (!v.is_string()) format_error(field + "." + key, std::string("expected a string, found ") + type_name(v));
    return v.get<std::string>();
  }
  bool get_bool_or(const json& obj, const std::string& key, const std::string& field, bool fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) format_error(field + "." + key, std::string("expected a boolean, found ") + type_name(*it));
    return it->get<bool>();
  }
  bool get_bool(const json& obj, const std::string& key, const std::string& field) const {
    const json& v = member(obj, key, field);
    if (!v.is_boolean()) format_error(field + "." + key, std::string("expected a boolean, found ") + type_name(v));
    return v.get<bool>();
  }
  size_t get_size_or(const json& obj, const std::string& key, const std::string& field, size_t fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_number_unsigned()) format_error(field + "." + key, "expected a non-negative integer");
    return it->get<size_t>();
  }
  // A Replace "pattern": {"String": literal} or {"Regex": ...}. A regex that
  // can match the empty string is refused: Hugging Face would insert the
  // content at every empty match, which we do not reproduce.
  struct Pattern {
    std::string literal;
    std::shared_ptr<const Regex> regex;
  };
  Pattern get_pattern(const json& obj, const std::string& field) const {
    const json& p = member(obj, "pattern", field);
    Pattern out;
    if (p.is_object() && p.contains("String") && p["String"].is_string()) {
      out.literal = p["String"].get<std::string>();
      if (out.literal.empty()) format_error(field + ".pattern", "empty");
      return out;
    }
    if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) {
      out.regex = std::make_shared<Regex>(p["Regex"].get<std::string>(), false, file_ + ": " + field + ".pattern.Regex");
      if (out.regex->can_match_empty()) {
        unsupported(field + ".pattern.Regex", "a regex that can match the empty string is not supported");
      }
      return out;
    }
    format_error(field + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
  }

  TokenizerSpec load() {
    const json root = read_json(file_);
    if (!root.is_object()) format_error("(root)", "expected an object");
    TokenizerSpec spec;
    spec.source = file_;
    spec.model = TokenizerSpec::Model::kRankedBpe;
    for (const char* key : {"truncation", "padding"}) {
      if (root.contains(key) && !root[key].is_null()) unsupported(key, "only null is supported");
    }
    load_model(member(root, "model", "(root)"), spec);
    if (root.contains("added_tokens")) load_added(root["added_tokens"], spec);
    if (root.contains("normalizer")) load_normalizer(root["normalizer"], "normalizer", spec);
    if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null()) {
      const json& p = root["pre_tokenizer"];
      // A lone Metaspace (possibly in a one-element Sequence) keeps the
      // SentencePiece path; everything else runs as a pipeline of steps.
      const json* meta = &p;
      std::string meta_field = "pre_tokenizer";
      if (p.is_object() && p.value("type", "") == "Sequence" && p.contains("pretokenizers") &&
          p["pretokenizers"].is_array() && p["pretokenizers"].size() == 1) {
        meta = &p["pretokenizers"][0];
        meta_field = "pre_tokenizer.pretokenizers[0]";
      }
      if (meta->is_object() && meta->value("type", "") == "Metaspace") {
        load_metaspace(*meta, meta_field, spec);
      } else {
        load_pre_tokenizer(p, "pre_tokenizer", spec);
      }
    }
    spec.has_decoder = root.contains("decoder") && !root["decoder"].is_null();
    if (spec.has_decoder) load_decoder(root["decoder"], "decoder", spec);
    if (root.contains("post_processor")) load_post_processor(root["post_processor"], spec);
    return spec;
  }

  int32_t token_id(const std::string& content, const TokenizerSpec& spec) const {
    for (const AddedToken& t : spec.added) {
      if (t.content == content) return t.id;
    }
    return spec.vocab.find(content);
  }

 private:
  void load_model(const json& m, TokenizerSpec& spec) {
    const std::string type = m.contains("type") ? get_string(m, "type", "model") : "BPE";
    if (type != "BPE") unsupported("model.type", "'" + type + "' is not supported yet (only BPE)");
    if (m.contains("dropout") && !m["dropout"].is_null() &&
        !(m["dropout"].is_number() && m["dropout"].get<double>() == 0.0)) {
      unsupported("model.dropout", "BPE dropout is not supported (encoding must be deterministic)");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (m.contains(key) && !m[key].is_null() && !(m[key].is_string() && m[key].get<std::string>().empty())) {
        unsupported(std::string("model.") + key, "not supported yet");
      }
    }
    spec.bpe.byte_fallback = get_bool_or(m, "byte_fallback", "model", false);
    spec.bpe.fuse_unk = get_bool_or(m, "fuse_unk", "model", false);
    spec.bpe.ignore_merges = get_bool_or(m, "ignore_merges", "model", false);

    const json& vocab = member(m, "vocab", "model");
    if (!vocab.is_object()) format_error("model.vocab", "expected an object of piece -> id");
    Vocab& v = spec.vocab;
    int64_t max_id = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() >= kMaxId) {
        format_error("model.vocab['" + it.key() + "']", "expected an id in [0, " + std::to_string(kMaxId) + ")");
      }
      max_id = std::max(max_id, it->get<int64_t>());
    }
    check_dense(max_id, vocab.size(), "model.vocab");
    v.pieces.resize(static_cast<size_t>(max_id + 1));
    v.piece_to_id.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      const auto id = static_cast<int32_t>(it->get<int64_t>());
      v.pieces.set(id, it.key());
      v.piece_to_id.emplace(it.key(), id);
    }
    if (spec.bpe.byte_fallback) {
      v.piece_to_id.for_each([&](std::string_view piece, int32_t id) {
        if (int b = parse_byte_piece(piece); b >= 0) v.byte_to_id[b] = id;
      });
    }
    if (m.contains("unk_token") && !m["unk_token"].is_null()) {
      const std::string unk = get_string(m, "unk_token", "model");
      v.unk_id = v.find(unk);
      if (v.unk_id < 0) format_error("model.unk_token", "'" + unk + "' is not in model.vocab");
    }

    const json& merges = member(m, "merges", "model");
    if (!merges.is_array()) format_error("model.merges", "expected an array");
    spec.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string field = "model.merges[" + std::to_string(i) + "]";
      const json& e = merges[i];
      std::string left, right;
      if (e.is_string()) {
        const std::string s = e.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
          format_error(field, "expected \"left right\", found '" + s + "'");
        }
        left = s.substr(0, sp);
        right = s.substr(sp + 1);
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        left = e[0].get<std::string>();
        right = e[1].get<std::string>();
      } else {
        format_error(field, "expected \"left right\" or [\"left\", \"right\"]");
      }
      const int32_t a = v.find(left), b = v.find(right), c = v.find(left + right);
      if (a < 0) format_error(field, "'" + left + "' is not in model.vocab");
      if (b < 0) format_error(field, "'" + right + "' is not in model.vocab");
      if (c < 0) format_error(field, "'" + left + right + "' is not in model.vocab");
      // The first listing of a pair sets its rank, as in Hugging Face.
      spec.merges.emplace(merge_key(a, b), MergeRule{static_cast<int32_t>(i), c});
    }
  }

  // Real vocabularies number their pieces densely; a few ids spread up to
  // the limit would only make us allocate millions of empty entries.
  void check_dense(int64_t max_id, size_t entries, const std::string& field) const {
    if (max_id >= 2 * static_cast<int64_t>(entries) + 1024) {
      format_error(field, "ids are too sparse: id " + std::to_string(max_id) + " for " + std::to_string(entries) +
                              " entries");
    }
  }

  void load_added(const json& added, TokenizerSpec& spec) {
    if (!added.is_array()) format_error("added_tokens", "expected an array");
    int64_t max_id = -1;
    for (const json& a : added) {
      if (a.is_object() && a.contains("id") && a["id"].is_number_integer()) max_id = std::max(max_id, a["id"].get<int64_t>());
    }
    check_dense(max_id, spec.vocab.pieces.size() + added.size(), "added_tokens");
    for (size_t i = 0; i < added.size(); ++i) {
      const std::string field = "added_tokens[" + std::to_string(i) + "]";
      const json& a = added[i];
      const json& idj = member(a, "id", field);
      if (!idj.is_number_integer() || idj.get<int64_t>() < 0 || idj.get<int64_t>() >= kMaxId) {
        format_error(field + ".id", "expected an id in [0, " + std::to_string(kMaxId) + ")");
      }
      AddedToken t;
      t.id = static_cast<int32_t>(idj.get<int64_t>());
      t.content = get_string(a, "content", field);
      if (t.content.empty()) format_error(field + ".content", "empty");
      t.special = get_bool_or(a, "special", field, false);
      t.lstrip = get_bool_or(a, "lstrip", field, false);
      t.rstrip = get_bool_or(a, "rstrip", field, false);
      t.single_word = get_bool_or(a, "single_word", field, false);
      t.normalized = get_bool_or(a, "normalized", field, !t.special);
      Vocab& v = spec.vocab;
      if (t.id >= v.size()) v.pieces.resize(t.id + 1);
      v.pieces.set(t.id, t.content);
      spec.added.push_back(std::move(t));
    }
    const int32_t n = spec.vocab.size();
    spec.special.assign(n, false);
    for (const AddedToken& t : spec.added) {
      if (t.special) spec.special[t.id] = true;
    }
  }

  void load_normalizer(const json& n, const std::string& field, TokenizerSpec& spec) {
    if (n.is_null()) return;
    const std::string type = get_string(n, "type", field);
    if (type == "Sequence") {
      const json& list = member(n, "normalizers", field);
      if (!list.is_array()) format_error(field + ".normalizers", "expected an array");
      for (size_t i = 0; i < list.size(); ++i) {
        load_normalizer(list[i], field + ".normalizers[" + std::to_string(i) + "]", spec);
      }
    } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
      NormalizerStep step{NormalizerStep::Kind::kUnicode, "", ""};
      step.form = type == "NFC"    ? NormalForm::kNfc
                  : type == "NFD"  ? NormalForm::kNfd
                  : type == "NFKC" ? NormalForm::kNfkc
                                   : NormalForm::kNfkd;
      spec.normalizer.push_back(step);
    } else if (type == "Lowercase") {
      spec.normalizer.push_back({NormalizerStep::Kind::kLowercase, "", ""});
    } else if (type == "Strip") {
      // Both fields are required in Hugging Face (no serde default).
      NormalizerStep step{NormalizerStep::Kind::kStrip, "", ""};
      step.strip_left = get_bool(n, "strip_left", field);
      step.strip_right = get_bool(n, "strip_right", field);
      spec.normalizer.push_back(step);
    } else if (type == "Prepend") {
      spec.normalizer.push_back({NormalizerStep::Kind::kPrepend, "", get_string(n, "prepend", field)});
    } else if (type == "Replace") {
      Pattern pattern = get_pattern(n, field);
      NormalizerStep step{NormalizerStep::Kind::kReplace, pattern.literal, get_string(n, "content", field)};
      step.regex = std::move(pattern.regex);
      spec.normalizer.push_back(std::move(step));
    } else {
      unsupported(field + ".type", "'" + type + "' is not supported yet");
    }
  }

  PreTokenizerSpec::Prepend prepend_scheme(const json& obj, const std::string& field) const {
    if (obj.contains("prepend_scheme") && !obj["prepend_scheme"].is_null()) {
      const std::string s = get_string(obj, "prepend_scheme", field);
      if (s == "always") return PreTokenizerSpec::Prepend::kAlways;
      if (s == "first") return PreTokenizerSpec::Prepend::kFirst;
      if (s == "never") return PreTokenizerSpec::Prepend::kNever;
      format_error(field + ".prepend_scheme", "unknown value '" + s + "'");
    }
    // Files older than prepend_scheme say add_prefix_space.
    return get_bool_or(obj, "add_prefix_space", field, true) ? PreTokenizerSpec::Prepend::kAlways
                                                             : PreTokenizerSpec::Prepend::kNever;
  }

  void load_metaspace(const json& p, const std::string& field, TokenizerSpec& spec) {
    PreTokenizerSpec& m = spec.pre_tokenizer;
    m.kind = PreTokenizerSpec::Kind::kMetaspace;
    m.replacement = get_string(p, "replacement", field);
    if (m.replacement.empty()) format_error(field + ".replacement", "empty");
    m.prepend = prepend_scheme(p, field);
    m.split = get_bool_or(p, "split", field, true);
  }

  PreTokenizerStep::Behavior split_behavior(const json& p, const std::string& field) const {
    const std::string b = get_string(p, "behavior", field);
    using B = PreTokenizerStep::Behavior;
    if (b == "Removed") return B::kRemoved;
    if (b == "Isolated") return B::kIsolated;
    if (b == "MergedWithPrevious") return B::kMergedWithPrevious;
    if (b == "MergedWithNext") return B::kMergedWithNext;
    if (b == "Contiguous") return B::kContiguous;
    unsupported(field + ".behavior", "'" + b + "' is not supported");
  }

  void load_pre_tokenizer(const json& p, const std::string& field, TokenizerSpec& spec) {
    if (p.is_null()) format_error(field, "null inside a pre-tokenizer sequence");
    const std::string type = get_string(p, "type", field);
    if (type == "Sequence") {
      const json& list = member(p, "pretokenizers", field);
      if (!list.is_array()) format_error(field + ".pretokenizers", "expected an array");
      for (size_t i = 0; i < list.size(); ++i) {
        load_pre_tokenizer(list[i], field + ".pretokenizers[" + std::to_string(i) + "]", spec);
      }
    } else if (type == "Split") {
      const json& pat = member(p, "pattern", field);
      PreTokenizerStep step;
      if (pat.is_object() && pat.contains("String") && pat["String"].is_string()) {
        const std::string lit = pat["String"].get<std::string>();
        if (lit.empty()) format_error(field + ".pattern.String", "empty");
        step.regex = std::make_shared<Regex>(lit, /*literal=*/true, file_ + ": " + field + ".pattern");
      } else if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) {
        step.regex = std::make_shared<Regex>(pat["Regex"].get<std::string>(), /*literal=*/false,
                                             file_ + ": " + field + ".pattern.Regex");
      } else {
        format_error(field + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
      }
      step.behavior = split_behavior(p, field);
      step.invert = get_bool_or(p, "invert", field, false);
      spec.pre_steps.push_back(std::move(step));
    } else if (type == "ByteLevel") {
      PreTokenizerStep step;
      step.kind = PreTokenizerStep::Kind::kByteLevel;
      step.add_prefix_space = get_bool_or(p, "add_prefix_space", field, true);
      if (get_bool_or(p, "use_regex", field, true)) {
        // GPT-2's pattern, which Hugging Face uses for use_regex.
        static const std::string kGpt2 =
            R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
        step.regex = std::make_shared<Regex>(kGpt2, false, file_ + ": " + field);
      }
      spec.pre_steps.push_back(std::move(step));
    } else if (type == "Digits") {
      // Digits are Unicode numerics (Rust's char::is_numeric); grouped runs
      // are single-digit matches merged by Contiguous.
      PreTokenizerStep step;
      step.regex = std::make_shared<Regex>(R"(\p{N})", false, file_ + ": " + field);
      step.behavior = get_bool_or(p, "individual_digits", field, false) ? PreTokenizerStep::Behavior::kIsolated
                                                                        : PreTokenizerStep::Behavior::kContiguous;
      spec.pre_steps.push_back(std::move(step));
    } else if (type == "Whitespace") {
      // Hugging Face keeps the matches of \w+|[^\w\s]+ (Rust regex crate,
      // Unicode \w and \s) and drops the rest. Run as two steps with the
      // same pieces for any valid UTF-8: whitespace removed, then each
      // stretch cut into word runs and the runs between them. Unlike a
      // single inverted split, this keeps invalid UTF-8 bytes (which no
      // class matches) with the non-word runs instead of dropping them.
      PreTokenizerStep spaces;
      spaces.regex = std::make_shared<Regex>("[" + kSpaceClass + "]+", false, file_ + ": " + field);
      spaces.behavior = PreTokenizerStep::Behavior::kRemoved;
      spec.pre_steps.push_back(std::move(spaces));
      PreTokenizerStep words;
      words.regex = std::make_shared<Regex>("[" + kWordClass + "]+", false, file_ + ": " + field);
      words.behavior = PreTokenizerStep::Behavior::kIsolated;
      spec.pre_steps.push_back(std::move(words));
    } else if (type == "WhitespaceSplit") {
      // Split on char::is_whitespace, delimiters removed (a run of them
      // removes the same as each one alone).
      PreTokenizerStep step;
      step.regex = std::make_shared<Regex>("[" + kSpaceClass + "]+", false, file_ + ": " + field);
      step.behavior = PreTokenizerStep::Behavior::kRemoved;
      spec.pre_steps.push_back(std::move(step));
    } else if (type == "Punctuation") {
      // Each punctuation character is its own delimiter (a char predicate in
      // Hugging Face), so Isolated splits "!!" in two and Contiguous keeps it.
      PreTokenizerStep step;
      step.regex = std::make_shared<Regex>(R"([\p{P}\x{21}-\x{2F}\x{3A}-\x{40}\x{5B}-\x{60}\x{7B}-\x{7E}])", false,
                                           file_ + ": " + field);
      step.behavior = PreTokenizerStep::Behavior::kIsolated;  // serde default
      if (p.contains("behavior") && !p["behavior"].is_null()) step.behavior = split_behavior(p, field);
      spec.pre_steps.push_back(std::move(step));
    } else if (type == "Metaspace") {
      unsupported(field + ".type", "Metaspace combined with other pre-tokenizers is not supported yet");
    } else {
      unsupported(field + ".type", "'" + type + "' is not supported yet");
    }
  }

  void load_decoder(const json& d, const std::string& field, TokenizerSpec& spec) {
    if (d.is_null()) format_error(field, "null inside a decoder sequence");
    const std::string type = get_string(d, "type", field);
    if (type == "Sequence") {
      const json& list = member(d, "decoders", field);
      if (!list.is_array()) format_error(field + ".decoders", "expected an array");
      for (size_t i = 0; i < list.size(); ++i) {
        load_decoder(list[i], field + ".decoders[" + std::to_string(i) + "]", spec);
      }
    } else if (type == "Replace") {
      Pattern pattern = get_pattern(d, field);
      DecoderStep step{DecoderStep::Kind::kReplace, pattern.literal, get_string(d, "content", field)};
      step.regex = std::move(pattern.regex);
      spec.decoder.push_back(std::move(step));
    } else if (type == "ByteLevel") {
      // add_prefix_space / trim_offsets only affect offsets, not the text.
      spec.decoder.push_back({DecoderStep::Kind::kByteLevel, "", ""});
    } else if (type == "ByteFallback") {
      spec.decoder.push_back({DecoderStep::Kind::kByteFallback, "", ""});
    } else if (type == "Fuse") {
      spec.decoder.push_back({DecoderStep::Kind::kFuse, "", ""});
    } else if (type == "Strip") {
      DecoderStep s{DecoderStep::Kind::kStrip, "", get_string(d, "content", field)};
      if (s.content.empty()) format_error(field + ".content", "empty");
      s.start = get_size_or(d, "start", field, 0);
      s.stop = get_size_or(d, "stop", field, 0);
      spec.decoder.push_back(s);
    } else if (type == "Metaspace") {
      DecoderStep s{DecoderStep::Kind::kMetaspace, get_string(d, "replacement", field), " "};
      if (s.pattern.empty()) format_error(field + ".replacement", "empty");
      s.strip_first = prepend_scheme(d, field) != PreTokenizerSpec::Prepend::kNever;
      spec.decoder.push_back(s);
    } else {
      unsupported(field + ".type", "'" + type + "' is not supported yet");
    }
  }

  void load_post_processor(const json& p, TokenizerSpec& spec) {
    if (!p.is_null()) load_post_processor(p, "post_processor", spec);
  }

  void load_post_processor(const json& p, const std::string& pfield, TokenizerSpec& spec) {
    if (p.is_null()) format_error(pfield, "null inside a post-processor sequence");
    const std::string type = get_string(p, "type", pfield);
    if (type == "ByteLevel") return;  // only trims offsets; ids are unchanged
    if (type == "Sequence") {
      const json& list = member(p, "processors", pfield);
      if (!list.is_array()) format_error(pfield + ".processors", "expected an array");
      for (size_t i = 0; i < list.size(); ++i) {
        load_post_processor(list[i], pfield + ".processors[" + std::to_string(i) + "]", spec);
      }
      return;
    }
    if (type != "TemplateProcessing") unsupported(pfield + ".type", "'" + type + "' is not supported yet");
    if (seen_template_) unsupported(pfield, "more than one TemplateProcessing");
    seen_template_ = true;
    const json& single = member(p, "single", pfield);
    if (!single.is_array()) format_error(pfield + ".single", "expected an array");
    const json* specials = p.contains("special_tokens") ? &p["special_tokens"] : nullptr;
    bool seen_a = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const std::string field = pfield + ".single[" + std::to_string(i) + "]";
      const json& item = single[i];
      if (item.is_object() && item.contains("Sequence")) {
        const std::string id = get_string(item["Sequence"], "id", field + ".Sequence");
        if (id != "A" || seen_a) unsupported(field, "only one $A sequence is supported in 'single'");
        seen_a = true;
      } else if (item.is_object() && item.contains("SpecialToken")) {
        const std::string name = get_string(item["SpecialToken"], "id", field + ".SpecialToken");
        std::vector<int32_t> ids;
        if (specials && specials->contains(name)) {
          const json& entry = (*specials)[name];
          const json& list = member(entry, "ids", pfield + ".special_tokens['" + name + "']");
          for (const json& x : list) {
            if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= spec.vocab.size()) {
              format_error(pfield + ".special_tokens['" + name + "'].ids", "id out of range");
            }
            ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
          }
        } else {
          const int32_t id = token_id(name, spec);
          if (id < 0) format_error(field, "special token '" + name + "' is not defined");
          ids.push_back(id);
        }
        auto& dst = seen_a ? spec.suffix : spec.prefix;
        dst.insert(dst.end(), ids.begin(), ids.end());
      } else {
        format_error(field, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      }
    }
    if (!seen_a) format_error(pfield + ".single", "no $A sequence");
  }

  // Character classes of the Rust regex crate: \w (Alphabetic, marks,
  // decimal digits, connector punctuation, Join_Control) and \s (White_Space),
  // spelled out: PCRE2's UCP \w is \p{L}\p{N}_ (plus Mn/Pc in new
  // versions), which would take "²" and miss lone combining marks.
  inline static const std::string kWordClass = R"(\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D})";
  inline static const std::string kSpaceClass =
      R"(\x{9}-\x{D}\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  static constexpr int64_t kMaxId = int64_t{1} << 24;
  std::string file_;
  bool seen_template_ = false;
};

// tokenizer_config.json: bos_token may be a string or {"content": ...}.
std::optional<std::string> config_token(const json& cfg, const char* key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  throw Error(ErrorCode::kFormat, file + ": " + key + ": expected a string or {\"content\": ...}");
}

std::optional<bool> config_flag(const json& cfg, const char* key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw Error(ErrorCode::kFormat, file + ": " + key + ": expected a boolean");
  return it->get<bool>();
}

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path file(path);
  if (fs::is_directory(file)) file /= "tokenizer.json";
  HfLoader loader(file.string());
  TokenizerSpec spec = loader.load();
  spec.special.resize(spec.vocab.pieces.size(), false);

  // BOS/EOS ids: named by tokenizer_config.json, else implied by the template.
  spec.bos = spec.prefix.empty() ? -1 : spec.prefix.front();
  spec.eos = spec.suffix.empty() ? -1 : spec.suffix.back();
  const fs::path cfg_path = file.parent_path() / "tokenizer_config.json";
  if (fs::exists(cfg_path)) {
    const std::string cfg_file = cfg_path.string();
    const json cfg = read_json(cfg_file);
    if (!cfg.is_object()) throw Error(ErrorCode::kFormat, cfg_file + ": expected an object");
    auto resolve = [&](const char* key) -> std::optional<int32_t> {
      const auto name = config_token(cfg, key, cfg_file);
      if (!name) return std::nullopt;
      const int32_t id = loader.token_id(*name, spec);
      if (id < 0) throw Error(ErrorCode::kFormat, cfg_file + ": " + key + ": '" + *name + "' is not a token");
      return id;
    };
    if (auto id = resolve("bos_token")) spec.bos = *id;
    if (auto id = resolve("eos_token")) spec.eos = *id;
    // transformers rebuilds the post-processor from these flags, so they win
    // over the template in tokenizer.json.
    if (auto add = config_flag(cfg, "add_bos_token", cfg_file)) {
      if (*add && spec.bos < 0) throw Error(ErrorCode::kFormat, cfg_file + ": add_bos_token: true but no bos_token");
      spec.prefix = *add ? std::vector<int32_t>{spec.bos} : std::vector<int32_t>{};
    }
    if (auto add = config_flag(cfg, "add_eos_token", cfg_file)) {
      if (*add && spec.eos < 0) throw Error(ErrorCode::kFormat, cfg_file + ": add_eos_token: true but no eos_token");
      spec.suffix = *add ? std::vector<int32_t>{spec.eos} : std::vector<int32_t>{};
    }
  }
  spec.vocab.scores.assign(spec.vocab.pieces.size(), 0.0f);
  spec.vocab.types.assign(spec.vocab.pieces.size(), TokenType::kNormal);
  return make_bpe_tokenizer(std::move(spec));
}

}  // namespace nagi
