#include <algorithm>
#include <chrono>

#include "api/model_impl.h"
#include "api/speculative_decode.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace nagi {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Length of the longest suffix of `text` that is a proper prefix of some stop
// string: those bytes must be held back while streaming, since the next token
// may complete the stop string.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

const float* Session::Impl::eval(std::span<const int32_t> ids, bool all_logits,
                                 std::span<const int32_t> parents, bool per_token) {
  const ModelSpec& spec = transformer->spec();
  if (ids.empty()) throw Error(ErrorCode::kInvalidArgument, "eval: no tokens given");
  for (int32_t id : ids) {
    if (id < 0 || id >= spec.n_vocab) {
      throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                   " is outside the vocabulary [0, " +
                                                   std::to_string(spec.n_vocab) + ")");
    }
  }
  const int n_past = state.n_past();
  if (n_past + int64_t(ids.size()) > n_ctx) {
    throw Error(ErrorCode::kContextFull,
                "context full: " + std::to_string(n_past) + " positions used + " +
                    std::to_string(ids.size()) + " new tokens exceed the context length of " +
                    std::to_string(n_ctx) + " (raise --ctx-size, up to the model's " +
                    std::to_string(spec.n_ctx_train) + ")");
  }
  logits.resize((all_logits ? ids.size() : 1) * size_t(spec.n_vocab));
  if (!all_logits && parents.empty() && !keep_all_hidden && prefill_batch > 0) {
    while (ids.size() > prefill_batch) {  // no logits for the leading stretches
      transformer->forward(ids.first(prefill_batch), state, ws, nullptr, false, *pool);
      ids = ids.subspan(prefill_batch);
    }
  }
  // A decode step is timed for the model's prefetch-distance tuner.
  LineAheadTuner* tuner = ids.size() == 1 && parents.empty() ? &model->impl().line_ahead : nullptr;
  if (tuner != nullptr) tuner->next();
  const Clock::time_point start = Clock::now();
  transformer->forward(ids, state, ws, logits.data(), all_logits, *pool, parents, per_token);
  if (tuner != nullptr) tuner->record(seconds_since(start));
  return logits.data();
}

Session::Session(std::shared_ptr<Model> model, SessionOptions options) : impl_(std::make_unique<Impl>()) {
  if (!model) throw Error(ErrorCode::kInvalidArgument, "session: no model");
  impl_->model = std::move(model);
  impl_->transformer = impl_->model->impl().transformer.get();
  const ModelSpec& spec = impl_->transformer->spec();
  int n_ctx = options.n_ctx;
  if (n_ctx < 0) throw Error(ErrorCode::kInvalidArgument, "session: n_ctx must be >= 0");
  if (n_ctx == 0) n_ctx = std::min(spec.n_ctx_train, 4096);
  if (n_ctx > spec.n_ctx_train) {
    throw Error(ErrorCode::kInvalidArgument, "session: context " + std::to_string(n_ctx) +
                                                 " exceeds the model's trained length " +
                                                 std::to_string(spec.n_ctx_train));
  }
  impl_->n_ctx = n_ctx;
  if (options.prefill_batch < 0) throw Error(ErrorCode::kInvalidArgument, "session: prefill_batch must be >= 0");
  impl_->prefill_batch = static_cast<size_t>(options.prefill_batch);
  const int threads = options.n_threads > 0 ? options.n_threads : ThreadPool::default_threads();
  impl_->pool = std::make_unique<ThreadPool>(threads);
  // The pool runs only this session's model, whose weights outlive it.
  impl_->pool->enable_read_ahead(StreamHistory::max_bytes_from_env());
  impl_->kv_type = resolve_kv_type(impl_->model->impl(), options.kv_cache);
  impl_->state = impl_->transformer->new_state(n_ctx, impl_->kv_type);
}

Session::~Session() = default;

int Session::n_ctx() const { return impl_->n_ctx; }
KvCacheType Session::kv_cache() const { return public_kv_type(impl_->kv_type); }
int Session::n_past() const { return impl_->state.n_past(); }
void Session::reset() { rollback(0); }
const std::vector<int32_t>& Session::tokens() const { return impl_->state.tokens(); }

void Session::rollback(int n) {
  Impl& s = *impl_;
  s.transformer->rollback(s.state, n, s.ws, *s.pool);
  if (s.mtp) s.mtp->forget_from(n);
}
void Session::cancel() { impl_->cancel = true; }

std::vector<float> Session::eval(std::span<const int32_t> ids, bool all_logits) {
  const std::span<const float> logits = eval_view(ids, all_logits);
  return std::vector<float>(logits.begin(), logits.end());
}

std::span<const float> Session::eval_view(std::span<const int32_t> ids, bool all_logits) {
  const float* logits = impl_->eval(ids, all_logits);
  const size_t rows = all_logits ? ids.size() : 1;
  return {logits, rows * size_t(impl_->transformer->spec().n_vocab)};
}

