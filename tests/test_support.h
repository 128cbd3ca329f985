// Helpers shared by the test binaries.
#pragma once

#include <string>
#include <vector>

namespace nagi::test {

// The fixture folder: $NAGI_SHARED, else ../shared beside the repository root.
std::string shared_dir();
// shared_dir() + "/" + rel; calls GTEST_SKIP-worthy check via has_shared().
std::string shared_path(const std::string& rel);
bool has_shared();
// Folder with the built programs (nagi, nagi-mkmodel).
std::string bin_dir();
// Runs `nagi-mkmodel ARGS` (stderr discarded); returns its exit status.
int run_mkmodel(const std::string& args);
// A fresh empty temporary directory for this test (removed at exit).
std::string temp_dir();

// The fixture GGUF models of every architecture, relative to shared_dir().
std::vector<std::string> fixture_models();
// A test-parameter name for a model path: its file name up to the first '.'.
std::string model_param_name(const std::string& path);

}  // namespace nagi::test
