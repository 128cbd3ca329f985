// The distance LineAhead (kernels/page_ahead.h) requests ahead, on its own:
// the per-ISA kernel files include it, and it brings no inline code that
// the baseline files share (kernels/line_ahead.h has the tuner that sets it).
#pragma once

#include <cstdint>

namespace nagi {

// Bytes ahead of a quantized decode row kernel's reads that it requests,
// read once per kernel call. Accessed only through __atomic builtins
// (relaxed): sessions on other threads may retune it at any time.
extern uint32_t line_ahead_bytes;

}  // namespace nagi
