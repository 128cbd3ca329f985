// The multi-token-prediction (MTP) block some models ship beside the main
// stack: Qwen3.5's Hugging Face mtp.* tensors (fc, pre-fc norms, one decoder
// layer, final norm) or the GGUF "nextn" blocks that llama.cpp's converter
// appends after the last layer (blk.<n_layer + i>.*). Nothing evaluates it
// yet; speculative decoding will draft with it. Loaders keep these tensors in
// the store instead of rejecting them, and this collects them in one place.
#pragma once

#include <map>
#include <string>

#include "format/tensor_store.h"
#include "model/spec.h"

namespace nagi {

struct MtpHead {
  int n_layers = 0;  // spec.n_mtp_layers
  // Source names without the "mtp." prefix (HF, e.g. "fc.weight",
  // "layers.0.self_attn.q_proj.weight") or as in the GGUF ("blk.24.nextn.eh_proj.weight").
  std::map<std::string, const TensorView*> tensors;

  bool empty() const { return tensors.empty(); }
  const TensorView* find(const std::string& name) const {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : it->second;
  }
};

// The MTP tensors of `store` (views stay owned by the store).
MtpHead collect_mtp_head(const ModelSpec& spec, const TensorStore& store);

}  // namespace nagi
