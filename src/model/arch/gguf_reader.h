// Pieces of GGUF metadata reading shared by the architectures' GGUF loaders.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "format/gguf.h"
#include "format/tensor_store.h"
#include "model/spec.h"
#include "nagi/error.hpp"

namespace nagi {

// The vocabulary and the tying of the output head: token_embd.weight must be
// there with 2 dimensions; n_vocab is read_vocab_size() when the metadata has
// VOCAB_KEY (the loader's own range-checked reader), else the embedding's
// rows; the head is tied when the file has no output.weight.
template <class ReadVocabSize>
void read_gguf_vocab(const GgufFile& g, const TensorStore& tensors, const std::string& vocab_key,
                     ReadVocabSize&& read_vocab_size, ModelSpec& spec) {
  const TensorView* embd = tensors.find("token_embd.weight");
  if (embd == nullptr) throw Error(ErrorCode::kFormat, g.path() + ": missing tensor 'token_embd.weight'");
  if (embd->shape.size() != 2) throw Error(ErrorCode::kFormat, embd->source + ": expected 2 dimensions");
  spec.n_vocab = g.has(vocab_key) ? read_vocab_size() : static_cast<int>(embd->shape[0]);
  spec.tied_embeddings = tensors.find("output.weight") == nullptr;
}

// KEY (ARCH.block_count), checked before anything is sized by it: at most
// kMaxLayerCount, and no more than the file's tensors (every layer has
// tensors of its own).
inline int read_block_count(const GgufFile& g, const TensorStore& tensors, const std::string& key) {
  const int64_t n = g.get_int(key);
  const int64_t limit = std::min<int64_t>(kMaxLayerCount, int64_t(tensors.all().size()));
  if (n <= 0 || n > limit) {
    throw Error(ErrorCode::kFormat, g.path() + ": metadata '" + key + "': " + std::to_string(n) +
                                        " is out of range (1.." + std::to_string(limit) +
                                        ": at most " + std::to_string(kMaxLayerCount) +
                                        " and no more than the file's tensors)");
  }
  return static_cast<int>(n);
}

}  // namespace nagi
