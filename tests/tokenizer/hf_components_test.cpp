// Hand-written tokenizer.json pipelines for the Lowercase and Strip
// normalizers and the Whitespace, WhitespaceSplit and Punctuation
// pre-tokenizers. Every expectation is derived by hand from Hugging Face
// tokenizers' definitions (quoted next to each case), not from our output.
//
// To see the pre-tokenizer's splits (or the normalized text) through the
// public API, each pipeline gets a BPE model with ignore_merges, no merges,
// and a vocabulary of exactly the expected pieces plus "<unk>": a piece that
// is in the vocabulary comes out as its own id, anything else falls apart
// into one "<unk>" per character, so any other split or normalization shows.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nagi/error.hpp"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace nagi {
namespace {

using nlohmann::json;

std::string write_pipeline(const json& tokenizer_json) {
  static std::atomic<int> counter{0};
  const std::string dir = test::temp_dir() + "/hf_components_" + std::to_string(counter++);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/tokenizer.json";
  std::ofstream(path) << tokenizer_json.dump();
  return path;
}

json pipeline(const json& normalizer, const json& pre_tokenizer, const std::vector<std::string>& pieces) {
  json vocab = json::object();
  vocab["<unk>"] = 0;
  for (const std::string& p : pieces) {
    if (!vocab.contains(p)) vocab[p] = static_cast<int>(vocab.size());
  }
  return json{{"model",
               {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}, {"unk_token", "<unk>"},
                {"ignore_merges", true}}},
              {"normalizer", normalizer},
              {"pre_tokenizer", pre_tokenizer},
              {"decoder", nullptr}};
}

// The vocabulary pieces `text` encodes to ("<unk>" for what is not one).
std::vector<std::string> pieces_of(const json& normalizer, const json& pre_tokenizer, const std::string& text,
                                   const std::vector<std::string>& vocab) {
  auto tok = load_hf_tokenizer(write_pipeline(pipeline(normalizer, pre_tokenizer, vocab)));
  std::vector<std::string> out;
  for (int32_t id : tok->encode(text, false, false)) out.push_back(tok->token_bytes(id));
  return out;
}

using Pieces = std::vector<std::string>;

// Pre-tokenizer splits of `text` (no normalizer).
Pieces split(const json& pre_tokenizer, const std::string& text, const Pieces& expected) {
  return pieces_of(nullptr, pre_tokenizer, text, expected);
}

// Normalized text (no pre-tokenizer: the whole text is one word).
std::string normalized(const json& normalizer, const std::string& text, const std::string& expected) {
  const Pieces got = pieces_of(normalizer, nullptr, text, {expected});
  std::string out;
  for (const std::string& p : got) out += p;
  return out;
}

json type(const char* t) { return json{{"type", t}}; }
json punctuation(const char* behavior) { return json{{"type", "Punctuation"}, {"behavior", behavior}}; }

// ---- Whitespace: keeps the matches of \w+|[^\w\s]+ (Rust regex crate:
// \w = Alphabetic | M | Nd | Pc | Join_Control, \s = White_Space) ----------

TEST(HfComponents, WhitespaceAscii) {
  const Pieces want{"Hello", ",", "world", "!", "x_1", "\xC2\xBD"};  // "½" is No: not \w, not \s
  EXPECT_EQ(split(type("Whitespace"), "Hello, world!  x_1 \xC2\xBD", want), want);
  // Runs of punctuation stay together; an apostrophe splits a word.
  const Pieces want2{"I", "'", "m", "fine", "?!", "--", "ok", "..."};
  EXPECT_EQ(split(type("Whitespace"), "I'm fine?! --ok...", want2), want2);
  EXPECT_EQ(split(type("Whitespace"), " \t\n ", {}), Pieces{});
}

