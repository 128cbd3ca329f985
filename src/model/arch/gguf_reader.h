// Pieces of GGUF metadata reading shared by the architectures' GGUF loaders.
#pragma once

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

}  // namespace nagi
