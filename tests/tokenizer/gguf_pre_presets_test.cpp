// The "lfm2" (LFM2 / LFM2.5) and "qwen35" (Qwen3.5) pre-tokenizer names of
// GGUF byte-level vocabularies. No real tokenizer of either is among the
// fixtures, so each test writes a small tokenizer folder whose tokenizer.json
// carries the model's Split regex and whose vocabulary holds exactly the
// pre-tokens worked out by hand from that regex (each one buildable by the
// merges). nagi-mkmodel --tokenizer DIR --pre NAME turns it into a GGUF, as
// llama.cpp's converter would. With the right preset, every pre-token comes
// back as one token, as tokenizer.json itself gives; a wrong preset splits
// elsewhere and so gives other ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixtures.h"

namespace nagi {
namespace {

using nlohmann::json;

// The Split regexes of the models' tokenizer.json files: llama.cpp reads
// "lfm2" with its Llama 3 expression (digits in groups of up to three,
// case-insensitive contractions) and "qwen35" with Qwen2's plus \p{M}.
constexpr const char* kLfm2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen35Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct SplitCase {
  std::string text;
  std::vector<std::string> pieces;  // the pre-tokens, by hand from the regex
};

// LFM2: "'LL" is a contraction whatever its case; a space before digits
// stands alone and digits go in threes; punctuation takes the newlines after
// it; of two spaces before a word, the first stands alone; "\r\n" is one
// line break.
const std::vector<SplitCase> kLfm2Cases = {
    {"He'LL pay 1234567 now!\n\n  ok", {"He", "'LL", " pay", " ", "123", "456", "7", " now", "!\n\n", " ", " ok"}},
    {"we're\r\nx", {"we", "'re", "\r\n", "x"}},
};

// Qwen3.5: combining marks (the virama and vowel sign of "नमस्ते", the acute
// after "x", which NFC cannot compose) stay in their word; digits alone.
const std::vector<SplitCase> kQwen35Cases = {
    {"नमस्ते 12 ok", {"नमस्ते", " ", "1", "2", " ok"}},
    {"Ax\u0301y's", {"Ax\u0301y", "'s"}},
};

// Byte-level BPE as Hugging Face applies merges: the lowest-ranked adjacent
// pair first, leftmost among equals.
std::vector<std::string> apply_merges(std::vector<std::string> symbols,
                                      const std::map<std::pair<std::string, std::string>, int>& ranks) {
  for (;;) {
    int best = -1;
    size_t at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks.find({symbols[i], symbols[i + 1]});
      if (it != ranks.end() && (best < 0 || it->second < best)) best = it->second, at = i;
    }
    if (best < 0) return symbols;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
}

// The characters of a byte-level piece, one per byte.
std::vector<std::string> byte_chars(const std::string& text) {
  std::vector<std::string> out;
  for (unsigned char b : text) out.push_back(byte_level::tables().byte_to_char[b]);
  return out;
}

// Writes DIR/tokenizer.json: the 256 byte characters, then merges (and
// their results) appended until every piece merges into one token. A later
// merge ranks below all earlier ones, so it never changes how an earlier
// piece merges.
std::string write_tokenizer_folder(const std::string& name, const char* regex, bool nfc, bool ignore_merges,
                                   const std::vector<SplitCase>& cases) {
  json vocab = json::object();
  std::vector<std::string> merges;
  std::map<std::pair<std::string, std::string>, int> ranks;
  for (int b = 0; b < 256; ++b) vocab[byte_level::tables().byte_to_char[b]] = b;
  for (const SplitCase& c : cases) {
    for (const std::string& piece : c.pieces) {
      for (auto symbols = apply_merges(byte_chars(piece), ranks); symbols.size() > 1;
           symbols = apply_merges(byte_chars(piece), ranks)) {
        ranks[{symbols[0], symbols[1]}] = static_cast<int>(merges.size());
        merges.push_back(symbols[0] + " " + symbols[1]);
        const size_t next_id = vocab.size();
        if (!vocab.contains(symbols[0] + symbols[1])) vocab[symbols[0] + symbols[1]] = next_id;
      }
    }
  }
  const json byte_level_step = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                                {"use_regex", false}};
  const json tj = {
      {"version", "1.0"},
      {"added_tokens", json::array()},
      {"normalizer", nfc ? json{{"type", "NFC"}} : json()},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
          byte_level_step}}}},
      {"post_processor", nullptr},
      {"decoder", byte_level_step},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
        {"ignore_merges", ignore_merges}, {"vocab", vocab}, {"merges", merges}}},
  };
  const std::string dir = test::temp_dir() + "/" + name;
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.json") << tj.dump();
  return dir;
}

