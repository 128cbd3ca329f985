// Writes a fuzzer input to a file, for the loaders that take a path (and
// map or read the file themselves). One folder per process, so parallel
// fuzzing jobs never share a file.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace nagi::fuzz {

inline std::string write_input_file(const char* tag, const char* name, const uint8_t* data, size_t size) {
  static const std::string dir = [tag] {
    const auto d = std::filesystem::temp_directory_path() / ("nagi-fuzz-" + std::string(tag) + "-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace nagi::fuzz
