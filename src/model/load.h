// Opens a model from any supported source and returns the format-free
// description: spec + canonical tensors + tokenizer.
#pragma once

#include <memory>
#include <string>

#include "format/tensor_store.h"
#include "model/spec.h"
#include "tokenizer/tokenizer.h"

namespace nagi {

struct LoadedModel {
  std::string path;
  ModelSpec spec;
  TensorStore tensors;  // canonical names (see model/spec.h)
  std::unique_ptr<Tokenizer> tokenizer;
};

// `path` is a Hugging Face folder (config.json + *.safetensors + tokenizer.json),
// a .gguf file, or a llama2.c checkpoint (.bin, with tokenizer.bin or
// tok<vocab>.bin beside it unless `tokenizer_path` is given).
LoadedModel load_model(const std::string& path, const std::string& tokenizer_path = "");

enum class ModelFormat { kHuggingFace, kGguf, kLlama2c };
ModelFormat detect_format(const std::string& path);

}  // namespace nagi
