// Which architecture reader handles a model: GGUF's general.architecture and
// config.json's model_type each map to one family's functions. Adding an
// architecture = one entry in registry.cpp.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "format/gguf.h"
#include "format/tensor_store.h"
#include "model/spec.h"

namespace nagi {

// Throws Error(kUnsupported) naming the file, the field and the supported list.
ModelSpec spec_from_gguf(const GgufFile& gguf, const TensorStore& tensors);
ModelSpec spec_from_hf(const nlohmann::json& config, const std::string& config_path);
// Puts the HF tensors under canonical names (spec.arch picks the mapping).
void map_hf_tensors(const TensorStore& hf, const ModelSpec& spec, TensorStore& out);
// Adds GGUF tensors whose llama.cpp name differs from the canonical one under
// the canonical name too (e.g. LFM2's token_embd_norm -> output_norm).
void map_gguf_tensors(const ModelSpec& spec, TensorStore& tensors);

}  // namespace nagi
