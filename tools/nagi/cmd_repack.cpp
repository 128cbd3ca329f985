// nagi repack: writes a GGUF model with its Q8_0 matrices (with --q4-0,
// its Q4_0 ones too) already in the superblock layouts nagi's AVX-512
// kernels' x16 row and GEMM paths read (the GEMM a little faster), mapped
// as stored (format/gguf_repack.h); plain files load with no copy too.
// Other machines convert such a file back to plain blocks at load.
//
//   nagi repack model-q8_0.gguf model-q8_0-nagi.gguf
//   nagi repack --q4-0 model-q4_0.gguf model-q4_0-nagi.gguf
#include <cstdio>
#include <memory>

#include "commands.h"
#include "format/gguf_repack.h"

namespace nagi::cli {

void add_repack_command(CLI::App& app, int& exit_code) {
  auto in = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  auto options = std::make_shared<GgufRepackOptions>();
  CLI::App* cmd = app.add_subcommand(
      "repack", "Write a GGUF model with Q8_0 matrices in the AVX-512 kernels' superblock layout (mapped as stored; faster prefill)");
  cmd->add_option("input", *in, "GGUF model to read")->required();
  cmd->add_option("output", *out, "GGUF file to write (nagi-only: private type ids)")->required();
  cmd->add_flag("--q4-0", options->q4_0,
                 "Also store Q4_0 matrices in superblocks: faster decode where 512-bit operations run as two "
                 "halves (AMD Zen 4), slower on Zen 5");
  cmd->callback([in, out, options, &exit_code] {
    const GgufRepackStats s = repack_gguf(*in, *out, *options);
    std::printf("wrote %s: %d tensors (%d in superblocks), %.1f MB\n", out->c_str(), s.tensors, s.repacked,
                double(s.bytes) / 1e6);
    exit_code = 0;
  });
}

}  // namespace nagi::cli
