// Qwen3.5 text models: a hybrid of gated DeltaNet layers and gated full
// attention every full_attention_interval-th layer (Qwen3-Next's mixers with
// Qwen3.5's split projections). Readers for GGUF (general.architecture
// "qwen35") and Hugging Face (model_type "qwen3_5_text", or "qwen3_5" whose
// config nests text_config; only the language model is loaded).
//
// Canonical weights differ from the llama family in three ways: norm weights
// are the multiplied values (GGUF stores 1 + w; the HF loader adds the 1),
// DeltaNet tensors use llama.cpp's names (attn_qkv, attn_gate, ssm_*), and
// ssm_a holds -exp(A_log).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "format/gguf.h"
#include "format/tensor_store.h"
#include "model/spec.h"

namespace nagi {

ModelSpec qwen35_spec_from_gguf(const GgufFile& gguf, const TensorStore& tensors);
ModelSpec qwen35_spec_from_hf(const nlohmann::json& config, const std::string& config_path);
// HF names -> canonical; adds 1 to the (1 + w) RMSNorm weights, turns A_log
// into ssm_a, renames the mtp.* head to llama.cpp's GGUF names
// (blk.<n_layer>.nextn.*, model/mtp_head.h); skips the vision
// tower of a qwen3_5 checkpoint. Anything else unknown is an error.
void qwen35_map_hf_tensors(const TensorStore& hf, const ModelSpec& spec, TensorStore& out);

}  // namespace nagi
