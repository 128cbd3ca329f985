#include "hf_vocab.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "nagi/error.hpp"

namespace nagi::mkmodel {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kFormat, path + ": invalid JSON: " + e.what());
  }
}

std::string guess_pre(const json& tj) {
  const std::string pre = tj.value("pre_tokenizer", json()).dump();
  if (pre.find("\\\\p{N}{1,3}") != std::string::npos) return "llama-bpe";
  // Qwen3.5's split is Qwen2's with combining marks (\p{M}) kept in words.
  if (pre.find("\\\\p{N}|") != std::string::npos) {
    return pre.find("\\\\p{M}") != std::string::npos ? "qwen35" : "qwen2";
  }
  return "gpt2";
}

}  // namespace

int write_gpt2_vocab(const std::string& dir, const std::string& pre, GgufWriter& w) {
  const std::string file = (std::filesystem::path(dir) / "tokenizer.json").string();
  const json tj = read_json(file);
  const json& model = tj.at("model");
  if (model.value("type", "BPE") != "BPE" || model.value("byte_fallback", false) ||
      tj.value("pre_tokenizer", json()).dump().find("ByteLevel") == std::string::npos) {
    throw Error(ErrorCode::kUnsupported, file + ": only byte-level BPE tokenizers can be written as GGUF 'gpt2'");
  }
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto put = [&](int64_t id, const std::string& piece, int32_t type) {
    if (id < 0 || id > (int64_t{1} << 24)) throw Error(ErrorCode::kFormat, file + ": token id out of range");
    if (id >= static_cast<int64_t>(tokens.size())) {
      tokens.resize(id + 1);
      types.resize(id + 1, 5);  // gaps: unused
    }
    tokens[id] = piece;
    types[id] = type;
  };
  for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it) put(it->get<int64_t>(), it.key(), 1);
  std::map<std::string, int64_t> added;
  for (const json& a : tj.value("added_tokens", json::array())) {
    // Special added tokens are control tokens, the others user-defined.
    put(a.at("id").get<int64_t>(), a.at("content"), a.value("special", false) ? 3 : 4);
    added[a.at("content")] = a.at("id");
  }
  std::vector<std::string> merges;
  for (const json& m : model.at("merges")) {
    merges.push_back(m.is_string() ? m.get<std::string>() : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre.empty() ? guess_pre(tj) : pre);
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_string_array("tokenizer.ggml.merges", merges);
  const std::string cfg_path = (std::filesystem::path(dir) / "tokenizer_config.json").string();
  bool add_bos = false;
  if (std::filesystem::exists(cfg_path)) {
    const json cfg = read_json(cfg_path);
    for (const char* key : {"bos_token", "eos_token"}) {
      if (cfg.contains(key) && cfg[key].is_string() && added.count(cfg[key].get<std::string>())) {
        w.set_u32(std::string("tokenizer.ggml.") + key + "_id", static_cast<uint32_t>(added.at(cfg[key])));
      }
    }
    add_bos = cfg.value("add_bos_token", false);
    if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) {
      w.set_string("tokenizer.chat_template", cfg["chat_template"]);
    }
  }
  w.set_bool("tokenizer.ggml.add_bos_token", add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  return static_cast<int>(tokens.size());
}

}  // namespace nagi::mkmodel
