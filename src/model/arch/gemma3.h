// Gemma 3 text models (GGUF general.architecture "gemma3"; Hugging Face
// model_type "gemma3_text", or "gemma3" whose language model is nested under
// text_config). The block: sqrt(n_embd)-scaled embedding, sandwich RMSNorms
// around attention and FFN, per-head q/k RMSNorm, rotate-half RoPE with a
// separate base for sliding-window layers, GELU-tanh gated FFN, optional
// logit soft-capping.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "format/gguf.h"
#include "format/tensor_store.h"
#include "model/spec.h"

namespace nagi {

ModelSpec gemma3_spec_from_gguf(const GgufFile& gguf, const TensorStore& tensors);
ModelSpec gemma3_spec_from_hf(const nlohmann::json& config, const std::string& config_path);
// Puts Hugging Face Gemma 3 tensors under canonical names. Gemma stores RMSNorm
// weights as offsets (the model multiplies by 1 + w); the canonical norms are
// the multipliers, as llama.cpp's converter writes them, so the norms are
// re-created here as owned f32 tensors holding 1 + w.
void gemma3_map_hf_tensors(const TensorStore& hf, const ModelSpec& spec, TensorStore& out);

// Which layers use sliding-window attention when a model gives only the period:
// every `pattern`-th layer (the last of each group) is global.
bool gemma3_layer_is_local(int layer, int pattern);

}  // namespace nagi
