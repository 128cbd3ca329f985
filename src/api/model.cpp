#include <algorithm>
#include <map>

#include "api/model_impl.h"
#include "kernels/kernels.h"
#include "model/repack.h"

namespace nagi {
namespace {

ModelInfo make_info(const LoadedModel& m) {
  ModelInfo info;
  const ModelSpec& s = m.spec;
  info.path = m.path;
  info.format = s.format;
  info.arch = s.arch;
  info.name = s.name;
  info.n_vocab = s.n_vocab;
  info.n_embd = s.n_embd;
  info.n_layer = s.n_layer();
  if (!s.layers.empty()) {
    // Hybrids: report the attention layers' heads (the first layer may be recurrent).
    auto attn = std::find_if(s.layers.begin(), s.layers.end(),
                             [](const LayerSpec& l) { return l.mixer == MixerKind::kAttention; });
    const LayerSpec& l = attn != s.layers.end() ? *attn : s.layers[0];
    info.n_head = l.attn.n_head;
    info.n_head_kv = l.attn.n_head_kv;
    info.head_dim = l.attn.head_dim;
    info.n_ff = s.layers[0].n_ff;
  }
  info.n_ctx_train = s.n_ctx_train;
  info.weight_bytes = m.tensors.total_bytes();
  std::map<std::string, int64_t> counts;
  for (const auto& [name, t] : m.tensors.all()) {
    info.n_params += t.numel();
    counts[std::string(dtype_name(t.dtype))]++;
  }
  info.dtype_counts.assign(counts.begin(), counts.end());
  return info;
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::shared_ptr<Model> Model::load(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->loaded = load_model(path);
  impl->info = make_info(impl->loaded);  // the file's dtypes, before any repacking
  repack_for_kernels(impl->loaded.tensors, kernels());
  impl->transformer = std::make_unique<Transformer>(impl->loaded.spec, impl->loaded.tensors, path);
  return std::shared_ptr<Model>(new Model(std::move(impl)));
}

const ModelInfo& Model::info() const { return impl_->info; }

std::vector<int32_t> Model::tokenize(const std::string& text, bool add_special, bool parse_special) const {
  return impl_->loaded.tokenizer->encode(text, add_special, parse_special);
}

std::string Model::detokenize(std::span<const int32_t> ids, bool skip_special) const {
  return impl_->loaded.tokenizer->decode(ids, skip_special);
}

int32_t Model::bos_id() const { return impl_->loaded.spec.bos_id; }

bool Model::is_eos(int32_t id) const {
  const auto& e = impl_->loaded.spec.eos_ids;
  return std::find(e.begin(), e.end(), id) != e.end();
}

SamplingParams Model::default_sampling() const {
  SamplingParams p;
  const GenerationDefaults& g = impl_->loaded.spec.generation;
  if (g.has_sampling) {
    p.temperature = g.temperature;
    p.top_k = g.top_k;
    p.top_p = g.top_p;
    p.min_p = g.min_p;
    p.repeat_penalty = g.repeat_penalty;
  }
  return p;
}

std::string_view kernel_level() { return kernels().isa; }

std::string_view kv_cache_type_name(KvCacheType t) {
  switch (t) {
    case KvCacheType::kAuto: return "auto";
    case KvCacheType::kF32: return "f32";
    case KvCacheType::kF16: return "f16";
    case KvCacheType::kQ8: return "q8";
  }
  return "?";
}

KvType resolve_kv_type(const Model::Impl& model, KvCacheType requested) {
  const Transformer& tf = *model.transformer;
  KvType kv = tf.default_kv_type();
  switch (requested) {
    case KvCacheType::kAuto: break;
    case KvCacheType::kF32: kv = KvType::kF32; break;
    case KvCacheType::kF16: kv = KvType::kF16; break;
    case KvCacheType::kQ8: kv = KvType::kQ8; break;
  }
  if (!tf.supports_kv_type(kv)) {
    throw Error(ErrorCode::kInvalidArgument,
                model.info.path + ": KV cache type " + std::string(kv_cache_type_name(requested)) +
                    " needs attention heads whose size is a multiple of 32 (at most 1024)");
  }
  return kv;
}

KvCacheType public_kv_type(KvType t) {
  switch (t) {
    case KvType::kF32: return KvCacheType::kF32;
    case KvType::kF16: return KvCacheType::kF16;
    case KvType::kQ8: return KvCacheType::kQ8;
  }
  return KvCacheType::kAuto;
}

size_t Model::state_bytes(int n_ctx, KvCacheType kv) const {
  return impl_->transformer->state_bytes_read(n_ctx, resolve_kv_type(*impl_, kv));
}

size_t Model::kv_bytes_per_position(KvCacheType kv) const {
  const KvType t = resolve_kv_type(*impl_, kv);
  return impl_->transformer->state_bytes_read(1, t) - impl_->transformer->state_bytes_read(0, t);
}

}  // namespace nagi
