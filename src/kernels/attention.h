// Causal multi-head attention over a KV cache, as a kernel: flash-style
// (keys in tiles, online softmax, no n_tok x n_kv score matrix) and
// GQA-aware (the q heads of one KV head share each K/V row load).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nagi {

class ThreadPool;
struct Kernels;

// How K and V rows are stored. kQ8: each head's head_dim values as int8
// followed by head_dim / 32 f32 scales (blocks of 32, like the activation
// quantizer), a quarter of f32's bytes.
enum class KvType { kF32, kF16, kQ8 };

// Bytes one KV head's head_dim values take in a cache row.
size_t kv_head_bytes(KvType t, int head_dim);
// Whether t can store heads of this size (kQ8 needs head_dim % 32 == 0).
bool kv_type_supports(KvType t, int head_dim);
// Stores one head's head_dim f32 values at dst (kv_head_bytes of them).
void kv_store_head(const Kernels& k, KvType t, const float* src, int head_dim, uint8_t* dst);
// One stored head as f32.
void kv_load_head(const Kernels& k, KvType t, const uint8_t* head, int head_dim, float* out);

struct AttentionParams {
  int n_tok = 0;      // query tokens
  int n_head = 0;     // query heads
  int n_kv_head = 0;  // KV heads; n_head % n_kv_head == 0 (q head h uses KV head h / (n_head / n_kv_head))
  int head_dim = 0;
  // Query of token t, head h: q + t * q_stride + h * head_dim (f32).
  const float* q = nullptr;
  int64_t q_stride = 0;
  // Key / value of position p, KV head g: kv_head_bytes(kv_type, head_dim)
  // bytes at k + g * kv_head_stride + p * kv_pos_bytes. The cache keeps each
  // head's positions together (kv_pos_bytes = kv_head_bytes), so a key tile
  // is one contiguous stream.
  const uint8_t* k = nullptr;
  const uint8_t* v = nullptr;
  size_t kv_pos_bytes = 0;
  size_t kv_head_stride = 0;
  KvType kv_type = KvType::kF32;
  // Token t is at position pos0 + t and sees positions
  // [max(0, pos0 + t - window + 1), pos0 + t] (window 0: no limit).
  int pos0 = 0;
  int window = 0;
  float scale = 1.f;  // applied to q.k (usually 1 / sqrt(head_dim))
  // Each token alone, as a one-token call computes it (Batch::per_token):
  // blocks of several tokens share key tiles and may score them with
  // another kernel, which rounds differently.
  bool per_token = false;
  // A tree batch (n_tok entries, -1 for a root; see Batch in model/mixer.h):
  // token t is at position pos0 + depth(t) - 1, its row is stored at slot
  // pos0 + t, and it sees the positions before pos0 and then its ancestors
  // and itself, read in that order, so its result is bit for bit what a
  // one-token call on a cache holding just its path gives. Tokens are taken
  // one at a time. No window.
  const int32_t* parent = nullptr;
  // Output of token t, head h: out + t * out_stride + h * head_dim. May be
  // q itself (out_stride == q_stride): a (token, head) output is written
  // only after the last read of that token and head's query.
  float* out = nullptr;
  int64_t out_stride = 0;
};

// The flash kernel, work split over (KV head, token) pairs on the pool;
// uses the runtime-selected kernel table (or `k`) for its dots and AXPYs.
void attention_flash(const AttentionParams& p, ThreadPool& pool);
void attention_flash_with(const Kernels& k, const AttentionParams& p, ThreadPool& pool);

// Plain reference: every score, softmax in double, then the weighted sum.
void attention_reference(const AttentionParams& p);

}  // namespace nagi
