// The distance LineAhead (kernels/page_ahead.h) requests ahead, on its own:
// the per-ISA kernel files include it, and it brings no inline code that
// the baseline files share (kernels/line_ahead.h has the tuner that sets it).
#pragma once

#include <cstdint>

namespace nagi {

// How a quantized decode row kernel requests its lines, read once per
// kernel call: the distance ahead of its reads in bytes (a multiple of 64),
// plus kLineAheadNonTemporal when they are requested with the
// non-temporal hint. Accessed only through __atomic builtins (relaxed):
// sessions on other threads may retune it at any time.
extern uint32_t line_ahead_bytes;

// Weights are read once per token and not again before a whole model's
// worth of other lines, so keeping them is of no use to the caches; a
// non-temporal request (prefetchnta) leaves the L2, and the L3 that AMD
// cores fill with L2 victims, to what a decode step reads again: KV rows,
// recurrent states, activations. Whether that is faster depends on the
// host's phase and the model (docs/KERNELS.md), so the tuner picks it.
inline constexpr uint32_t kLineAheadNonTemporal = 1;

}  // namespace nagi