TEST(HfComponents, WhitespaceUnicodeWordCharacters) {
  // Accented letters are Alphabetic; "٤٥" (Arabic-Indic) are Nd so they join
  // the ASCII digits; "²" is No, which \w excludes (unlike \p{N}).
  const Pieces want{"na\xC3\xAFve", "caf\xC3\xA9", "'", "s", "123\xD9\xA4\xD9\xA5", "\xC2\xB2"};
  EXPECT_EQ(split(type("Whitespace"), "na\xC3\xAFve caf\xC3\xA9's 123\xD9\xA4\xD9\xA5 \xC2\xB2", want), want);
  // Combining marks (Mn) are \w, even with no base letter before them.
  const Pieces marks{"e\xCC\x81" "clair", "\xCC\x81x"};
  EXPECT_EQ(split(type("Whitespace"), "e\xCC\x81" "clair \xCC\x81x", marks), marks);
  // CJK ideographs and katakana are Alphabetic; "、" and "。" are Po.
  const Pieces cjk{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "\xE3\x80\x81", "\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88",
                   "\xE3\x80\x82"};
  EXPECT_EQ(split(type("Whitespace"), "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x80\x81\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88\xE3\x80\x82", cjk),
            cjk);
  // ZWJ is Join_Control (\w); ZWSP (U+200B, Cf) is neither \w nor \s; an
  // emoji with its skin-tone modifier (So, Sk) groups with following "!".
  const Pieces other{"a\xE2\x80\x8D" "b", "c", "\xE2\x80\x8B", "d", "hi", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!"};
  EXPECT_EQ(split(type("Whitespace"), "a\xE2\x80\x8D" "b c\xE2\x80\x8B" "d hi\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!", other),
            other);
}

TEST(HfComponents, WhitespaceUnicodeSpaces) {
  // NBSP, ideographic space and NEL (U+0085, White_Space but not Z*) all
  // separate and vanish.
  const Pieces want{"a", "b", "c", "d"};
  EXPECT_EQ(split(type("Whitespace"), "a\xC2\xA0" "b\xE3\x80\x80" "c\xC2\x85" "d", want), want);
}

TEST(HfComponents, WhitespaceKeepsInvalidUtf8) {
  // Hugging Face only sees valid UTF-8; we take any bytes and must not drop
  // them: an invalid byte stays, as a non-word run, and encodes (here as
  // "<unk>") instead of vanishing.
  EXPECT_EQ(split(type("Whitespace"), "a\xFF b", {"a", "b"}), (Pieces{"a", "<unk>", "b"}));
  EXPECT_EQ(split(type("WhitespaceSplit"), "a\xFF b", {"b"}), (Pieces{"<unk>", "<unk>", "b"}));
}

// ---- WhitespaceSplit: split on char::is_whitespace, delimiters removed ----

TEST(HfComponents, WhitespaceSplit) {
  const Pieces want{"Hello,", "world!", "x_1", "\xC2\xBD"};
  EXPECT_EQ(split(type("WhitespaceSplit"), "  Hello,\tworld!\xE3\x80\x80x_1\xC2\x85\xC2\xBD\xC2\xA0 ", want), want);
  // ZWSP is not whitespace: it stays inside the word.
  const Pieces zw{"a\xE2\x80\x8B" "b", "c"};
  EXPECT_EQ(split(type("WhitespaceSplit"), "a\xE2\x80\x8B" "b\nc", zw), zw);
  EXPECT_EQ(split(type("WhitespaceSplit"), " \t\xE3\x80\x80 ", {}), Pieces{});
}

// ---- Punctuation: every char that is ASCII punctuation or in P* is its own
// delimiter, grouped by `behavior` (default Isolated) ----------------------

// "$" and "-" are ASCII punctuation; "¿" is Po; "€" is Sc but not ASCII, so
// it is not punctuation.
const char* const kPunctText = "Hi!! a-b$c\xE2\x82\xAC" "d\xC2\xBF" "e";

TEST(HfComponents, PunctuationBehaviors) {
  const Pieces isolated{"Hi", "!", "!", " a", "-", "b", "$", "c\xE2\x82\xAC" "d", "\xC2\xBF", "e"};
  EXPECT_EQ(split(type("Punctuation"), kPunctText, isolated), isolated);  // default
  EXPECT_EQ(split(punctuation("Isolated"), kPunctText, isolated), isolated);
  const Pieces removed{"Hi", " a", "b", "c\xE2\x82\xAC" "d", "e"};
  EXPECT_EQ(split(punctuation("Removed"), kPunctText, removed), removed);
  // Each match joins the piece before it unless that piece was a match.
  const Pieces prev{"Hi!", "!", " a-", "b$", "c\xE2\x82\xAC" "d\xC2\xBF", "e"};
  EXPECT_EQ(split(punctuation("MergedWithPrevious"), kPunctText, prev), prev);
  // Mirror image: each match joins the piece after it unless that was a match.
  const Pieces next{"Hi", "!", "! a", "-b", "$c\xE2\x82\xAC" "d", "\xC2\xBF" "e"};
  EXPECT_EQ(split(punctuation("MergedWithNext"), kPunctText, next), next);
  const Pieces contiguous{"Hi", "!!", " a", "-", "b", "$", "c\xE2\x82\xAC" "d", "\xC2\xBF", "e"};
  EXPECT_EQ(split(punctuation("Contiguous"), kPunctText, contiguous), contiguous);
}

TEST(HfComponents, PunctuationCharacterClass) {
  // «, ¡, » are Pi, Po, Pf; "、" is Po.
  const Pieces quotes{"\xC2\xAB", "\xC2\xA1", "Hola", "!", "\xC2\xBB", "\xE3\x80\x81"};
  EXPECT_EQ(split(type("Punctuation"), "\xC2\xAB\xC2\xA1Hola!\xC2\xBB\xE3\x80\x81", quotes), quotes);
  // ASCII symbols (+ = ^ ` | ~ <) count; "×" (Sm, not ASCII) does not; "_"
  // (Pc) does.
  const Pieces math{"1", "+", "1", "=", "2\xC3\x97" "3", "^", "`", "|", "~", "<", "a", "_", "b"};
  EXPECT_EQ(split(type("Punctuation"), "1+1=2\xC3\x97" "3^`|~<a_b", math), math);
}

// ---- Lowercase: char::to_lowercase on every character ---------------------

TEST(HfComponents, Lowercase) {
  const json lc = type("Lowercase");
  EXPECT_EQ(normalized(lc, "HeLLo WORLD 42!", "hello world 42!"), "hello world 42!");
  // Latin-1, Greek, Cyrillic, fullwidth, and Deseret (outside the BMP).
  const std::string want = "\xC3\xA0\xC3\xA9\xC3\xAE \xCE\xB1\xCE\xB2\xCE\xB3 \xD0\xB4\xD0\xB6 \xEF\xBD\x81 \xF0\x90\x90\xA8";
  EXPECT_EQ(normalized(lc, "\xC3\x80\xC3\x89\xC3\x8E \xCE\x91\xCE\x92\xCE\x93 \xD0\x94\xD0\x96 \xEF\xBC\xA1 \xF0\x90\x90\x80", want),
            want);
  // Full mappings: "İ" -> "i" + U+0307; "ẞ" -> "ß"; "Ǆ" and titlecase "ǅ" -> "ǆ".
  EXPECT_EQ(normalized(lc, "\xC4\xB0\xE1\xBA\x9E\xC7\x84\xC7\x85", "i\xCC\x87\xC3\x9F\xC7\x86\xC7\x86"),
            "i\xCC\x87\xC3\x9F\xC7\x86\xC7\x86");
  // Combining marks and CJK have no case.
  EXPECT_EQ(normalized(lc, "E\xCC\x81\xE6\x97\xA5", "e\xCC\x81\xE6\x97\xA5"), "e\xCC\x81\xE6\x97\xA5");
}

TEST(HfComponents, LowercaseHasNoFinalSigma) {
  // Hugging Face lowercases character by character (NormalizedString::
  // lowercase maps each char through char::to_lowercase), so a word-final
  // "Σ" becomes "σ", not the "ς" that str::to_lowercase would give:
  // "ΟΔΟΣ ΣΑΣ" -> "οδοσ σασ".
  const std::string want = "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83 \xCF\x83\xCE\xB1\xCF\x83";
  EXPECT_EQ(normalized(type("Lowercase"), "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3\xCE\x91\xCE\xA3", want), want);
}

// ---- Strip: removes char::is_whitespace at the chosen ends ----------------

json strip(bool left, bool right) { return json{{"type", "Strip"}, {"strip_left", left}, {"strip_right", right}}; }

TEST(HfComponents, Strip) {
  // Tab, ideographic space, NBSP, NEL and newline are White_Space; the
  // inner space stays.
  const std::string text = " \t\xE3\x80\x80Hi there\xC2\xA0\xC2\x85\n";
  EXPECT_EQ(normalized(strip(true, true), text, "Hi there"), "Hi there");
  EXPECT_EQ(normalized(strip(true, false), text, "Hi there\xC2\xA0\xC2\x85\n"), "Hi there\xC2\xA0\xC2\x85\n");
  EXPECT_EQ(normalized(strip(false, true), text, " \t\xE3\x80\x80Hi there"), " \t\xE3\x80\x80Hi there");
  EXPECT_EQ(normalized(strip(false, false), text, text), text);
  // ZWSP is not whitespace, so it shields the space after it.
  EXPECT_EQ(normalized(strip(true, true), "\xE2\x80\x8B x ", "\xE2\x80\x8B x"), "\xE2\x80\x8B x");
  // Nothing but whitespace: nothing to encode.
  EXPECT_EQ(pieces_of(strip(true, true), nullptr, " \xE3\x80\x80 ", {}), Pieces{});
}

// ---- Sequences and a whole pipeline ----------------------------------------

TEST(HfComponents, InsideSequences) {
  const json norm = {{"type", "Sequence"}, {"normalizers", json::array({strip(true, true), type("Lowercase")})}};
  // "  ΣΊΣΥΦΟΣ  " -> "σίσυφοσ" (Ί U+038A -> ί U+03AF).
  const std::string want = "\xCF\x83\xCE\xAF\xCF\x83\xCF\x85\xCF\x86\xCE\xBF\xCF\x83";
  EXPECT_EQ(normalized(norm, "  \xCE\xA3\xCE\x8A\xCE\xA3\xCE\xA5\xCE\xA6\xCE\x9F\xCE\xA3  ", want), want);

  const json pre = {{"type", "Sequence"},
                    {"pretokenizers", json::array({type("WhitespaceSplit"), punctuation("Contiguous")})}};
  const Pieces want2{"Hello", ",,", "world", "!?"};
  EXPECT_EQ(split(pre, "Hello,, world!?", want2), want2);

  const json pre2 = {{"type", "Sequence"},
                     {"pretokenizers", json::array({type("Whitespace"), {{"type", "Digits"}, {"individual_digits", true}}})}};
  const Pieces want3{"x_", "1", "2", "ab", "3"};
  EXPECT_EQ(split(pre2, "x_12 ab3", want3), want3);
}

TEST(HfComponents, WholePipelineIds) {
  // Real merges this time: "a b" -> "ab". Strip + Lowercase, then Whitespace:
  // removed whitespace keeps "a" and "b" from merging across it.
  json j = {{"model",
             {{"type", "BPE"},
              {"vocab", {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"ab", 3}, {"!", 4}}},
              {"merges", json::array({"a b"})},
              {"unk_token", "<unk>"}}},
            {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array({strip(true, true), type("Lowercase")})}}},
            {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", json::array({type("Whitespace")})}}},
            {"decoder", nullptr}};
  auto tok = load_hf_tokenizer(write_pipeline(j));
  EXPECT_EQ(tok->encode("  AB!ab  ", false), (std::vector<int32_t>{3, 4, 3}));
  EXPECT_EQ(tok->encode("A B", false), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(tok->encode("aBc", false), (std::vector<int32_t>{3, 0}));
}

