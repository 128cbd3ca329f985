#include "test_support.h"

#include <cstdlib>
#include <filesystem>
#include <random>

namespace nagi::test {

std::string shared_dir() {
  if (const char* env = std::getenv("NAGI_SHARED"); env && *env) return env;
  return NAGI_TEST_SHARED_DEFAULT;
}

std::string shared_path(const std::string& rel) { return shared_dir() + "/" + rel; }

bool has_shared() { return std::filesystem::exists(shared_path("models/stories260K/stories260K.bin")); }

std::string bin_dir() {
  if (const char* env = std::getenv("NAGI_BIN_DIR"); env && *env) return env;
  return NAGI_TEST_BIN_DIR;
}

std::vector<std::string> fixture_models() {
  return {"models/stories260K/stories260K.gguf", "models/synthetic/llama.gguf",  "models/synthetic/qwen3.gguf",
          "models/synthetic/lfm2.gguf",          "models/synthetic/qwen35.gguf", "models/synthetic/gemma3.gguf"};
}

std::string model_param_name(const std::string& path) {
  const std::string name = path.substr(path.rfind('/') + 1);
  return name.substr(0, name.find('.'));
}

int run_mkmodel(const std::string& args) {
  const std::string cmd = bin_dir() + "/nagi-mkmodel " + args + " 2>/dev/null";
  return std::system(cmd.c_str());
}

namespace {
struct TempRoot {
  std::filesystem::path path;
  TempRoot() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("nagi-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static TempRoot root;
  static int counter = 0;
  auto p = root.path / std::to_string(counter++);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace nagi::test
