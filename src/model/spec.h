// ModelSpec: the one description of a model that everything above the file
// loaders sees. Loaders translate config.json / GGUF metadata / llama2.c
// headers into it; nothing above this point knows the file format.
//
// Weights live in a TensorStore under canonical GGUF-style names with
// PyTorch (out, in) shapes:
//   token_embd.weight   [n_vocab, n_embd]
//   output.weight       [n_vocab, n_embd]        (absent when tied_embeddings)
//   output_norm.weight  [n_embd]
//   blk.N.attn_norm.weight [n_embd]
//   blk.N.attn_q.weight [n_head*head_dim, n_embd]      (+ .bias [n_head*head_dim] if qkv_bias)
//   blk.N.attn_k.weight [n_head_kv*head_dim, n_embd]   (+ .bias)
//   blk.N.attn_v.weight [n_head_kv*head_dim, n_embd]   (+ .bias)
//   blk.N.attn_output.weight [n_embd, n_head*head_dim]
//   blk.N.attn_q_norm.weight / attn_k_norm.weight [head_dim]   (if qk_norm)
//   blk.N.ffn_norm.weight [n_embd]
//   blk.N.ffn_gate.weight / ffn_up.weight [n_ff, n_embd]
//   blk.N.ffn_down.weight [n_embd, n_ff]
// Short-convolution layers (LFM2) instead of attn_*:
//   blk.N.shortconv.in_proj.weight [3*n_embd, n_embd]  rows [B | C | x] (+ .bias if conv bias)
//   blk.N.shortconv.conv.weight [n_embd, l_cache]              (+ .bias [n_embd])
//   blk.N.shortconv.out_proj.weight [n_embd, n_embd]           (+ .bias [n_embd])
//   blk.N.post_attention_norm.weight / post_ffw_norm.weight [n_embd]  (if post_norms)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nagi {

// Which elements of a head RoPE rotates together.
enum class RopeStyle {
  kInterleaved,  // pairs (2i, 2i+1): Meta/llama2.c checkpoints, GGUF llama ("NORM")
  kHalfSplit,    // pairs (i, i + n_rot/2): Hugging Face rotate_half, GGUF qwen ("NEOX")
};

struct RopeSpec {
  RopeStyle style = RopeStyle::kHalfSplit;
  int n_rot = 0;                // rotated dimensions per head (<= head_dim)
  // Angular frequency of pair i (n_rot/2 entries): theta^(-2i/n_rot), already
  // divided by any per-pair scaling factor (Llama 3 rope_scaling, GGUF rope_freqs).
  std::vector<double> inv_freq;
};

struct AttentionSpec {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  bool qkv_bias = false;  // Qwen2
  bool qk_norm = false;   // Qwen3: per-head RMSNorm of q and k before RoPE
  float scale = 0.f;      // softmax scale, usually 1/sqrt(head_dim)
  RopeSpec rope;
  // Qwen3.5: attn_q has 2*n_head*head_dim rows, per head [query | gate], and
  // the attention output is multiplied by sigmoid(gate) before attn_output.
  bool output_gate = false;
  // Sliding-window attention (Gemma 3 local layers): the query at position p
  // sees keys max(0, p - window + 1) .. p; 0 = every earlier position.
  int window = 0;
  // Gemma 2-style score soft-capping cap * tanh(s / cap) before the softmax; 0 = off.
  float softcap = 0.f;
};

// Gated DeltaNet (Qwen3.5 linear attention); see mixers/gated_deltanet.h.
struct DeltaNetSpec {
  int n_k_heads = 0;    // query/key heads
  int n_v_heads = 0;    // value heads (a multiple of n_k_heads)
  int head_k_dim = 0;   // key/query head size (the state's rows)
  int head_v_dim = 0;   // value head size (the state's columns)
  int conv_kernel = 0;  // causal depthwise convolution length
  // Which key head value head h reads: GGUF (llama.cpp's converter) tiles,
  // h % n_k_heads; Hugging Face groups, h / (n_v_heads / n_k_heads).
  bool v_heads_grouped = false;
};

// LFM2's gated short convolution: y = C ⊙ conv(B ⊙ x), a causal depthwise
// convolution over the last l_cache positions.
struct ShortConvSpec {
  int l_cache = 0;    // kernel length (3 in every published LFM2)
  bool bias = false;  // in_proj / conv / out_proj biases (config conv_bias)
};

// The FFN's gate activation: down(act(gate·x) ⊙ up·x).
enum class FfnActivation {
  kSilu,      // SwiGLU: Llama, Qwen
  kGeluTanh,  // GeGLU with the tanh approximation: Gemma
};

// What moves information between positions in a layer.
enum class MixerKind {
  kAttention,  // softmax attention over a KV cache
  kShortConv,  // LFM2 gated short convolution
  kDeltaNet,   // gated DeltaNet recurrence (Qwen3.5)
};

struct LayerSpec {
  MixerKind mixer = MixerKind::kAttention;
  AttentionSpec attn;
  ShortConvSpec conv{};  // when mixer == kShortConv ({} keeps designated initializers warning-free)
  DeltaNetSpec deltanet{};  // when mixer == kDeltaNet
  int n_ff = 0;
  FfnActivation ffn_act = FfnActivation::kSilu;
  // Gemma's sandwich norms: the mixer's and the FFN's outputs are RMS-normed
  // (blk.N.post_attention_norm / post_ffw_norm) before the residual add.
  bool post_norms = false;
};

// Defaults a model ships for generation (generation_config.json or the like);
// the CLI's flags override them.
struct GenerationDefaults {
  bool has_sampling = false;  // true when the file set any of the values below
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
};

// The most layers a model may declare. Per-layer tables are sized by the
// declared count before any tensor is bound, so a lying header must be
// refused first (the deepest real models have a few hundred layers).
inline constexpr int kMaxLayerCount = 4096;

struct ModelSpec {
  std::string arch;         // "llama", "qwen2", "qwen3", "gemma3"
  std::string name;         // human-readable, when the file has one
  std::string format;       // "gguf", "safetensors", "llama2c"
  int n_vocab = 0;
  int n_embd = 0;
  int n_ctx_train = 0;      // maximum positions the model was trained for
  float norm_eps = 1e-5f;
  bool tied_embeddings = false;
  float embed_scale = 1.f;          // embedding rows are multiplied by this (Gemma: sqrt(n_embd))
  float final_logit_softcap = 0.f;  // logits = cap * tanh(logits / cap); 0 = off
  std::vector<LayerSpec> layers;
  // Name (after "blk.N.") of the norm before the FFN: GGUF qwen35 stores it
  // as post_attention_norm.weight.
  std::string ffn_norm_name = "ffn_norm.weight";
  // Multi-token-prediction layers shipped beside the model (Qwen3.5 mtp.*),
  // stored as blocks n_layer().. (model/mtp_head.h), for speculative decoding.
  int n_mtp_layers = 0;
  int bos_id = -1;
  std::vector<int> eos_ids;  // any of these ends generation
  GenerationDefaults generation;

  int n_layer() const { return static_cast<int>(layers.size()); }
};

// Standard RoPE frequencies theta^(-2i/n_rot), i < n_rot/2.
std::vector<double> rope_inv_freq(double theta, int n_rot);

// Llama 3 "rope_type": "llama3" scaling applied to standard frequencies
// (transformers' _compute_llama3_parameters).
void apply_llama3_rope_scaling(std::vector<double>& inv_freq, double factor,
                               double low_freq_factor, double high_freq_factor,
                               double original_max_positions);

}  // namespace nagi
