// Gemma 3 specifics of nagi-mkmodel (see gemma3_tensors.cpp).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "format/gguf_writer.h"
#include "model_writer.h"

namespace nagi::mkmodel {

bool gemma3_layer_local(const ModelConfig& c, int layer);
// Canonical name -> Hugging Face Gemma3ForCausalLM name.
std::string gemma3_hf_name(const std::string& canonical);
// RMSNorm weights, which Hugging Face stores as (multiplier - 1).
bool gemma3_is_norm(const std::string& canonical);
nlohmann::json gemma3_hf_config(const ModelConfig& c, DType dtype);
void gemma3_gguf_metadata(const ModelConfig& c, GgufWriter& w);

}  // namespace nagi::mkmodel
