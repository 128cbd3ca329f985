// Runs the nagi CLI from tests: stdin from a string, stdout and stderr
// captured apart.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "test_support.h"

namespace nagi::test {

struct CliResult {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// `args` is shell text (quote it yourself).
inline CliResult run_nagi(const std::string& args, const std::string& input = "") {
  static int counter = 0;
  const std::string base = temp_dir() + "/cli" + std::to_string(counter++);
  std::ofstream(base + ".in", std::ios::binary) << input;
  const std::string cmd = bin_dir() + "/nagi " + args + " < " + base + ".in > " + base + ".out 2> " + base + ".err";
  const int st = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  return r;
}

// Single-quotes text for the shell.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

}  // namespace nagi::test
