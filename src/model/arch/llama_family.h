// Llama, Qwen2 and Qwen3 share one block structure (pre-norm GQA attention +
// SwiGLU); they differ in fields: qkv bias (Qwen2), q/k RMSNorm (Qwen3), RoPE
// pairing, tied embeddings. These functions fill a ModelSpec from each source
// format and put the tensors under canonical names.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "format/gguf.h"
#include "format/llama2c.h"
#include "format/tensor_store.h"
#include "model/spec.h"

namespace nagi {

// GGUF: general.architecture in {llama, qwen2, qwen3}; tensors already use the
// canonical names. Throws Error(kUnsupported) for other architectures.
ModelSpec llama_family_spec_from_gguf(const GgufFile& gguf, const TensorStore& tensors);

// Hugging Face config.json (model_type llama, qwen2, qwen3). `config_path`
// names the file in errors.
ModelSpec llama_family_spec_from_hf(const nlohmann::json& config, const std::string& config_path);
// Re-adds Hugging Face tensors (model.layers.N.self_attn.q_proj.weight, ...)
// under canonical names into `out`; unknown names are an error.
void map_hf_tensor_names(const TensorStore& hf, const ModelSpec& spec, TensorStore& out);

ModelSpec llama_family_spec_from_llama2c(const Llama2cHeader& header);

}  // namespace nagi
