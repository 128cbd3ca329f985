// The objects behind the public nagi::Model / nagi::Session handles.
#pragma once

#include <atomic>
#include <memory>

#include "base/thread_pool.h"
#include "kernels/line_ahead.h"
#include "model/load.h"
#include "model/transformer.h"
#include "nagi/nagi.hpp"
#include "spec/mtp_speculator.h"
#include "spec/speculator.h"

namespace nagi {

struct Model::Impl {
  LoadedModel loaded;
  std::unique_ptr<Transformer> transformer;
  ModelInfo info;
  // Picks the quantized decode rows' prefetch distance from this model's
  // one-token passes (every session of the model shares it).
  LineAheadTuner line_ahead{line_ahead_from_env()};
};

// The KV storage `requested` means for this model (kAuto resolved); throws
// Error(kInvalidArgument) naming the model when its heads cannot use it.
KvType resolve_kv_type(const Model::Impl& model, KvCacheType requested);
KvCacheType public_kv_type(KvType t);

struct Session::Impl {
  std::shared_ptr<Model> model;
  const Transformer* transformer = nullptr;
  std::unique_ptr<ThreadPool> pool;
  ModelState state;
  Workspace ws;
  std::vector<float> logits;
  int n_ctx = 0;
  KvType kv_type = KvType::kF32;
  std::atomic<bool> cancel{false};
  // The current generate()'s speculator, and the MTP one, kept across calls
  // so that its cache follows the session's (spec/mtp_speculator.h).
  std::unique_ptr<Speculator> speculator;
  std::unique_ptr<MtpSpeculator> mtp;

  // Long prompts run in stretches of prefill_batch tokens (last logits only,
  // a chain; SessionOptions::prefill_batch). Unless keep_all_hidden: a
  // caller reading every new row's hidden state afterwards
  // (Transformer::last_hidden, the MTP speculator) needs one pass.
  size_t prefill_batch = 0;
  bool keep_all_hidden = false;

  // Runs the model on `ids` at positions n_past()..; returns pointer to
  // logits rows (all or last) valid until the next call.
  // `parents` (empty: a chain) makes it a tree batch (model/mixer.h Batch).
  // `per_token`: bit for bit as one-token evals (Transformer::forward).
  const float* eval(std::span<const int32_t> ids, bool all_logits,
                    std::span<const int32_t> parents = {}, bool per_token = false);
};

}  // namespace nagi
