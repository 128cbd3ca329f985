// Fixture readers shared by the tokenizer tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"

// Skips a test (instead of failing it) where ../shared is not present.
#define REQUIRE_SHARED() \
  if (!nagi::test::has_shared()) GTEST_SKIP() << "shared fixtures not found"

namespace nagi::test {

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

inline nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline std::string stories_path(const std::string& rel) {
  return shared_path("models/stories260K/" + rel);
}

}  // namespace nagi::test
