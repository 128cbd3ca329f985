// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3",
// SC'11): a keyed bijection on 128-bit counters. Sampling uses it as a
// stateless hash of (seed, position, ...) so that the noise for a token never
// depends on what was computed before it. Defined inline because per-token
// schemes (Gumbel-max over the whole vocabulary) call it in hot loops.
#pragma once

#include <array>
#include <cstdint>

namespace nagi {

namespace philox_detail {

// Multipliers and Weyl key increments from the paper (same as Random123).
inline constexpr uint32_t kM0 = 0xD2511F53u;
inline constexpr uint32_t kM1 = 0xCD9E8D57u;
inline constexpr uint32_t kW0 = 0x9E3779B9u;
inline constexpr uint32_t kW1 = 0xBB67AE85u;

constexpr std::array<uint32_t, 4> round(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  const uint64_t p0 = uint64_t{kM0} * c[0];
  const uint64_t p1 = uint64_t{kM1} * c[2];
  const auto hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const auto hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  return {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
}

}  // namespace philox_detail

// Ten rounds; the key is bumped between rounds (not after the last), which is
// what makes the output match the Random123 known-answer vectors.
constexpr std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter,
                                             std::array<uint32_t, 2> key) {
  counter = philox_detail::round(counter, key);
  for (int r = 1; r < 10; ++r) {
    key[0] += philox_detail::kW0;
    key[1] += philox_detail::kW1;
    counter = philox_detail::round(counter, key);
  }
  return counter;
}

}  // namespace nagi
