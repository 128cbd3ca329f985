// The objects behind the public nagi::Model / nagi::Session handles.
#pragma once

#include <atomic>
#include <memory>

#include "base/thread_pool.h"
#include "model/kv_cache.h"
#include "model/load.h"
#include "model/transformer.h"
#include "nagi/nagi.hpp"

namespace nagi {

struct Model::Impl {
  LoadedModel loaded;
  std::unique_ptr<Transformer> transformer;
  ModelInfo info;
};

struct Session::Impl {
  std::shared_ptr<Model> model;
  const Transformer* transformer = nullptr;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<KvCache> cache;
  Transformer::Scratch scratch;
  int n_ctx = 0;
  int n_past = 0;
  std::vector<int32_t> history;  // tokens at positions 0..n_past
  std::atomic<bool> cancel{false};

  // Runs the model on `ids` at positions n_past..; returns pointer to logits
  // rows (all or last) valid until the next call.
  const float* eval(std::span<const int32_t> ids, bool all_logits);
};

}  // namespace nagi
