// nagi C++ API: load a model, open a session, tokenize, generate.
//
//   auto model = nagi::Model::load("path/to/model");       // HF folder, .gguf or llama2.c .bin
//   nagi::Session session(model, {.n_threads = 2});
//   auto ids = model->tokenize("Once upon a time", /*add_special=*/true);
//   session.generate(ids, {.max_tokens = 64}, [](const nagi::TokenEvent& ev) {
//     std::fputs(ev.text.c_str(), stdout);
//     return true;  // false stops generation
//   });
//
// Errors are thrown as nagi::Error (see error.hpp). The API is shaped so a C
// API can wrap it: opaque objects, plain structs, callbacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nagi/error.hpp"

namespace nagi {

struct SamplingParams {
  float temperature = 0.8f;      // <= 0: greedy (argmax, lowest id on ties)
  int top_k = 40;                // <= 0: off
  float top_p = 0.95f;           // >= 1: off
  float min_p = 0.05f;           // <= 0: off
  float repeat_penalty = 1.0f;   // 1: off (llama.cpp/CTRL style: divide positive logits)
  int repeat_last_n = 64;        // tokens of history the penalties look at (-1: all)
  float presence_penalty = 0.f;  // subtracted once from every token seen
  float frequency_penalty = 0.f; // subtracted per occurrence
  uint64_t seed = 0;             // noise for position p depends only on (seed, p)
};

// How a session stores attention keys and values. kAuto: f32 for models
// whose output projection is f32 (reference and test checkpoints), else f16
// (llama.cpp's default). kQ8: int8 with one f32 scale per 32 values, a
// quarter of f32's bytes (decode at long context reads less); needs a head
// size that is a multiple of 32.
enum class KvCacheType { kAuto, kF32, kF16, kQ8 };
std::string_view kv_cache_type_name(KvCacheType t);  // "auto", "f32", "f16", "q8"

// The CPU kernel level this process runs ("scalar", "avx2", "avx2vnni", "avx512",
// "avx512vbmi", "avx512bf16", "neon", "neondot", "neoni8mm", "neonbf16"): the
// best one the CPU and the build support, or the one NAGI_ISA names.
std::string_view kernel_level();

struct ModelInfo {
  std::string path;
  std::string format;        // "gguf", "safetensors", "llama2c"
  std::string arch;          // "llama", "qwen2", "qwen3"
  std::string name;
  int64_t n_params = 0;
  int n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0;
  int n_ctx_train = 0;
  size_t weight_bytes = 0;   // bytes of tensor data
  std::vector<std::pair<std::string, int64_t>> dtype_counts;  // dtype name -> tensor count
};

class Model {
 public:
  struct Impl;
  static std::shared_ptr<Model> load(const std::string& path);
  ~Model();

  const ModelInfo& info() const;
  std::vector<int32_t> tokenize(const std::string& text, bool add_special,
                                bool parse_special = false) const;
  std::string detokenize(std::span<const int32_t> ids, bool skip_special = true) const;
  int32_t bos_id() const;
  bool is_eos(int32_t id) const;
  // Sampling defaults from the model files (generation_config.json) where present.
  SamplingParams default_sampling() const;
  // Bytes of KV cache per position of context.
  size_t kv_bytes_per_position(KvCacheType kv = KvCacheType::kAuto) const;
  // Bytes of KV/recurrent state a session holds once n_ctx positions are in
  // it (sliding-window layers hold only their window).
  size_t state_bytes(int n_ctx, KvCacheType kv = KvCacheType::kAuto) const;

