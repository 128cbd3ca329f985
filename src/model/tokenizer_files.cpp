#include "model/tokenizer_files.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "format/llama2c.h"
#include "model/load.h"
#include "nagi/error.hpp"

namespace nagi {
namespace fs = std::filesystem;
namespace {

using nlohmann::json;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path.string() + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The folder holding tokenizer.json / tokenizer_config.json for an HF path.
fs::path hf_dir(const std::string& path) {
  return fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
}

bool is_json_file(const std::string& path) { return fs::path(path).extension() == ".json"; }

// tokenizer_config.json: a token is "text" or {"content": "text"}.
std::string config_token(const json& cfg, const char* key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"];
  throw Error(ErrorCode::kFormat, file + ": " + key + ": expected a string or {\"content\": ...}");
}

ChatFiles hf_chat_files(const std::string& path) {
  ChatFiles out;
  const fs::path dir = hf_dir(path);
  const fs::path cfg_path = dir / "tokenizer_config.json";
  if (fs::exists(cfg_path)) {
    const std::string file = cfg_path.string();
    json cfg;
    try {
      cfg = json::parse(read_text(cfg_path));
    } catch (const json::parse_error& e) {
      throw Error(ErrorCode::kFormat, file + ": invalid JSON: " + e.what());
    }
    if (!cfg.is_object()) throw Error(ErrorCode::kFormat, file + ": expected an object");
    out.bos_token = config_token(cfg, "bos_token", file);
    out.eos_token = config_token(cfg, "eos_token", file);
    if (auto it = cfg.find("chat_template"); it != cfg.end() && !it->is_null()) {
      if (it->is_string()) {
        out.chat_template = it->get<std::string>();
      } else if (it->is_array()) {
        // Several named templates: transformers uses "default".
        for (const json& t : *it) {
          if (!t.is_object() || !t.contains("name") || !t.contains("template") || !t["template"].is_string()) {
            throw Error(ErrorCode::kFormat, file + ": chat_template: expected [{\"name\": ..., \"template\": ...}]");
          }
          if (t["name"] == "default" || out.chat_template.empty()) out.chat_template = t["template"];
        }
      } else {
        throw Error(ErrorCode::kFormat, file + ": chat_template: expected a string or a list of named templates");
      }
    }
  }
  // Newer transformers save the template beside the config; it wins.
  if (const fs::path jinja = dir / "chat_template.jinja"; fs::exists(jinja)) out.chat_template = read_text(jinja);
  return out;
}

ChatFiles gguf_chat_files(const GgufFile& gguf) {
  ChatFiles out;
  out.chat_template = gguf.get_string_or("tokenizer.chat_template", "");
  if (!gguf.has("tokenizer.ggml.tokens")) return out;
  const StringTable& tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  auto text = [&](const char* key) -> std::string {
    const int64_t id = gguf.get_int_or(key, -1);
    return id >= 0 && id < static_cast<int64_t>(tokens.size()) ? std::string(tokens[size_t(id)]) : "";
  };
  out.bos_token = text("tokenizer.ggml.bos_token_id");
  out.eos_token = text("tokenizer.ggml.eos_token_id");
  return out;
}

std::unique_ptr<Tokenizer> llama2c_tokenizer(const std::string& model_path) {
  TensorStore store;
  const Llama2cHeader header = load_llama2c(model_path, store);
  const fs::path dir = fs::path(model_path).parent_path();
  for (const std::string& name : {std::string("tokenizer.bin"), "tok" + std::to_string(header.vocab_size) + ".bin"}) {
    if (fs::exists(dir / name)) return load_llama2c_tokenizer((dir / name).string(), header.vocab_size);
  }
  throw Error(ErrorCode::kIo, model_path + ": no tokenizer found: expected tokenizer.bin or tok" +
                                  std::to_string(header.vocab_size) + ".bin beside it");
}

// A llama2.c vocabulary says nothing of its special tokens' text; the
// pieces themselves are "<s>" / "</s>".
ChatFiles tokenizer_chat_files(const Tokenizer& tok) {
  ChatFiles out;
  if (tok.bos_id() >= 0) out.bos_token = tok.token_bytes(tok.bos_id());
  if (tok.eos_id() >= 0) out.eos_token = tok.token_bytes(tok.eos_id());
  return out;
}

}  // namespace

TokenizerFiles load_tokenizer_files(const std::string& path) {
  TokenizerFiles out;
  if (is_json_file(path)) {
    out.tokenizer = load_hf_tokenizer(path);
    out.chat = hf_chat_files(path);
    return out;
  }
  switch (detect_format(path)) {
    case ModelFormat::kHuggingFace:
      out.tokenizer = load_hf_tokenizer(path);
      out.chat = hf_chat_files(path);
      break;
    case ModelFormat::kGguf: {
      const auto gguf = GgufFile::open(path);
      out.tokenizer = load_gguf_tokenizer(*gguf);
      out.chat = gguf_chat_files(*gguf);
      break;
    }
    case ModelFormat::kLlama2c:
      out.tokenizer = llama2c_tokenizer(path);
      out.chat = tokenizer_chat_files(*out.tokenizer);
      break;
  }
  return out;
}

ChatFiles load_chat_files(const std::string& path) {
  if (is_json_file(path)) return hf_chat_files(path);
  switch (detect_format(path)) {
    case ModelFormat::kHuggingFace: return hf_chat_files(path);
    case ModelFormat::kGguf: return gguf_chat_files(*GgufFile::open(path));
    case ModelFormat::kLlama2c: return tokenizer_chat_files(*llama2c_tokenizer(path));
  }
  return {};
}

}  // namespace nagi
