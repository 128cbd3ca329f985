// Text <-> token ids. One interface whatever the source of the vocabulary
// (tokenizer.json, GGUF metadata, llama2.c tokenizer.bin).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nagi {

class GgufFile;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // add_special: add the BOS (and EOS, if the tokenizer config says so) the
  // model expects around a sequence. parse_special: text such as "<s>" that
  // spells a special token becomes that token instead of being split.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special,
                                      bool parse_special = false) const = 0;

  // Decodes a whole sequence as Hugging Face's decode() does
  // (skip_special_tokens = skip_special).
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special) const = 0;

  // The raw bytes one token stands for when it follows other text in a
  // stream (byte-fallback tokens give their byte, "▁" becomes a space,
  // special tokens their text). May be part of a UTF-8 character.
  virtual std::string token_bytes(int32_t id) const = 0;

  virtual int32_t n_vocab() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 if none
  virtual int32_t eos_id() const = 0;  // -1 if none
  virtual bool is_special(int32_t id) const = 0;  // control tokens (BOS/EOS/...)

  // How many leading spaces decode() drops from the start of the text (the
  // "▁" a SentencePiece-style normalizer prepended); StreamDecoder drops the
  // same so that streamed text equals decode().
  virtual size_t stream_strip_leading_spaces() const { return 0; }
};

// Loads tokenizer.json (+ tokenizer_config.json beside it) from a Hugging Face
// folder or the path of a tokenizer.json.
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path);
// Builds the tokenizer described by GGUF metadata (tokenizer.ggml.*).
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& gguf);
// Reads a llama2.c tokenizer.bin with n_vocab entries.
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int32_t n_vocab);

// Turns a stream of token ids into text without ever emitting a broken UTF-8
// sequence: bytes of an incomplete character are held until it completes.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = true)
      : tok_(tokenizer), skip_special_(skip_special) {}
  // Returns the text that became complete with this token (possibly empty).
  std::string push(int32_t id);
  // Returns whatever is still held (invalid bytes become U+FFFD).
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::string pending_;
  size_t strip_left_ = static_cast<size_t>(-1);  // leading spaces still to drop; -1: not asked yet
  bool started_ = false;     // has any byte been produced yet
};

}  // namespace nagi
