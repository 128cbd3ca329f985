// Tokenizer + chat template + special-token texts from any model path,
// without loading weights.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/tokenizer_files.h"
#include "nagi/error.hpp"
#include "test_support.h"

namespace nagi {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class TokenizerFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::has_shared()) GTEST_SKIP() << "fixtures not found";
  }
};

TEST_F(TokenizerFilesTest, HuggingFaceFolderAndFile) {
  const auto qwen = load_tokenizer_files(test::shared_path("tokenizers/qwen3"));
  ASSERT_TRUE(qwen.tokenizer);
  EXPECT_EQ(qwen.chat.chat_template, read_file(test::shared_path("templates/qwen3/chat_template.jinja")));
  EXPECT_EQ(qwen.chat.bos_token, "");  // null in tokenizer_config.json
  EXPECT_EQ(qwen.chat.eos_token, "<|im_end|>");
  const auto llama = load_chat_files(test::shared_path("tokenizers/llama3/tokenizer.json"));
  EXPECT_EQ(llama.bos_token, "<|begin_of_text|>");
  EXPECT_EQ(llama.chat_template, read_file(test::shared_path("templates/llama3/chat_template.jinja")));
}

TEST_F(TokenizerFilesTest, NamedTemplatesAndJinjaFile) {
  const std::string dir = test::temp_dir() + "/named";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"bos_token": {"content": "<s>"}, "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})";
  EXPECT_EQ(load_chat_files(dir).chat_template, "D");
  EXPECT_EQ(load_chat_files(dir).bos_token, "<s>");
  std::ofstream(dir + "/chat_template.jinja") << "J";
  EXPECT_EQ(load_chat_files(dir).chat_template, "J");
  std::ofstream(dir + "/tokenizer_config.json") << R"({"chat_template": 3})";
  try {
    load_chat_files(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chat_template"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
  }
}

TEST_F(TokenizerFilesTest, GgufAndLlama2c) {
  const std::string stories = test::shared_path("models/stories260K/stories260K.gguf");
  const auto plain = load_tokenizer_files(stories);
  EXPECT_EQ(plain.chat.chat_template, "");
  EXPECT_EQ(plain.chat.bos_token, "<s>");
  EXPECT_EQ(plain.chat.eos_token, "</s>");
  // The same vocabulary with a template in the metadata.
  auto src = GgufFile::open(stories);
  GgufWriter w;
  for (const auto& [key, value] : src->metadata()) {
    if (key.rfind("tokenizer.", 0) == 0) w.set(key, value);
  }
  w.set_string("tokenizer.chat_template", "{{ bos_token }}{{ messages[0]['content'] }}");
  const std::string path = test::temp_dir() + "/with_template.gguf";
  w.write(path);
  const auto files = load_tokenizer_files(path);
  EXPECT_EQ(files.chat.chat_template, "{{ bos_token }}{{ messages[0]['content'] }}");
  EXPECT_EQ(files.tokenizer->encode("Once", true), plain.tokenizer->encode("Once", true));
  const auto l2 = load_tokenizer_files(test::shared_path("models/stories260K/stories260K.bin"));
  EXPECT_EQ(l2.tokenizer->n_vocab(), 512);
  EXPECT_EQ(l2.chat.bos_token, "<s>");
  EXPECT_THROW(load_tokenizer_files(test::temp_dir() + "/missing"), Error);
}

}  // namespace
}  // namespace nagi
