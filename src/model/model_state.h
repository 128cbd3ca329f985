// Everything a session remembers about the sequence so far: one LayerState
// per layer, the tokens evaluated, and a few snapshots of the states that
// cannot be truncated (recurrent and convolution states), so that rolling
// back to any earlier length is possible for every architecture.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/layer_state.h"

namespace nagi {

class ModelState {
 public:
  ModelState() = default;
  ModelState(std::vector<std::unique_ptr<LayerState>> layers, int n_ctx)
      : layers_(std::move(layers)), n_ctx_(n_ctx) {}

  int n_ctx() const { return n_ctx_; }
  int n_past() const { return static_cast<int>(tokens_.size()); }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  int n_layer() const { return static_cast<int>(layers_.size()); }
  LayerState& layer(int i) { return *layers_[i]; }

  // Records that `ids` were evaluated (called by Transformer::forward).
  void append(const int32_t* ids, int n) { tokens_.insert(tokens_.end(), ids, ids + n); }

  // Keeps a snapshot of the current state; at most kMaxSnapshots are kept
  // (the oldest is dropped). Cheap for attention-only models (nothing saved).
  void snapshot();

  // Tries to forget positions >= n by truncation alone. Returns false when a
  // layer cannot; then restore_snapshot_at_or_before(n) + replay is needed.
  bool truncate(int n);

  // Restores the newest snapshot taken at a length <= n (or clears to empty
  // when there is none) and returns that length; tokens after it are dropped
  // from tokens() and must be replayed by the caller.
  int restore_snapshot_at_or_before(int n);

  // After a tree batch of `n_batch` tokens evaluated at pos0.. (Batch with
  // parents): keeps the prefix and the batch entries `path` (increasing),
  // moved to consecutive positions pos0..; drops the rest. Returns false
  // (state unchanged) when some layer's state is not per position.
  bool keep_path(int pos0, const std::vector<int32_t>& path);
  // Whether keep_path() can succeed: every layer's state is per position.
  bool can_keep_path();

  void clear();
  size_t bytes() const;

  static constexpr int kMaxSnapshots = 4;

 private:
  struct Snapshot {
    int n_past = 0;
    std::vector<std::vector<float>> layers;
  };
  std::vector<std::unique_ptr<LayerState>> layers_;
  std::vector<int32_t> tokens_;
  std::vector<Snapshot> snapshots_;
  int n_ctx_ = 0;
};

}  // namespace nagi