GenerateResult Session::generate(std::span<const int32_t> prompt, const GenerateOptions& options,
                                 const TokenCallback& on_token) {
  Impl& s = *impl_;
  const Model& model = *s.model;
  const Tokenizer& tok = *model.impl().loaded.tokenizer;
  const int n_vocab = s.transformer->spec().n_vocab;
  if (prompt.empty()) throw Error(ErrorCode::kInvalidArgument, "generate: the prompt has no tokens");
  for (const std::string& stop : options.stop) {
    if (stop.empty()) throw Error(ErrorCode::kInvalidArgument, "generate: empty stop string");
  }
  Sampler sampler(options.sampling, n_vocab);
  // Built before anything runs, so bad speculative options fail early.
  Speculator* speculator = make_speculator(options, s);
  s.cancel = false;
  // Reused positions: the longest common prefix with what the cache holds,
  // less one so that the last prompt token is evaluated and gives logits.
  size_t keep = 0;
  if (options.reuse_prefix) {
    const std::vector<int32_t>& cached = s.state.tokens();
    const size_t limit = std::min(cached.size(), prompt.size() - 1);
    while (keep < limit && cached[keep] == prompt[keep]) ++keep;
  }
  rollback(static_cast<int>(keep));

  GenerateResult result;
  result.prompt_ids.assign(prompt.begin(), prompt.end());
  std::vector<int32_t> history(prompt.begin(), prompt.end());

  auto t0 = Clock::now();
  s.keep_all_hidden = speculator != nullptr && speculator->wants_hidden_states();
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset_keep_all_hidden{s.keep_all_hidden};
  const float* logits = s.eval(prompt.subspan(keep), false);
  result.prefill_seconds = seconds_since(t0);
  result.n_prefill = static_cast<int>(prompt.size() - keep);
  result.n_reused = static_cast<int>(keep);
  // The next turn of a chat shares this prompt; models whose state cannot be
  // truncated roll back to here cheaply instead of replaying from the start.
  if (s.transformer->needs_snapshots()) s.state.snapshot();

  StreamDecoder decoder(tok, true);
  std::string text;        // everything decoded so far
  size_t emitted = 0;      // bytes of `text` passed to the callback
  std::vector<float> work(logits, logits + n_vocab);

  // Appends one sampled token to the output; false when generation ends with
  // it (result.stop_reason set). Plain and speculative decoding both emit
  // through here, so they stop at the same token for the same reason.
  const auto emit = [&](int32_t id) -> bool {
    if (!options.ignore_eos && model.is_eos(id)) { result.stop_reason = "eos"; return false; }
    result.ids.push_back(id);
    history.push_back(id);
    text += decoder.push(id);

    bool stop_hit = false;
    size_t emit_to = text.size();
    for (const std::string& stop : options.stop) {
      const size_t at = text.find(stop, emitted > stop.size() ? emitted - stop.size() : 0);
      if (at != std::string::npos && at < emit_to) {
        emit_to = at;
        stop_hit = true;
      }
    }
    if (!stop_hit) emit_to = text.size() - held_back(text, options.stop);
    TokenEvent ev{id, text.substr(emitted, emit_to - emitted)};
    emitted = std::max(emitted, emit_to);
    const bool keep_going = on_token ? on_token(ev) : true;
    if (stop_hit) {
      text.resize(emit_to);
      result.stop_reason = "stop";
      return false;
    }
    if (!keep_going) { result.stop_reason = "cancelled"; return false; }
    // Positions evaluated once this token is: plain decoding's n_past.
    if (static_cast<int>(history.size()) - 1 >= s.n_ctx) { result.stop_reason = "context"; return false; }
    if (options.max_tokens >= 0 && int(result.ids.size()) >= options.max_tokens) {
      result.stop_reason = "length";
      return false;
    }
    return true;
  };

  auto t1 = Clock::now();
  if (s.cancel) {
    result.stop_reason = "cancelled";
  } else if (options.max_tokens == 0) {
    result.stop_reason = "length";
  } else if (!speculator) {
    for (;;) {
      const int32_t id = sampler.sample(work, history, static_cast<int64_t>(history.size()));
      if (!emit(id)) break;
      if (s.cancel) { result.stop_reason = "cancelled"; break; }
      logits = s.eval(std::span<const int32_t>(&id, 1), false);
      work.assign(logits, logits + n_vocab);
      result.n_decode++;
    }
  } else {
    speculative_decode(s, options, sampler, *speculator, work, history, emit, result);
    s.speculator.reset();  // a draft model's session is not kept between calls (the MTP head's cache is)
    // Accepted tokens after a stop were rolled back: the head must not keep them either.
    if (s.mtp) s.mtp->forget_from(s.state.n_past());
  }
  result.speculative.tokens = static_cast<int>(result.ids.size());
  if (!speculator) result.speculative.target_passes = result.n_decode;
  if (result.stop_reason != "stop") {
    text += decoder.flush();
    if (on_token && emitted < text.size()) on_token(TokenEvent{-1, text.substr(emitted)});
  }
  result.decode_seconds = seconds_since(t1);
  result.text = std::move(text);
  return result;
}

}  // namespace nagi
