#include "model/load.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "format/llama2c.h"
#include "format/safetensors.h"
#include "model/arch/llama_family.h"
#include "model/arch/registry.h"
#include "nagi/error.hpp"

namespace nagi {
namespace fs = std::filesystem;
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kFormat, path + ": invalid JSON: " + e.what());
  }
}

void read_generation_config(const std::string& path, ModelSpec& spec) {
  if (!fs::exists(path)) return;
  const nlohmann::json j = read_json(path);
  if (!j.is_object()) throw Error(ErrorCode::kFormat, path + ": expected a JSON object");
  auto number = [&](const char* field, auto& out) {
    if (!j.contains(field) || j[field].is_null()) return;
    if (!j[field].is_number()) throw Error(ErrorCode::kFormat, path + ": field '" + field + "': expected a number");
    out = j[field].get<std::remove_reference_t<decltype(out)>>();
    spec.generation.has_sampling = true;
  };
  number("temperature", spec.generation.temperature);
  number("top_k", spec.generation.top_k);
  number("top_p", spec.generation.top_p);
  number("min_p", spec.generation.min_p);
  number("repetition_penalty", spec.generation.repeat_penalty);
  if (j.contains("do_sample") && j["do_sample"].is_boolean() && !j["do_sample"].get<bool>()) {
    spec.generation.temperature = 0.f;  // transformers: greedy unless do_sample
    spec.generation.has_sampling = true;
  }
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
    const auto& e = j["eos_token_id"];
    std::vector<int> ids;
    for (const auto& x : e.is_array() ? e : nlohmann::json::array({e})) {
      if (!x.is_number_integer()) throw Error(ErrorCode::kFormat, path + ": field 'eos_token_id': expected token ids");
      ids.push_back(x.get<int>());
    }
    for (int id : ids) {
      if (std::find(spec.eos_ids.begin(), spec.eos_ids.end(), id) == spec.eos_ids.end()) spec.eos_ids.push_back(id);
    }
  }
}

LoadedModel load_hf(const std::string& dir) {
  LoadedModel m;
  m.path = dir;
  const std::string config_path = (fs::path(dir) / "config.json").string();
  m.spec = spec_from_hf(read_json(config_path), config_path);
  read_generation_config((fs::path(dir) / "generation_config.json").string(), m.spec);
  TensorStore raw;
  load_safetensors_folder(dir, raw);
  map_hf_tensors(raw, m.spec, m.tensors);
  m.tensors.keep_alive_all(raw);
  m.tokenizer = load_hf_tokenizer(dir);
  return m;
}

LoadedModel load_gguf(const std::string& path) {
  LoadedModel m;
  m.path = path;
  auto gguf = GgufFile::open(path);
  gguf->add_tensors_to(m.tensors);
  m.spec = spec_from_gguf(*gguf, m.tensors);
  map_gguf_tensors(m.spec, m.tensors);
  m.tokenizer = load_gguf_tokenizer(*gguf);
  return m;
}

std::string find_llama2c_tokenizer(const std::string& model_path, int n_vocab) {
  const fs::path dir = fs::path(model_path).parent_path();
  for (const std::string& name : {std::string("tokenizer.bin"), "tok" + std::to_string(n_vocab) + ".bin"}) {
    if (fs::exists(dir / name)) return (dir / name).string();
  }
  throw Error(ErrorCode::kIo, model_path + ": no tokenizer found: expected tokenizer.bin or tok" +
                                  std::to_string(n_vocab) + ".bin beside it (or pass --tokenizer)");
}

LoadedModel load_llama2c_model(const std::string& path, const std::string& tokenizer_path) {
  LoadedModel m;
  m.path = path;
  const Llama2cHeader header = load_llama2c(path, m.tensors);
  m.spec = llama_family_spec_from_llama2c(header);
  const std::string tok = tokenizer_path.empty() ? find_llama2c_tokenizer(path, header.vocab_size) : tokenizer_path;
  m.tokenizer = load_llama2c_tokenizer(tok, header.vocab_size);
  return m;
}

}  // namespace

ModelFormat detect_format(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return ModelFormat::kHuggingFace;
  if (!fs::exists(path, ec)) throw Error(ErrorCode::kIo, path + ": no such file or directory");
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return ModelFormat::kGguf;
  return ModelFormat::kLlama2c;
}

LoadedModel load_model(const std::string& path, const std::string& tokenizer_path) {
  LoadedModel m;
  switch (detect_format(path)) {
    case ModelFormat::kHuggingFace: m = load_hf(path); break;
    case ModelFormat::kGguf: m = load_gguf(path); break;
    case ModelFormat::kLlama2c: m = load_llama2c_model(path, tokenizer_path); break;
  }
  if (m.tokenizer->n_vocab() > m.spec.n_vocab) {
    throw Error(ErrorCode::kFormat, path + ": tokenizer has " + std::to_string(m.tokenizer->n_vocab()) +
                                        " tokens but the model's vocabulary is " + std::to_string(m.spec.n_vocab));
  }
  if (m.spec.bos_id < 0) m.spec.bos_id = m.tokenizer->bos_id();
  if (m.spec.eos_ids.empty() && m.tokenizer->eos_id() >= 0) m.spec.eos_ids.push_back(m.tokenizer->eos_id());
  return m;
}

}  // namespace nagi
