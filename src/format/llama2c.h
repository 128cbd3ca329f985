// Reader for llama2.c checkpoints in the legacy (v0) float32 format written
// by llama2.c's export.py legacy_export / the original run.c:
//   7 x int32 header: dim, hidden_dim, n_layers, n_heads, n_kv_heads,
//                     vocab_size (negative: separate classifier), seq_len
//   float32 arrays, each covering all layers:
//     tok_embeddings[vocab, dim], rms_att[L, dim], wq[L, dim, dim],
//     wk[L, kv_dim, dim], wv[L, kv_dim, dim], wo[L, dim, dim], rms_ffn[L, dim],
//     w1[L, hidden, dim], w2[L, dim, hidden], w3[L, hidden, dim], rms_final[dim],
//     freq_cis_real[seq_len, head_dim/2], freq_cis_imag[seq_len, head_dim/2],
//     optionally wcls[vocab, dim]
// Weights are exposed in place from the mapping under the canonical names of
// model/spec.h; the legacy RoPE tables are skipped.
#pragma once

#include <string>

#include "format/tensor_store.h"

namespace nagi {

struct Llama2cHeader {
  int dim = 0;
  int hidden_dim = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int vocab_size = 0;  // always positive here; the sign in the file is shared_classifier
  int seq_len = 0;
  bool shared_classifier = true;  // output.weight is token_embd.weight

  int head_dim() const { return dim / n_heads; }
  int kv_dim() const { return head_dim() * n_kv_heads; }
};

// Validates the checkpoint at `path` against its header (the file must be
// exactly the size the header implies) and adds its weights to `store` as
// F32 views into the mapped file. Throws Error(kFormat) naming the file and
// the field at fault; Error(kUnsupported) for the newer "ak42" export versions.
Llama2cHeader load_llama2c(const std::string& path, TensorStore& store);

}  // namespace nagi
