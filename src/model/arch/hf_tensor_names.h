// Mapping Hugging Face tensor names to nagi's canonical (GGUF) names; shared
// by the architectures' Hugging Face loaders.
#pragma once

#include <map>
#include <optional>
#include <regex>
#include <string>

namespace nagi {

// The canonical name of HF tensor NAME: global_names[name], or
// "blk.N." + layer_names[SUFFIX] when layer_re splits NAME into (N, SUFFIX)
// and N < n_layer. An empty string when layer_re matches but the suffix is
// unknown or the layer out of range; nullopt when neither applies.
inline std::optional<std::string> hf_canonical_name(const std::string& name, const std::regex& layer_re,
                                                    const std::map<std::string, std::string>& layer_names,
                                                    const std::map<std::string, std::string>& global_names,
                                                    long n_layer) {
  if (auto it = global_names.find(name); it != global_names.end()) return it->second;
  std::smatch m;
  if (!std::regex_match(name, m, layer_re)) return std::nullopt;
  auto it = layer_names.find(m[2].str());
  if (it == layer_names.end() || std::stol(m[1].str()) >= n_layer) return std::string();
  return "blk." + m[1].str() + "." + it->second;
}

}  // namespace nagi
