#include "model/mtp_head.h"

namespace nagi {

MtpHead collect_mtp_head(const ModelSpec& spec, const TensorStore& store) {
  MtpHead head;
  head.n_layers = spec.n_mtp_layers;
  for (const auto& [name, view] : store.all()) {
    if (name.starts_with("mtp.")) {
      head.tensors[name.substr(4)] = &view;
      continue;
    }
    // GGUF: the blocks after the main stack belong to the MTP head.
    for (int i = 0; i < spec.n_mtp_layers; ++i) {
      if (name.starts_with("blk." + std::to_string(spec.n_layer() + i) + ".")) head.tensors[name] = &view;
    }
  }
  return head;
}

}  // namespace nagi
