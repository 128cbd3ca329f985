// Input helpers shared by the text subcommands (tokenize, prompt).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nagi::cli {

// All of stdin, bytes as they are.
std::string read_stdin();
// A whole file ("-" is stdin); throws nagi::Error naming the file.
std::string read_file_or_stdin(const std::string& path);
// Token ids as a JSON array ("[1, 2]") or separated by commas and/or
// whitespace ("1,2 3"); throws nagi::Error naming `what`.
std::vector<int32_t> parse_id_list(const std::string& text, const std::string& what);

}  // namespace nagi::cli
