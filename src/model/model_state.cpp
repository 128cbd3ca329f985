#include "model/model_state.h"

#include <algorithm>

namespace nagi {

void ModelState::snapshot() {
  // A snapshot at the same length replaces the old one.
  std::erase_if(snapshots_, [&](const Snapshot& s) { return s.n_past == n_past(); });
  if (static_cast<int>(snapshots_.size()) >= kMaxSnapshots) snapshots_.erase(snapshots_.begin());
  Snapshot s;
  s.n_past = n_past();
  s.layers.resize(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->save(s.layers[i]);
  snapshots_.push_back(std::move(s));
}

bool ModelState::truncate(int n) {
  const int old = n_past();
  bool exact = true;
  for (auto& l : layers_) exact = l->truncate(old, n) && exact;
  if (!exact) return false;
  tokens_.resize(static_cast<size_t>(n));
  std::erase_if(snapshots_, [&](const Snapshot& s) { return s.n_past > n; });
  return true;
}

int ModelState::restore_snapshot_at_or_before(int n) {
  std::erase_if(snapshots_, [&](const Snapshot& s) { return s.n_past > n; });
  const Snapshot* best = nullptr;
  for (const Snapshot& s : snapshots_) {
    if (!best || s.n_past > best->n_past) best = &s;
  }
  if (!best) {
    clear();
    return 0;
  }
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->restore(best->layers[i]);
  tokens_.resize(static_cast<size_t>(best->n_past));
  return best->n_past;
}

bool ModelState::can_keep_path() {
  // Keeping no rows moves nothing: a pure capability probe.
  for (auto& l : layers_) {
    if (!l->keep_rows(n_past(), {})) return false;
  }
  return true;
}

bool ModelState::keep_path(int pos0, const std::vector<int32_t>& path) {
  // Checked up front so that a refusal leaves every layer untouched.
  if (!can_keep_path()) return false;
  for (auto& l : layers_) l->keep_rows(pos0, path);
  for (size_t i = 0; i < path.size(); ++i) tokens_[size_t(pos0) + i] = tokens_[size_t(pos0 + path[i])];
  tokens_.resize(size_t(pos0) + path.size());
  std::erase_if(snapshots_, [&](const Snapshot& s) { return s.n_past > n_past(); });
  return true;
}

void ModelState::clear() {
  for (auto& l : layers_) l->clear();
  tokens_.clear();
  snapshots_.clear();
}

size_t ModelState::bytes() const {
  size_t b = 0;
  for (const auto& l : layers_) b += l->bytes();
  return b;
}

}  // namespace nagi
