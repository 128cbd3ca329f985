#include "model/arch/registry.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "model/arch/lfm2.h"
#include "model/arch/gemma3.h"
#include "model/arch/llama_family.h"
#include "model/arch/qwen35.h"
#include "nagi/error.hpp"

namespace nagi {
namespace {

struct Family {
  std::vector<std::string> gguf_archs;  // general.architecture values
  std::vector<std::string> hf_types;    // config.json model_type values
  ModelSpec (*from_gguf)(const GgufFile&, const TensorStore&);
  ModelSpec (*from_hf)(const nlohmann::json&, const std::string&);
  void (*map_hf)(const TensorStore&, const ModelSpec&, TensorStore&);
  // GGUF tensors whose llama.cpp name differs from the canonical one (optional).
  void (*map_gguf)(const ModelSpec&, TensorStore&) = nullptr;
};

const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {{"llama", "qwen2", "qwen3"}, {"llama", "qwen2", "qwen3"}, llama_family_spec_from_gguf,
       llama_family_spec_from_hf, map_hf_tensor_names},
      {{"lfm2"}, {"lfm2"}, lfm2_spec_from_gguf, lfm2_spec_from_hf, lfm2_map_hf_tensor_names,
       lfm2_map_gguf_tensor_names},
      {{"qwen35"}, {"qwen3_5", "qwen3_5_text"}, qwen35_spec_from_gguf, qwen35_spec_from_hf,
       qwen35_map_hf_tensors},
      {{"gemma3"}, {"gemma3", "gemma3_text"}, gemma3_spec_from_gguf, gemma3_spec_from_hf, gemma3_map_hf_tensors},
  };
  return f;
}

std::string supported(std::vector<std::string> Family::*list) {
  std::string s;
  for (const Family& f : families()) {
    for (const std::string& a : f.*list) s += (s.empty() ? "" : ", ") + a;
  }
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

ModelSpec spec_from_gguf(const GgufFile& gguf, const TensorStore& tensors) {
  const std::string arch = gguf.get_string("general.architecture");
  for (const Family& f : families()) {
    if (contains(f.gguf_archs, arch)) return f.from_gguf(gguf, tensors);
  }
  throw Error(ErrorCode::kUnsupported, gguf.path() + ": metadata 'general.architecture': '" +
                                           arch + "' is not supported (supported: " +
                                           supported(&Family::gguf_archs) + ")");
}

ModelSpec spec_from_hf(const nlohmann::json& config, const std::string& path) {
  if (!config.is_object()) throw Error(ErrorCode::kFormat, path + ": expected a JSON object");
  if (!config.contains("model_type") || !config["model_type"].is_string()) {
    throw Error(ErrorCode::kFormat, path + ": field 'model_type': missing or not a string");
  }
  const std::string type = config["model_type"].get<std::string>();
  for (const Family& f : families()) {
    if (contains(f.hf_types, type)) return f.from_hf(config, path);
  }
  throw Error(ErrorCode::kUnsupported, path + ": field 'model_type': '" + type +
                                           "' is not supported (supported: " +
                                           supported(&Family::hf_types) + ")");
}

void map_hf_tensors(const TensorStore& hf, const ModelSpec& spec, TensorStore& out) {
  for (const Family& f : families()) {
    if (contains(f.hf_types, spec.arch) || contains(f.gguf_archs, spec.arch)) {
      return f.map_hf(hf, spec, out);
    }
  }
  throw Error(ErrorCode::kInternal, "no Hugging Face tensor mapping for " + spec.arch);
}

void map_gguf_tensors(const ModelSpec& spec, TensorStore& tensors) {
  for (const Family& f : families()) {
    if (contains(f.gguf_archs, spec.arch) && f.map_gguf) return f.map_gguf(spec, tensors);
  }
}

}  // namespace nagi
