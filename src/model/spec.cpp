#include "model/spec.h"

#include <cmath>

namespace nagi {

std::vector<double> rope_inv_freq(double theta, int n_rot) {
  std::vector<double> f(n_rot / 2);
  for (int i = 0; i < n_rot / 2; ++i) f[i] = std::pow(theta, -2.0 * i / n_rot);
  return f;
}

void apply_llama3_rope_scaling(std::vector<double>& inv_freq, double factor,
                               double low_freq_factor, double high_freq_factor,
                               double original_max_positions) {
  const double low_freq_wavelen = original_max_positions / low_freq_factor;
  const double high_freq_wavelen = original_max_positions / high_freq_factor;
  for (double& f : inv_freq) {
    const double wavelen = 2.0 * M_PI / f;
    if (wavelen < high_freq_wavelen) continue;  // high frequencies are kept
    if (wavelen > low_freq_wavelen) {
      f /= factor;
      continue;
    }
    const double smooth = (original_max_positions / wavelen - low_freq_factor) /
                          (high_freq_factor - low_freq_factor);
    f = (1.0 - smooth) * f / factor + smooth * f;
  }
}

}  // namespace nagi
