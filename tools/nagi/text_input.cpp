#include "text_input.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "nagi/error.hpp"

namespace nagi::cli {

std::string read_stdin() {
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) out.append(buf, n);
  return out;
}

std::string read_file_or_stdin(const std::string& path) {
  if (path.empty() || path == "-") return read_stdin();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<int32_t> parse_id_list(const std::string& text, const std::string& what) {
  auto bad = [&](const std::string& item) {
    return Error(ErrorCode::kInvalidArgument, what + ": '" + item + "' is not a token id");
  };
  std::vector<int32_t> ids;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorCode::kInvalidArgument, what + ": invalid JSON array: " + e.what());
    }
    for (const auto& v : j) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) throw bad(v.dump());
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    return ids;
  }
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = text.find_first_not_of(", \t\r\n", i);
    if (start == std::string::npos) break;
    size_t end = text.find_first_of(", \t\r\n", start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    char* stop = nullptr;
    const long long v = std::strtoll(item.c_str(), &stop, 10);
    if (stop != item.c_str() + item.size() || v < 0 || v > INT32_MAX) throw bad(item);
    ids.push_back(static_cast<int32_t>(v));
    i = end;
  }
  return ids;
}

}  // namespace nagi::cli