  Impl& impl() { return *impl_; }
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct SessionOptions {
  int n_ctx = 0;      // 0: the model's trained context length (capped at 4096)
  int n_threads = 0;  // 0: physical cores
  KvCacheType kv_cache = KvCacheType::kAuto;
  // Tokens per forward pass when a long prompt is evaluated for its last
  // logits only (llama.cpp's micro-batch): activations, and so the peak
  // memory of a prefill, are bounded by this, not by the prompt. 0: the
  // whole prompt in one pass.
  int prefill_batch = 512;
};

// Speculative decoding: a cheap speculator proposes several tokens, the model
// checks them in one batched pass and keeps those it would have sampled
// itself. With accept = kGumbel the output is token-for-token the output of
// plain decoding with the same seed (the draft and the target share the
// (seed, position)-keyed Gumbel noise); kRejection is the classic
// speculative-sampling baseline: same distribution, different tokens.
struct SpeculativeOptions {
  enum class Mode { kNone, kLookup, kDraft, kMtp };
  enum class Accept { kGumbel, kRejection };
  Mode mode = Mode::kNone;
  std::string draft_model{};           // kDraft: path of the draft model...
  std::shared_ptr<Model> draft{};      // ...or an already loaded one (takes precedence)
  int draft_max = 8;                   // tokens proposed per step (>= 1)
  Accept accept = Accept::kGumbel;
  int lookup_ngram = 3;                // kLookup: longest suffix matched
  int lookup_branches = 1;             // kLookup: > 1 proposes a tree (attention-only models)
};

struct SpeculativeStats {
  int proposed = 0;       // draft tokens sent to verification
  int accepted = 0;       // of those, kept
  int target_passes = 0;  // forward passes of the model after the prefill
  int tokens = 0;         // tokens generated
  double acceptance_rate() const { return proposed > 0 ? double(accepted) / proposed : 0.0; }
  double tokens_per_pass() const { return target_passes > 0 ? double(tokens) / target_passes : 0.0; }
};

struct GenerateOptions {
  int max_tokens = 128;          // < 0: until EOS or the context is full
  // Keep the cached positions the prompt shares with tokens() (the longest
  // common prefix) and evaluate only the rest; false: start from an empty
  // cache. Either way the output is the same; reuse only saves work.
  bool reuse_prefix = false;
  bool ignore_eos = false;
  std::vector<std::string> stop{};  // stop strings (not included in the output)
  SamplingParams sampling;
  SpeculativeOptions speculative{};
};

struct TokenEvent {
  int32_t id;
  std::string text;  // complete UTF-8 text this token made available (may be empty)
};

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;  // generated ids
  std::string text;          // generated text (stop string removed)
  std::string stop_reason;   // "eos", "length", "stop", "cancelled", "context"
  double prefill_seconds = 0, decode_seconds = 0;
  int n_prefill = 0, n_decode = 0;  // prompt tokens evaluated; tokens generated by decode steps
                                    // (speculative passes: see speculative.target_passes)
  int n_reused = 0;                 // prompt tokens whose cached state was kept
  SpeculativeStats speculative;     // filled in every mode (plain: nothing proposed)
};

// Returning false from the callback stops generation.
using TokenCallback = std::function<bool(const TokenEvent&)>;

class Session {
 public:
  struct Impl;
  Session(std::shared_ptr<Model> model, SessionOptions options = {});
  ~Session();

  int n_ctx() const;
  KvCacheType kv_cache() const;  // as resolved (never kAuto)
  int n_past() const;  // positions currently in the cache
  void reset();
  // The tokens whose state the session holds (n_past() of them, in order).
  const std::vector<int32_t>& tokens() const;
  // Forgets every position >= n (0 <= n <= n_past()): afterwards the session
  // is exactly as if only tokens()[0..n) had been evaluated, for every kind of
  // layer state (KV cache, convolution and recurrent states).
  void rollback(int n);

  // Evaluates `ids` on top of the cache; returns their logits, [ids.size(), n_vocab]
  // row-major when all_logits, else only the last row.
  std::vector<float> eval(std::span<const int32_t> ids, bool all_logits);
  // The same, without copying: the logits stay in the session, valid until
  // its next evaluation (eval, eval_view, generate, rollback, reset) or its
  // end. For decode loops that read each row once (a Qwen3.5 vocabulary row
  // is 1 MB).
  std::span<const float> eval_view(std::span<const int32_t> ids, bool all_logits);

  // Resets, prefills the prompt, then samples until EOS/stop/max_tokens.
  GenerateResult generate(std::span<const int32_t> prompt, const GenerateOptions& options,
                          const TokenCallback& on_token = {});

  // Thread-safe: makes a running generate() return with stop_reason "cancelled".
  void cancel();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nagi
