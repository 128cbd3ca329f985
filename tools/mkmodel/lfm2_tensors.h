// What nagi-mkmodel writes differently for LFM2: its tensors (short-conv
// layers between attention layers), Hugging Face names and config.json keys
// as the published LiquidAI/LFM2-350M has them, and llama.cpp's GGUF
// conventions (per-layer head_count_kv with 0 for conv layers,
// token_embd_norm for the final norm).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format/gguf_writer.h"
#include "model_writer.h"

namespace nagi::mkmodel {

// make(canonical name, numpy shape, mean, std, is_matrix)
using MakeTensor = std::function<void(const std::string&, std::vector<int64_t>, double, double, bool)>;

// The feed-forward size the layers get (transformers' Lfm2MLP rule).
int lfm2_ff_size(const ModelConfig& c);
bool lfm2_is_attention(const ModelConfig& c, int layer);

void for_each_lfm2_tensor(const ModelConfig& c, const MakeTensor& make);
// HF name of a canonical tensor; adjusts `shape` where HF stores it differently.
std::string lfm2_hf_name(const std::string& canonical, std::vector<int64_t>& shape);
nlohmann::json lfm2_hf_config(const ModelConfig& c);
void lfm2_gguf_metadata(const ModelConfig& c, GgufWriter& w);
std::string lfm2_gguf_name(const std::string& canonical);

}  // namespace nagi::mkmodel
