// What a layer remembers between forward passes (KV rows, convolution
// history, recurrent matrices), behind one interface so that the session can
// roll any model back to an earlier length, snapshot it, and reuse it across
// chat turns without knowing which mixers the model has.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nagi {

class LayerState {
 public:
  virtual ~LayerState() = default;

  // Forgets positions >= n, given that positions < n_past are held. Returns
  // false when the state cannot go back by itself (a recurrent state only
  // knows the present); the caller then restores a snapshot and replays.
  virtual bool truncate(int n_past, int n) = 0;

  // Copies what truncate() cannot recover into `out` / back from it. States
  // that truncate exactly (a full KV cache) save nothing.
  virtual void save(std::vector<float>& out) const = 0;
  virtual void restore(const std::vector<float>& in) = 0;

  // Back to the state before the first token.
  virtual void clear() = 0;

  // After a tree batch evaluated at slots pos0.. (see Batch): moves the rows
  // of slots pos0 + rows[i] to pos0 + i, so the accepted path lies at
  // consecutive positions. States that are not per position return false.
  virtual bool keep_rows(int /*pos0*/, const std::vector<int32_t>& /*rows*/) { return false; }

  virtual size_t bytes() const = 0;
};

// Per-session scratch buffers that mixers borrow during one forward pass;
// slots are numbered by the caller so buffers are reused across layers.
class Workspace {
 public:
  float* get(int slot, size_t n) {
    if (slot >= static_cast<int>(bufs_.size())) bufs_.resize(slot + 1);
    std::vector<float>& b = bufs_[slot];
    // Exactly n: resize() alone would grow geometrically (a slot that held
    // 4 MiB and now needs 6 would take 8), and these are the largest
    // buffers of a prompt's pass.
    if (b.capacity() < n) b.reserve(n);
    if (b.size() < n) b.resize(n);
    return b.data();
  }

 private:
  std::vector<std::vector<float>> bufs_;
};

}  // namespace nagi
