#include <cstdlib>
#include <filesystem>
#include <map>

#include "commands.h"
#include "nagi/error.hpp"

namespace nagi::cli {

std::string default_model_path() {
  if (const char* env = std::getenv("NAGI_MODEL"); env && *env) return env;
  std::string shared = NAGI_SOURCE_DIR "/../shared";
  if (const char* env = std::getenv("NAGI_SHARED"); env && *env) shared = env;
  const std::string fixture = shared + "/models/stories260K/stories260K.gguf";
  if (std::filesystem::exists(fixture)) return fixture;
  throw Error(ErrorCode::kInvalidArgument,
              "no model given: pass -m PATH (a Hugging Face folder, a .gguf file or a llama2.c "
              ".bin), or set NAGI_MODEL");
}

void add_kv_cache_option(CLI::App* cmd, KvCacheType* out) {
  const std::map<std::string, KvCacheType> names = {
      {"auto", KvCacheType::kAuto}, {"f32", KvCacheType::kF32}, {"f16", KvCacheType::kF16}, {"q8", KvCacheType::kQ8}};
  cmd->add_option("--kv-cache", *out,
                  "How keys and values are stored: auto (f32 for f32 models, else f16), f32, f16, q8 (int8, "
                  "a scale per 32 values)")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case));
}

std::string tokenizer_source(const std::string& model, const std::string& tokenizer) {
  if (!model.empty() && !tokenizer.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "give either -m/--model or --tokenizer, not both");
  }
  if (!tokenizer.empty()) return tokenizer;
  return model.empty() ? default_model_path() : model;
}

std::vector<int32_t> parse_ids(const std::string& text, const std::string& flag) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    const std::string item = text.substr(i, j - i);
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || end != item.c_str() + item.size() || v < 0 || v > INT32_MAX) {
      throw Error(ErrorCode::kInvalidArgument, flag + ": '" + item + "' is not a token id");
    }
    ids.push_back(static_cast<int32_t>(v));
    i = j + 1;
  }
  if (ids.empty()) throw Error(ErrorCode::kInvalidArgument, flag + ": no token ids given");
  return ids;
}

}  // namespace nagi::cli
