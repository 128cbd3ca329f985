// LFM2 / LFM2.5 (Liquid AI): a hybrid of gated short-convolution layers and
// GQA attention layers with per-head q/k RMSNorm, SwiGLU FFN everywhere, the
// final norm called embedding_norm (HF) / token_embd_norm (GGUF), tied
// embeddings. These functions fill a ModelSpec from each source format and
// put the tensors under canonical names (spec.h).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "format/gguf.h"
#include "format/tensor_store.h"
#include "model/spec.h"

namespace nagi {

// GGUF general.architecture "lfm2": attention.head_count_kv per layer, 0 for
// a short-conv layer; shortconv.l_cache.
ModelSpec lfm2_spec_from_gguf(const GgufFile& gguf, const TensorStore& tensors);
// Adds token_embd_norm.weight (llama.cpp's name for the final norm) again as
// output_norm.weight, the name the shared stack binds.
void lfm2_map_gguf_tensor_names(const ModelSpec& spec, TensorStore& tensors);

// config.json model_type "lfm2".
ModelSpec lfm2_spec_from_hf(const nlohmann::json& config, const std::string& config_path);
void lfm2_map_hf_tensor_names(const TensorStore& hf, const ModelSpec& spec, TensorStore& out);

// transformers' Lfm2MLP size rule: with auto_adjust, int(2*ff/3), then (when
// a multiplier is given) int(multiplier * that) rounded up to multiple_of.
int lfm2_feed_forward_size(int ff, bool auto_adjust, std::optional<double> multiplier, int multiple_of);

}  // namespace nagi