// ---- Errors -----------------------------------------------------------------

template <typename F>
void expect_error(F&& f, ErrorCode code, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& n : needles) {
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what() << " lacks " << n;
    }
  }
}

void expect_load_error(const json& normalizer, const json& pre_tokenizer, ErrorCode code,
                       std::vector<std::string> needles) {
  const std::string path = write_pipeline(pipeline(normalizer, pre_tokenizer, {"a"}));
  needles.push_back(path);
  expect_error([&] { load_hf_tokenizer(path); }, code, needles);
}

TEST(HfComponents, LoadErrors) {
  expect_load_error(nullptr, punctuation("Sideways"), ErrorCode::kUnsupported, {"pre_tokenizer.behavior", "Sideways"});
  expect_load_error(nullptr, punctuation("isolated"), ErrorCode::kUnsupported, {"pre_tokenizer.behavior", "isolated"});
  expect_load_error(nullptr,
                    {{"type", "Sequence"}, {"pretokenizers", json::array({type("Whitespace"), punctuation("Merged")})}},
                    ErrorCode::kUnsupported, {"pre_tokenizer.pretokenizers[1].behavior", "Merged"});
  expect_load_error(nullptr, {{"type", "Punctuation"}, {"behavior", 3}}, ErrorCode::kFormat,
                    {"pre_tokenizer.behavior", "expected a string"});
  expect_load_error({{"type", "Strip"}, {"strip_left", true}}, nullptr, ErrorCode::kFormat,
                    {"normalizer.strip_right", "missing"});
  expect_load_error({{"type", "Sequence"}, {"normalizers", json::array({{{"type", "Strip"}, {"strip_left", "yes"}, {"strip_right", true}}})}},
                    nullptr, ErrorCode::kFormat, {"normalizer.normalizers[0].strip_left", "expected a boolean"});
  // Still unsupported components are refused, naming file and field.
  expect_load_error(type("StripAccents"), nullptr, ErrorCode::kUnsupported, {"normalizer.type", "StripAccents"});
  expect_load_error({{"type", "Sequence"}, {"normalizers", json::array({type("Lowercase"), type("BertNormalizer")})}},
                    nullptr, ErrorCode::kUnsupported, {"normalizer.normalizers[1].type", "BertNormalizer"});
  expect_load_error(nullptr, type("BertPreTokenizer"), ErrorCode::kUnsupported, {"pre_tokenizer.type", "BertPreTokenizer"});
  expect_load_error(nullptr,
                    {{"type", "Sequence"}, {"pretokenizers", json::array({type("WhitespaceSplit"), type("UnicodeScripts")})}},
                    ErrorCode::kUnsupported, {"pre_tokenizer.pretokenizers[1].type", "UnicodeScripts"});
  expect_load_error(nullptr, {{"type", "CharDelimiterSplit"}, {"delimiter", "-"}}, ErrorCode::kUnsupported,
                    {"pre_tokenizer.type", "CharDelimiterSplit"});
}

}  // namespace
}  // namespace nagi