// A random-weight GGUF of `arch` carrying the folder's vocabulary under the
// pre-tokenizer name `pre` (empty: the one nagi-mkmodel guesses). 512 rows
// leave room for the vocabulary and meet qwen35's minimum.
std::string gguf_with_pre(const std::string& arch, const std::string& dir, const std::string& pre) {
  const std::string path = dir + "-" + (pre.empty() ? "guessed" : pre) + ".gguf";
  const int status = test::run_mkmodel("--preset tiny --n-vocab 512 --arch " + arch + " --tokenizer " + dir +
                                       (pre.empty() ? "" : " --pre " + pre) + " -o " + path);
  EXPECT_EQ(status, 0) << "nagi-mkmodel --arch " << arch << " --pre " << pre;
  return path;
}

std::unique_ptr<Tokenizer> gguf_tokenizer(const std::string& path) { return load_gguf_tokenizer(*GgufFile::open(path)); }

// Every case encodes to its hand-derived pieces, one token each, exactly as
// the tokenizer.json of the folder encodes it.
void expect_hand_split(const Tokenizer& gguf, const Tokenizer& hf, const std::vector<SplitCase>& cases) {
  for (const SplitCase& c : cases) {
    const std::vector<int32_t> ids = gguf.encode(c.text, false);
    std::vector<std::string> pieces;
    for (int32_t id : ids) pieces.push_back(gguf.token_bytes(id));
    EXPECT_EQ(pieces, c.pieces) << json(c.text).dump();
    EXPECT_EQ(ids, hf.encode(c.text, false)) << json(c.text).dump();
    EXPECT_EQ(gguf.decode(ids, false), c.text);
  }
}

// A preset that splits elsewhere leaves some case with other ids.
void expect_other_ids(const Tokenizer& right, const Tokenizer& wrong, const std::vector<SplitCase>& cases) {
  bool differs = false;
  for (const SplitCase& c : cases) differs |= right.encode(c.text, false) != wrong.encode(c.text, false);
  EXPECT_TRUE(differs);
}

TEST(GgufPrePresets, Lfm2SplitsAsItsTokenizerJson) {
  // ignore_merges, as LFM2's tokenizer.json (and llama.cpp for "lfm2") sets.
  const std::string dir = write_tokenizer_folder("lfm2", kLfm2Regex, false, true, kLfm2Cases);
  const auto hf = load_hf_tokenizer(dir);
  const auto lfm2 = gguf_tokenizer(gguf_with_pre("lfm2", dir, "lfm2"));
  expect_hand_split(*lfm2, *hf, kLfm2Cases);
  // GPT-2's split keeps "1234567" whole and "'LL" apart; Qwen2's cuts
  // single digits.
  expect_other_ids(*lfm2, *gguf_tokenizer(gguf_with_pre("lfm2", dir, "gpt2")), kLfm2Cases);
  expect_other_ids(*lfm2, *gguf_tokenizer(gguf_with_pre("lfm2", dir, "qwen2")), kLfm2Cases);
}

TEST(GgufPrePresets, Qwen35SplitsAsItsTokenizerJson) {
  const std::string dir = write_tokenizer_folder("qwen35", kQwen35Regex, true, false, kQwen35Cases);
  const auto hf = load_hf_tokenizer(dir);
  const std::string guessed = gguf_with_pre("qwen35", dir, "");
  EXPECT_EQ(GgufFile::open(guessed)->get_string("tokenizer.ggml.pre"), "qwen35");
  const auto qwen35 = gguf_tokenizer(gguf_with_pre("qwen35", dir, "qwen35"));
  expect_hand_split(*qwen35, *hf, kQwen35Cases);
  // Qwen2's split cuts a word at each combining mark.
  expect_other_ids(*qwen35, *gguf_tokenizer(gguf_with_pre("qwen35", dir, "qwen2")), kQwen35Cases);
}

}  // namespace
}  // namespace nagi
