// Softmax self-attention with GQA, optional qkv bias (Qwen2), per-head q/k
// RMSNorm (Qwen3), RoPE, sliding windows and score soft-capping (Gemma), over
// a per-layer KV cache of f32, f16 or int8 rows.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "format/tensor_store.h"
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "model/mixer.h"
#include "model/spec.h"

namespace nagi {

// K and V rows of one layer, [head][position] each. A full cache holds
// every position and truncates exactly (positions >= n are overwritten by the
// next forward pass). A sliding-window layer keeps a ring of
// window + kRingMargin rows: position p lives in row p % capacity, so memory
// does not grow with the context, and rolling back by up to kRingMargin
// tokens is still exact by truncation.
class KvState final : public LayerState {
 public:
  // Rollback depth a ring supports without a snapshot (speculative drafts,
  // regenerating the last reply's tail).
  static constexpr int kRingMargin = 64;

  // n_heads KV heads of head_dim values per row, stored as `type`
  // (precondition: kv_type_supports(type, head_dim)).
  KvState(int n_ctx, int n_heads, int head_dim, int window = 0, KvType type = KvType::kF32)
      : type_(type),
        n_heads_(n_heads),
        head_dim_(head_dim),
        head_bytes_(kv_head_bytes(type, head_dim)),
        window_(window),
        capacity_(window > 0 ? std::min(n_ctx, window + kRingMargin) : n_ctx),
        wraps_(capacity_ < n_ctx),
        k_(size_t(n_heads) * capacity_ * head_bytes_),
        v_(size_t(n_heads) * capacity_ * head_bytes_) {}
  // Head g of position p (kv_head_bytes). Each head's positions are stored
  // together, so attention streams one head's keys contiguously.
  uint8_t* k(int pos, int g = 0) { return k_.data() + offset(pos, g); }
  uint8_t* v(int pos, int g = 0) { return v_.data() + offset(pos, g); }
  KvType type() const { return type_; }
  int n_heads() const { return n_heads_; }
  int head_dim() const { return head_dim_; }
  size_t head_bytes() const { return head_bytes_; }                       // between positions of a head
  size_t head_stride() const { return size_t(capacity_) * head_bytes_; }  // between heads
  int capacity() const { return capacity_; }
  // Position p is row p (no ring wrap-around): the rows are one array.
  bool contiguous() const { return !wraps_; }
  // How many consecutive new positions a forward pass may write before it
  // must attend: the writes must not evict a key an unfinished query needs.
  // A ring as long as the context (window + margin >= n_ctx) never wraps.
  int max_chunk() const { return wraps_ ? capacity_ - window_ + 1 : capacity_; }

  // Going back to n needs positions max(0, n - window + 1) .. n - 1. The
  // ring holds positions >= n_past - capacity, except rows that positions
  // since dropped by an earlier truncation have overwritten (oldest_intact_).
  bool truncate(int n_past, int n) override {
    if (window_ == 0) return true;
    const int oldest = std::max(oldest_intact_, n_past - capacity_);
    if (std::max(0, n - window_ + 1) < oldest) return false;
    oldest_intact_ = std::max(0, oldest);
    return true;
  }
  // A full cache needs nothing (truncation recovers it); a ring is saved
  // whole (its bytes packed into floats), followed by oldest_intact_.
  void save(std::vector<float>& out) const override {
    out.clear();
    if (window_ == 0) return;
    const size_t words = packed_words();
    out.resize(2 * words + 1);
    std::memcpy(out.data(), k_.data(), k_.size());
    std::memcpy(out.data() + words, v_.data(), v_.size());
    out.back() = static_cast<float>(oldest_intact_);  // exact: positions < 2^24
  }
  void restore(const std::vector<float>& in) override {
    const size_t words = packed_words();
    if (window_ == 0 || in.size() != 2 * words + 1) return;
    std::memcpy(k_.data(), in.data(), k_.size());
    std::memcpy(v_.data(), in.data() + words, v_.size());
    oldest_intact_ = static_cast<int>(in.back());
  }
  void clear() override { oldest_intact_ = 0; }
  // Tree verification (speculative decoding): moves slot pos0 + rows[i] to
  // pos0 + i. rows are increasing, so moving them down in order never
  // overwrites a row still to be moved. A ring refuses: the tree's extra
  // rows overwrote positions its truncation bookkeeping does not know of,
  // so sliding-window models verify chains.
  bool keep_rows(int pos0, const std::vector<int32_t>& rows) override {
    if (window_ != 0) return false;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] == static_cast<int32_t>(i)) continue;
      for (int g = 0; g < n_heads_; ++g) {
        std::memcpy(k(pos0 + static_cast<int>(i), g), k(pos0 + rows[i], g), head_bytes_);
        std::memcpy(v(pos0 + static_cast<int>(i), g), v(pos0 + rows[i], g), head_bytes_);
      }
    }
    return true;
  }
  size_t bytes() const override { return k_.size() + v_.size(); }

 private:
  size_t packed_words() const { return (k_.size() + sizeof(float) - 1) / sizeof(float); }
  size_t offset(int pos, int g) const { return (size_t(g) * capacity_ + size_t(pos % capacity_)) * head_bytes_; }

  KvType type_;
  int n_heads_, head_dim_;
  size_t head_bytes_;
  int window_;
  int capacity_;
  bool wraps_;
  int oldest_intact_ = 0;  // rows of earlier positions were overwritten
  std::vector<uint8_t> k_, v_;
};

class AttentionMixer final : public Mixer {
 public:
  // Binds blk.<layer>.attn_{q,k,v,output}[.bias], attn_{q,k}_norm.
  AttentionMixer(const ModelSpec& spec, int layer, const TensorStore& store,
                 const std::string& what);

  void forward(const float* xn, float* out, const Batch& batch, LayerState& state, Workspace& ws,
               ThreadPool& pool) const override;
  std::unique_ptr<LayerState> new_state(int n_ctx, KvType kv) const override;
  size_t state_bytes_read(int n_past, KvType kv) const override;

 private:
  // The rotation of position pos: cos/sin of each of the n_rot/2 angles,
  // computed once per token and applied to its q and k heads alike.
  void rope_angles(int pos, float* cos_out, float* sin_out) const;
  void apply_rope(float* vec, int n_heads, const float* cos, const float* sin) const;

  AttentionSpec a_;
  int n_embd_;
  float norm_eps_;
  Matrix wq_, wk_, wv_, wo_;
  std::vector<float> q_bias_, k_bias_, v_bias_, q_norm_, k_norm_;
};

}  // namespace nagi
