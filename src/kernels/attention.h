// Causal multi-head attention over a KV cache, as a kernel: flash-style
// (keys in tiles, online softmax, no n_tok x n_kv score matrix) and
// GQA-aware (the q heads of one KV head share each K/V row load).
#pragma once

#include <cstdint>

namespace nagi {

class ThreadPool;
struct Kernels;

enum class KvType { kF32, kF16 };

struct AttentionParams {
  int n_tok = 0;      // query tokens
  int n_head = 0;     // query heads
  int n_kv_head = 0;  // KV heads; n_head % n_kv_head == 0 (q head h uses KV head h / (n_head / n_kv_head))
  int head_dim = 0;
  // Query of token t, head h: q + t * q_stride + h * head_dim (f32).
  const float* q = nullptr;
  int64_t q_stride = 0;
  // Key / value of position p, KV head g: k + (p * kv_stride + g * head_dim) elements of kv_type.
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t kv_stride = 0;
  KvType kv_type = KvType::kF32;
  // Token t is at position pos0 + t and sees positions
  // [max(0, pos0 + t - window + 1), pos0 + t] (window 0: no limit).
  int pos0 = 0;
  int window = 0;
  float scale = 1.f;  // applied to q.k (usually 1 / sqrt(head_dim))
  // Output of token t, head h: out + t * out_stride + h * head_dim.
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
